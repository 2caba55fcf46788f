// Model specs: the initialisation a spec resolves to, and its mean-field scales, checked against the weights
// the builder actually draws.
#include "critlab/nn/model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace critlab;

TEST(ModelSpec, InitialisationResolvesAndMapsToMeanFieldScales) {
  auto relu = nn::mlp_spec(3, 64, Activation::kRelu);
  EXPECT_EQ(nn::resolved_init(relu), Init::kHe);
  ASSERT_TRUE(nn::mean_field_scales(relu).has_value());
  EXPECT_DOUBLE_EQ(nn::mean_field_scales(relu)->sigma_w, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::mean_field_scales(relu)->sigma_b, 0.0);

  auto tanh = nn::mlp_spec(3, 64, Activation::kTanh);
  EXPECT_EQ(nn::resolved_init(tanh), Init::kXavier);
  EXPECT_FALSE(nn::mean_field_scales(tanh).has_value());  // xavier's variance is 2 / (fan_in + fan_out)

  auto gauss = nn::mlp_spec(3, 64, Activation::kTanh, 1.7, 0.3);
  EXPECT_EQ(nn::resolved_init(gauss), Init::kGaussian);
  EXPECT_DOUBLE_EQ(nn::mean_field_scales(gauss)->sigma_w, 1.7);
  EXPECT_DOUBLE_EQ(nn::mean_field_scales(gauss)->sigma_b, 0.3);

  // Mean-field theory describes plain MLPs only; the init still has its scales.
  auto residual = gauss;
  residual.residual = true;
  EXPECT_FALSE(nn::mean_field_scales(residual).has_value());
  EXPECT_TRUE(nn::init_scales(residual).has_value());
  auto cnn = gauss;
  cnn.arch = Arch::kCnn;
  EXPECT_FALSE(nn::mean_field_scales(cnn).has_value());
}

TEST(ModelSpec, DrawnWeightsHaveTheVarianceTheScalesClaim) {
  for (const auto& spec : {nn::mlp_spec(2, 512, Activation::kRelu, 0.0, 0.0, {512}),
                           nn::mlp_spec(2, 512, Activation::kTanh, 1.3, 0.2, {512})}) {
    const auto scales = nn::init_scales(spec);
    ASSERT_TRUE(scales.has_value());
    auto model = nn::build_model(spec, 7);
    const auto v = *model->block(1)->dense_view();  // 512 x 512: 262,144 draws, relative sd of var ~0.3%
    EXPECT_NEAR(v.weight.var().item<double>() * 512, scales->sigma_w * scales->sigma_w,
                0.02 * scales->sigma_w * scales->sigma_w);
    EXPECT_NEAR(v.bias.std().item<double>(), scales->sigma_b, 0.1 * scales->sigma_b + 1e-12);
  }
}
