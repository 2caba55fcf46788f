// Lyapunov spectrum of a deep linear network against the exact spectrum of Gaussian matrix products.
//
//   build/examples/random_matrix_lyapunov [sigma] [depth]
//
// Expected output (sigma 1, depth 2000, width 64): ten lines "i measured exact diff", |diff| < 0.01, e.g.
//   i   measured     exact      diff
//   1   -0.00800  -0.00785  -0.00014
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "critlab/data/dataset.h"
#include "critlab/measure/lyapunov.h"
#include "critlab/nn/model.h"

int main(int argc, char** argv) {
  using namespace critlab;
  const double sigma = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::int64_t depth = argc > 2 ? std::atoll(argv[2]) : 2000, n = 64;
  auto model = nn::build_model(nn::mlp_spec(depth, n, Activation::kLinear, sigma, 0.0, {n}), 3);
  measure::LyapunovOptions o;
  o.k = 10;
  o.max_inputs = 1;
  const auto r = measure::lyapunov_spectrum(model, data::gaussian_probes(1, {n}, 3), o);
  std::printf("  i   measured     exact      diff\n");
  for (int i = 1; i <= r.k; ++i) {
    const double psi = torch::digamma(torch::tensor({(n - i + 1) / 2.0}, torch::kFloat64)).item<double>();
    const double exact = std::log(sigma) + 0.5 * (std::log(2.0 / n) + psi);
    std::printf("%3d %10.5f %9.5f %+9.5f\n", i, r.exponents[i - 1], exact, r.exponents[i - 1] - exact);
  }
  return 0;
}
