// Experiment: does criticality-driven training buy accuracy and robustness? (Vock & Meisel 2025, claim 2)
//
// A grid of architectures x methods x seeds on Fashion-MNIST. Every cell is an ordinary training run
// (train/trainer.h) in OUT/cells/<arch>/<method>/seed-<s>/run, followed by a robustness evaluation
// (train/robustness.h); the cell's result.json, written atomically last, marks it finished. An interrupted
// experiment is continued by running the same command again: finished cells are read back, an unfinished
// run resumes from its last checkpoint, nothing finished is recomputed.
//
// Methods (all from the arch's standard initialisation unless stated):
//   plain           SGD on cross-entropy
//   critical-init   Gaussian init with sigma_w on the mean-field edge of chaos (measure/theory.h) at
//                   sigma_b = critical_sigma_b; otherwise plain
//   regularizer     + lambda * sum_l (ln gain_l^2)^2, closed form where available (criticality_reg.h)
//   controller      homeostatic gain correction holding the distance below `tolerance`
//   jacobian-norm   + (jacobian_reg / 2) ||d logits / dx||_F^2 (Hoffman et al. 2019)
//   weight-decay    L2 penalty weight_decay
//
// A cell whose training diverges is recorded with status "diverged" and counted in the tables, not averaged.
// Writes OUT/cells.csv (one row per cell), OUT/results.csv and OUT/results.md (mean and standard deviation
// over seeds per arch x method), OUT/summary.json and plots in OUT/plots/.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/progress.h"
#include "critlab/nn/model.h"
#include "critlab/train/callbacks.h"
#include "critlab/train/robustness.h"

namespace critlab::experiments {

enum class CriticalTrainingArch { kTanhMlp, kReluMlp, kCnn, kResNet };
enum class CriticalTrainingMethod {
  kPlain,
  kCriticalInit,
  kRegularizer,
  kController,
  kJacobianNorm,
  kWeightDecay
};

}  // namespace critlab::experiments

namespace critlab {
CRITLAB_ENUM_NAMES(experiments::CriticalTrainingArch, "architecture",
                   {experiments::CriticalTrainingArch::kTanhMlp, "tanh-mlp"},
                   {experiments::CriticalTrainingArch::kReluMlp, "relu-mlp"},
                   {experiments::CriticalTrainingArch::kCnn, "cnn"},
                   {experiments::CriticalTrainingArch::kResNet, "resnet"})
CRITLAB_ENUM_NAMES(experiments::CriticalTrainingMethod, "method",
                   {experiments::CriticalTrainingMethod::kPlain, "plain"},
                   {experiments::CriticalTrainingMethod::kCriticalInit, "critical-init"},
                   {experiments::CriticalTrainingMethod::kRegularizer, "regularizer"},
                   {experiments::CriticalTrainingMethod::kController, "controller"},
                   {experiments::CriticalTrainingMethod::kJacobianNorm, "jacobian-norm"},
                   {experiments::CriticalTrainingMethod::kWeightDecay, "weight-decay"})
}  // namespace critlab

namespace critlab::experiments {

struct CriticalTrainingOptions {
  std::vector<CriticalTrainingArch> archs{CriticalTrainingArch::kTanhMlp, CriticalTrainingArch::kReluMlp,
                                          CriticalTrainingArch::kCnn, CriticalTrainingArch::kResNet};
  std::vector<CriticalTrainingMethod> methods{
      CriticalTrainingMethod::kPlain,        CriticalTrainingMethod::kCriticalInit,
      CriticalTrainingMethod::kRegularizer,  CriticalTrainingMethod::kController,
      CriticalTrainingMethod::kJacobianNorm, CriticalTrainingMethod::kWeightDecay};
  std::int64_t seeds = 3;
  std::uint64_t first_seed = 1;
  // Full size: the larger architectures (see arch_spec), and for the fields the caller did not set
  // (see with_critical_training_presets) 10 epochs on all 60,000 images, 5 seeds, 2000 robustness images.
  bool full = false;
  std::int64_t epochs = 1;
  std::int64_t train_examples = 10000;  // 0 = all 60,000
  std::int64_t batch_size = 128;
  double lr = 0.01;              // SGD, momentum 0.9 (0.05 diverges for the chaotic 20-layer tanh MLP)
  double strength = 3.0;         // regularizer lambda (10 diverges for a 20 x 64 tanh MLP from sigma_w 2.5)
  double controller_rate = 0.5;  // controller k
  double tolerance = 0.05;       // controller tolerance
  double jacobian_reg = 0.01;    // Hoffman et al.'s lambda_JR
  double weight_decay = 5e-4;
  double critical_sigma_b = 0.05;
  std::int64_t monitor_every = 25;  // steps between criticality measurements during training
  train::RobustnessOptions robustness = [] {
    train::RobustnessOptions r;
    r.examples = 500;
    return r;
  }();
  std::string device = "auto";
  int threads = 0;
  // Not part of the protocol (never written to experiment.json): monitors attached to every cell's training
  // run, and progress over cells and training steps.
  train::TrainCallbacks callbacks;
  ProgressFn progress;
  // The fields the caller set on purpose, by their names in experiment.json ("epochs",
  // "robustness.examples"), which the preset leaves alone even where they hold the default value.
  std::set<std::string> given;
  std::string data_dir;

  bool IsValid(std::string* error) const;
};
nlohmann::json to_json(const CriticalTrainingOptions& o);

// The options with the `full` preset applied to every field the caller did not set (see `given`); a field
// that differs from its default is always kept. run_critical_training applies it and records the result.
CriticalTrainingOptions with_critical_training_presets(const CriticalTrainingOptions& o);

// The model of a named arch: tanh-mlp (20 x 128 tanh; full: 30 x 256), relu-mlp (10 x 128 relu; full:
// 20 x 256), cnn (3 conv blocks of 32+ channels, relu), resnet (one basic block per stage, 16 channels; full:
// two).
nn::ModelSpec arch_spec(CriticalTrainingArch arch, bool full);

struct CriticalTrainingSummary {
  std::int64_t cells = 0, computed = 0, reused = 0;
  double seconds = 0;
  std::filesystem::path results_md;
};

// Runs the grid of with_critical_training_presets(options) into `out`, resuming what is there.
CriticalTrainingSummary run_critical_training(const std::filesystem::path& out,
                                              const CriticalTrainingOptions& options);

}  // namespace critlab::experiments
