// The one abstraction (DESIGN.md): every network is an ordered stack of blocks h_l = f_l(h_{l-1}).
//
// A Block maps one tensor to one tensor ([B, ...] -> [B, ...], examples independent in eval mode). It can
// report its pre-activation (the tensor before its last nonlinearity) for taps, and may offer analytic
// shortcuts for its Jacobian; measures fall back to autograd when it does not. The last block of a
// classifier is the readout (logits) and is excluded from "hidden layer" averages.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace critlab::nn {

// What a tapped forward pass records at one block.
struct Tap {
  at::Tensor input;   // h_{l-1}
  at::Tensor pre;     // pre-activation, undefined where the block has none
  at::Tensor output;  // h_l
};

class BlockImpl : public torch::nn::Module {
 public:
  // h_l from h_{l-1}.
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // {pre-activation (may be undefined), output}.
  virtual std::pair<at::Tensor, at::Tensor> forward_with_pre(const at::Tensor& x) { return {at::Tensor(), forward(x)}; }
  // Analytic Jacobian-vector product J(x) v for a batch (v shaped like x); undefined if not offered.
  virtual at::Tensor jvp_analytic(const at::Tensor& /*x*/, const at::Tensor& /*v*/) { return {}; }
  // Exact per-example squared Frobenius norm ||J(x_b)||_F^2, shape [B]; undefined if not offered.
  virtual at::Tensor jacobian_sq_norm_analytic(const at::Tensor& /*x*/) { return {}; }
  // The same from a tap of this block (input and pre-activation of one forward pass), so that a training
  // step can reuse its own forward pass; differentiable with respect to the parameters and the tap.
  virtual at::Tensor jacobian_sq_norm_analytic(const Tap& tap) { return jacobian_sq_norm_analytic(tap.input); }
  // Short human-readable description, e.g. "dense 784->256 tanh".
  virtual std::string describe() const = 0;

  bool is_readout() const { return readout_; }
  void set_readout(bool r) { readout_ = r; }

 private:
  bool readout_ = false;
};

using BlockPtr = std::shared_ptr<BlockImpl>;

class LayerStackImpl : public torch::nn::Module {
 public:
  // Appends a block (registered as submodule "block<i>", so checkpoints name parameters stably).
  void append(BlockPtr block);
  at::Tensor forward(const at::Tensor& x);
  // Forward pass recording every block's input, pre-activation and output.
  std::vector<Tap> forward_tapped(const at::Tensor& x);
  // Runs blocks [0, upto) and returns h_upto (h_0 = x).
  at::Tensor forward_until(const at::Tensor& x, std::size_t upto);

  std::size_t size() const { return blocks_.size(); }
  const BlockPtr& block(std::size_t i) const { return blocks_.at(i); }
  // Indices of hidden blocks (all but readout blocks).
  std::vector<std::size_t> hidden_blocks() const;
  std::int64_t num_parameters() const;

 private:
  std::vector<BlockPtr> blocks_;
};
TORCH_MODULE(LayerStack);

}  // namespace critlab::nn
