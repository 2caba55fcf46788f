// A run directory's own files read back without libtorch: config.json (what to build and how it was
// trained) and checkpoints/state.json (the last committed checkpoint). Every reader validates structure,
// types and ranges and names the file and the field in its errors. Layout: trainer.h.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "critlab/nn/model_spec.h"
#include "critlab/train/options.h"

namespace critlab::train {

// config.json.
struct RunConfig {
  nn::ModelSpec spec;
  TrainOptions options;
  bool supplied_data =
      false;  // trained on data its caller supplied (not Fashion-MNIST from options.data_dir)
};
// `source` names the file in errors.
RunConfig run_config_from_json(const nlohmann::json& j, const std::string& source);
// Throws critlab::Error naming the file when it is missing or malformed.
RunConfig read_run_config(const std::filesystem::path& dir);
// The same for a run that can be resumed: it also needs checkpoints/state.json.
RunConfig read_resumable_run_config(const std::filesystem::path& dir);

// checkpoints/state.json: the commit point of a checkpoint. The CRC-32s (zlib's) of the checkpoint files
// are absent in runs made before they were recorded; then the files are loaded unchecked.
struct CheckpointState {
  std::int64_t epoch = 0;  // epochs completed
  std::int64_t step = 0;   // optimiser steps taken
  std::optional<std::uint32_t> model_crc32, optimizer_crc32;
  nlohmann::json controller;  // the criticality controller's state, or null
};
CheckpointState checkpoint_state_from_json(const nlohmann::json& j, const std::string& source);
nlohmann::json to_json(const CheckpointState& s);
// Throws critlab::Error naming the file when it is missing or malformed.
CheckpointState read_checkpoint_state(const std::filesystem::path& dir);

// The checkpoint files of epoch `epoch` in a run directory.
std::filesystem::path model_checkpoint_path(const std::filesystem::path& dir, std::int64_t epoch);
std::filesystem::path optimizer_checkpoint_path(const std::filesystem::path& dir, std::int64_t epoch);

}  // namespace critlab::train
