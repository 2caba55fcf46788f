// The experiment directory's protocol record, shared by every experiment.
#pragma once
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace critlab::experiments {

// Creates `out` and records `config` in out/experiment.json. If a record is already there, it must equal
// `config` except in `mutable_keys` (what may grow or shrink under finished work, e.g. the methods);
// otherwise throws critlab::Error naming the directory and the fix.
void open_experiment_dir(const std::filesystem::path& out, const nlohmann::json& config,
                         const std::vector<std::string>& mutable_keys);

}  // namespace critlab::experiments
