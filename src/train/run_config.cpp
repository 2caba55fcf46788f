#include "critlab/train/run_config.h"

#include <fmt/format.h>

#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/json_fields.h"

namespace critlab::train {

namespace fs = std::filesystem;

fs::path model_checkpoint_path(const fs::path& dir, std::int64_t epoch) {
  return dir / "checkpoints" / fmt::format("model-{:04d}.pt", epoch);
}
fs::path optimizer_checkpoint_path(const fs::path& dir, std::int64_t epoch) {
  return dir / "checkpoints" / fmt::format("optimizer-{:04d}.pt", epoch);
}

RunConfig run_config_from_json(const nlohmann::json& j, const std::string& source) {
  const io::JsonFields f(j, source);
  RunConfig c;
  c.spec = nn::model_spec_from_json(f.raw("model"), source, "model");
  c.options = train_options_from_json(f.raw("train"), source, "train");
  const auto data = f.string_or("data_source", "fashion-mnist");
  if (data != "fashion-mnist" && data != "supplied")
    f.fail("data_source", fmt::format("must be \"fashion-mnist\" or \"supplied\", found \"{}\"", data));
  c.supplied_data = data == "supplied";
  return c;
}

RunConfig read_run_config(const fs::path& dir) {
  const auto path = dir / "config.json";
  if (!fs::exists(path))
    throw Error(fmt::format("'{}' is not a critlab run directory (no config.json)", dir.string()));
  return run_config_from_json(io::read_json(path), path.string());
}

RunConfig read_resumable_run_config(const fs::path& dir) {
  if (!fs::exists(dir / "config.json") || !fs::exists(dir / "checkpoints" / "state.json"))
    throw Error(fmt::format("'{}' holds no resumable run (config.json and checkpoints/state.json are needed)",
                            dir.string()));
  return read_run_config(dir);
}

CheckpointState checkpoint_state_from_json(const nlohmann::json& j, const std::string& source) {
  const io::JsonFields f(j, source);
  CheckpointState s;
  s.epoch = f.integer("epoch");
  if (s.epoch < 0 || s.epoch > kMaxEpochs)
    f.fail("epoch", fmt::format("must be in [0, {}], found {}", kMaxEpochs, s.epoch));
  s.step = f.integer("step");
  if (s.step < 0) f.fail("step", fmt::format("must be >= 0, found {}", s.step));
  const auto crc = [&](const char* key) -> std::optional<std::uint32_t> {
    if (!f.has(key)) return std::nullopt;
    const auto v = f.unsigned_integer(key);
    if (v > 0xffffffffu) f.fail(key, "must be a 32-bit checksum");
    return static_cast<std::uint32_t>(v);
  };
  s.model_crc32 = crc("model_crc32");
  s.optimizer_crc32 = crc("optimizer_crc32");
  if (f.has("controller")) {
    if (!f.raw("controller").is_object()) f.fail("controller", "must be an object");
    s.controller = f.raw("controller");
  }
  return s;
}

nlohmann::json to_json(const CheckpointState& s) {
  nlohmann::json j{{"epoch", s.epoch}, {"step", s.step}};
  if (s.model_crc32) j["model_crc32"] = *s.model_crc32;
  if (s.optimizer_crc32) j["optimizer_crc32"] = *s.optimizer_crc32;
  if (!s.controller.is_null()) j["controller"] = s.controller;
  return j;
}

CheckpointState read_checkpoint_state(const fs::path& dir) {
  const auto path = dir / "checkpoints" / "state.json";
  if (!fs::exists(path))
    throw Error(fmt::format("'{}' has no checkpoint (checkpoints/state.json)", dir.string()));
  return checkpoint_state_from_json(io::read_json(path), path.string());
}

}  // namespace critlab::train
