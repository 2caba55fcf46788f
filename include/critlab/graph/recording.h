// Activity and weight recordings taken during training, for correlation graphs, critical neurons and rasters.
//
// Layout, inside a run directory (every array a NumPy .npy file, so Python loads it with numpy.load):
//   record/meta.json           schedule (the steps to record), probe count, dtype, one entry per block
//   record/probe_images.npy    the fixed class-stratified probe set (training images), float32 [P, ...]
//   record/probe_labels.npy    int64 [P]
//   record/step-00000123/      one directory per recorded step, written under a temporary name and renamed,
//                              so a step is either complete or absent:
//       block<l>_post.npy      block l's output on the probes, [P, units] (conv blocks: per-channel mean over
//                              space, [P, channels]); float16 or float32
//       block<l>_pre.npy       its pre-activation, where the block has one
//       param_<name>.npy       every parameter (e.g. param_block0.linear.weight), always float32: weight
//                              changes between early steps are below float16's resolution
// The schedule is dense early and sparse late: step 0, then points spaced evenly in log(1 + step) up to the
// last step of training (the connectivity transition happens in the first few hundred steps).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "critlab/data/dataset.h"
#include "critlab/nn/stack.h"
#include "critlab/train/callbacks.h"

namespace critlab::graph {

struct RecordOptions {
  std::int64_t points = 50;    // recorded steps (fewer if training has fewer steps)
  std::int64_t probes = 1000;  // class-stratified training images
  bool half = true;            // activations as float16 (weights stay float32)

  // Messages start with the field's name (points, probes).
  bool IsValid(std::string* error) const;
};

// min(points, total_steps + 1) or slightly more distinct steps in [0, total_steps], 0 and total_steps
// included, evenly spaced in log(1 + step); where rounding merges early points, more are drawn until enough
// distinct steps exist.
std::vector<std::int64_t> record_schedule(std::int64_t total_steps, std::int64_t points);

class Recorder {
 public:
  // Writes record/meta.json and the probe set (once; an existing recording's schedule is kept on resume).
  Recorder(std::filesystem::path run_dir, const data::Dataset& train, const RecordOptions& options,
           std::int64_t total_steps, nn::LayerStack& model);
  bool due(std::int64_t step) const;
  // Records the model's activity on the probes and its parameters at `step` (eval mode, no autograd).
  void record(std::int64_t step, nn::LayerStack& model);
  const std::vector<std::int64_t>& schedule() const { return schedule_; }

 private:
  std::filesystem::path dir_;
  RecordOptions options_;
  std::vector<std::int64_t> schedule_;
  at::Tensor probes_;
};

// The recorder as a training monitor: attach it to train::TrainEnvironment::callbacks. On start it opens the
// recording (a new run also records step 0, the initial network); after each due step it records.
class RecordingCallback : public train::TrainCallback {
 public:
  explicit RecordingCallback(RecordOptions options) : options_(options) {}
  void on_start(const train::TrainStart& start, nn::LayerStack& model) override;
  void on_step(std::int64_t step, nn::LayerStack& model) override;

 private:
  RecordOptions options_;
  std::unique_ptr<Recorder> recorder_;
};

// A recording read back.
struct BlockInfo {
  std::int64_t index = 0;
  std::string description;
  std::int64_t units = 0;
  bool has_pre = false;
  bool readout = false;
  bool dense = false;       // the block answers nn::BlockImpl::dense_view(): a weight [units, fan_in]
  std::string weight_name;  // dense blocks: the weight's and bias's parameter names in the stack, e.g.
  std::string bias_name;    // "block2.linear.weight" (stored as param_<name>.npy at every step)
};
struct Recording {
  std::filesystem::path dir;  // the record/ directory
  nlohmann::json meta;
  std::vector<std::int64_t> schedule, steps;  // planned, and present on disk (complete), ascending
  std::vector<BlockInfo> blocks;
  at::Tensor probe_images, probe_labels;
  std::int64_t num_classes = 10;
};
// Throws critlab::Error naming the fix when `run_dir` holds no recording.
Recording open_recording(const std::filesystem::path& run_dir);

struct RecordedStep {
  std::int64_t step = 0;
  std::vector<at::Tensor> post, pre;     // per block, float32 [P, units]; pre undefined if absent
  std::vector<at::Tensor> weight, bias;  // per block, dense blocks only (else undefined), float32
};
RecordedStep load_step(const Recording& rec, std::int64_t step);

}  // namespace critlab::graph
