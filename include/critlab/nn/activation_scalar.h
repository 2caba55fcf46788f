// Activation functions phi and their derivatives phi' on doubles, for mean-field quadrature (torch-free; the
// tensor versions are in activation.h). GELU is the exact erf form z*Phi(z); SiLU is z*sigmoid(z).
#pragma once
#include "critlab/core/enums.h"

namespace critlab::nn {

double activate(Activation a, double z);
double activate_grad(Activation a, double z);  // phi'(z)

}  // namespace critlab::nn
