// libFuzzer target: the readers of a run directory's own JSON files (config.json, checkpoints/state.json).
// Any input must give a value or critlab::Error; anything else (another exception, a crash, UB) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "critlab/core/error.h"
#include "critlab/io/json_fields.h"
#include "critlab/train/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j;
  try {
    j = critlab::io::parse_json(text, "config.json");
  } catch (const critlab::Error&) {
    return 0;
  }
  try {
    const auto c = critlab::train::run_config_from_json(j, "config.json");
    // A configuration that reads back must write out and read back the same.
    nlohmann::json again{{"model", critlab::nn::to_json(c.spec)},
                         {"train", critlab::train::to_json(c.options)},
                         {"data_source", c.supplied_data ? "supplied" : "fashion-mnist"}};
    (void)critlab::train::run_config_from_json(again, "config.json (rewritten)");
  } catch (const critlab::Error&) {
  }
  try {
    const auto s = critlab::train::checkpoint_state_from_json(j, "state.json");
    (void)critlab::train::checkpoint_state_from_json(critlab::train::to_json(s), "state.json (rewritten)");
  } catch (const critlab::Error&) {
  }
  return 0;
}
