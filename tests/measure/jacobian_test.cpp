// Must-show 3: Jacobian-vector products agree with central finite differences, for every block type, in
// double precision; the analytic products and norms agree with autograd; the estimators of ||J||_F^2 agree.
#include "critlab/measure/jacobian.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "critlab/data/dataset.h"
#include "critlab/nn/blocks.h"
#include "critlab/nn/model.h"

using namespace critlab;

namespace {
// Central difference (f(x + eps v) - f(x - eps v)) / 2 eps, in float64.
at::Tensor finite_difference(nn::BlockImpl& b, const at::Tensor& x, const at::Tensor& v, double eps = 1e-6) {
  torch::NoGradGuard g;
  return (b.forward(x + eps * v) - b.forward(x - eps * v)) / (2 * eps);
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double rtol, const std::string& what) {
  const double scale = b.abs().max().item<double>() + 1e-12;
  EXPECT_LT((a - b).abs().max().item<double>() / scale, rtol) << what;
}

std::vector<std::pair<std::string, nn::BlockPtr>> all_blocks() {
  return {
      {"dense tanh", std::make_shared<nn::DenseBlockImpl>(12, 9, Activation::kTanh, Norm::kNone, false)},
      {"dense gelu residual",
       std::make_shared<nn::DenseBlockImpl>(9, 9, Activation::kGelu, Norm::kNone, true)},
      {"dense silu layernorm",
       std::make_shared<nn::DenseBlockImpl>(9, 7, Activation::kSilu, Norm::kLayerNorm, false)},
      {"dense tanh batchnorm",
       std::make_shared<nn::DenseBlockImpl>(9, 7, Activation::kTanh, Norm::kBatchNorm, false)},
      {"conv tanh pool", std::make_shared<nn::ConvBlockImpl>(2, 3, Activation::kTanh, Norm::kNone, true)},
      {"conv gelu bn", std::make_shared<nn::ConvBlockImpl>(2, 3, Activation::kGelu, Norm::kBatchNorm, false)},
      {"residual tanh stride2",
       std::make_shared<nn::ResidualBlockImpl>(2, 4, 2, Activation::kTanh, Norm::kBatchNorm)},
      {"residual silu", std::make_shared<nn::ResidualBlockImpl>(2, 2, 1, Activation::kSilu, Norm::kNone)},
      {"pool linear", std::make_shared<nn::PoolLinearBlockImpl>(2, 5)},
  };
}

at::Tensor input_for(const std::string& name) {
  torch::manual_seed(3);
  const bool image =
      name.rfind("conv", 0) == 0 || name.rfind("residual", 0) == 0 || name.rfind("pool", 0) == 0;
  const bool nine = name.find("residual") != std::string::npos || name.find("norm") != std::string::npos;
  if (image) return torch::randn({3, 2, 6, 6}, torch::kFloat64);
  return torch::randn({3, nine ? 9 : 12}, torch::kFloat64);
}
}  // namespace

// Issue 15, must-show 4: the reverse-mode-only product (the fallback for TorchScript ops without a
// forward-mode formula) equals forward-mode AD and central finite differences on every block type, in
// float64.
TEST(Jacobian, DoubleVjpMatchesForwardAdAndFiniteDifferencesForEveryBlock) {
  for (auto& [name, block] : all_blocks()) {
    block->to(torch::kFloat64);
    block->eval();
    auto x = input_for(name);
    auto v = torch::randn_like(x);
    const auto fd = finite_difference(*block, x, v);
    const auto forward = measure::jvp_forward_ad(*block, x, v);
    const auto reverse = measure::jvp_double_vjp(*block, x, v);
    expect_close(reverse, forward, 1e-10, name + ": double-VJP vs forward AD");
    expect_close(reverse, fd, 1e-6, name + ": double-VJP vs finite differences");
  }
}

TEST(Jacobian, JvpRecordsItsPath) {
  auto dense = std::make_shared<nn::DenseBlockImpl>(12, 9, Activation::kTanh, Norm::kNone, false);
  auto normed = std::make_shared<nn::DenseBlockImpl>(9, 7, Activation::kTanh, Norm::kLayerNorm, false);
  EXPECT_EQ(dense->jvp_path(), "");
  measure::jvp(*dense, torch::randn({2, 12}), torch::randn({2, 12}));
  EXPECT_EQ(dense->jvp_path(), "analytic");
  measure::jvp(*dense, torch::randn({2, 12}), torch::randn({2, 12}), /*allow_analytic=*/false);
  EXPECT_EQ(dense->jvp_path(), "forward-ad");
  measure::jvp(*normed, torch::randn({2, 9}), torch::randn({2, 9}));
  EXPECT_EQ(normed->jvp_path(), "forward-ad");
}

TEST(Jacobian, JvpMatchesFiniteDifferencesForEveryBlock) {
  for (auto& [name, block] : all_blocks()) {
    block->to(torch::kFloat64);
    block->eval();
    auto x = input_for(name);
    auto v = torch::randn_like(x);
    auto fd = finite_difference(*block, x, v);
    expect_close(measure::jvp(*block, x, v, /*allow_analytic=*/false), fd, 1e-6, name + " (forward AD)");
    expect_close(measure::jvp(*block, x, v, /*allow_analytic=*/true), fd, 1e-6,
                 name + " (analytic if offered)");
    // Reverse mode: <u, J v> = <J^T u, v> per example.
    torch::Tensor out;
    {
      torch::NoGradGuard g;
      out = block->forward(x);
    }
    auto u = torch::randn_like(out);
    auto jv = measure::jvp(*block, x, v);
    auto jtu = measure::vjp(*block, x, u);
    auto lhs = (u * jv.reshape(out.sizes())).reshape({x.size(0), -1}).sum(1);
    auto rhs = (jtu * v).reshape({x.size(0), -1}).sum(1);
    expect_close(lhs, rhs, 1e-10, name + " (adjoint identity)");
  }
}

TEST(Jacobian, SquaredNormEstimatorsAgree) {
  for (auto& [name, block] : all_blocks()) {
    block->to(torch::kFloat64);
    block->eval();
    auto x = input_for(name);
    auto exact = measure::jacobian_sq_norm(*block, x, measure::GainMethod::kExact, 1, 0);
    // Hutchinson with many Rademacher probes: unbiased, so within a few standard errors of the exact norm.
    auto hutch = measure::jacobian_sq_norm(*block, x, measure::GainMethod::kHutchinson, 4000, 42);
    auto rel = ((hutch - exact).abs() / exact).max().item<double>();
    EXPECT_LT(rel, 0.06) << name;
    auto analytic = block->jacobian_sq_norm_analytic(x);
    if (analytic.defined()) expect_close(analytic, exact, 1e-10, name + " (analytic norm)");
  }
}

TEST(Jacobian, HutchinsonIsUnbiasedWithinItsStandardError) {
  // The layer_gains standard error must cover the Hutchinson estimate's deviation from the exact value.
  auto model = nn::build_model(nn::mlp_spec(2, 200, Activation::kTanh, 1.5, 0.0, {50}), 9);
  auto probes = data::gaussian_probes(64, {50}, 2);
  measure::GainOptions exact_o, hutch_o;
  exact_o.method = measure::GainMethod::kAnalytic;
  hutch_o.method = measure::GainMethod::kHutchinson;
  hutch_o.probes = 16;
  auto exact = measure::layer_gains(model, probes, exact_o);
  auto hutch = measure::layer_gains(model, probes, hutch_o);
  for (std::size_t l = 0; l + 1 < exact.size(); ++l) {
    EXPECT_EQ(hutch[l].method, "hutchinson");
    EXPECT_NEAR(hutch[l].gain_sq, exact[l].gain_sq, 4 * hutch[l].gain_sq_se + 1e-9) << "layer " << l;
  }
}

TEST(Jacobian, GainsOfWholeModelsUseTheRightMethods) {
  for (auto arch : {Arch::kCnn, Arch::kResNet}) {
    nn::ModelSpec spec;
    spec.arch = arch;
    spec.depth = 1;
    spec.width = 4;
    spec.norm = Norm::kBatchNorm;
    spec.input_shape = {1, 12, 12};
    auto model = nn::build_model(spec, 1);
    model->to(torch::kFloat64);
    const auto probes = data::gaussian_probes(6, spec.input_shape, 1).to(torch::kFloat64);
    auto gains = measure::layer_gains(model, probes);
    auto exact = measure::layer_gains(model, probes, {.method = measure::GainMethod::kExact});
    ASSERT_EQ(gains.size(), model->size());
    EXPECT_TRUE(gains.back().readout);
    // Each block's gain^2 = mean_b ||J_l(x_b)||_F^2 / (outputs per example), recomputed here without
    // autograd: the Jacobian column by column from central differences of the block in eval mode.
    nn::EvalModeGuard eval(*model);
    torch::NoGradGuard no_grad;
    const auto taps = model->forward_tapped(probes);
    for (std::size_t l = 0; l < gains.size(); ++l) {
      auto& block = *model->block(l);
      const auto& x = taps[l].input;
      const auto per_example = x[0].numel();
      double sq = 0;
      for (std::int64_t i = 0; i < per_example; ++i) {
        auto e = torch::zeros_like(x).view({x.size(0), -1});
        e.select(1, i).fill_(1e-6);
        e = e.view_as(x);
        const auto column = (block.forward(x + e) - block.forward(x - e)) / 2e-6;  // J e_i per example
        sq += column.square().sum().item<double>();
      }
      const double expected =
          sq / static_cast<double>(x.size(0)) / static_cast<double>(taps[l].output[0].numel());
      EXPECT_NEAR(exact[l].gain_sq, expected, 1e-6 * expected)
          << to_string(arch) << " " << gains[l].description;
      // auto picks Hutchinson for the wide conv blocks: unbiased, within its standard error.
      EXPECT_NEAR(gains[l].gain_sq, expected, 4 * gains[l].gain_sq_se + 1e-6 * expected)
          << to_string(arch) << " " << gains[l].description << " (" << gains[l].method << ")";
      EXPECT_NE(gains[l].method, "auto");
    }
    // Readout: a dense layer (cnn) has the closed form; the pooled readout (resnet) is small enough for
    // exact.
    EXPECT_EQ(gains.back().method, arch == Arch::kCnn ? "analytic" : "exact");
  }
}
