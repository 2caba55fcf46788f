// Branching processes: critical Galton-Watson trees against the Borel distribution and their exponents, and
// the multistep-regression estimator of the branching ratio under subsampling.
#include "critlab/stats/branching.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "critlab/stats/powerlaw.h"
#include "critlab/stats/special.h"

using namespace critlab::stats;

// Must-show 1: Galton-Watson trees with Poisson(1) offspring.
TEST(GaltonWatson, CriticalTreesMatchBorelAndTheirExponents) {
  std::mt19937_64 rng(7);
  const int n = 1'000'000;
  // Trees are simulated by generation, so a huge cap costs nothing; a small one (1e5) truncated 0.25% of them
  // and biased both the duration tail and <S>(T).
  const std::int64_t cap = 1'000'000'000;
  std::vector<std::int64_t> sizes(n);
  std::vector<double> durations(n);
  // Histogram of sizes up to 1000 for the KS distance to the Borel distribution.
  std::vector<double> hist(1001, 0.0);
  std::vector<double> sum_size(1001, 0.0), count_t(1001, 0.0);
  for (int i = 0; i < n; ++i) {
    auto a = simulate_galton_watson(1.0, rng, cap);
    sizes[i] = a.size;
    durations[i] = static_cast<double>(a.duration);
    if (a.size <= 1000) hist[a.size] += 1;
    if (!a.truncated && a.duration <= 1000) sum_size[a.duration] += a.size, count_t[a.duration] += 1;
  }
  // Borel: P(S = n) = e^{-n} n^{n-1} / n!.
  double emp = 0, borel = 0, ks = 0;
  for (int s = 1; s <= 1000; ++s) {
    emp += hist[s] / n;
    borel += std::exp(-s + (s - 1) * std::log(s) - std::lgamma(s + 1.0));
    ks = std::max(ks, std::abs(emp - borel));
  }
  EXPECT_LT(ks, 0.003);

  // Discrete power-law fit on 2x10^4 sizes: alpha = 3/2.
  std::vector<double> first(sizes.begin(), sizes.begin() + 20'000);
  PowerLawOptions o;
  o.discrete = true;
  auto size_fit = fit_power_law(first, o);
  ASSERT_TRUE(size_fit.ok()) << size_fit.status.to_string();
  EXPECT_NEAR(size_fit.alpha, 1.5, 0.03);

  // Durations: P(T = t) ~ t^-2.
  std::vector<double> dur(durations.begin(), durations.begin() + 100'000);
  auto dur_fit = fit_power_law(dur, o);
  ASSERT_TRUE(dur_fit.ok()) << dur_fit.status.to_string();
  EXPECT_NEAR(dur_fit.alpha, 2.0, 0.1);

  // <S>(T) ~ T^gamma on T in [100, 1000], weighted by counts: gamma near 2 (1.98 +- 0.05 on this window).
  std::vector<double> lx, ly, w;
  for (int t = 100; t <= 1000; ++t)
    if (count_t[t] > 0)
      lx.push_back(std::log(t)), ly.push_back(std::log(sum_size[t] / count_t[t])), w.push_back(count_t[t]);
  auto line = weighted_line_fit(lx, ly, w);
  EXPECT_NEAR(line.slope, 1.98, 0.05);
}

// Must-show 4: MR estimation under subsampling.
TEST(Branching, MultistepRegressionRecoversMUnderSubsampling) {
  const double m = 0.98, a = 0.05, activity = 1000;
  std::mt19937_64 rng(8);
  std::vector<std::vector<double>> trials;
  for (int i = 0; i < 10; ++i)
    trials.push_back(simulate_driven_branching(m, activity * (1 - m), 20'000, a, rng));
  BranchingOptions o;
  o.kmax = 500;
  auto r = estimate_branching_ratio(trials, o);
  ASSERT_TRUE(r.ok()) << r.status.to_string();
  EXPECT_NEAR(r.m, m, 0.003);
  const double r1 = m * a / (a + (1 - a) * (1 - m * m));
  EXPECT_NEAR(r.r1, r1, 0.02);
  // Descendants over ancestors counts the drive as offspring: ~1 for any stationary driven process.
  EXPECT_GT(std::abs(r.m_naive - m), 0.015);
  EXPECT_GT(std::abs(r.r1 - m), 0.3);  // the conventional estimator r_1 is far off under subsampling
  EXPECT_DOUBLE_EQ(r.tau, -1 / std::log(r.m));
}
