// Avalanche extraction and exponents against exact cases and the critical branching process.
#include "critlab/stats/avalanche.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "critlab/core/error.h"

using namespace critlab::stats;

TEST(Avalanches, RunsBetweenEmptyBins) {
  // Open runs at both ends are dropped: only [2,1] and [3] are complete.
  auto av = avalanches_from_series({4, 0, 2, 1, 0, 0, 3, 0, 5});
  ASSERT_EQ(av.size(), 2u);
  EXPECT_EQ(av[0].size, 3);
  EXPECT_EQ(av[0].duration, 2);
  EXPECT_EQ(av[0].shape, (std::vector<double>{2, 1}));
  EXPECT_EQ(av[1].size, 3);
  EXPECT_EQ(av[1].duration, 1);
}

TEST(Avalanches, CriticalBranchingObeysCracklingNoiseAndCollapses) {
  // Galton-Watson, Poisson(1) offspring: tau = 3/2, tau_t = 2, gamma = 2 = (tau_t - 1)/(tau - 1), and the
  // mean shape collapses (the parabola of Brownian excursions). Finite durations approach gamma = 2 slowly:
  // on T in [20, 80] both <S>(T) and the collapse give ~1.88, on [100, 400] ~1.96; so the collapse is checked
  // against the <S>(T) slope of the same window, and both against 2 on the long window.
  std::mt19937_64 rng(5);
  std::vector<Avalanche> av;
  for (int i = 0; i < 400'000; ++i) av.push_back(simulate_galton_watson(1.0, rng, 1'000'000'000, true));
  AvalancheOptions o;
  o.gamma_min_duration = o.collapse_min_duration = 100;
  o.gamma_max_duration = o.collapse_max_duration = 400;
  auto a = analyse_avalanches(av, o);
  ASSERT_TRUE(a.size_fit.ok());
  ASSERT_TRUE(a.duration_fit.ok());
  EXPECT_NEAR(a.size_fit.alpha, 1.5, 0.03);
  EXPECT_NEAR(a.duration_fit.alpha, 2.0, 0.1);
  ASSERT_TRUE(a.gamma && a.gamma_predicted);
  EXPECT_NEAR(*a.gamma, 2.0, 0.06);
  EXPECT_NEAR(*a.gamma_predicted, 2.0, 0.25);
  ASSERT_TRUE(a.collapse.ok()) << a.collapse.status.to_string();
  EXPECT_NEAR(a.collapse.exponent, *a.gamma, 0.03);
  EXPECT_NEAR(a.collapse.exponent, 2.0, 0.06);
  EXPECT_LT(a.collapse.spread, 0.05);
  o.gamma_min_duration = o.collapse_min_duration = 20;
  o.gamma_max_duration = o.collapse_max_duration = 80;
  auto short_window = analyse_avalanches(av, o);
  EXPECT_NEAR(short_window.collapse.exponent, short_window.gamma.value(), 0.03);
  EXPECT_LT(short_window.gamma.value(), 1.93);  // the finite-duration correction is real, not noise
}

TEST(Avalanches, ShapeCollapseRecoversAKnownExponent) {
  // Synthetic shapes s_T(t) = T^{gamma - 1} F(t/T) with F(u) = u(1 - u) and gamma = 1.7: collapse is exact.
  std::vector<Avalanche> av;
  for (std::int64_t T = 5; T <= 60; ++T)
    for (int rep = 0; rep < 10; ++rep) {
      Avalanche a;
      a.duration = T;
      for (std::int64_t t = 0; t < T; ++t) {
        const double u = (t + 0.5) / static_cast<double>(T);
        a.shape.push_back(std::pow(static_cast<double>(T), 0.7) * u * (1 - u) * 4);
      }
      av.push_back(a);
    }
  auto c = shape_collapse(av, 5, 60);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c.exponent, 1.7, 0.02);
}

TEST(Avalanches, SeriesCountsMustBeFiniteNonNegativeIntegers) {
  // inf once became an avalanche of size -9.22e18, 1e308 one of size 0, and nan looped allocating 3.3 GB.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (const auto& [bad, what] : std::vector<std::pair<double, std::string>>{
           {inf, "inf"}, {1e308, "1e+308"}, {nan, "nan"}, {-1, "-1"}, {2.5, "2.5"}, {-inf, "-inf"}}) {
    try {
      avalanches_from_series({0, 3, bad, 1, 0});
      ADD_FAILURE() << what << " was accepted";
    } catch (const critlab::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("item 3"), std::string::npos) << m;
      EXPECT_NE(m.find(what), std::string::npos) << m;
    }
  }
  const double top = 9007199254740992.0;  // 2^53 is the largest count
  const auto av = avalanches_from_series({0, top, 0});
  ASSERT_EQ(av.size(), 1u);
  EXPECT_EQ(av[0].size, static_cast<std::int64_t>(top));
  EXPECT_THROW(avalanches_from_series({0, top, 1, 0}), critlab::Error);
}
