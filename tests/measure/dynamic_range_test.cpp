// Dynamic range against exact cases: a linear response F(s) = c s over [1e-3, 1e3] gives
// s_0.1 ~ 100, s_0.9 ~ 900 and Delta = 10 log10(9) = 9.54 dB; saturating tanh compresses it.
#include <gtest/gtest.h>

#include <cmath>

#include "critlab/data/dataset.h"
#include "critlab/measure/dynamic_range.h"
#include "critlab/nn/model.h"

using namespace critlab;

TEST(DynamicRange, LinearNetworkGivesTenLogNine) {
  auto model = nn::build_model(nn::mlp_spec(3, 32, Activation::kLinear, 1.0, 0.0, {16}), 1);
  measure::DynamicRangeOptions o;
  o.points = 601;
  auto r = measure::dynamic_range(model, data::gaussian_probes(8, {16}, 1), o);
  ASSERT_TRUE(r.ok);
  EXPECT_NEAR(r.delta_db, 10 * std::log10(9.0), 0.01);
  // F(s) = c s exactly.
  EXPECT_NEAR(r.response[300] / r.scales[300], r.response[0] / r.scales[0], 1e-4 * r.response[300] / r.scales[300]);
}

TEST(DynamicRange, SaturationCompressesTheRange) {
  auto model = nn::build_model(nn::mlp_spec(3, 32, Activation::kTanh, 1.0, 0.0, {16}), 1);
  auto r = measure::dynamic_range(model, data::gaussian_probes(8, {16}, 1));
  ASSERT_TRUE(r.ok);
  EXPECT_GT(r.delta_db, 0.0);
  // tanh saturates near s ~ 1: both 10% and 90% points fall within two decades of it, far below 1e3.
  EXPECT_LT(r.s_high, 100.0);
}

TEST(DynamicRange, FlatResponseIsAStatusNotANumber) {
  auto model = nn::build_model(nn::mlp_spec(2, 8, Activation::kRelu, 0.0, 0.0, {4}), 1);
  {
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) p.zero_();
  }
  auto r = measure::dynamic_range(model, data::gaussian_probes(4, {4}, 1));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.message.empty());
}
