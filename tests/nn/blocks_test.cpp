// The stack interface that measures ask instead of reading parameter names (nn/stack.h): weights(),
// gain_parameters(), dense_view(), checked against what each block actually computes.
#include "critlab/nn/blocks.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "critlab/nn/model.h"

using namespace critlab;

namespace {
std::int64_t count_where(const std::vector<at::Tensor>& ts, int dims) {
  return std::count_if(ts.begin(), ts.end(), [&](const at::Tensor& t) { return t.dim() == dims; });
}
}  // namespace

TEST(Blocks, WeightsAreTheMatricesAndKernelsOnly) {
  nn::DenseBlockImpl dense_bn(6, 5, Activation::kTanh, Norm::kBatchNorm, false);
  EXPECT_EQ(dense_bn.weights().size(), 1u);
  EXPECT_TRUE(dense_bn.weights()[0].is_same(dense_bn.linear->weight));
  nn::ConvBlockImpl conv(2, 3, Activation::kRelu, Norm::kBatchNorm, true);
  ASSERT_EQ(conv.weights().size(), 1u);
  EXPECT_EQ(conv.weights()[0].sizes(), (std::vector<std::int64_t>{3, 2, 3, 3}));
  nn::ResidualBlockImpl res(2, 4, 2, Activation::kRelu, Norm::kBatchNorm);  // conv1, conv2, 1x1 shortcut
  EXPECT_EQ(res.weights().size(), 3u);
  EXPECT_EQ(count_where(res.weights(), 4), 3);
  nn::ResidualBlockImpl same(4, 4, 1, Activation::kRelu, Norm::kNone);  // no shortcut convolution
  EXPECT_EQ(same.weights().size(), 2u);
}

TEST(Blocks, GainParametersAreWhatMovesTheGain) {
  torch::manual_seed(1);
  const auto x = torch::randn({64, 6}, torch::kFloat64);
  // Without normalisation: the weight. Scaling it by c scales W x, hence a linear block's gain^2 by c^2.
  nn::DenseBlockImpl plain(6, 5, Activation::kLinear, Norm::kNone, false);
  plain.to(torch::kFloat64);
  ASSERT_EQ(plain.gain_parameters().size(), 1u);
  EXPECT_TRUE(plain.gain_parameters()[0].is_same(plain.linear->weight));
  const auto g0 = plain.jacobian_sq_norm_analytic(x).mean().item<double>();
  {
    torch::NoGradGuard ng;
    for (auto& p : plain.gain_parameters()) p.mul_(1.5);
  }
  EXPECT_NEAR(plain.jacobian_sq_norm_analytic(x).mean().item<double>() / g0, 2.25, 1e-12);

  // With batch norm (training mode, batch statistics): rescaling W is undone by the normalisation, rescaling
  // the norm's scale gamma is not. So the controller's parameters are gamma.
  nn::DenseBlockImpl bn(6, 5, Activation::kLinear, Norm::kBatchNorm, false);
  bn.to(torch::kFloat64);
  bn.train();
  const auto gp = bn.gain_parameters();
  ASSERT_EQ(gp.size(), 1u);
  EXPECT_EQ(gp[0].dim(), 1);
  torch::NoGradGuard ng;
  const auto h0 = bn.forward(x);
  bn.linear->weight.mul_(3.0);
  bn.linear->bias.mul_(3.0);
  const auto h1 = bn.forward(x);
  // Unchanged but for the variance's eps = 1e-5 (a relative 1e-5 here); without the norm it would triple.
  EXPECT_LT((h1 - h0).abs().max().item<double>(), 1e-3);
  gp[0].mul_(0.5);
  // beta is 0 at initialisation, so h = gamma * normalised: halving gamma halves the map and its Jacobian.
  EXPECT_LT((bn.forward(x) - 0.5 * h1).abs().max().item<double>(), 1e-12);
}

TEST(Blocks, DenseViewIsTheLayerItself) {
  auto model = nn::build_model(nn::mlp_spec(2, 8, Activation::kTanh, 1.0, 0.1, {5}), 3);
  const auto named = model->named_parameters();
  for (std::size_t l = 0; l < model->size(); ++l) {
    auto v = model->block(l)->dense_view();
    ASSERT_TRUE(v.has_value());
    const auto prefix = nn::LayerStackImpl::block_name(l) + ".";
    EXPECT_TRUE(named[prefix + v->weight_name].is_same(v->weight));
    EXPECT_TRUE(named[prefix + v->bias_name].is_same(v->bias));
    EXPECT_FALSE(v->normalised || v->residual);
    EXPECT_EQ(v->activation, l + 1 < model->size() ? Activation::kTanh : Activation::kLinear);
  }
  // h = phi(W x + b) from the view's tensors reproduces the block, and editing the view edits the block.
  torch::NoGradGuard ng;
  const auto x = torch::randn({4, 5});
  auto v = *model->block(0)->dense_view();
  EXPECT_TRUE(
      torch::allclose(model->block(0)->forward(x), torch::tanh(x.matmul(v.weight.t()) + v.bias), 1e-6, 1e-6));
  v.weight.zero_();
  EXPECT_TRUE(torch::allclose(model->block(0)->forward(x), torch::tanh(v.bias).expand({4, 8})));
}

TEST(Blocks, PlainDenseViewExcludesNormalisedAndResidualLayers) {
  nn::DenseBlockImpl plain(4, 4, Activation::kRelu, Norm::kNone, false);
  nn::DenseBlockImpl res(4, 4, Activation::kRelu, Norm::kNone, true);
  nn::DenseBlockImpl ln(4, 4, Activation::kRelu, Norm::kLayerNorm, false);
  nn::ConvBlockImpl conv(1, 2, Activation::kRelu, Norm::kNone, false);
  EXPECT_TRUE(nn::plain_dense_view(plain).has_value());
  EXPECT_FALSE(nn::plain_dense_view(res).has_value());
  EXPECT_FALSE(nn::plain_dense_view(ln).has_value());
  EXPECT_TRUE(res.dense_view().has_value() && res.dense_view()->residual);
  EXPECT_TRUE(ln.dense_view().has_value() && ln.dense_view()->normalised);
  EXPECT_FALSE(conv.dense_view().has_value());
}

TEST(Blocks, EvalModeGuardRestoresTheMode) {
  auto model = nn::build_model(nn::mlp_spec(1, 4, Activation::kRelu, 0.0, 0.0, {3}), 1);
  model->train();
  {
    nn::EvalModeGuard eval(*model);
    EXPECT_FALSE(model->is_training());
  }
  EXPECT_TRUE(model->is_training());
}
