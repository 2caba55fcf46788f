#include "critlab/experiments/protocol.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::experiments {

void open_experiment_dir(const std::filesystem::path& out, const nlohmann::json& config,
                         const std::vector<std::string>& mutable_keys) {
  std::filesystem::create_directories(out);
  const auto path = out / "experiment.json";
  if (std::filesystem::exists(path)) {
    auto previous = io::read_json(path), same = config;
    for (const auto& k : mutable_keys) previous.erase(k), same.erase(k);
    if (previous != same)
      throw Error(
          fmt::format("'{}' holds an experiment with a different protocol (see {}); use another --out, or "
                      "repeat the original options to continue it",
                      out.string(), path.string()));
  }
  io::write_json(path, config);
}

}  // namespace critlab::experiments
