// Must-show 1 (issue 5): the regulariser's gradient against central finite differences (closed form,
// Hutchinson, Lyapunov; full and local gradients), and the closed-form and stochastic gain estimators in
// agreement within their standard error. The controller's correction against its exact law on a linear
// layer, where gain_sq = ||W||_F^2 / fan_out is known in closed form.
#include "critlab/train/criticality_reg.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/nn/blocks.h"
#include "critlab/nn/model.h"

using namespace critlab;

namespace {

nn::LayerStack small_net(Activation act, double sigma_w) {
  auto net = nn::build_model(nn::mlp_spec(3, 7, act, sigma_w, 0.1, {5}), 3);
  net->to(torch::kFloat64);
  return net;
}

double penalty_value(nn::LayerStack& net, const train::CriticalityRegularizer& reg, const at::Tensor& x) {
  return reg.penalty(net, net->forward_tapped(x), 11).penalty.item<double>();
}

// Analytic gradient of R against central differences on every parameter entry of the given blocks.
void expect_gradient_matches(nn::LayerStack& net, const train::CriticalityOptions& o, const at::Tensor& x,
                             const std::vector<std::size_t>& blocks, double tol) {
  train::CriticalityRegularizer reg(o, net);
  net->zero_grad();
  reg.penalty(net, net->forward_tapped(x), 11).penalty.backward();
  int checked = 0;
  for (auto b : blocks) {
    for (auto& p : net->block(b)->parameters()) {
      const auto grad = p.grad().clone();
      auto flat = p.data().view({-1});
      auto gflat = grad.view({-1});
      for (std::int64_t i = 0; i < flat.numel(); i += 3) {  // every third entry keeps the test fast
        const double h = 1e-6, orig = flat[i].item<double>();
        flat[i] = orig + h;
        const double up = penalty_value(net, reg, x);
        flat[i] = orig - h;
        const double down = penalty_value(net, reg, x);
        flat[i] = orig;
        const double fd = (up - down) / (2 * h), an = gflat[i].item<double>();
        ASSERT_NEAR(an, fd, tol * std::max(1.0, std::abs(fd))) << "block " << b << " entry " << i;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 15);
}

}  // namespace

TEST(CriticalityReg, FullGradientMatchesFiniteDifferencesForEveryPenaltyAndEstimator) {
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({6, 5}, torch::kFloat64);
  struct Case {
    Penalty penalty;
    measure::GainMethod estimator;
  };
  for (const auto& c : {Case{Penalty::kLogGain, measure::GainMethod::kAnalytic},
                        Case{Penalty::kGain, measure::GainMethod::kAnalytic},
                        Case{Penalty::kLogGain, measure::GainMethod::kHutchinson},
                        Case{Penalty::kLyapunov, measure::GainMethod::kAuto}}) {
    for (double sigma_w : {0.8, 2.5}) {
      auto net = small_net(Activation::kTanh, sigma_w);
      train::CriticalityOptions o;
      o.mode = CriticalityMode::kRegularizer;
      o.penalty = c.penalty;
      o.estimator = c.estimator;
      o.local_gradient = false;
      o.sub_batch = 6;
      o.probes = 3;
      SCOPED_TRACE(to_string(c.penalty) + " " + critlab::to_string(c.estimator) + " sigma_w " +
                   std::to_string(sigma_w));
      expect_gradient_matches(net, o, x, {0, 1, 2}, 1e-6);
    }
  }
}

TEST(CriticalityReg, LocalGradientIsTheOwnLayerDerivative) {
  // With inputs held fixed, the last hidden layer's parameters reach only their own term: FD agrees there.
  torch::manual_seed(1);
  const at::Tensor x = torch::randn({6, 5}, torch::kFloat64);
  auto net = small_net(Activation::kTanh, 1.7);
  train::CriticalityOptions o;
  o.mode = CriticalityMode::kRegularizer;
  o.sub_batch = 6;
  for (auto est : {measure::GainMethod::kAnalytic, measure::GainMethod::kHutchinson}) {
    o.estimator = est;
    expect_gradient_matches(net, o, x, {2}, 1e-6);
  }
  // ... and differs from the full gradient on the first layer, which the later terms depend on.
  train::CriticalityRegularizer local(o, net);
  o.local_gradient = false;
  train::CriticalityRegularizer full(o, net);
  net->zero_grad();
  local.penalty(net, net->forward_tapped(x), 11).penalty.backward();
  const auto g_local = net->block(0)->parameters()[0].grad().clone();
  net->zero_grad();
  full.penalty(net, net->forward_tapped(x), 11).penalty.backward();
  EXPECT_GT((g_local - net->block(0)->parameters()[0].grad()).abs().max().item<double>(), 1e-4);
}

TEST(CriticalityReg, HutchinsonAgreesWithClosedFormWithinStandardError) {
  torch::manual_seed(2);
  for (auto act : {Activation::kTanh, Activation::kRelu}) {
    nn::DenseBlockImpl block(48, 64, act, Norm::kNone, false);
    torch::nn::init::normal_(block.linear->weight, 0, 1.5 / std::sqrt(48.0));
    const at::Tensor x = torch::randn({16, 48});
    const nn::Tap tap{x, block.linear->forward(x), block.forward(x)};
    torch::NoGradGuard no_grad;
    const double exact =
        train::gain_sq_estimate(block, tap, measure::GainMethod::kAnalytic, 16, 1, 0, false).item<double>();
    const int draws = 400;
    double s = 0, s2 = 0;
    for (int k = 0; k < draws; ++k) {
      torch::AutoGradMode grad_on(true);
      const double v = train::gain_sq_estimate(block, tap, measure::GainMethod::kHutchinson, 16, 1,
                                               1000 + static_cast<std::uint64_t>(k), true)
                           .item<double>();
      s += v, s2 += v * v;
    }
    const double mean = s / draws, se = std::sqrt((s2 / draws - mean * mean) / (draws - 1));
    EXPECT_GT(se, 0.0);
    EXPECT_LT(std::abs(mean - exact), 4 * se)
        << to_string(act) << ": hutchinson " << mean << " +- " << se << " vs closed form " << exact;
    EXPECT_LT(se / exact, 0.02);  // the test has power: the estimate is pinned to 2%
  }
}

TEST(CriticalityController, OneCorrectionFollowsTheLawExactlyOnALinearLayer) {
  // Linear activation: gain_sq = ||W||_F^2 / fan_out, so scaling W by s multiplies it by s^2 (rho = 1).
  auto net = nn::build_model(nn::mlp_spec(1, 20, Activation::kLinear, 2.0, 0.0, {20}), 5);
  const at::Tensor x = torch::randn({32, 20});
  train::CriticalityOptions o;
  o.mode = CriticalityMode::kController;
  o.strength = 0.5;  // k
  o.control_smoothing = 1.0;
  o.tolerance = 0.05;
  train::CriticalityRegularizer reg(o, net);
  train::CriticalityController ctl(o, reg.layers().size());
  auto gain = [&] { return reg.gains(net, net->forward_tapped(x), 0).at(0); };
  const double g0 = gain();
  ctl.correct(net, reg.layers(), {g0});
  const double g1 = gain();
  EXPECT_NEAR(std::log(g1), (1 - o.strength) * std::log(g0), 1e-5);  // log error multiplied by 1 - k
  EXPECT_NEAR(ctl.smoothed_distance(), 0.5 * std::abs(std::log(g1)), 1e-5);
  // Repeated, it contracts geometrically until it enters the dead band and then stops acting.
  for (int t = 0; t < 30; ++t) ctl.correct(net, reg.layers(), {gain()});
  const double g_end = gain();
  EXPECT_LE(0.5 * std::abs(std::log(g_end)), 0.5 * o.tolerance + 1e-9);
  const auto before = ctl.corrections();
  ctl.correct(net, reg.layers(), {g_end});
  EXPECT_EQ(ctl.corrections(), before);
  // State round trip.
  train::CriticalityController other(o, 1);
  other.restore(ctl.state());
  EXPECT_EQ(other.state(), ctl.state());
}

// The library names the field; the command line turns it into the flag (tests/cli/bad_input_test.cpp).
TEST(CriticalityReg, OptionsRejectNonsenseNamingTheField) {
  train::CriticalityOptions o;
  std::string err;
  o.strength = -1;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_EQ(err.rfind("criticality.strength ", 0), 0u) << err;
  o = {};
  o.mode = CriticalityMode::kController;
  o.strength = 3;
  EXPECT_FALSE(o.IsValid(&err));
  o = {};
  o.estimator = measure::GainMethod::kExact;
  EXPECT_FALSE(o.IsValid(&err));
  o = {};
  o.tolerance = 0;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_EQ(err.rfind("criticality.tolerance ", 0), 0u) << err;
}

TEST(CriticalityController, CorrectsBatchNormLayersThroughTheirScales) {
  // Behind batch norm the weight scale does not set the gain; the BN scale gamma does, exactly (eval mode).
  auto spec = nn::mlp_spec(2, 16, Activation::kLinear, 1.0, 0.0, {12});
  spec.norm = Norm::kBatchNorm;
  auto net = nn::build_model(spec, 9);
  {
    net->train();  // give the running statistics something to hold
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 20; ++i) net->forward(torch::randn({64, 12}));
  }
  net->eval();
  const at::Tensor probes = torch::randn({8, 12});
  measure::GainOptions exact;
  exact.method = measure::GainMethod::kExact;
  const auto before = measure::layer_gains(net, probes, exact);
  const auto w_before = net->block(0)->named_parameters()["linear.weight"].clone();

  train::CriticalityOptions o;
  o.mode = CriticalityMode::kController;
  o.strength = 0.5;
  o.control_smoothing = 1.0;
  train::CriticalityRegularizer reg(o, net);
  train::CriticalityController ctl(o, reg.layers().size());
  ctl.correct(net, reg.layers(), {4.0, 1.0});  // layer 0 reported at gain^2 = 4, layer 1 critical
  const auto after = measure::layer_gains(net, probes, exact);
  // k = 0.5 on ln 4: gamma scaled by 4^(-1/4), so gain^2 halves; layer 1 is inside the dead band.
  EXPECT_NEAR(after[0].gain_sq / before[0].gain_sq, 0.5, 1e-4);
  EXPECT_NEAR(after[1].gain_sq / before[1].gain_sq, 1.0, 1e-6);
  EXPECT_TRUE(torch::equal(net->block(0)->named_parameters()["linear.weight"], w_before));
  EXPECT_EQ(net->block(0)->gain_parameters().size(), 1u);
}
