// Must-show 1: deep random MLPs (width 1024, depth 30) measured against mean-field theory.
// Measured mean gain_sq over the 1024->1024 layers from the fifth on must match chi_1 within 5%; the maximal
// Lyapunov exponent over the same layers must be within 0.02 (+10%) of ln(chi_1)/2 and share its sign.
#include <gtest/gtest.h>

#include <cmath>

#include "critlab/data/dataset.h"
#include "critlab/measure/jacobian.h"
#include "critlab/measure/lyapunov.h"
#include "critlab/measure/theory.h"
#include "critlab/nn/model.h"

using namespace critlab;

namespace {
struct Case {
  Activation act;
  Init init;
  double sigma_w, sigma_b;
};

void check(const Case& c) {
  nn::ModelSpec spec = nn::mlp_spec(30, 1024, c.act, c.sigma_w, c.sigma_b);
  spec.init = c.init;
  auto model = nn::build_model(spec, 11);
  const auto probes = data::gaussian_probes(48, spec.input_shape, 5);

  const double sw = c.init == Init::kHe ? std::sqrt(2.0) : c.sigma_w;
  const double sb = c.init == Init::kHe ? 0.0 : c.sigma_b;
  const auto mf = measure::mean_field(c.act, sw, sb);
  ASSERT_TRUE(mf.ok());

  const auto gains = measure::layer_gains(model, probes);
  double gain_sq = 0;
  int n = 0;
  for (const auto& g : gains)
    if (!g.readout && g.fan_in == 1024 && g.fan_out == 1024 && g.index >= 4) gain_sq += g.gain_sq, ++n;
  ASSERT_EQ(n, 26);
  gain_sq /= n;
  EXPECT_NEAR(gain_sq, mf.chi1, 0.05 * mf.chi1) << "sigma_w=" << sw;

  measure::LyapunovOptions lo;
  lo.k = 2;
  lo.max_inputs = 24;
  const auto ly = measure::lyapunov_spectrum(model, probes, lo);
  double lmax = 0;
  for (std::size_t l = 4; l < 30; ++l) lmax += ly.per_layer[l][0];
  lmax /= 26;
  const double expected = mf.lyapunov;
  EXPECT_NEAR(lmax, expected, 0.02 + 0.1 * std::abs(expected)) << "sigma_w=" << sw;
  if (std::abs(expected) > 0.02) {
    EXPECT_EQ(lmax > 0, expected > 0) << "sign, sigma_w=" << sw;
  }
}
}  // namespace

TEST(MeanFieldValidation, TanhOrdered) { check({Activation::kTanh, Init::kGaussian, 0.8, 0.1}); }
TEST(MeanFieldValidation, TanhNearCritical) { check({Activation::kTanh, Init::kGaussian, 1.2, 0.1}); }
TEST(MeanFieldValidation, TanhChaotic) { check({Activation::kTanh, Init::kGaussian, 2.0, 0.1}); }
// He init fixes sigma_w^2 = 2 and sigma_b = 0 whatever sigma_w and sigma_b say.
TEST(MeanFieldValidation, ReluHe) { check({Activation::kRelu, Init::kHe, 1.0, 0.0}); }
