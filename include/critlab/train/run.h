// A run directory read back (the layout is trainer.h's): its configuration and the model of its last
// checkpoint, and the evaluation of a classifier on a dataset. What analyses of finished runs (graph,
// measure --run, the experiments) need, without the trainer.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include "critlab/data/dataset.h"
#include "critlab/nn/model.h"
#include "critlab/train/options.h"
#include "critlab/train/run_config.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace critlab::train {

// Mean cross-entropy and accuracy of a classifier on a dataset, in eval mode, in batches.
struct Evaluation {
  double loss = 0, accuracy = 0;
};
Evaluation evaluate(nn::LayerStack& model, const data::Dataset& data, std::int64_t batch_size = 1000);

// A run directory's configuration and the model of its last checkpoint.
struct LoadedRun {
  nn::ModelSpec spec;
  TrainOptions options;
  nn::LayerStack model{nullptr};
  std::int64_t epoch = 0;  // epochs completed at that checkpoint
};
LoadedRun load_run(const std::filesystem::path& dir, const c10::Device& device);

// Checkpoint files are written and read whole through memory, with a CRC-32 that state.json records: a
// full disk is an ordinary error (torch::save on a file aborts the process from a destructor), and a
// damaged checkpoint is refused instead of loading corrupted weights.
// Serialises `value` (a module or an optimizer) and writes it atomically; returns the bytes' CRC-32.
std::uint32_t save_checkpoint(const nn::LayerStack& model, const std::filesystem::path& path);
std::uint32_t save_checkpoint(const torch::optim::Optimizer& optimizer, const std::filesystem::path& path);
// Loads a checkpoint written by save_checkpoint; with `crc32` the file's checksum must match it. Throws
// critlab::Error naming the file when it is missing, damaged or does not fit the model.
void load_checkpoint(nn::LayerStack& model, const std::filesystem::path& path,
                     std::optional<std::uint32_t> crc32, const c10::Device& device);
void load_checkpoint(torch::optim::Optimizer& optimizer, const std::filesystem::path& path,
                     std::optional<std::uint32_t> crc32, const c10::Device& device);
// The byte-level halves, for other serialised objects: write atomically and return the CRC-32; read whole
// and check the CRC-32 when given.
std::uint32_t write_checksummed(const std::filesystem::path& path, const std::string& bytes);
std::string read_checksummed(const std::filesystem::path& path, std::optional<std::uint32_t> crc32);

}  // namespace critlab::train
