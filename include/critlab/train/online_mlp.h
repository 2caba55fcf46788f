// A hand-written forward/backward for plain MLPs trained one example at a time (online learning), the
// regime of continual learning. Autograd's per-op bookkeeping dominates at batch 1; this path runs the same
// maths as autograd with preallocated buffers, in-place BLAS-2 kernels (gemv, rank-1 update) and no graph,
// and updates the weights in place as it backpropagates.
//
// Optimisers (the same updates as torch::optim, tested against it):
//   SGD   w <- w - lr (g + weight_decay w)
//   Adam  m <- b1 m + (1 - b1) G, v <- b2 v + (1 - b2) G^2, w <- w - lr/(1 - b1^t) m / (sqrt(v/(1 - b2^t)) +
//   eps),
//         G = g + weight_decay w
// Losses: cross-entropy on the logits (label = class index) or squared error (z - y)^2 on a single output.
//
// The criticality regulariser of train/criticality_reg.h (log-gain penalty, closed-form estimator, local
// gradient, one example per step) is available on the SGD path: for hidden layer l with input a, z = W a + b,
// c_i = phi'(z_i)^2, n_i = |W_i|^2 and G = sum_i c_i n_i / fan_out, the penalty lambda (ln G/t^2)^2 adds
//   dR/dW = k (2 c_i W_ij + 2 phi'(z_i) phi''(z_i) n_i a_j),  dR/db_i = k 2 phi'(z_i) phi''(z_i) n_i,
//   k = 2 lambda ln(G/t^2) / (G fan_out)
// to the gradient (relu, tanh and linear activations).
//
// It shares its parameters with a LayerStack built by nn::build_model (arch mlp, norm none, no residual),
// so every critlab measure can look at the network it trains.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/nn/stack.h"

namespace critlab::train {

enum class OnlineLoss { kCrossEntropy, kSquaredError };

struct OnlineOptions {
  double lr = 0.01;
  bool adam = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // L2 coefficient, on every parameter (as torch's weight_decay)
  OnlineLoss loss = OnlineLoss::kCrossEntropy;
  double criticality_strength = 0;  // lambda of the log-gain penalty on the hidden layers (SGD only)
  double target_gain = 1.0;         // t
  bool IsValid(std::string* error) const;
};

class OnlineMlp {
 public:
  // `model` must be a plain MLP stack (dense blocks without norm or residual). Parameters are shared.
  explicit OnlineMlp(nn::LayerStack& model, const OnlineOptions& options = {});

  // One optimiser step on one example (x: [fan_in] or [1, ...]); `target` is the class index
  // (cross-entropy) or the regression target (squared error). Returns the loss before the update; writes
  // whether the prediction was correct (cross-entropy only).
  double step(const at::Tensor& x, double target, bool* correct = nullptr);

  std::size_t num_layers() const { return weights_.size(); }

  // Outputs of the hidden layers at the last step, [units] each (views of internal buffers).
  std::vector<at::Tensor> hidden_activations() const;
  // Pre-activations W a + b of the hidden layers at the last step, [units] each (views of internal buffers).
  std::vector<at::Tensor> hidden_preactivations() const;
  // Per hidden layer, gain_sq = sum_i phi'(z_i)^2 n_i / fan_out at the last step's example (the closed-form
  // Jacobian gain of measure/jacobian.h on one example), with the row norms n_i = |W_i|^2 taken from
  // `row_sq_norms` (hidden_row_sq_norms() at some earlier point) instead of a pass over the weights: cheap
  // enough to run after every step.
  std::vector<double> hidden_gain_sq(const std::vector<at::Tensor>& row_sq_norms) const;
  std::vector<at::Tensor> hidden_row_sq_norms() const;

  // Optimiser state (Adam moments; empty for SGD) and its step count, for checkpoints.
  std::vector<at::Tensor> state_tensors() const;
  std::int64_t optimizer_steps() const { return steps_; }
  void set_optimizer_steps(std::int64_t steps) { steps_ = steps; }
  // Zeroes the optimiser state of slice `index` along `dim` of parameter `param` (unit replacement).
  void zero_state_slice(const at::Tensor& param, std::int64_t dim, std::int64_t index);

 private:
  OnlineOptions o_;
  std::vector<at::Tensor> weights_, biases_;  // [out, in], [out] (views of the stack's parameters)
  std::vector<Activation> acts_;              // per hidden layer
  std::vector<at::Tensor> z_, a_, g_;         // preallocated pre-activations, activations, gradients
  std::vector<at::Tensor> m_w_, v_w_, m_b_, v_b_, grad_w_;  // Adam moments and the weight-gradient buffer
  std::int64_t steps_ = 0;
  bool fused_ = false;  // SGD on contiguous float32 CPU parameters: one pass per layer (online_mlp.cpp)
  std::vector<std::vector<float>> row_beta_, update_;  // the fused path's regulariser rows, per layer
  // Fills row_beta_[l] and update_[l] for the regulariser on hidden layer l; false where its gain is not
  // positive and finite (the layer then takes the plain step, as on the op-by-op path).
  bool regulariser_rows(std::size_t l);
};

}  // namespace critlab::train
