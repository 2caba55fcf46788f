// The one abstraction (DESIGN.md): every network is an ordered stack of blocks h_l = f_l(h_{l-1}).
//
// A Block maps one tensor to one tensor ([B, ...] -> [B, ...], examples independent in eval mode). It can
// report its pre-activation (the tensor before its last nonlinearity) for taps, and may offer analytic
// shortcuts for its Jacobian; measures fall back to autograd when it does not. The last block of a
// classifier is the readout (logits) and is excluded from "hidden layer" averages.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"

namespace critlab::nn {

// What a tapped forward pass records at one block.
struct Tap {
  at::Tensor input;   // h_{l-1}
  at::Tensor pre;     // pre-activation, undefined where the block has none
  at::Tensor output;  // h_l
};

// A block seen as a dense layer h = phi(W flatten(x) + b) [+ flatten(x) when residual]: what correlation
// graphs, pruning and critical computational graphs need to read and edit weights unit by unit.
struct DenseView {
  at::Tensor weight;        // [fan_out, fan_in]: the parameter itself, so in-place edits change the block
  at::Tensor bias;          // [fan_out], undefined where the layer has none
  std::string weight_name;  // the weight's parameter path inside the block, e.g. "linear.weight"
  std::string bias_name;    // the bias's, empty where there is none
  Activation activation = Activation::kLinear;
  bool normalised = false;  // a normalisation sits between W x + b and phi
  bool residual = false;
};

class BlockImpl : public torch::nn::Module {
 public:
  // h_l from h_{l-1}.
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  // {pre-activation (may be undefined), output}.
  virtual std::pair<at::Tensor, at::Tensor> forward_with_pre(const at::Tensor& x) {
    return {at::Tensor(), forward(x)};
  }
  // Analytic Jacobian-vector product J(x) v for a batch: v shaped like x, or holding k directions per example
  // (k B rows, example b's at rows b k ... b k + k - 1), so that J(x_b) is formed once for its k directions;
  // undefined if not offered.
  virtual at::Tensor jvp_analytic(const at::Tensor& /*x*/, const at::Tensor& /*v*/) { return {}; }
  // Exact per-example squared Frobenius norm ||J(x_b)||_F^2, shape [B]; undefined if not offered.
  virtual at::Tensor jacobian_sq_norm_analytic(const at::Tensor& /*x*/) { return {}; }
  // The same from a tap of this block (input and pre-activation of one forward pass), so that a training
  // step can reuse its own forward pass; differentiable with respect to the parameters and the tap.
  virtual at::Tensor jacobian_sq_norm_analytic(const Tap& tap) {
    return jacobian_sq_norm_analytic(tap.input);
  }
  // Short human-readable description, e.g. "dense 784->256 tanh".
  virtual std::string describe() const = 0;

  // What measures, trainers and analyses ask of a block instead of reading its parameters' names (DESIGN.md:
  // measures ask the stack). A new block kind (a TorchScript submodule, say) answers these and every
  // measure works on it.
  //
  // The weight matrices and kernels: every parameter of two or more dimensions (Linear and Conv2d weights;
  // never biases or normalisation scales), in registration order.
  virtual std::vector<at::Tensor> weights() const;
  // The parameters a gain controller rescales to move this block's gain: a batch norm would undo a
  // rescaled weight, so blocks with batch norm answer its scales; the default is weights().
  virtual std::vector<at::Tensor> gain_parameters() const { return weights(); }
  // The block as a dense layer, if it is one (see DenseView); nullopt for convolutions and other maps.
  virtual std::optional<DenseView> dense_view() { return std::nullopt; }

  bool is_readout() const { return readout_; }
  void set_readout(bool r) { readout_ = r; }

  // How measure::jvp last computed a Jacobian-vector product for this block: "analytic", "forward-ad" or
  // "double-vjp" (forward-mode AD is not implemented for every op; imported TorchScript falls back); empty
  // before the first product.
  const std::string& jvp_path() const { return jvp_path_; }
  void set_jvp_path(std::string path) { jvp_path_ = std::move(path); }

 private:
  bool readout_ = false;
  std::string jvp_path_;
};

using BlockPtr = std::shared_ptr<BlockImpl>;

// The block's dense view if it is a plain dense layer (no normalisation, no skip connection): the form the
// hand-written paths (online SGD, unit replacement) work on directly.
std::optional<DenseView> plain_dense_view(BlockImpl& block);

// Puts a module in eval mode for a scope and restores its previous mode.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalModeGuard() { m_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& m_;
  bool was_training_;
};

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
  // The name block i is registered under ("block<i>"): the prefix of its parameters' names in checkpoints.
  static std::string block_name(std::size_t i);
  // Indices of hidden blocks (all but readout blocks).
  std::vector<std::size_t> hidden_blocks() const;
  std::int64_t num_parameters() const;

 private:
  std::vector<BlockPtr> blocks_;
};
TORCH_MODULE(LayerStack);

}  // namespace critlab::nn
