// Filter-normalised directions, slices and local concentration against exact references.
#include "critlab/landscape/slices.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/nn/model.h"
#include "test_util.h"

namespace critlab::landscape {
namespace {

nn::LayerStack small_mlp(Activation act, double sigma_b, std::uint64_t seed) {
  nn::ModelSpec spec;
  spec.depth = 2;
  spec.width = 16;
  spec.activation = act;
  spec.init = Init::kGaussian;
  spec.sigma_w = 1.4;
  spec.sigma_b = sigma_b;
  spec.input_shape = {6};
  spec.num_classes = 3;
  return nn::build_model(spec, seed);
}

TEST(FilterNormalization, EveryFilterHasItsWeightFiltersNormAndBiasesAreZero) {
  auto model = small_mlp(Activation::kTanh, 0.2, 1);
  const auto params = trainable_parameters(*model);
  const auto d = filter_normalized_direction(params, false, 42);
  ASSERT_EQ(d.size(), params.size());
  int matrices = 0, vectors = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].dim() <= 1) {
      EXPECT_EQ(d[i].abs().max().item<float>(), 0);
      ++vectors;
      continue;
    }
    ++matrices;
    for (std::int64_t f = 0; f < params[i].size(0); ++f)
      EXPECT_NEAR(d[i][f].norm().item<double>() / params[i][f].norm().item<double>(), 1, 1e-6);
    EXPECT_FALSE(at::allclose(d[i], params[i]));  // a random direction, not the weights
  }
  EXPECT_EQ(matrices, 3);
  EXPECT_EQ(vectors, 3);
  // include_1d: biases follow Li et al.'s code and equal the parameter; same seed, same direction.
  const auto with = filter_normalized_direction(params, true, 42);
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(at::allclose(with[i], params[i].dim() <= 1 ? params[i] : d[i]));
  const auto other = filter_normalized_direction(params, false, 43);
  EXPECT_FALSE(at::allclose(other[0], d[0]));
}

TEST(FilterNormalization, SlicesAreInvariantToRescalingAReluLayer) {
  // A bias-free ReLU net with layer 1 scaled by 3 and layer 2 by 1/3 computes the same function; with
  // filter-normalised directions from the same seed its slice is the same curve (Li et al.'s point).
  auto a = small_mlp(Activation::kRelu, 0.0, 2);
  auto b = small_mlp(Activation::kRelu, 0.0, 2);
  {
    torch::NoGradGuard ng;
    auto pb = trainable_parameters(*b);
    pb[0].mul_(3);        // block0 weight
    pb[2].mul_(1.0 / 3);  // block1 weight
    pb[1].mul_(3);        // block0 bias (zero here, scaled for form)
  }
  torch::manual_seed(4);
  const EvalSet set{"train", torch::randn({200, 6}), torch::randint(0, 3, {200}, at::kLong)};
  const std::vector<double> alphas{-1, -0.5, -0.1, 0, 0.1, 0.5, 1};
  const auto sa = slice_1d(a, filter_normalized_direction(trainable_parameters(*a), false, 9), alphas, {set},
                           LossKind::kCrossEntropy);
  const auto sb = slice_1d(b, filter_normalized_direction(trainable_parameters(*b), false, 9), alphas, {set},
                           LossKind::kCrossEntropy);
  for (std::size_t i = 0; i < alphas.size(); ++i) EXPECT_NEAR(sa.loss[0][i], sb.loss[0][i], 1e-5) << i;
  // The curve is not flat: the slice sees the direction.
  EXPECT_GT(std::abs(sa.loss[0][0] - sa.loss[0][3]), 1e-2);
  // The direction normalised against a's filters, used unchanged on b, gives b a different curve.
  auto raw_a = filter_normalized_direction(trainable_parameters(*a), false, 9);
  auto raw_b = raw_a;
  const auto sa2 = slice_1d(a, raw_a, alphas, {set}, LossKind::kCrossEntropy);
  const auto sb2 = slice_1d(b, raw_b, alphas, {set}, LossKind::kCrossEntropy);
  EXPECT_GT(std::abs(sa2.loss[0][0] - sb2.loss[0][0]), 1e-3);
}

TEST(Slices, TwoDimensionalSliceAndInterpolationHitTheirEndpointsAndRestoreTheModel) {
  auto model = small_mlp(Activation::kTanh, 0.1, 3);
  const auto params = trainable_parameters(*model);
  std::vector<at::Tensor> before;
  for (const auto& p : params) before.push_back(p.detach().clone());
  torch::manual_seed(6);
  const EvalSet train{"train", torch::randn({100, 6}), torch::randint(0, 3, {100}, at::kLong)};
  const EvalSet test{"test", torch::randn({50, 6}), torch::randint(0, 3, {50}, at::kLong)};
  const double base = evaluate(model, train.inputs, train.labels, LossKind::kSquaredError).loss;
  const auto d = filter_normalized_direction(params, false, 1),
             e = filter_normalized_direction(params, false, 2);
  const auto s2 =
      slice_2d(model, d, e, {-0.5, 0, 0.5}, {-0.5, 0, 0.25}, {train, test}, LossKind::kSquaredError);
  ASSERT_EQ(s2.sets.size(), 2u);
  EXPECT_NEAR(s2.loss[0][1][1], base, 1e-6);
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(at::equal(params[i], before[i]));
  // theta + 0.5 d - 0.5 e, set by hand.
  {
    torch::NoGradGuard ng;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].add_(0.5 * d[i] - 0.5 * e[i]);
  }
  EXPECT_NEAR(s2.loss[0][2][0], evaluate(model, train.inputs, train.labels, LossKind::kSquaredError).loss,
              1e-5);
  EXPECT_NEAR(s2.loss[1][2][0], evaluate(model, test.inputs, test.labels, LossKind::kSquaredError).loss,
              1e-5);
  std::vector<at::Tensor> moved;
  for (const auto& p : params) moved.push_back(p.detach().clone());
  const auto line = interpolate(model, before, moved, {0, 0.5, 1}, {train}, LossKind::kSquaredError);
  EXPECT_NEAR(line.loss[0][0], base, 1e-6);
  EXPECT_NEAR(line.loss[0][2], s2.loss[0][2][0], 1e-5);
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(at::equal(params[i], moved[i]));
}

TEST(Concentration, RisesMatchTheSecondOrderTaylorExpansionAlongTheSameDirections) {
  // At small r, dL(r, d) = r g.d + r^2/2 d^T H d + O(r^3): the mean and SD over directions from the
  // gradient and Hessian-vector products along the same seeded directions.
  auto model = small_mlp(Activation::kTanh, 0.2, 4);
  model->to(at::kDouble);
  torch::manual_seed(8);
  const at::Tensor x = torch::randn({128, 6}, at::kDouble), y = torch::randint(0, 3, {128}, at::kLong);
  ConcentrationOptions o;
  o.radii = {1e-3, 0.3};
  o.directions = 12;
  o.seed = 100;
  const auto all = ParameterSubset{"all", {}, 0};
  const auto rows = concentration(model, x, y, LossKind::kCrossEntropy, {all}, o);
  ASSERT_EQ(rows.size(), 2u);
  const auto params = trainable_parameters(*model);
  auto h = HessianOperator::for_model(model, x, y, LossKind::kCrossEntropy, true);
  const double r = 1e-3;
  std::vector<double> predicted, curvature;
  for (int k = 0; k < o.directions; ++k) {
    const at::Tensor d = flatten(filter_normalized_direction(params, false, o.seed + k));
    curvature.push_back(0.5 * r * r * at::dot(d, h->apply(d)).item<double>());
    predicted.push_back(r * at::dot(h->gradient(), d).item<double>() + curvature.back());
  }
  // The even part is the curvature term alone (its error is O(r^4)).
  double cmean = 0, css = 0;
  for (double v : curvature) cmean += v;
  cmean /= curvature.size();
  for (double v : curvature) css += (v - cmean) * (v - cmean);
  EXPECT_NEAR(rows[0].even_mean / cmean, 1, 1e-3);
  EXPECT_NEAR(rows[0].even_sd / std::sqrt(css / (curvature.size() - 1)), 1, 1e-2);
  double mean = 0, ss = 0;
  for (double v : predicted) mean += v;
  mean /= predicted.size();
  for (double v : predicted) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / (predicted.size() - 1));
  EXPECT_EQ(rows[0].subset, "all");
  EXPECT_NEAR(rows[0].mean, mean, 1e-3 * sd);
  EXPECT_NEAR(rows[0].sd / sd, 1, 1e-3);
  EXPECT_LE(rows[0].q05, rows[0].q50);
  EXPECT_LE(rows[0].q50, rows[0].q95);
  EXPECT_GT(rows[1].mean, rows[0].mean);  // further out the loss rises
}

TEST(Concentration, CriticalAndRandomSubsetsHaveEqualSizesAndMaskTheirDirections) {
  auto model = small_mlp(Activation::kTanh, 0.2, 5);
  // Blocks: 0 (6 -> 16), 1 (16 -> 16), 2 readout. Critical: units {1, 4, 7} of block 0, {0, 2} of block 1.
  const auto crit = critical_subset(model, {{1, 4, 7}, {0, 2}, {}});
  EXPECT_EQ(crit.size, 6);  // W_1[{0,2}, {1,4,7}]
  const auto params = trainable_parameters(*model);
  EXPECT_EQ(crit.mask[2][0][4].item<float>(), 1);
  EXPECT_EQ(crit.mask[2][1][4].item<float>(), 0);
  EXPECT_EQ(crit.mask[0].sum().item<float>(), 0);  // the first layer has no critical inputs
  const auto rnd = random_subset_like(model, crit, 3);
  EXPECT_EQ(rnd.size, 6);
  EXPECT_EQ(rnd.mask[2].sum().item<float>(), 6);
  EXPECT_NE(test::error_of([&] { critical_subset(model, {{1}}); }).find("given for 1 blocks"),
            std::string::npos);
  torch::manual_seed(2);
  ConcentrationOptions o;
  o.radii = {0.5};
  o.directions = 4;
  const auto rows = concentration(model, torch::randn({32, 6}), torch::randint(0, 3, {32}, at::kLong),
                                  LossKind::kCrossEntropy, {ParameterSubset{"all", {}, 0}, crit, rnd}, o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].subset, "critical");
  EXPECT_NE(rows[1].mean, rows[0].mean);
  o.directions = 1;
  EXPECT_NE(test::error_of([&] {
              concentration(model, torch::randn({4, 6}), torch::zeros({4}, at::kLong),
                            LossKind::kCrossEntropy, {crit}, o);
            }).find("directions"),
            std::string::npos);
}

}  // namespace
}  // namespace critlab::landscape
