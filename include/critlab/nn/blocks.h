// The built-in blocks: dense (MLP layers and readouts), convolutional, and residual convolutional.
#pragma once
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "critlab/core/enums.h"
#include "critlab/nn/stack.h"

namespace critlab::nn {

// z = norm(W flatten(x) + b); h = phi(z) [+ flatten(x) when residual and fan_in == fan_out].
// Without normalisation its Jacobian is diag(phi'(z)) W (+ I), so JVPs and ||J||_F^2 are analytic:
// ||diag(phi') W||_F^2 = sum_ij phi'(z_i)^2 W_ij^2, and with the skip connection
// ||I + diag(phi') W||_F^2 = that + 2 sum_i phi'(z_i) W_ii + N.
class DenseBlockImpl : public BlockImpl {
 public:
  DenseBlockImpl(std::int64_t in, std::int64_t out, Activation act, Norm norm, bool residual);
  at::Tensor forward(const at::Tensor& x) override;
  std::pair<at::Tensor, at::Tensor> forward_with_pre(const at::Tensor& x) override;
  at::Tensor jvp_analytic(const at::Tensor& x, const at::Tensor& v) override;
  at::Tensor jacobian_sq_norm_analytic(const at::Tensor& x) override;
  at::Tensor jacobian_sq_norm_analytic(const Tap& tap) override;
  std::string describe() const override;
  std::vector<at::Tensor> gain_parameters() const override;
  std::optional<DenseView> dense_view() override;

  torch::nn::Linear linear{nullptr};
  Activation activation;
  Norm norm;
  bool residual;  // effective: only when fan_in == fan_out

 private:
  torch::nn::BatchNorm1d bn_{nullptr};
  torch::nn::LayerNorm ln_{nullptr};
  at::Tensor preact(const at::Tensor& x2d);
};

// conv3x3(pad 1) -> [batchnorm] -> phi -> [maxpool 2x2].
class ConvBlockImpl : public BlockImpl {
 public:
  ConvBlockImpl(std::int64_t in_channels, std::int64_t out_channels, Activation act, Norm norm, bool pool);
  at::Tensor forward(const at::Tensor& x) override;
  std::pair<at::Tensor, at::Tensor> forward_with_pre(const at::Tensor& x) override;
  std::string describe() const override;
  std::vector<at::Tensor> gain_parameters() const override;

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  Activation act_;
  bool pool_;
  std::int64_t in_, out_;
};

// Basic ResNet block (He et al. 2016): phi(bn(conv(phi(bn(conv(x))))) + shortcut(x)), the shortcut a
// strided 1x1 convolution when the shape changes.
class ResidualBlockImpl : public BlockImpl {
 public:
  ResidualBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride, Activation act,
                    Norm norm);
  at::Tensor forward(const at::Tensor& x) override;
  std::pair<at::Tensor, at::Tensor> forward_with_pre(const at::Tensor& x) override;
  std::string describe() const override;
  std::vector<at::Tensor> gain_parameters() const override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn_short_{nullptr};
  Activation act_;
  std::int64_t in_, out_, stride_;
};

// Global average pooling over space, then a linear map: the ResNet readout.
class PoolLinearBlockImpl : public BlockImpl {
 public:
  PoolLinearBlockImpl(std::int64_t channels, std::int64_t out);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;

 private:
  torch::nn::Linear linear_{nullptr};
  std::int64_t channels_, out_;
};

}  // namespace critlab::nn
