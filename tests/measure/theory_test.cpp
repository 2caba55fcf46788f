// Mean-field theory against exact references: quadrature on polynomials and closed forms, the two rules
// against each other, Monte Carlo at large q, the relu closed form, and the tanh edge of chaos at sigma_b =
// 0.
#include "critlab/measure/theory.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>

#include "critlab/nn/activation_scalar.h"

using namespace critlab;
using namespace critlab::measure;

TEST(GaussHermite, IntegratesGaussianMomentsExactly) {
  const auto gh = gauss_hermite(40);
  EXPECT_NEAR(gaussian_expectation_hermite(gh, 1.0, [](double) { return 1.0; }), 1.0, 1e-13);
  EXPECT_NEAR(gaussian_expectation_hermite(gh, 1.0, [](double z) { return z * z; }), 1.0, 1e-13);
  EXPECT_NEAR(gaussian_expectation_hermite(gh, 2.5, [](double z) { return z * z * z * z; }), 3 * 2.5 * 2.5,
              1e-11);
  EXPECT_NEAR(gaussian_expectation_hermite(gh, 0.7, [](double z) { return std::cos(z); }), std::exp(-0.35),
              1e-13);
}

TEST(GaussLegendre, PanelsMatchClosedForms) {
  // E[cos(sqrt(q) z)] = exp(-q/2); E[z^2] = q. cos keeps oscillating beyond |u| = 20, where the panels widen
  // on the assumption that activations are linear or flat there, so the absolute tolerance is 1e-10.
  for (double q : {0.3, 1.0, 7.0, 150.0}) {
    EXPECT_NEAR(gaussian_expectation_panels(q, [](double u) { return std::cos(u); }), std::exp(-q / 2), 1e-10)
        << q;
    EXPECT_NEAR(gaussian_expectation_panels(q, [](double u) { return u * u; }), q, 1e-9 * q) << q;
  }
}

TEST(GaussianExpectation, RulesAgreeWhereBothResolveTheIntegrand) {
  const auto gh = gauss_hermite(160);
  for (auto act : {Activation::kTanh, Activation::kGelu, Activation::kSilu}) {
    for (double q : {0.05, 0.5, 1.0}) {
      auto f = [act](double u) { return std::pow(nn::activate_grad(act, u), 2); };
      EXPECT_NEAR(gaussian_expectation_hermite(gh, q, f), gaussian_expectation_panels(q, f), 1e-10)
          << to_string(act) << " q=" << q;
    }
  }
}

TEST(MeanField, LargeVarianceMatchesMonteCarlo) {
  // Regression: at q ~ 400 Gauss-Hermite alone gave chi_1 = 0.06; Monte Carlo gives ~10.9.
  const auto r = mean_field(Activation::kTanh, 20.0, 0.1);
  ASSERT_TRUE(r.ok());
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01;
  double sq = 0, dsq = 0;
  const int n = 2'000'000;
  for (int i = 0; i < n; ++i) {
    const double u = std::sqrt(r.q_star) * n01(rng);
    sq += std::pow(std::tanh(u), 2);
    dsq += std::pow(1 - std::pow(std::tanh(u), 2), 2);
  }
  EXPECT_NEAR(r.q_star, 400.0 * sq / n + 0.01, 0.01 * r.q_star);
  EXPECT_NEAR(r.chi1, 400.0 * dsq / n, 0.02 * r.chi1);
}

TEST(MeanField, ReluAndLinearClosedForms) {
  auto he = mean_field(Activation::kRelu, std::sqrt(2.0), 0.0);
  EXPECT_NEAR(he.chi1, 1.0, 1e-12);
  auto relu = mean_field(Activation::kRelu, 1.2, 0.3);  // q* = sigma_b^2 / (1 - sigma_w^2/2)
  ASSERT_TRUE(relu.ok());
  EXPECT_NEAR(relu.q_star, 0.09 / (1 - 0.72), 1e-9);
  EXPECT_NEAR(relu.chi1, 0.72, 1e-12);
  auto lin = mean_field(Activation::kLinear, 0.9, 0.2);  // q* = sigma_b^2 / (1 - sigma_w^2)
  EXPECT_NEAR(lin.q_star, 0.04 / (1 - 0.81), 1e-9);
  EXPECT_NEAR(lin.chi1, 0.81, 1e-12);
  auto runaway = mean_field(Activation::kRelu, 1.6, 0.1);  // sigma_w^2/2 > 1: no finite fixed point
  EXPECT_EQ(runaway.status.code, StatusCode::kNoConvergence);
  EXPECT_FALSE(runaway.status.message.empty());
}

TEST(MeanField, TanhSmallVarianceLimit) {
  // With sigma_b = 0 and sigma_w < 1 the fixed point is q* = 0, where phi'(0) = 1: chi_1 = sigma_w^2.
  auto r = mean_field(Activation::kTanh, 0.8, 0.0);
  EXPECT_NEAR(r.q_star, 0.0, 1e-9);
  EXPECT_NEAR(r.chi1, 0.64, 1e-9);
}

TEST(MeanField, FixedPointSatisfiesTheLengthMap) {
  const auto gh = gauss_hermite(160);
  for (auto act : {Activation::kTanh, Activation::kGelu, Activation::kSilu}) {
    auto r = mean_field(act, 1.3, 0.3);
    ASSERT_TRUE(r.ok()) << to_string(act);
    const double mapped =
        1.3 * 1.3 *
            gaussian_expectation(gh, r.q_star,
                                 [act](double u) { return std::pow(nn::activate(act, u), 2); }) +
        0.09;
    EXPECT_NEAR(mapped, r.q_star, 1e-10 * std::max(1.0, r.q_star)) << to_string(act);
  }
}

TEST(MeanField, RunawayLengthMapEndsQuickly) {
  // gelu grows like relu: sigma_w^2 / 2 > 1 has no fixed point. Detecting it must not take long.
  const auto t0 = std::chrono::steady_clock::now();
  auto r = mean_field(Activation::kGelu, 1.7, 0.3);
  EXPECT_EQ(r.status.code, StatusCode::kNoConvergence);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
}

TEST(GaussLegendre, PanelsStayAccurateAtHugeVariance) {
  // E[tanh(u)^2] -> 1 - E[sech^2] with E[sech^2(sqrt(q) z)] ~ 2 / sqrt(2 pi q) for large q.
  const double q = 1e8;
  const double e = gaussian_expectation_panels(q, [](double u) { return 1 - std::pow(std::tanh(u), 2); });
  EXPECT_NEAR(e, 2.0 / std::sqrt(2 * M_PI * q), 1e-6 * 2.0 / std::sqrt(2 * M_PI * q));
}

TEST(EdgeOfChaos, TanhAtZeroBiasIsOne) {
  EXPECT_NEAR(edge_of_chaos_sigma_w(Activation::kTanh, 0.0), 1.0, 1e-3);
  EXPECT_NEAR(edge_of_chaos_sigma_w(Activation::kRelu, 0.5), std::sqrt(2.0), 1e-9);
}

TEST(EdgeOfChaos, ChiIsOneOnTheCurveAndGrowsWithBias) {
  double prev = 0;
  for (double sb : {0.05, 0.1, 0.3, 1.0}) {
    const double sw = edge_of_chaos_sigma_w(Activation::kTanh, sb);
    ASSERT_TRUE(std::isfinite(sw)) << sb;
    EXPECT_NEAR(mean_field(Activation::kTanh, sw, sb).chi1, 1.0, 1e-6) << sb;
    EXPECT_GT(sw, prev);
    prev = sw;
  }
}
