// Must-show 2: products of Gaussian random matrices. For a deep linear network with W ~ N(0, sigma^2/N),
// the Lyapunov spectrum is exactly lambda_i = ln sigma + (ln(2/N) + psi((N - i + 1)/2)) / 2
// (Newman 1986; Cohen & Newman 1984). Measured over 2,000 layers of width 64, each of the top 10 exponents
// must be within 0.01 of it.
#include "critlab/measure/lyapunov.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/data/dataset.h"
#include "critlab/nn/model.h"

using namespace critlab;

namespace {
double digamma(double x) { return torch::digamma(torch::tensor({x}, torch::kFloat64)).item<double>(); }

void check_linear_spectrum(double sigma, std::uint64_t seed) {
  const std::int64_t N = 64;
  auto model = nn::build_model(nn::mlp_spec(2000, N, Activation::kLinear, sigma, 0.0, {N}), seed);
  measure::LyapunovOptions lo;
  lo.k = 10;
  lo.max_inputs = 1;  // a linear map's Jacobian does not depend on the input
  lo.seed = seed;
  const auto r = measure::lyapunov_spectrum(model, data::gaussian_probes(1, {N}, seed), lo);
  ASSERT_EQ(r.k, 10);
  ASSERT_EQ(r.layers.size(), 2000u);
  for (int i = 1; i <= 10; ++i) {
    const double exact = std::log(sigma) + 0.5 * (std::log(2.0 / N) + digamma((N - i + 1) / 2.0));
    EXPECT_NEAR(r.exponents[i - 1], exact, 0.01) << "i=" << i << " sigma=" << sigma;
  }
  for (int i = 1; i < 10; ++i) EXPECT_GE(r.exponents[i - 1], r.exponents[i] - 0.01);
}
}  // namespace

TEST(LyapunovExact, GaussianProductSigmaOne) { check_linear_spectrum(1.0, 3); }
TEST(LyapunovExact, GaussianProductSigmaOnePointFive) { check_linear_spectrum(1.5, 4); }

TEST(Lyapunov, SpectrumIsCappedByTheNarrowestLayer) {
  auto model = nn::build_model(nn::mlp_spec(3, 5, Activation::kRelu, 0.0, 0.0, {12}), 1);
  measure::LyapunovOptions lo;
  lo.k = 8;
  const auto r = measure::lyapunov_spectrum(model, data::gaussian_probes(4, {12}, 1), lo);
  EXPECT_EQ(r.k, 5);
  EXPECT_EQ(r.exponents.size(), 5u);
}
