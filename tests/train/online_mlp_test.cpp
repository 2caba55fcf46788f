// The hand-written online path must take exactly the SGD step autograd takes.
#include "critlab/train/online_mlp.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "critlab/core/error.h"
#include "critlab/nn/model.h"

using namespace critlab;

TEST(OnlineMlp, StepMatchesAutogradSgd) {
  for (auto act : {Activation::kRelu, Activation::kTanh, Activation::kGelu}) {
    auto spec = nn::mlp_spec(3, 20, act, 1.3, 0.2, {15});
    auto fast_net = nn::build_model(spec, 5);
    auto ref_net = nn::build_model(spec, 5);
    train::OnlineMlp fast(fast_net, {.lr = 0.1});
    torch::optim::SGD sgd(ref_net->parameters(), torch::optim::SGDOptions(0.1));
    torch::manual_seed(1);
    for (int i = 0; i < 5; ++i) {
      auto x = torch::randn({15});
      const std::int64_t y = i % 10;
      bool correct = false;
      const double loss = fast.step(x, static_cast<double>(y), &correct);
      sgd.zero_grad();
      auto logits = ref_net->forward(x.unsqueeze(0));
      auto ref_loss = torch::nn::functional::cross_entropy(logits, torch::tensor({y}));
      ref_loss.backward();
      sgd.step();
      EXPECT_NEAR(loss, ref_loss.item<double>(), 1e-5) << to_string(act);
      EXPECT_EQ(correct, logits.argmax(1).item<std::int64_t>() == y);
    }
    auto pf = fast_net->parameters(), pr = ref_net->parameters();
    for (std::size_t k = 0; k < pf.size(); ++k)
      EXPECT_LT((pf[k] - pr[k]).abs().max().item<double>(), 1e-5) << to_string(act) << " parameter " << k;
  }
}

TEST(OnlineMlp, RefusesModelsItCannotDifferentiate) {
  auto spec = nn::mlp_spec(2, 8, Activation::kRelu, 0, 0, {4});
  spec.norm = Norm::kLayerNorm;
  auto net = nn::build_model(spec, 1);
  EXPECT_THROW(train::OnlineMlp{net}, Error);
}

// Adam and weight decay (L2 on every parameter) take torch::optim's steps.
TEST(OnlineMlp, AdamAndWeightDecayMatchTorchOptimisers) {
  for (bool adam : {false, true}) {
    auto spec = nn::mlp_spec(2, 16, Activation::kTanh, 1.2, 0.1, {12});
    auto fast_net = nn::build_model(spec, 7);
    auto ref_net = nn::build_model(spec, 7);
    train::OnlineMlp fast(fast_net, {.lr = 0.01, .adam = adam, .weight_decay = 0.05});
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (adam)
      opt = std::make_unique<torch::optim::Adam>(ref_net->parameters(),
                                                 torch::optim::AdamOptions(0.01).weight_decay(0.05));
    else
      opt = std::make_unique<torch::optim::SGD>(ref_net->parameters(),
                                                torch::optim::SGDOptions(0.01).weight_decay(0.05));
    torch::manual_seed(2);
    for (int i = 0; i < 6; ++i) {
      auto x = torch::randn({12});
      const std::int64_t y = (3 * i) % 10;
      fast.step(x, static_cast<double>(y));
      opt->zero_grad();
      torch::nn::functional::cross_entropy(ref_net->forward(x.unsqueeze(0)), torch::tensor({y})).backward();
      opt->step();
    }
    auto pf = fast_net->parameters(), pr = ref_net->parameters();
    for (std::size_t k = 0; k < pf.size(); ++k)
      EXPECT_LT((pf[k] - pr[k]).abs().max().item<double>(), 2e-6)
          << (adam ? "adam" : "sgd") << " parameter " << k;
  }
}

// Squared error on one output: loss (z - y)^2 and the SGD step of its autograd gradient.
TEST(OnlineMlp, SquaredErrorStepMatchesAutograd) {
  auto spec = nn::mlp_spec(1, 5, Activation::kRelu, 1.0, 0.1, {20});
  spec.num_classes = 1;
  auto fast_net = nn::build_model(spec, 3);
  auto ref_net = nn::build_model(spec, 3);
  train::OnlineMlp fast(fast_net, {.lr = 0.05, .loss = train::OnlineLoss::kSquaredError});
  torch::optim::SGD sgd(ref_net->parameters(), torch::optim::SGDOptions(0.05));
  torch::manual_seed(4);
  for (int i = 0; i < 5; ++i) {
    auto x = torch::randint(0, 2, {20}).to(torch::kFloat32);
    const double y = 3.0 - i;
    const double loss = fast.step(x, y);
    sgd.zero_grad();
    auto ref = (ref_net->forward(x.unsqueeze(0)).squeeze() - y).pow(2);
    ref.backward();
    sgd.step();
    EXPECT_NEAR(loss, ref.item<double>(), 1e-4 * (1 + ref.item<double>()));
  }
  auto pf = fast_net->parameters(), pr = ref_net->parameters();
  for (std::size_t k = 0; k < pf.size(); ++k) EXPECT_LT((pf[k] - pr[k]).abs().max().item<double>(), 1e-5);
}

// The online criticality regulariser adds lr * lambda * grad R_local, with R = sum_l (ln G_l / t^2)^2 and
// G_l = sum_i phi'(z_i)^2 |W_i|^2 / fan_out at the step's example, each layer's input held fixed: checked
// against autograd's gradient of that formula, in float64.
TEST(OnlineMlp, CriticalityRegulariserAddsTheLocalLogGainGradient) {
  for (auto act : {Activation::kRelu, Activation::kTanh}) {
    auto spec = nn::mlp_spec(2, 12, act, 1.8, 0.2, {9});
    auto plain_net = nn::build_model(spec, 11);
    auto reg_net = nn::build_model(spec, 11);
    plain_net->to(torch::kFloat64);
    reg_net->to(torch::kFloat64);
    auto ref_net = nn::build_model(spec, 11);
    ref_net->to(torch::kFloat64);
    const double lr = 0.1, lambda = 0.7, t = 0.9;
    train::OnlineMlp plain(plain_net, {.lr = lr});
    train::OnlineMlp reg(reg_net, {.lr = lr, .criticality_strength = lambda, .target_gain = t});
    torch::manual_seed(5);
    const auto x = torch::randn({9}, torch::kFloat64);
    plain.step(x, 4.0);
    reg.step(x, 4.0);
    // Reference gradient of the local penalty at the pre-step parameters.
    auto taps = ref_net->forward_tapped(x.unsqueeze(0));
    at::Tensor R = torch::zeros({}, torch::kFloat64);
    for (std::size_t l = 0; l + 1 < ref_net->size(); ++l) {
      const auto params = ref_net->block(l)->named_parameters();
      const auto& W = params["linear.weight"];
      const auto& b = params["linear.bias"];
      const auto z = torch::addmv(b, W, taps[l].input.detach().squeeze(0));
      const auto phi1 = act == Activation::kRelu ? (z > 0).to(torch::kFloat64) : 1 - torch::tanh(z).pow(2);
      const auto G = (phi1.pow(2) * W.pow(2).sum(1)).sum() / W.size(0);
      R = R + torch::log(G / (t * t)).pow(2);
    }
    const auto grads =
        torch::autograd::grad({R}, ref_net->parameters(), {}, false, false, /*allow_unused=*/true);
    auto pp = plain_net->parameters(), pg = reg_net->parameters();
    for (std::size_t k = 0; k + 2 < pp.size(); ++k) {  // hidden layers (the readout is not regulated)
      // (relu: b enters R only through the step function phi', so its gradient is zero: undefined here)
      const auto expected = grads[k].defined() ? -lr * lambda * grads[k] : torch::zeros_like(pp[k]);
      EXPECT_LT((pg[k] - pp[k] - expected).abs().max().item<double>(),
                1e-9 + 1e-6 * expected.abs().max().item<double>())
          << to_string(act) << " parameter " << k;
      if (k % 2 == 0 || act == Activation::kTanh) {
        EXPECT_GT(expected.abs().max().item<double>(), 1e-4);
      }
    }
    EXPECT_LT((pg.back() - pp.back()).abs().max().item<double>(), 1e-12);
  }
}

// Float32 CPU SGD takes the fused one-pass path (backward and step per layer in one sweep over W); float64
// takes the op-by-op path. Both paths, with and without weight decay and the criticality regulariser, give
// the same parameters to float32 rounding after several steps.
TEST(OnlineMlp, FusedFloat32PathMatchesTheOpByOpPath) {
  for (auto act : {Activation::kRelu, Activation::kTanh})
    for (double lambda : {0.0, 0.7})
      for (double wd : {0.0, 0.05}) {
        auto spec = nn::mlp_spec(3, 24, act, 1.6, 0.2, {13});
        auto fused_net = nn::build_model(spec, 21);
        auto ref_net = nn::build_model(spec, 21);
        ref_net->to(torch::kFloat64);
        const train::OnlineOptions o{
            .lr = 0.05, .weight_decay = wd, .criticality_strength = lambda, .target_gain = 0.9};
        train::OnlineMlp fused(fused_net, o), ref(ref_net, o);
        torch::manual_seed(9);
        for (int i = 0; i < 8; ++i) {
          const auto x = torch::randn({13});
          const double y = static_cast<double>(i % 10);
          const double l32 = fused.step(x, y), l64 = ref.step(x.to(torch::kFloat64), y);
          EXPECT_NEAR(l32, l64, 1e-5 * (1 + l64));
        }
        auto pf = fused_net->parameters(), pr = ref_net->parameters();
        for (std::size_t k = 0; k < pf.size(); ++k)
          EXPECT_LT((pf[k].to(torch::kFloat64) - pr[k]).abs().max().item<double>(), 2e-5)
              << to_string(act) << " lambda " << lambda << " wd " << wd << " parameter " << k;
        // The regulariser moved the weights: the comparison is not of two plain steps.
        if (lambda > 0) {
          auto plain_net = nn::build_model(spec, 21);
          train::OnlineMlp plain(plain_net, {.lr = 0.05, .weight_decay = wd});
          torch::manual_seed(9);
          for (int i = 0; i < 8; ++i) plain.step(torch::randn({13}), static_cast<double>(i % 10));
          EXPECT_GT((plain_net->parameters()[0] - pf[0]).abs().max().item<double>(), 1e-4) << to_string(act);
        }
      }
}
