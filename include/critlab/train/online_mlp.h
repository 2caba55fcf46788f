// A hand-written forward/backward for plain MLPs trained one example at a time (online SGD), the regime of
// continual learning. Autograd's per-op bookkeeping dominates at batch 1; this path runs the same maths as
// autograd with preallocated buffers, in-place BLAS-2 kernels (gemv, rank-1 update) and no graph, and
// updates the weights in place as it backpropagates.
//
// It shares its parameters with a LayerStack built by nn::build_model (arch mlp, norm none, no residual),
// so every critlab measure can look at the network it trains.
#pragma once
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "critlab/core/enums.h"
#include "critlab/nn/stack.h"

namespace critlab::train {

class OnlineMlp {
 public:
  // `model` must be a plain MLP stack (dense blocks without norm or residual). Parameters are shared.
  explicit OnlineMlp(nn::LayerStack& model);

  // One SGD step on one example (x: [fan_in] or [1, ...], label in [0, classes)). Returns the loss
  // (cross-entropy) before the update and writes whether the prediction was correct.
  double step(const at::Tensor& x, std::int64_t label, double lr, bool* correct = nullptr);

  std::size_t num_layers() const { return weights_.size(); }

 private:
  std::vector<at::Tensor> weights_, biases_;  // [out, in], [out] (views of the stack's parameters)
  std::vector<Activation> acts_;             // per hidden layer
  std::vector<at::Tensor> z_, a_, g_;         // preallocated pre-activations, activations, gradients
};

}  // namespace critlab::train
