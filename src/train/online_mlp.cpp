#include "critlab/train/online_mlp.h"

#include <cmath>

#include <torch/torch.h>

#include "critlab/core/error.h"
#include "critlab/nn/activation.h"
#include "critlab/nn/blocks.h"

namespace critlab::train {

OnlineMlp::OnlineMlp(nn::LayerStack& model) {
  for (std::size_t l = 0; l < model->size(); ++l) {
    auto* dense = nn::as_plain_dense(*model->block(l));
    if (!dense)
      throw Error("the online fast path needs a plain MLP (dense layers, no normalisation, no residual)");
    weights_.push_back(dense->linear->weight);
    biases_.push_back(dense->linear->bias);
    acts_.push_back(dense->activation);
  }
  const auto opts = weights_.front().options().requires_grad(false);
  a_.push_back(torch::empty({weights_.front().size(1)}, opts));
  for (const auto& w : weights_) {
    z_.push_back(torch::empty({w.size(0)}, opts));
    a_.push_back(torch::empty({w.size(0)}, opts));
    g_.push_back(torch::empty({w.size(0)}, opts));
  }
}

double OnlineMlp::step(const at::Tensor& x, std::int64_t label, double lr, bool* correct) {
  c10::InferenceMode guard;  // no autograd dispatch at all: this path does its own derivatives
  const std::size_t L = weights_.size();
  a_[0].copy_(x.reshape({-1}));
  for (std::size_t l = 0; l < L; ++l) {
    at::addmv_out(z_[l], biases_[l], weights_[l], a_[l]);
    if (l + 1 < L) {
      if (acts_[l] == Activation::kRelu) at::clamp_min_out(a_[l + 1], z_[l], 0);
      else a_[l + 1].copy_(nn::activate(acts_[l], z_[l]));
    }
  }
  // Softmax cross-entropy: g_L = softmax(z_L) - onehot(label).
  at::Tensor& logits = z_[L - 1];
  at::Tensor& g = g_[L - 1];
  at::_softmax_out(g, logits, 0, false);
  double p_label;
  if (g.is_cpu()) {  // direct access: at batch 1 each tensor op's dispatch costs more than the arithmetic
    float* p = g.data_ptr<float>();
    p_label = p[label];
    p[label] -= 1.0f;
  } else {
    p_label = g[label].item<double>();
    g[label].sub_(1.0);
  }
  const double loss = -std::log(std::max(p_label, 1e-30));
  if (correct) *correct = logits.argmax().item<std::int64_t>() == label;
  // Backward, updating each layer right after its input gradient has been taken with the old weights.
  for (std::size_t l = L; l-- > 0;) {
    if (l > 0) {
      at::mv_out(g_[l - 1], weights_[l].t(), g_[l]);
      if (acts_[l - 1] == Activation::kRelu) g_[l - 1].mul_(z_[l - 1] > 0);
      else g_[l - 1].mul_(nn::activate_grad(acts_[l - 1], z_[l - 1]));
    }
    weights_[l].addr_(g_[l], a_[l], 1.0, -lr);
    biases_[l].add_(g_[l], -lr);
  }
  return loss;
}

}  // namespace critlab::train
