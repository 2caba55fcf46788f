// Likelihood-ratio tests on samples of known distributions (must-show 2 and 3 of the avalanches issue).
#include "critlab/stats/compare.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "critlab/stats/branching.h"

using namespace critlab::stats;

namespace {
Comparison against(const std::vector<double>& x, const PowerLawFit& f, Alternative a) {
  auto c = compare_power_law(x, f, a);
  EXPECT_TRUE(c.ok()) << c.status.to_string();
  return c;
}
}  // namespace

TEST(Compare, LognormalSamplesFavourLognormal) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> ln(0.0, 1.0);
  std::vector<double> x;
  for (int i = 0; i < 20'000; ++i) x.push_back(ln(rng));
  PowerLawOptions o;
  o.xmin = 1.0;  // a long tail, where the curvature of the lognormal shows
  auto fit = fit_power_law(x, o);
  auto c = against(x, fit, Alternative::kLognormal);
  EXPECT_LT(*c.R, 0);
  EXPECT_LT(*c.p, 0.05);
  EXPECT_EQ(c.favours, "lognormal");
  EXPECT_NEAR(c.parameters[0].second, 0.0, 0.1);  // mu
  EXPECT_NEAR(c.parameters[1].second, 1.0, 0.1);  // sigma
}

TEST(Compare, ExponentialSamplesFavourExponential) {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> ex(0.5);
  std::vector<double> x;
  for (int i = 0; i < 20'000; ++i) x.push_back(1.0 + ex(rng));
  PowerLawOptions o;
  o.xmin = 1.0;
  auto fit = fit_power_law(x, o);
  auto c = against(x, fit, Alternative::kExponential);
  EXPECT_LT(*c.R, 0);
  EXPECT_LT(*c.p, 0.05);
  EXPECT_NEAR(c.parameters[0].second, 0.5, 0.02);  // lambda
  // Discrete geometric data: the discrete exponential wins too.
  std::geometric_distribution<int> geo(0.2);
  std::vector<double> k;
  for (int i = 0; i < 20'000; ++i) k.push_back(1.0 + geo(rng));
  PowerLawOptions d;
  d.discrete = true;
  d.xmin = 1;
  auto dfit = fit_power_law(k, d);
  auto dc = against(k, dfit, Alternative::kExponential);
  EXPECT_EQ(dc.favours, "exponential");
  EXPECT_NEAR(dc.parameters[0].second, -std::log(0.8), 0.01);  // P(k) ~ 0.8^k
}

TEST(Compare, PowerLawSamplesAreNotRejected) {
  std::mt19937_64 rng(3);
  const auto truth = power_law_model(2.2, 1);
  auto x = sample_power_law(truth, 20'000, rng);
  PowerLawOptions o;
  o.xmin = 1;
  auto fit = fit_power_law(x, o);
  for (const auto& c : compare_all(x, fit)) {
    ASSERT_TRUE(c.ok()) << c.against << ": " << c.status.to_string();
    EXPECT_NE(c.favours, c.against) << c.against << " R=" << c.R.value_or(NAN) << " p=" << c.p.value_or(NAN);
  }
  auto exp_c = against(x, fit, Alternative::kExponential);
  EXPECT_GT(*exp_c.R, 0);
  EXPECT_LT(*exp_c.p, 0.05);
}

TEST(Compare, SubcriticalBranchingFavoursTheCutOff) {
  // Galton-Watson with Poisson(0.9) offspring: P(S = n) ~ n^{-3/2} e^{-lambda n}, lambda = m - 1 - ln m.
  std::mt19937_64 rng(4);
  std::vector<double> sizes;
  for (int i = 0; i < 50'000; ++i)
    sizes.push_back(static_cast<double>(simulate_galton_watson(0.9, rng).size));
  PowerLawOptions o;
  o.discrete = true;
  o.xmin = 1;  // the whole distribution: see below for what the KS-chosen xmin does here
  auto fit = fit_power_law(sizes, o);
  ASSERT_TRUE(fit.ok()) << fit.status.to_string();
  auto c = against(sizes, fit, Alternative::kTruncatedPowerLaw);
  EXPECT_TRUE(c.nested);
  EXPECT_LT(*c.R, -10);
  EXPECT_LT(*c.p, 1e-6);
  EXPECT_EQ(c.favours, "truncated_power_law");
  EXPECT_NEAR(c.parameters[0].second, 1.5, 0.05);                       // alpha of the cut-off law
  EXPECT_NEAR(c.parameters[1].second, 0.9 - 1 - std::log(0.9), 0.001);  // lambda (asymptotic theory 0.00536)

  // A finding, kept visible: the KS scan chases the cut-off, choosing an xmin deep in it (241 here) where
  // ~160 points look like a steep power law (alpha ~ 4), and there the comparison cannot decide.
  PowerLawOptions scan;
  scan.discrete = true;
  auto scanned = fit_power_law(sizes, scan);
  EXPECT_GT(scanned.xmin, 100);
  EXPECT_GT(scanned.alpha, 3.0);
  EXPECT_EQ(against(sizes, scanned, Alternative::kTruncatedPowerLaw).favours, "inconclusive");
}

TEST(Compare, HugeValuesFinishAndNeverReportANonFiniteRatioAsEvidence) {
  // Discrete tails with values near 2^53 and 1e308 once hung the Poisson and cut-off normalisations
  // (loops over integers inside Nelder-Mead); a ratio whose variance overflows came back as R = 0, p = 1.
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int> small(1, 50);
  std::vector<double> x;
  for (int i = 0; i < 200; ++i) x.push_back(small(rng));
  for (const std::vector<double>& extra : {std::vector<double>{9007199254740992.0, 9007199254740994.0},
                                           std::vector<double>{1e308, 1.5e308, 9e307}}) {
    auto data = x;
    data.insert(data.end(), extra.begin(), extra.end());
    for (bool discrete : {true, false}) {
      PowerLawOptions o;
      o.discrete = discrete;
      o.xmin = 1;
      const auto fit = fit_power_law(data, o);
      ASSERT_TRUE(fit.ok()) << fit.status.to_string();
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& c : compare_all(data, fit)) {
        if (c.ok()) {
          EXPECT_TRUE(std::isfinite(*c.R) && std::isfinite(*c.p)) << c.against;
        } else {
          EXPECT_FALSE(c.R.has_value()) << c.against;
          EXPECT_FALSE(c.p.has_value()) << c.against;
        }
      }
      EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
    }
  }
}

TEST(Compare, InfiniteXmaxComparesLikeNoXmax) {
  std::mt19937_64 rng(10);
  const auto x = sample_power_law(power_law_model(2.5, 1.0), 2000, rng);
  PowerLawOptions o;
  o.xmax = std::numeric_limits<double>::infinity();
  const auto inf = fit_power_law(x, o);
  const auto none = fit_power_law(x);
  const auto a = compare_power_law(x, inf, Alternative::kTruncatedPowerLaw);
  const auto b = compare_power_law(x, none, Alternative::kTruncatedPowerLaw);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a.R, *b.R);
  EXPECT_EQ(*a.p, *b.p);
}
