// Sharpness over training: the top Hessian eigenvalue lambda_max (and the trace) of the training loss, on a
// fixed batch, at every step a run recorded, beside the stability threshold of its optimiser; and full-batch
// gradient descent with lambda_max tracked, the setting of the "edge of stability" (Cohen, Kaur, Li, Kolter
// & Talwalkar, ICLR 2021).
//
// Gradient descent with step eta on a quadratic diverges along eigenvectors with lambda > 2 / eta. Cohen et
// al. found that full-batch GD on neural networks first sharpens (lambda_max rises, "progressive
// sharpening") until it reaches 2 / eta and then hovers there ("edge of stability") while the loss keeps
// falling, non-monotonically. With heavy-ball momentum beta the threshold is (2 + 2 beta) / eta.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <vector>

#include "critlab/core/progress.h"
#include "critlab/core/status.h"
#include "critlab/graph/recording.h"
#include "critlab/landscape/hessian.h"
#include "critlab/nn/stack.h"

namespace critlab::landscape {

struct SharpnessOptions {
  LossKind loss = LossKind::kCrossEntropy;
  int iterations = 40;   // Lanczos steps at most per measurement
  double tol = 1e-3;     // relative residual of the top Ritz pair
  int trace_probes = 0;  // Hutchinson probes per measurement (0: no trace)
  bool double_precision = false;
  std::uint64_t seed = 0;
};

struct SharpnessPoint {
  std::int64_t step = 0;
  double loss = 0;
  std::optional<double> lambda_max, trace, trace_se;
  Status status;  // no-convergence when the top pair's residual stayed above tol
};

// lambda_max (and the trace) at the model's current parameters; `start` warm-starts Lanczos and receives the
// new top eigenvector.
SharpnessPoint measure_sharpness(nn::LayerStack& model, const at::Tensor& inputs, const at::Tensor& labels,
                                 const SharpnessOptions& options, at::Tensor* start = nullptr);

// The model's trainable parameters as recorded at `step` (record/step-<step>/param_<name>.npy), shaped and
// ordered like trainable_parameters(model); and the same set into the model. Throw critlab::Error naming the
// step when it was not recorded or a parameter is missing or misshapen.
std::vector<at::Tensor> recorded_parameters(nn::LayerStack& model, const graph::Recording& rec,
                                            std::int64_t step);
void load_recorded_parameters(nn::LayerStack& model, const graph::Recording& rec, std::int64_t step);

// At each of `steps` (recorded steps of `rec`), with the parameters the recording holds (every trainable
// parameter must be recorded: param_<name>.npy). The model's own parameters are restored afterwards.
// `progress` (may be empty) hears of each step done (task "sharpness").
std::vector<SharpnessPoint> sharpness_over_recording(nn::LayerStack& model, const graph::Recording& rec,
                                                     const std::vector<std::int64_t>& steps,
                                                     const at::Tensor& inputs, const at::Tensor& labels,
                                                     const SharpnessOptions& options,
                                                     const ProgressFn& progress = {});

// Full-batch gradient descent (no momentum) on (inputs, labels) for `steps` steps with learning rate `lr`,
// measuring the sharpness every `measure_every` steps (and at step 0 and the last).
struct GdSharpnessOptions {
  double lr = 0.01;
  std::int64_t steps = 1000;
  std::int64_t measure_every = 20;
  SharpnessOptions sharpness;
  bool IsValid(std::string* error) const;
};
struct GdSharpness {
  std::vector<std::int64_t> step;  // measured steps
  std::vector<double> loss;        // the training loss at those steps
  std::vector<std::optional<double>> lambda_max;
  double threshold = 0;  // 2 / lr
  bool diverged = false;
};
GdSharpness gradient_descent_sharpness(nn::LayerStack& model, const at::Tensor& inputs,
                                       const at::Tensor& labels, const GdSharpnessOptions& options,
                                       const ProgressFn& progress = {});

nlohmann::json to_json(const SharpnessPoint& p);

}  // namespace critlab::landscape
