// Issue 6, must-show 2 (part): effective rank against matrices with known singular values, and dead-unit
// counting against constructed activity.
#include "critlab/measure/plasticity.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/nn/model.h"

using namespace critlab;

namespace {
// U diag(s) V^T with random orthonormal U [rows, k] and V [cols, k].
at::Tensor with_singular_values(const std::vector<double>& s, std::int64_t rows, std::int64_t cols) {
  const auto k = static_cast<std::int64_t>(s.size());
  const auto u = std::get<0>(at::linalg_qr(torch::randn({rows, k}, torch::kFloat64)));
  const auto v = std::get<0>(at::linalg_qr(torch::randn({cols, k}, torch::kFloat64)));
  return torch::matmul(u * torch::tensor(s, torch::kFloat64), v.t());
}
}  // namespace

TEST(Plasticity, EffectiveRankMatchesTheEntropyOfKnownSingularValues) {
  torch::manual_seed(4);
  const std::vector<double> s{3.0, 2.0, 1.0, 0.5};
  double total = 0, h = 0;
  for (double x : s) total += x;
  for (double x : s) h -= x / total * std::log(x / total);
  EXPECT_NEAR(measure::effective_rank(with_singular_values(s, 50, 30)), std::exp(h), 1e-9);
  // Equal singular values: exactly the rank; rank one: 1; zero matrix: 0.
  EXPECT_NEAR(measure::effective_rank(with_singular_values(std::vector<double>(7, 1.3), 40, 20)), 7.0, 1e-9);
  EXPECT_NEAR(measure::effective_rank(with_singular_values({5.0}, 10, 10)), 1.0, 1e-9);
  EXPECT_EQ(measure::effective_rank(torch::zeros({8, 4})), 0.0);
  // Scale invariant.
  const auto m = with_singular_values(s, 20, 20);
  EXPECT_NEAR(measure::effective_rank(m * 1e3), measure::effective_rank(m), 1e-9);
}

TEST(Plasticity, DeadUnitsAreThoseZeroOnEveryExample) {
  at::Tensor a = torch::rand({100, 12}) + 0.1;
  a.index_put_({torch::indexing::Slice(), 3}, 0.0);
  a.index_put_({torch::indexing::Slice(), 7}, 0.0);
  a.index_put_({torch::indexing::Slice(0, 99), 9}, 0.0);  // alive on one example only: not dead
  const auto d = measure::dead_units(a);
  EXPECT_EQ(d.units, 12);
  EXPECT_EQ(d.dead, 2);
  EXPECT_DOUBLE_EQ(d.fraction(), 2.0 / 12.0);
}

TEST(Plasticity, LayerMeasuresOnAReluNetWithKilledUnits) {
  torch::manual_seed(5);
  auto net = nn::build_model(nn::mlp_spec(2, 16, Activation::kRelu, 1.4, 0.0, {6}), 2);
  {
    torch::NoGradGuard no_grad;  // kill 5 units of layer 0: bias -100 makes them negative on every input
    auto params = net->block(0)->named_parameters();
    params["linear.bias"].slice(0, 0, 5).fill_(-100.0);
  }
  const auto p = measure::layer_plasticity(net, torch::randn({200, 6}));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].dead.dead, 5);
  EXPECT_LE(p[0].effective_rank, 11.0 + 1e-9);  // at most the 11 live units
  EXPECT_GT(p[0].effective_rank, 1.0);
  const auto w = net->block(1)->named_parameters()["linear.weight"];
  EXPECT_NEAR(p[1].mean_abs_weight, w.abs().mean().item<double>(), 1e-9);
}
