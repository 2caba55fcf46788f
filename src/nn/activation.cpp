#include "critlab/nn/activation.h"

#include <torch/torch.h>

#include <cmath>

namespace critlab::nn {

namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
}  // namespace

at::Tensor activate(Activation a, const at::Tensor& z) {
  switch (a) {
    case Activation::kTanh:
      return torch::tanh(z);
    case Activation::kRelu:
      return torch::relu(z);
    case Activation::kGelu:
      return torch::gelu(z);
    case Activation::kSilu:
      return torch::silu(z);
    case Activation::kLinear:
      return z;
  }
  return z;
}

at::Tensor activate_grad(Activation a, const at::Tensor& z) {
  switch (a) {
    case Activation::kTanh: {
      auto t = torch::tanh(z);
      return 1 - t * t;
    }
    case Activation::kRelu:
      return (z > 0).to(z.scalar_type());
    case Activation::kGelu: {
      auto cdf = 0.5 * (1 + torch::erf(z * kInvSqrt2));
      return cdf + z * torch::exp(-0.5 * z * z) * kInvSqrt2Pi;
    }
    case Activation::kSilu: {
      auto s = torch::sigmoid(z);
      return s * (1 + z * (1 - s));
    }
    case Activation::kLinear:
      return torch::ones_like(z);
  }
  return torch::ones_like(z);
}

}  // namespace critlab::nn
