// The branching parameter of a network (measure/branching.h): exact on orthogonal linear layers, the
// mean-field gain on deep tanh networks, and the crossing of 1 at the edge of chaos.
#include "critlab/measure/branching.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/data/dataset.h"
#include "critlab/measure/theory.h"
#include "critlab/nn/model.h"

using namespace critlab;

TEST(NetworkBranching, OrthogonalLinearLayersBranchAtTheirGain) {
  // W_l = g Q_l with Q_l orthogonal: every perturbation is scaled by exactly g at every layer.
  for (double g : {0.5, 1.0, 1.7}) {
    auto model = nn::build_model(nn::mlp_spec(6, 64, Activation::kLinear, 1.0, 0.0, {64}), 4);
    {
      torch::NoGradGuard ng;
      for (std::size_t l = 0; l < model->size(); ++l) {
        if (model->block(l)->is_readout()) continue;
        auto v = *model->block(l)->dense_view();
        const auto q = std::get<0>(at::linalg_qr(torch::randn({64, 64}, torch::kDouble)));
        v.weight.copy_(g * q);
        v.bias.zero_();
      }
    }
    const auto r = measure::branching_parameter(model, data::gaussian_probes(16, {64}, 1));
    ASSERT_TRUE(r.ok());
    int hidden = 0;
    for (const auto& l : r.layers) {
      if (l.readout) continue;
      ++hidden;
      ASSERT_TRUE(l.sigma);
      EXPECT_NEAR(*l.sigma, g, 1e-4) << "g " << g << " layer " << l.index;
      // Binarised: the activity grows with the perturbation, so relative to the layer's scale nothing changes
      // on average (the rotation only reshuffles which units cross the threshold).
      ASSERT_TRUE(l.sigma_binary);
      EXPECT_NEAR(*l.sigma_binary, 1.0, 0.1);
    }
    EXPECT_EQ(hidden, 6);
    EXPECT_NEAR(*r.sigma, g, 1e-4);
  }
}

TEST(NetworkBranching, VanishingPerturbationGivesZeroNotANumber) {
  auto model = nn::build_model(nn::mlp_spec(3, 8, Activation::kRelu, 1.0, 0.0, {4}), 1);
  {
    torch::NoGradGuard ng;
    model->block(1)->dense_view()->weight.zero_();
  }
  const auto r = measure::branching_parameter(model, data::gaussian_probes(8, {4}, 1));
  ASSERT_TRUE(r.sigma);
  EXPECT_EQ(*r.sigma, 0.0);
  EXPECT_FALSE(r.sigma_binary);
  EXPECT_FALSE(r.status.message.empty());
  const auto j = measure::to_json(r);
  EXPECT_TRUE(j["sigma_binary"].is_null());
  EXPECT_EQ(j["sigma_binary_status"], "not-found");
}

namespace {
// Deep tanh MLPs (depth 20, width 256, sigma_b = 0.1) fed at their mean-field fixed point: probes scaled so
// that the first pre-activation has variance q*, as every later one does (sigma_w^2 m + sigma_b^2 = q*).
measure::BranchingReport tanh_branching(double sw, std::uint64_t seed) {
  const auto mf = measure::mean_field(Activation::kTanh, sw, 0.1);
  const double m = std::max(mf.q_star - 0.01, 1e-12) / (sw * sw);
  auto model = nn::build_model(nn::mlp_spec(20, 256, Activation::kTanh, sw, 0.1, {256}), seed);
  return measure::branching_parameter(model, data::gaussian_probes(64, {256}, seed + 100) * std::sqrt(m));
}
}  // namespace

TEST(NetworkBranching, DeepTanhFollowsTheMeanFieldGain) {
  // At the fixed point every layer's continuous sigma_l is sqrt(chi_1) = sqrt(sigma_w^2 E[phi'(z)^2]).
  for (double sw : {0.8, 1.5, 2.5}) {
    const auto r = tanh_branching(sw, 1);
    const double chi = measure::mean_field(Activation::kTanh, sw, 0.1).chi1;
    EXPECT_NEAR(*r.sigma, std::sqrt(chi), 0.02 * std::sqrt(chi)) << sw;
  }
}

TEST(NetworkBranching, DeepTanhCrossesOneAtTheEdgeOfChaos) {
  const double edge = measure::edge_of_chaos_sigma_w(Activation::kTanh, 0.1);  // 1.193
  const std::vector<double> grid{0.6, 0.8, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 2.0, 2.5, 3.0};
  std::vector<double> sigma, binary;
  for (double sw : grid) {
    double s = 0, b = 0;
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto r = tanh_branching(sw, seed);
      s += *r.sigma / 3, b += r.sigma_binary.value_or(std::nan("")) / 3;
    }
    sigma.push_back(s), binary.push_back(b);
  }
  auto crossing = [&](const std::vector<double>& v) {
    for (std::size_t i = 1; i < v.size(); ++i)
      if (v[i - 1] < 1 && v[i] >= 1)
        return grid[i - 1] + (1 - v[i - 1]) / (v[i] - v[i - 1]) * (grid[i] - grid[i - 1]);
    return std::nan("");
  };
  for (std::size_t i = 1; i < grid.size(); ++i) EXPECT_GT(sigma[i], sigma[i - 1]) << grid[i];
  EXPECT_NEAR(crossing(sigma), edge, 0.10 * edge);
  EXPECT_NEAR(crossing(binary), edge, 0.10 * edge);
}
