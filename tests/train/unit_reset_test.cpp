// Issue 6, must-show 1: continual backprop's replacement leaves the output unchanged for a unit with constant
// activation, and moves it by exactly W_out (f - h(x)) otherwise (the bias correction's approximation);
// maturity and replacement-rate accounting replace the expected number of units over a stream; optimiser
// state of replaced weights is zeroed; ReDo replaces dormant units.
#include "critlab/train/unit_reset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/nn/blocks.h"
#include "critlab/nn/model.h"

using namespace critlab;

namespace {
nn::LayerStack relu_mlp(std::int64_t depth, std::int64_t width, std::int64_t in, std::uint64_t seed) {
  return nn::build_model(nn::mlp_spec(depth, width, Activation::kRelu, 1.4, 0.1, {in}), seed);
}
at::Tensor param(nn::LayerStack& s, std::size_t l, const char* name) {
  return s->block(l)->named_parameters()[name];
}
}  // namespace

TEST(UnitReset, ReplacingAConstantUnitLeavesTheOutputUnchanged) {
  torch::manual_seed(1);
  auto net = relu_mlp(2, 8, 5, 1);
  {
    torch::NoGradGuard no_grad;
    param(net, 0, "linear.weight")[3].zero_();
    param(net, 0, "linear.bias")[3] = 0.7;  // h_3 = relu(0.7) = 0.7 on every input
  }
  const at::Tensor x = torch::randn({32, 5});
  torch::NoGradGuard no_grad;
  const at::Tensor before = net->forward(x);
  const at::Tensor w_before = param(net, 0, "linear.weight")[3].clone();
  train::replace_unit(net, 0, 3, 0.7, 1.4, {}, 5);
  EXPECT_LT((net->forward(x) - before).abs().max().item<double>(), 1e-6);
  EXPECT_FALSE(torch::equal(param(net, 0, "linear.weight")[3], w_before));  // fresh incoming weights
  EXPECT_EQ(param(net, 1, "linear.weight").select(1, 3).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(param(net, 0, "linear.bias")[3].item<double>(), 0.0);
}

TEST(UnitReset, OutputMovesByExactlyTheBiasCorrectionResidual) {
  // Unit 2 of the last hidden layer feeds the linear readout: logits move by W_out[:, 2] (f - h_2(x)).
  torch::manual_seed(2);
  auto net = relu_mlp(2, 8, 5, 2);
  const at::Tensor x = torch::randn({16, 5});
  torch::NoGradGuard no_grad;
  const auto taps = net->forward_tapped(x);
  const at::Tensor h = taps[1].output.select(1, 2);
  const double f = h.mean().item<double>();
  const at::Tensor w_col = param(net, 2, "linear.weight").select(1, 2).clone();
  const at::Tensor before = taps.back().output;
  train::replace_unit(net, 1, 2, f, 1.4, {}, 3);
  const at::Tensor expected = before + torch::outer(f - h, w_col);
  EXPECT_LT((net->forward(x) - expected).abs().max().item<double>(), 1e-5);
  // On average over these inputs the output does not move.
  EXPECT_LT((net->forward(x) - before).mean(0).abs().max().item<double>(), 1e-5);
}

TEST(UnitReset, MaturityAndRateReplaceTheExpectedNumberOfUnits) {
  torch::manual_seed(3);
  const std::int64_t width = 50, steps = 400, maturity = 20;
  auto net = relu_mlp(2, width, 6, 3);
  train::UnitResetOptions o;
  o.replacement_rate = 0.01;
  o.maturity = maturity;
  train::ContinualBackprop cbp(net, o, 4);
  // Reference accounting: only the number of eligible units matters for the count, since every replaced
  // unit restarts at age 0.
  std::vector<std::vector<std::int64_t>> ages(2, std::vector<std::int64_t>(width, 0));
  std::vector<double> acc(2, 0.0);
  std::int64_t expected = 0, got = 0;
  for (std::int64_t t = 1; t <= steps; ++t) {
    std::vector<nn::Tap> taps;
    {
      torch::NoGradGuard no_grad;
      taps = net->forward_tapped(torch::randn({4, 6}));
    }
    const auto n = cbp.update(net, train::hidden_outputs(taps));
    if (t <= maturity) {
      EXPECT_EQ(n, 0) << "step " << t;
    }
    got += n;
    for (int l = 0; l < 2; ++l) {
      std::int64_t eligible = 0;
      for (auto& a : ages[l]) eligible += ++a > maturity;
      if (!eligible) continue;
      acc[l] += 0.01 * eligible;
      auto k = static_cast<std::int64_t>(std::floor(acc[l]));
      acc[l] -= k;
      expected += k;
      for (auto& a : ages[l])
        if (k > 0 && a > maturity) a = 0, --k;
    }
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(cbp.replaced_total(), expected);
  // Order of magnitude from the rate alone: ~0.01 x 100 units x (400 - 20) steps = 380, less re-maturing.
  EXPECT_GT(expected, 250);
  EXPECT_LT(expected, 380);
}

TEST(UnitReset, OptimiserStateOfReplacedWeightsIsZeroed) {
  torch::manual_seed(4);
  auto net = relu_mlp(1, 6, 3, 4);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    net->forward(torch::randn({8, 3})).pow(2).sum().backward();
    opt.step();
  }
  train::replace_unit(net, 0, 1, 0.0, 1.4, train::optimizer_state_reset(&opt), 1);
  auto momentum = [&](const at::Tensor& p) {
    auto& s = static_cast<torch::optim::SGDParamState&>(
        *opt.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())));
    return s.momentum_buffer();
  };
  EXPECT_EQ(momentum(param(net, 0, "linear.weight"))[1].abs().sum().item<double>(), 0.0);
  EXPECT_EQ(momentum(param(net, 1, "linear.weight")).select(1, 1).abs().sum().item<double>(), 0.0);
  EXPECT_GT(momentum(param(net, 0, "linear.weight"))[0].abs().sum().item<double>(), 0.0);  // others kept
}

TEST(UnitReset, RedoReplacesDormantUnitsOnly) {
  torch::manual_seed(5);
  auto net = relu_mlp(1, 10, 4, 5);
  {
    torch::NoGradGuard no_grad;
    param(net, 0, "linear.bias").slice(0, 0, 3).fill_(-100.0);  // units 0-2 dead
  }
  std::vector<nn::Tap> taps;
  {
    torch::NoGradGuard no_grad;
    taps = net->forward_tapped(torch::randn({64, 4}));
  }
  EXPECT_EQ(train::redo_reset(net, train::hidden_outputs(taps), 0.0, 1.4, {}, 1), 3);
  EXPECT_EQ(param(net, 0, "linear.bias").slice(0, 0, 3).abs().sum().item<double>(), 0.0);
}
