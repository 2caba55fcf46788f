#include "critlab/nn/stack.h"

#include <torch/torch.h>

namespace critlab::nn {

std::vector<at::Tensor> BlockImpl::weights() const {
  std::vector<at::Tensor> w;
  for (const auto& p : parameters(/*recurse=*/true))
    if (p.dim() >= 2) w.push_back(p);
  return w;
}

std::optional<DenseView> plain_dense_view(BlockImpl& block) {
  auto v = block.dense_view();
  if (!v || v->normalised || v->residual) return std::nullopt;
  return v;
}

std::string LayerStackImpl::block_name(std::size_t i) { return "block" + std::to_string(i); }

void LayerStackImpl::append(BlockPtr block) {
  register_module(block_name(blocks_.size()), block);
  blocks_.push_back(std::move(block));
}

at::Tensor LayerStackImpl::forward(const at::Tensor& x) {
  at::Tensor h = x;
  for (auto& b : blocks_) h = b->forward(h);
  return h;
}

std::vector<Tap> LayerStackImpl::forward_tapped(const at::Tensor& x) {
  std::vector<Tap> taps;
  taps.reserve(blocks_.size());
  at::Tensor h = x;
  for (auto& b : blocks_) {
    auto [pre, out] = b->forward_with_pre(h);
    taps.push_back({h, pre, out});
    h = out;
  }
  return taps;
}

at::Tensor LayerStackImpl::forward_until(const at::Tensor& x, std::size_t upto) {
  at::Tensor h = x;
  for (std::size_t i = 0; i < upto && i < blocks_.size(); ++i) h = blocks_[i]->forward(h);
  return h;
}

std::vector<std::size_t> LayerStackImpl::hidden_blocks() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < blocks_.size(); ++i)
    if (!blocks_[i]->is_readout()) out.push_back(i);
  return out;
}

std::int64_t LayerStackImpl::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace critlab::nn
