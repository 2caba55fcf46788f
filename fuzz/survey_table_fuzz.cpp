// libFuzzer target for the survey's table path: a CSV with text cells (io/csv.h) analysed by the survey
// (survey/analysis.h) with the default options and with a factor and pairs. Any input must give an analysis
// or critlab::Error; any other exception, a crash or a sanitizer report is a finding. Seeds:
// fuzz/corpus/survey_table/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "critlab/core/error.h"
#include "critlab/io/csv.h"
#include "critlab/survey/analysis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;  // the analysis is quadratic in nothing, but keep the runs short
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto table = critlab::io::parse_text_csv(text, "fuzz");
    (void)table.to_csv();
    for (int k = 0; k < 2; ++k) {
      critlab::survey::AnalysisOptions o;
      if (k == 1) o.factors = {critlab::survey::parse_factor("norm=yes:pair")};
      try {
        const auto a = critlab::survey::analyse_table(table, o);
        (void)critlab::survey::to_json(a).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        (void)critlab::survey::summary_markdown(a);
      } catch (const critlab::Error&) {
      }
    }
  } catch (const critlab::Error&) {
  }
  return 0;
}
