// Robustness evaluation against exact answers for a linear binary classifier f(x) = w.x + b (logits 0, f):
// the worst L-infinity perturbation of radius eps lowers the margin m = (2y - 1) f(x) by exactly eps |w|_1,
// and FGSM finds it in one step, so accuracy under FGSM and PGD = fraction with m > eps |w|_1; under
// Gaussian noise each example is right with probability Phi(m / (sigma |w|_2)).
#include "critlab/train/robustness.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/nn/blocks.h"

using namespace critlab;

TEST(Robustness, LinearClassifierMatchesExactAccuracies) {
  torch::manual_seed(7);
  const std::int64_t n = 4000, dim = 20;
  nn::LayerStack net;
  auto block = std::make_shared<nn::DenseBlockImpl>(dim, 2, Activation::kLinear, Norm::kNone, false);
  block->set_readout(true);
  net->append(block);
  at::Tensor w = torch::randn({dim});
  const double b = 0.1;
  {
    torch::NoGradGuard no_grad;
    block->linear->weight.zero_();
    block->linear->weight[1].copy_(w);
    block->linear->bias.copy_(torch::tensor({0.0, b}));
  }
  data::Dataset d;
  d.images = torch::randn({n, dim});
  d.num_classes = 2;
  // Labels from a noisy teacher so that some examples are misclassified and margins vary.
  d.labels = ((torch::matmul(d.images, w) + b + 0.8 * torch::randn({n})) > 0).to(torch::kInt64);

  train::RobustnessOptions o;
  o.examples = 0;
  o.noise_std = {0.05, 0.2};
  o.eps = {0.01, 0.05};
  o.seed = 3;
  const auto r = train::evaluate_robustness(net, d, train::InputDomain{}, o);

  const at::Tensor f = torch::matmul(d.images, w) + b;
  const at::Tensor m = f * (2 * d.labels.to(torch::kFloat32) - 1);  // margin, > 0 = correct
  EXPECT_NEAR(r.clean, (m > 0).to(torch::kFloat64).mean().item<double>(), 1e-12);
  const double w1 = w.abs().sum().item<double>(), w2 = w.norm().item<double>();
  for (std::size_t i = 0; i < o.eps.size(); ++i) {
    const double exact = (m > o.eps[i] * w1).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(r.fgsm[i].second, exact, 1.0 / n) << "FGSM eps " << o.eps[i];
    EXPECT_NEAR(r.pgd[i].second, exact, 1.0 / n) << "PGD eps " << o.eps[i];
    EXPECT_LT(r.fgsm[i].second, r.clean);
  }
  for (std::size_t i = 0; i < o.noise_std.size(); ++i) {
    const at::Tensor p = 0.5 * torch::erfc(-m.to(torch::kFloat64) / (o.noise_std[i] * w2 * std::sqrt(2.0)));
    const double expected = p.mean().item<double>();
    const double se = std::sqrt((p * (1 - p)).sum().item<double>()) / n;
    EXPECT_NEAR(r.noise[i].second, expected, 4 * se + 1e-12) << "noise " << o.noise_std[i];
  }
}

TEST(Robustness, ClippingKeepsAttacksInsideTheValidRange) {
  // A valid range that the clean inputs sit on the edge of: eps-perturbations are clipped, so an attack
  // that only pushes outward cannot change anything.
  nn::LayerStack net;
  auto block = std::make_shared<nn::DenseBlockImpl>(3, 2, Activation::kLinear, Norm::kNone, false);
  net->append(block);
  {
    torch::NoGradGuard no_grad;
    block->linear->weight.copy_(torch::tensor({{0.0f, 0.0f, 0.0f}, {1.0f, 1.0f, 1.0f}}));
    block->linear->bias.zero_();
  }
  data::Dataset d{torch::ones({10, 3}), torch::ones({10}, torch::kInt64)};  // f = 3 > 0: class 1, margin 3
  train::RobustnessOptions o;
  o.examples = 0;
  o.eps = {10.0};  // without clipping this would flip every example (margin 3 < 10 * 3)
  o.noise_std = {};
  const auto r = train::evaluate_robustness(net, d, train::InputDomain{1.0, 0.0, 1.0}, o);
  // Attacks push toward 0 (lower margin); the range [0, 1] allows reaching x = 0, f = 0: a tie, argmax 0.
  EXPECT_DOUBLE_EQ(r.fgsm[0].second, 0.0);
  EXPECT_DOUBLE_EQ(r.clean, 1.0);
  std::string err;
  o.pgd_steps = 0;
  EXPECT_FALSE(o.IsValid(&err));
}
