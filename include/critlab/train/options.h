// The options of a supervised training run (trainer.h), as config.json stores them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "critlab/core/enums.h"
#include "critlab/train/criticality_options.h"

namespace critlab::train {

// The documented ranges of the options (TrainOptions::IsValid checks them before any work starts).
inline constexpr double kMaxLearningRate = 1e3;  // lr and weight_decay
inline constexpr std::int64_t kMaxBatch = std::int64_t{1} << 20;
inline constexpr std::int64_t kMaxEpochs = 1000000;
inline constexpr std::int64_t kMaxProbes = 100000;  // monitor and record probes
inline constexpr std::int64_t kMaxRecordPoints = 10000;
inline constexpr int kMaxThreads = 1024;  // and at most the machine's cores are used (configure_threads)

struct TrainOptions {
  Optimizer optimizer = Optimizer::kSgd;
  double lr = 0.05;           // base learning rate
  double momentum = 0.9;      // SGD momentum
  double weight_decay = 0.0;  // L2 (sgd, adam) or decoupled (adamw)
  Schedule schedule = Schedule::kConstant;
  std::int64_t warmup_steps = 0;  // linear warm-up from 0 to lr
  std::int64_t step_epochs = 1;   // step schedule: multiply lr by step_gamma every step_epochs epochs
  double step_gamma = 0.1;
  std::int64_t batch_size = 128;
  std::int64_t epochs = 1;
  std::uint64_t seed = 0;             // weights and batch order
  std::int64_t train_examples = 0;    // use only the first N training examples (0 = all)
  std::int64_t log_every = 100;       // steps between metrics rows
  std::int64_t monitor_every = 0;     // steps between criticality measurements (0 = off)
  std::int64_t monitor_probes = 128;  // stratified test images used by the monitor
  std::int64_t eval_batch_size = 1000;
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  int threads = 0;              // 0 = all cores
  std::string data_dir;         // empty: $CRITLAB_DATA, then the Debian location
  // Activity recording for correlation graphs: DIR/record/. The trainer only stores these; whoever runs
  // the training attaches graph::RecordingCallback (graph/recording.h) when `record` is set.
  bool record = false;
  std::int64_t record_points = 50;    // recorded steps, log-spaced from step 0 to the last
  std::int64_t record_probes = 1000;  // class-stratified training images
  bool record_half = true;            // activations as float16
  // Criticality-driven training (criticality_reg.h) and the Jacobian-norm baseline (Hoffman et al. 2019):
  // loss = cross-entropy + lambda_t R_crit + (jacobian_reg / 2) ||d logits / d x||_F^2.
  CriticalityOptions criticality;
  double jacobian_reg = 0.0;

  bool IsValid(std::string* error) const;
};

nlohmann::json to_json(const TrainOptions& o);
// Throws critlab::Error naming `source` and the field when a field is missing, mistyped or out of range.
TrainOptions train_options_from_json(const nlohmann::json& j, const std::string& source = "training options",
                                     const std::string& prefix = "");

}  // namespace critlab::train
