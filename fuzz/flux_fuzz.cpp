// libFuzzer target for `critlab flux`'s path: a CSV trajectory read by io::parse_number_columns and analysed
// by landscape::analyze_flux. Any input must give a result (with its status) or critlab::Error; any other
// exception, a crash or a sanitizer report is a finding. Seeds: fuzz/corpus/flux/.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "critlab/core/error.h"
#include "critlab/io/numbers.h"
#include "critlab/landscape/flux.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto columns = critlab::io::parse_number_columns(text, "fuzz", {});
    for (const auto& c : columns.values)
      if (c.size() != columns.values[0].size()) __builtin_trap();  // the reader promises equal columns
    critlab::landscape::FluxOptions o;
    o.min_points = 10;
    o.bootstrap = 20;
    o.blocks = 4;
    o.tur_steps = 2;
    const auto r = critlab::landscape::analyze_flux(columns.values, o, columns.names);
    if (r.ok() && r.area_rate.size() != static_cast<std::size_t>(r.d * r.d)) __builtin_trap();
    (void)critlab::landscape::to_json(r).dump();
    if (r.ok()) (void)critlab::landscape::grid_csv(r);
  } catch (const critlab::Error&) {
  }
  return 0;
}
