// Network avalanches: cascades die early in ordered networks and sweep the stack in chaotic ones; the
// per-layer susceptibility is N Var(rho) of the activity definition.
#include "critlab/measure/avalanches.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "critlab/data/dataset.h"
#include "critlab/nn/model.h"

using namespace critlab;

namespace {
double mean_duration(const measure::NetworkAvalanches& r) {
  double s = 0;
  for (const auto& a : r.avalanches) s += static_cast<double>(a.duration);
  return r.avalanches.empty() ? 0 : s / static_cast<double>(r.avalanches.size());
}
}  // namespace

TEST(NetworkAvalanches, OrderedCascadesDieChaoticOnesSweepTheStack) {
  const auto probes = data::gaussian_probes(64, {32}, 1);
  measure::NetworkAvalancheOptions o;
  o.threshold = 0.05;
  auto ordered = nn::build_model(nn::mlp_spec(20, 64, Activation::kTanh, 0.5, 0.0, {32}), 1);
  auto chaotic = nn::build_model(nn::mlp_spec(20, 64, Activation::kTanh, 3.0, 0.0, {32}), 1);
  auto a = measure::network_avalanches(ordered, probes, o);
  auto b = measure::network_avalanches(chaotic, probes, o);
  EXPECT_LT(mean_duration(a), 10.0);
  EXPECT_EQ(a.reached_output, 0);
  EXPECT_EQ(b.reached_output, static_cast<std::int64_t>(b.avalanches.size()));
  EXPECT_DOUBLE_EQ(mean_duration(b), 20.0);
  for (const auto& av : b.avalanches) {
    double s = 0;
    for (double v : av.shape) s += v;
    EXPECT_EQ(av.size, static_cast<std::int64_t>(s));
  }
}

TEST(NetworkAvalanches, SusceptibilityIsNTimesTheVarianceOfTheActiveFraction) {
  auto model = nn::build_model(nn::mlp_spec(2, 40, Activation::kTanh, 1.5, 0.1, {10}), 2);
  const auto probes = data::gaussian_probes(200, {10}, 3);
  measure::NetworkAvalancheOptions o;
  o.kind = measure::AvalancheKind::kActivity;
  o.activity_z = 1.0;
  auto r = measure::network_avalanches(model, probes, o);
  ASSERT_EQ(r.layers.size(), 2u);
  torch::NoGradGuard g;
  auto h = model->block(0)->forward(probes);
  auto z = (h - h.mean(0)) / (h.std(0) + 1e-12);
  auto rho = (z > 1.0).to(torch::kFloat64).mean(1);
  EXPECT_NEAR(r.layers[0].mean_active, rho.mean().item<double>(), 1e-12);
  EXPECT_NEAR(r.layers[0].susceptibility, 40 * rho.var().item<double>(), 1e-9);
  // Activity avalanches: per input, runs of layers with an active unit; sizes add up to the active counts.
  std::int64_t total = 0;
  for (const auto& a : r.avalanches) total += a.size;
  std::int64_t expected = (z > 1.0).sum().item<std::int64_t>();
  auto h2 = model->block(1)->forward(h);
  expected += (((h2 - h2.mean(0)) / (h2.std(0) + 1e-12)) > 1.0).sum().item<std::int64_t>();
  EXPECT_EQ(total, expected);
}
