#include "critlab/nn/activation.h"

#include <cmath>

#include <torch/torch.h>

namespace critlab::nn {

namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
}  // namespace

at::Tensor activate(Activation a, const at::Tensor& z) {
  switch (a) {
    case Activation::kTanh: return torch::tanh(z);
    case Activation::kRelu: return torch::relu(z);
    case Activation::kGelu: return torch::gelu(z);
    case Activation::kSilu: return torch::silu(z);
    case Activation::kLinear: return z;
  }
  return z;
}

at::Tensor activate_grad(Activation a, const at::Tensor& z) {
  switch (a) {
    case Activation::kTanh: {
      auto t = torch::tanh(z);
      return 1 - t * t;
    }
    case Activation::kRelu: return (z > 0).to(z.scalar_type());
    case Activation::kGelu: {
      auto cdf = 0.5 * (1 + torch::erf(z * kInvSqrt2));
      return cdf + z * torch::exp(-0.5 * z * z) * kInvSqrt2Pi;
    }
    case Activation::kSilu: {
      auto s = torch::sigmoid(z);
      return s * (1 + z * (1 - s));
    }
    case Activation::kLinear: return torch::ones_like(z);
  }
  return torch::ones_like(z);
}

double activate(Activation a, double z) {
  switch (a) {
    case Activation::kTanh: return std::tanh(z);
    case Activation::kRelu: return z > 0 ? z : 0.0;
    case Activation::kGelu: return z * 0.5 * (1 + std::erf(z * kInvSqrt2));
    case Activation::kSilu: return z / (1 + std::exp(-z));
    case Activation::kLinear: return z;
  }
  return z;
}

double activate_grad(Activation a, double z) {
  switch (a) {
    case Activation::kTanh: {
      double t = std::tanh(z);
      return 1 - t * t;
    }
    case Activation::kRelu: return z > 0 ? 1.0 : 0.0;
    case Activation::kGelu: return 0.5 * (1 + std::erf(z * kInvSqrt2)) + z * std::exp(-0.5 * z * z) * kInvSqrt2Pi;
    case Activation::kSilu: {
      double s = 1 / (1 + std::exp(-z));
      return s * (1 + z * (1 - s));
    }
    case Activation::kLinear: return 1.0;
  }
  return 1.0;
}

}  // namespace critlab::nn
