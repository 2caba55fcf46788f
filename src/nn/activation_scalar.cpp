#include "critlab/nn/activation_scalar.h"

#include <cmath>

namespace critlab::nn {

namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
}  // namespace

double activate(Activation a, double z) {
  switch (a) {
    case Activation::kTanh:
      return std::tanh(z);
    case Activation::kRelu:
      return z > 0 ? z : 0.0;
    case Activation::kGelu:
      return z * 0.5 * (1 + std::erf(z * kInvSqrt2));
    case Activation::kSilu:
      return z / (1 + std::exp(-z));
    case Activation::kLinear:
      return z;
  }
  return z;
}

double activate_grad(Activation a, double z) {
  switch (a) {
    case Activation::kTanh: {
      double t = std::tanh(z);
      return 1 - t * t;
    }
    case Activation::kRelu:
      return z > 0 ? 1.0 : 0.0;
    case Activation::kGelu:
      return 0.5 * (1 + std::erf(z * kInvSqrt2)) + z * std::exp(-0.5 * z * z) * kInvSqrt2Pi;
    case Activation::kSilu: {
      double s = 1 / (1 + std::exp(-z));
      return s * (1 + z * (1 - s));
    }
    case Activation::kLinear:
      return 1.0;
  }
  return 1.0;
}

}  // namespace critlab::nn
