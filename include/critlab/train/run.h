// A run directory read back (the layout is trainer.h's): its configuration and the model of its last
// checkpoint, and the evaluation of a classifier on a dataset. What analyses of finished runs (graph,
// measure --run, the experiments) need, without the trainer.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>

#include "critlab/data/dataset.h"
#include "critlab/nn/model.h"
#include "critlab/train/options.h"

namespace critlab::train {

// Mean cross-entropy and accuracy of a classifier on a dataset, in eval mode, in batches.
struct Evaluation {
  double loss = 0, accuracy = 0;
};
Evaluation evaluate(nn::LayerStack& model, const data::Dataset& data, std::int64_t batch_size = 1000);

// A run directory's config.json: what to build and how it was trained.
struct RunConfig {
  nn::ModelSpec spec;
  TrainOptions options;
  bool supplied_data =
      false;  // trained on data its caller supplied (not Fashion-MNIST from options.data_dir)
};
// Throws critlab::Error naming the file when it is missing or malformed.
RunConfig read_run_config(const std::filesystem::path& dir);
// The same for a run that can be resumed: it also needs checkpoints/state.json.
RunConfig read_resumable_run_config(const std::filesystem::path& dir);

// A run directory's configuration and the model of its last checkpoint.
struct LoadedRun {
  nn::ModelSpec spec;
  TrainOptions options;
  nn::LayerStack model{nullptr};
  std::int64_t epoch = 0;  // epochs completed at that checkpoint
};
LoadedRun load_run(const std::filesystem::path& dir, const c10::Device& device);

// The checkpoint files of epoch `epoch` in a run directory.
std::filesystem::path model_checkpoint_path(const std::filesystem::path& dir, std::int64_t epoch);
std::filesystem::path optimizer_checkpoint_path(const std::filesystem::path& dir, std::int64_t epoch);

}  // namespace critlab::train
