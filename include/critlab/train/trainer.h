// Supervised training of a LayerStack on an image dataset, into a run directory:
//
//   DIR/config.json       resolved model spec, training options, runtime (versions, BLAS, threads, device)
//   DIR/metrics.csv       one row per logged step and per epoch end (is_epoch_end = 1 rows carry test figures);
//                         distance / lambda_max filled on rows where the criticality monitor ran; penalty,
//                         lambda and batch_distance (the regulariser's own estimate) when it is on
//   DIR/tables/monitor_gains.csv   per-layer gain_sq at every monitor step
//   DIR/checkpoints/      model-<epoch>.pt, optimizer-<epoch>.pt and state.json (the commit point), atomic
//   DIR/summary.json      final figures, written once, only when training completed
//   DIR/plots/            loss, accuracy and monitor curves
//   DIR/record/           with `record`: activity and weights on a probe set at log-spaced steps
//
// Epoch 0 (the initial weights) is checkpointed first, so even a run that diverges keeps a good state.
// A run resumes from its last committed epoch; batch order depends only on (seed, epoch), so a resumed run
// sees the same batches as an uninterrupted one. A non-finite loss throws DivergenceError.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include "critlab/core/enums.h"
#include "critlab/data/dataset.h"
#include "critlab/nn/model.h"
#include "critlab/train/criticality_reg.h"

namespace critlab::train {

struct TrainOptions {
  Optimizer optimizer = Optimizer::kSgd;
  double lr = 0.05;                  // base learning rate
  double momentum = 0.9;             // SGD momentum
  double weight_decay = 0.0;         // L2 (sgd, adam) or decoupled (adamw)
  Schedule schedule = Schedule::kConstant;
  std::int64_t warmup_steps = 0;     // linear warm-up from 0 to lr
  std::int64_t step_epochs = 1;      // step schedule: multiply lr by step_gamma every step_epochs epochs
  double step_gamma = 0.1;
  std::int64_t batch_size = 128;
  std::int64_t epochs = 1;
  std::uint64_t seed = 0;            // weights and batch order
  std::int64_t train_examples = 0;   // use only the first N training examples (0 = all)
  std::int64_t log_every = 100;      // steps between metrics rows
  std::int64_t monitor_every = 0;    // steps between criticality measurements (0 = off)
  std::int64_t monitor_probes = 128; // stratified test images used by the monitor
  std::int64_t eval_batch_size = 1000;
  std::string device = "auto";       // auto, cpu, cuda, cuda:N
  int threads = 0;                   // 0 = all cores
  std::string data_dir;              // empty: $CRITLAB_DATA, then the Debian location
  // Activity recording for correlation graphs (graph/recording.h): DIR/record/.
  bool record = false;
  std::int64_t record_points = 50;   // recorded steps, log-spaced from step 0 to the last
  std::int64_t record_probes = 1000; // class-stratified training images
  bool record_half = true;           // activations as float16
  // Criticality-driven training (criticality_reg.h) and the Jacobian-norm baseline (Hoffman et al. 2019):
  // loss = cross-entropy + lambda_t R_crit + (jacobian_reg / 2) ||d logits / d x||_F^2.
  CriticalityOptions criticality;
  double jacobian_reg = 0.0;

  bool IsValid(std::string* error) const;
};

nlohmann::json to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const nlohmann::json& j);

struct TrainSummary {
  double test_accuracy = 0, test_loss = 0;
  double train_accuracy = 0, train_loss = 0;  // running means over the last epoch
  std::int64_t epochs = 0, steps = 0;
  double seconds = 0, examples_per_second = 0;
  nlohmann::json criticality;                 // final measurement (distance, lambda_max, gains)
};
nlohmann::json to_json(const TrainSummary& s);

// Starts a new run in `dir` (which must not already hold one).
TrainSummary train_new(const std::filesystem::path& dir, const nn::ModelSpec& spec, const TrainOptions& options);

// Continues the run in `dir` from its last checkpoint; `epochs` (if set) replaces the total epoch count.
TrainSummary train_resume(const std::filesystem::path& dir, std::optional<std::int64_t> epochs = std::nullopt);

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

}  // namespace critlab::train
