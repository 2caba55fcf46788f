// Activation functions phi and their derivatives phi', on tensors (for analytic Jacobians) and on doubles
// (for mean-field quadrature). GELU is the exact erf form z*Phi(z); SiLU is z*sigmoid(z).
#pragma once
#include <ATen/core/Tensor.h>

#include "critlab/core/enums.h"
#include "critlab/nn/activation_scalar.h"

namespace critlab::nn {

at::Tensor activate(Activation a, const at::Tensor& z);
at::Tensor activate_grad(Activation a, const at::Tensor& z);  // phi'(z), elementwise

}  // namespace critlab::nn
