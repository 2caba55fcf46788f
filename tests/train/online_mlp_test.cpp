// The hand-written online path must take exactly the SGD step autograd takes.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "critlab/core/error.h"
#include "critlab/nn/model.h"
#include "critlab/train/online_mlp.h"

using namespace critlab;

TEST(OnlineMlp, StepMatchesAutogradSgd) {
  for (auto act : {Activation::kRelu, Activation::kTanh, Activation::kGelu}) {
    auto spec = nn::mlp_spec(3, 20, act, 1.3, 0.2, {15});
    auto fast_net = nn::build_model(spec, 5);
    auto ref_net = nn::build_model(spec, 5);
    train::OnlineMlp fast(fast_net);
    torch::optim::SGD sgd(ref_net->parameters(), torch::optim::SGDOptions(0.1));
    torch::manual_seed(1);
    for (int i = 0; i < 5; ++i) {
      auto x = torch::randn({15});
      const std::int64_t y = i % 10;
      bool correct = false;
      const double loss = fast.step(x, y, 0.1, &correct);
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
