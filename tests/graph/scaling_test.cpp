// Full-resolution percolation, the continuity criterion and finite-size scaling (graph/scaling.h): hand-built
// graphs with exact answers, exact and noisy power laws, synthetic collapses (FineSweep, Scaling: unit), and
// the mean-field exponents of Erdos-Renyi random graphs of 10^3..10^6 nodes (FiniteSizeScaling: validation).
#include "critlab/graph/scaling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "critlab/core/error.h"
#include "critlab/stats/inference.h"
#include "graph/random_graph.h"
#include "test_util.h"

namespace critlab::graph {
namespace {

using test::error_of;
using test::random_graph_process;

// The threshold that keeps the first round(c n / 2) edges of random_graph_process.
double threshold_for_mean_degree(std::int64_t n, double c) {
  return 1.0 - std::round(c * static_cast<double>(n) / 2);
}

// ---- fine_sweep on hand-built graphs ----

// 8 nodes, edges given out of order. Levels (weight: components after it; P_inf; chi = finite-cluster
// sum s^2 / sum s):
//   9: {0,1} and singletons                 P 2/8  chi (1*6)/6        = 1
//   8: + {2,3}, {4,5} (a tie: one level)    P 2/8  chi (4+4+1+1)/6    = 10/6
//   7: + {2,3,4,5}                          P 4/8  chi (4+1+1)/4      = 1.5
//   6: + {0,1,6}                            P 4/8  chi (9+1)/4        = 2.5   <- the peak
//   5: {0..6} and {7}                       P 7/8  chi 1/1            = 1     <- the largest jump, 3/8
//   4: one component                        P 1    chi 0
std::vector<WeightedEdge> eight_node_graph() {
  return {{0, 2, 5}, {2, 3, 8}, {0, 1, 9}, {7, 0, 4}, {0, 6, 6}, {2, 4, 7}, {4, 5, 8}};
}

TEST(FineSweep, HandBuiltGraphGivesExactPeakWidthAndJump) {
  const auto f = fine_sweep(8, eight_node_graph());
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_TRUE(f.status.message.empty());
  EXPECT_EQ(f.nodes, 8);
  EXPECT_EQ(f.edges, 7);
  EXPECT_EQ(f.levels, 6);  // the two edges of weight 8 are one level
  ASSERT_TRUE(f.theta_c && f.chi_max && f.peak_width && f.p_inf_at && f.p_inf_below);
  EXPECT_EQ(*f.theta_c, 6.0);
  EXPECT_DOUBLE_EQ(*f.chi_max, 2.5);
  // chi >= 1.25 on the contiguous levels 8, 7, 6 (not 9: chi 1; not 5: chi 1).
  EXPECT_EQ(*f.peak_width, 2.0);
  EXPECT_EQ(*f.p_inf_at, 0.5);
  EXPECT_EQ(*f.p_inf_below, 0.875);
  ASSERT_TRUE(f.largest_jump && f.theta_jump && f.jump_scaled && f.discontinuous);
  EXPECT_EQ(*f.largest_jump, 0.375);
  EXPECT_EQ(*f.theta_jump, 5.0);
  EXPECT_DOUBLE_EQ(*f.jump_scaled, 0.375 * 2.0);  // 8^(1/3) = 2
  EXPECT_FALSE(*f.discontinuous);
}

TEST(FineSweep, TiesAreOneLevelAndTheFirstLevelsJumpCounts) {
  // A star whose 9 edges share one weight: one level, P_inf 0.1 -> 1 at once. chi is 0 there (no finite
  // cluster), so there is no peak (not-found), but the jump is reported: 0.9, 0.9 * 10^(1/3) = 1.94 scaled.
  std::vector<WeightedEdge> star;
  for (int i = 1; i < 10; ++i) star.push_back({0, i, 1.5f});
  const auto f = fine_sweep(10, star);
  EXPECT_EQ(f.status.code, StatusCode::kNotFound);
  EXPECT_FALSE(f.status.message.empty());
  EXPECT_EQ(f.levels, 1);
  EXPECT_FALSE(f.theta_c || f.chi_max || f.peak_width || f.p_inf_at || f.p_inf_below);
  ASSERT_TRUE(f.largest_jump && f.theta_jump && f.jump_scaled && f.discontinuous);
  EXPECT_DOUBLE_EQ(*f.largest_jump, 0.9);
  EXPECT_EQ(*f.theta_jump, 1.5);
  EXPECT_NEAR(*f.jump_scaled, 0.9 * std::cbrt(10.0), 1e-12);
  EXPECT_FALSE(*f.discontinuous);
  // The same jump on 1000 nodes (a star on all of them) is 0.999 * 10 > kContinuityLimit.
  std::vector<WeightedEdge> big;
  for (int i = 1; i < 1000; ++i) big.push_back({0, i, 1.0f});
  const auto g = fine_sweep(1000, big);
  ASSERT_TRUE(g.discontinuous);
  EXPECT_TRUE(*g.discontinuous);
  EXPECT_NEAR(*g.jump_scaled, 9.99, 1e-9);
}

TEST(FineSweep, PeakAtTheLastLevelLeavesPInfBelowEmpty) {
  // {0,1} at weight 2 (chi (1+1)/2 = 1), then {2,3} at weight 1 (chi 4/2 = 2): the peak is the last level.
  const auto f = fine_sweep(4, {{2, 3, 1}, {0, 1, 2}});
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_FALSE(f.status.message.empty());  // says why p_inf_below is missing
  ASSERT_TRUE(f.theta_c && f.chi_max && f.peak_width && f.p_inf_at);
  EXPECT_EQ(*f.theta_c, 1.0);
  EXPECT_EQ(*f.chi_max, 2.0);
  EXPECT_EQ(*f.peak_width, 1.0);  // level 2 has chi 1 >= 2/2
  EXPECT_EQ(*f.p_inf_at, 0.5);
  EXPECT_FALSE(f.p_inf_below);
  ASSERT_TRUE(f.largest_jump);
  EXPECT_EQ(*f.largest_jump, 0.25);  // 1/4 -> 1/2 at the first level, nothing after
}

TEST(FineSweep, TooSmallGraphsAreInsufficientDataAndBadInputThrows) {
  for (const auto& [n, edges] : std::vector<std::pair<std::int64_t, std::vector<WeightedEdge>>>{
           {0, {}}, {5, {}}, {1, {{0, 0, 1.0f}}}}) {
    const auto f = fine_sweep(n, edges);
    EXPECT_EQ(f.status.code, StatusCode::kInsufficientData) << n;
    EXPECT_FALSE(f.status.message.empty());
    EXPECT_FALSE(f.theta_c || f.chi_max || f.peak_width || f.p_inf_at || f.p_inf_below || f.largest_jump ||
                 f.theta_jump || f.jump_scaled || f.discontinuous);
  }
  EXPECT_THROW(fine_sweep(3, {{0, 5, 1.0f}}), Error);
  EXPECT_THROW(fine_sweep(3, {{-1, 2, 1.0f}}), Error);
  EXPECT_THROW(fine_sweep(-1, {}), Error);
  EXPECT_EQ(error_of([] {
              fine_sweep(3, {{0, 1, std::numeric_limits<float>::quiet_NaN()}});
            }).rfind("edges", 0),
            0u);
  EXPECT_EQ(error_of([] { fine_sweep(3, {{0, 3, 1.0f}}); }).rfind("edges", 0), 0u);
}

// ---- fit_scaling ----

TEST(Scaling, ExactPowerLawIsRecoveredWithAZeroWidthInterval) {
  std::vector<double> n, y;
  for (double size : {10.0, 100.0, 1000.0, 10000.0, 1e5})
    n.push_back(size), y.push_back(3 * std::pow(size, -0.5));
  const auto f = fit_scaling(n, y);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  ASSERT_TRUE(f.exponent && f.exponent_lo && f.exponent_hi && f.prefactor && f.r2);
  EXPECT_NEAR(*f.exponent, -0.5, 1e-12);
  EXPECT_NEAR(*f.exponent_hi - *f.exponent_lo, 0.0, 1e-12);
  EXPECT_NEAR(*f.prefactor, 3.0, 1e-11);
  EXPECT_NEAR(*f.r2, 1.0, 1e-12);
  EXPECT_EQ(f.points, 5);
  EXPECT_EQ(f.dropped, 0);
}

TEST(Scaling, IntervalUsesStudentTWithPointsMinusTwoDegreesOfFreedom) {
  // log N = 0, 1, 2 and log y = 0, 1 + d, 2: slope 1, residuals -d/3, 2d/3, -d/3, so se = d / sqrt(3) and
  // the 95% interval is 1 +- t(0.975, 1) d / sqrt(3), t(0.975, 1) = tan(0.475 pi) = 12.7062...
  const double d = 0.3;
  const auto f = fit_scaling({1, std::exp(1.0), std::exp(2.0)}, {1, std::exp(1 + d), std::exp(2.0)});
  ASSERT_TRUE(f.status.ok() && f.exponent && f.exponent_lo && f.exponent_hi && f.r2);
  EXPECT_NEAR(*f.exponent, 1.0, 1e-12);
  const double half = std::tan(0.475 * std::numbers::pi) * d / std::sqrt(3.0);
  EXPECT_NEAR(*f.exponent_hi - 1.0, half, 1e-9);
  EXPECT_NEAR(1.0 - *f.exponent_lo, half, 1e-9);
  const auto f90 = fit_scaling({1, std::exp(1.0), std::exp(2.0)}, {1, std::exp(1 + d), std::exp(2.0)}, 0.9);
  EXPECT_NEAR(*f90.exponent_hi - 1.0, std::tan(0.45 * std::numbers::pi) * d / std::sqrt(3.0), 1e-9);
}

TEST(Scaling, NoisyPowerLawIntervalCoversTheTruth) {
  // y = 2 N^0.4 e^(0.1 z), 10 replicates at each of 5 sizes; over 200 such data sets the 95% interval
  // covers 0.4 in 90-99% of them (binomial sd 1.5%).
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z;
  int covered = 0;
  const int sets = 200;
  for (int s = 0; s < sets; ++s) {
    std::vector<double> n, y;
    for (double size : {100.0, 300.0, 1000.0, 3000.0, 10000.0})
      for (int r = 0; r < 10; ++r)
        n.push_back(size), y.push_back(2 * std::pow(size, 0.4) * std::exp(0.1 * z(rng)));
    const auto f = fit_scaling(n, y);
    ASSERT_TRUE(f.status.ok() && f.exponent_lo && f.exponent_hi);
    EXPECT_NEAR(*f.exponent, 0.4, 0.03);
    covered += *f.exponent_lo <= 0.4 && 0.4 <= *f.exponent_hi;
  }
  EXPECT_GE(covered, 0.90 * sets);
  EXPECT_LE(covered, 0.99 * sets);
}

TEST(Scaling, TooFewPointsAreInsufficientDataAndBadInputThrows) {
  const auto expect_insufficient = [](const ScalingFit& f) {
    EXPECT_EQ(f.status.code, StatusCode::kInsufficientData);
    EXPECT_FALSE(f.status.message.empty());
    EXPECT_FALSE(f.exponent || f.exponent_lo || f.exponent_hi || f.prefactor || f.r2);
  };
  expect_insufficient(fit_scaling({10, 100}, {1, 2}));
  expect_insufficient(fit_scaling({10, 10, 10}, {1, 2, 3}));  // one distinct N
  const auto dropped = fit_scaling({10, 100, 1000, 10000, -5}, {1, -1, 0, 2, 3});
  expect_insufficient(dropped);
  EXPECT_EQ(dropped.points, 2);
  EXPECT_EQ(dropped.dropped, 3);
  // Constant y: the exponent is 0 and r2 is undefined (empty, with a message), not 0 or NaN.
  const auto flat = fit_scaling({10, 100, 1000}, {2, 2, 2});
  ASSERT_TRUE(flat.status.ok() && flat.exponent);
  EXPECT_NEAR(*flat.exponent, 0.0, 1e-15);
  EXPECT_FALSE(flat.r2);
  EXPECT_FALSE(flat.status.message.empty());
  EXPECT_EQ(error_of([] { fit_scaling({1, 2, 3}, {1, 2}); }).rfind("n and y", 0), 0u);
  EXPECT_EQ(error_of([] { fit_scaling({1, 2, 3}, {1, 2, 3}, 1.0); }).rfind("level", 0), 0u);
}

// ---- collapse on synthetic curves ----

// y = N^(-beta_nu) f((x - x_c) N^(inv_nu)) with f(X) = 2 + tanh(X) + 0.2 X, on x = 0, 0.005, ..., 1.
std::vector<CollapseCurve> synthetic_curves(const std::vector<double>& sizes, double x_c, double inv_nu,
                                            double beta_nu) {
  std::vector<CollapseCurve> curves;
  for (double n : sizes) {
    CollapseCurve c{n, {}, {}, {}};
    for (int i = 0; i <= 200; ++i) {
      const double x = 0.005 * i, big_x = (x - x_c) * std::pow(n, inv_nu);
      c.x.push_back(x);
      c.y.push_back(std::pow(n, -beta_nu) * (2 + std::tanh(big_x) + 0.2 * big_x));
    }
    curves.push_back(c);
  }
  return curves;
}

TEST(Scaling, CollapseRecoversExactScalingParameters) {
  // Errors of 2% (the data are exact, so the only misfit is linear interpolation and S is far below 1) and
  // a box a few grid steps wide around the truth: the coarse grid must land in the optimum's basin, which
  // for errors this small is narrow (see CollapseOptions).
  auto curves = synthetic_curves({100, 400, 1600}, 0.47, 0.5, 0.25);
  for (auto& c : curves)
    for (double y : c.y) c.y_err.push_back(0.02 * std::abs(y));
  const CollapseOptions box{.x_c_min = 0.3,
                            .x_c_max = 0.7,
                            .inv_nu_min = 0.2,
                            .inv_nu_max = 1.0,
                            .beta_nu_min = 0.0,
                            .beta_nu_max = 0.6,
                            .window = 2.0};
  const auto r = collapse(curves, box);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  ASSERT_TRUE(r.x_c && r.inv_nu && r.beta_nu && r.quality);
  EXPECT_NEAR(*r.x_c, 0.47, 1e-3);
  EXPECT_NEAR(*r.inv_nu, 0.5, 0.01);
  EXPECT_NEAR(*r.beta_nu, 0.25, 0.01);
  EXPECT_LT(*r.quality, 0.05);
  EXPECT_GE(r.points, 3 * 5);
  // Fixed parameters are kept: x_c by fix_x_c, 1/nu by a zero-width range; a wrong 1/nu collapses worse.
  auto fixed_box = box;
  fixed_box.fix_x_c = true, fixed_box.x_c = 0.47, fixed_box.inv_nu_min = fixed_box.inv_nu_max = 0.4;
  const auto fixed = collapse(curves, fixed_box);
  ASSERT_TRUE(fixed.status.ok() && fixed.x_c && fixed.inv_nu && fixed.quality) << fixed.status.to_string();
  EXPECT_EQ(*fixed.x_c, 0.47);
  EXPECT_EQ(*fixed.inv_nu, 0.4);
  EXPECT_GT(*fixed.quality, 100 * *r.quality);
}

TEST(Scaling, CollapseWithTooLittleDataIsInsufficientAndBadInputThrows) {
  const auto one = collapse(synthetic_curves({100}, 0.5, 0.5, 0.25));
  EXPECT_EQ(one.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(one.x_c || one.inv_nu || one.beta_nu || one.quality);
  // Two curves of 3 points each can never give 5 compared points per curve.
  const auto sparse = collapse({{10, {0.4, 0.5, 0.6}, {1, 2, 3}, {}}, {20, {0.4, 0.5, 0.6}, {1, 2, 3}, {}}});
  EXPECT_EQ(sparse.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(sparse.status.message.empty());
  EXPECT_FALSE(sparse.x_c || sparse.inv_nu || sparse.beta_nu || sparse.quality);
  EXPECT_EQ(sparse.points, 0);
  const auto message = [](const CollapseOptions& o) {
    return error_of([&] { collapse(synthetic_curves({100, 400}, 0.5, 0.5, 0.25), o); });
  };
  EXPECT_EQ(message({.window = 0}).rfind("window", 0), 0u);
  EXPECT_EQ(message({.inv_nu_min = 0}).rfind("inv_nu_min", 0), 0u);
  EXPECT_EQ(message({.x_c_min = 2, .x_c_max = 1}).rfind("x_c_min", 0), 0u);
  EXPECT_EQ(message({.beta_nu_min = 1, .beta_nu_max = 0}).rfind("beta_nu_min", 0), 0u);
  std::string why;
  EXPECT_TRUE(CollapseOptions{}.IsValid(&why));
  EXPECT_FALSE((CollapseOptions{.window = -1}).IsValid(&why));
  EXPECT_EQ(why.rfind("window", 0), 0u);
  EXPECT_EQ(error_of([] {
              collapse({{10, {0.5, 0.4}, {1, 2}, {}}, {20, {0.4, 0.5}, {1, 2}, {}}});
            }).rfind("curves", 0),
            0u);
  EXPECT_EQ(error_of([] {
              collapse({{0, {0.4, 0.5}, {1, 2}, {}}, {20, {0.4, 0.5}, {1, 2}, {}}});
            }).rfind("curves", 0),
            0u);
  EXPECT_EQ(error_of([] {
              collapse({{10, {0.4, 0.5}, {1}, {}}, {20, {0.4, 0.5}, {1, 2}, {}}});
            }).rfind("curves", 0),
            0u);
}

// ---- Erdos-Renyi finite-size scaling (validation) ----

// Added to every seed below; the tolerances were checked with several values (see each test's comment).
constexpr std::uint64_t kSeed = 0;

// One fine_sweep and the order parameter at c = 1 per realisation, for n = 10^3 .. 10^5: more realisations
// for the smaller (cheaper) sizes. The process runs to c = 1.5, past every susceptibility peak.
struct ErSample {
  double n, chi_max, p_inf_at_1, largest_jump;
  bool discontinuous;
};
const std::vector<ErSample>& erdos_renyi_samples() {
  static const std::vector<ErSample> samples = [] {
    std::vector<ErSample> out;
    const std::vector<std::pair<std::int64_t, int>> plan{
        {1000, 400}, {3000, 200}, {10000, 100}, {30000, 60}, {100000, 40}};
    for (const auto& [n, realisations] : plan)
      for (int r = 0; r < realisations; ++r) {
        auto edges =
            random_graph_process(n, 3 * n / 4, kSeed + 7000 + 1000 * static_cast<std::uint64_t>(n) + r);
        const auto at_1 = percolation_sweep(n, edges, {threshold_for_mean_degree(n, 1.0)});
        const auto f = fine_sweep(n, std::move(edges));
        EXPECT_TRUE(f.status.ok()) << f.status.to_string();
        out.push_back({static_cast<double>(n), f.chi_max.value_or(0), at_1[0].p_inf,
                       f.largest_jump.value_or(0), f.discontinuous.value_or(true)});
      }
    return out;
  }();
  return samples;
}

TEST(FiniteSizeScaling, ErdosRenyiSusceptibilityPeakAndCriticalOrderParameterScaleAsNToTheThird) {
  // chi_max ~ n^(1/3) (the largest finite clusters at criticality hold ~n^(2/3) nodes: sum s^2 / n ~ n^(1/3))
  // and P_inf(c = 1) ~ n^(-1/3). One point per realisation (800 in all), so the fit averages log chi_max.
  // Over 24 independent seed sets the exponents fell in 0.325..0.360 and -0.367..-0.315: the tolerance 0.05
  // is 1.5x the largest deviation seen (the n = 10^3 corrections pull chi_max's exponent up by ~0.01).
  std::vector<double> n, chi, p;
  for (const auto& s : erdos_renyi_samples())
    n.push_back(s.n), chi.push_back(s.chi_max), p.push_back(s.p_inf_at_1);
  const auto fc = fit_scaling(n, chi), fp = fit_scaling(n, p);
  ASSERT_TRUE(fc.status.ok() && fc.exponent && fp.status.ok() && fp.exponent);
  EXPECT_NEAR(*fc.exponent, 1.0 / 3, 0.05) << "chi_max ~ n^" << *fc.exponent;
  EXPECT_NEAR(*fp.exponent, -1.0 / 3, 0.05) << "P_inf(1) ~ n^" << *fp.exponent;
  EXPECT_EQ(fc.points, 800);
  EXPECT_EQ(fc.dropped, 0);
}

TEST(FiniteSizeScaling, PlantedJumpIsDiscontinuousAndErdosRenyiIsNot) {
  // Erdos-Renyi: continuous in every one of the 800 graphs (the largest jump_scaled seen in calibration is
  // 2.57 < 4), and the largest jump shrinks with n (mean-field: n^(-1/3)), significantly: over 8 seed sets
  // the exponent was -0.333..-0.302, its upper 95% limit at most -0.28.
  std::vector<double> n, jump;
  for (const auto& s : erdos_renyi_samples()) {
    EXPECT_FALSE(s.discontinuous) << "n " << s.n << " jump " << s.largest_jump;
    n.push_back(s.n), jump.push_back(s.largest_jump);
  }
  const auto er = fit_scaling(n, jump);
  ASSERT_TRUE(er.status.ok() && er.exponent && er.exponent_hi);
  EXPECT_LT(*er.exponent_hi, -0.2) << "Erdos-Renyi largest jump ~ n^" << *er.exponent;
  EXPECT_NEAR(*er.exponent, -1.0 / 3, 0.1);

  // Planted: sparse random edges up to mean degree 0.5 (subcritical throughout), and halfway through them
  // a path over half the nodes whose edges all carry one weight, so they arrive as one level.
  std::vector<double> pn, pjump;
  for (const std::int64_t size : {1000, 3000, 10000, 30000, 100000})
    for (int r = 0; r < 4; ++r) {
      auto edges = random_graph_process(size, size / 4, kSeed + 500 + r);
      const float block = -static_cast<float>(size / 8) - 0.5f;
      for (std::int32_t i = 0; i + 1 < size / 2; ++i) edges.push_back({i, i + 1, block});
      const auto f = fine_sweep(size, std::move(edges));
      ASSERT_TRUE(f.discontinuous && f.largest_jump && f.theta_jump);
      EXPECT_TRUE(*f.discontinuous) << "n " << size << " jump " << *f.largest_jump;
      EXPECT_EQ(*f.theta_jump, block);
      EXPECT_GT(*f.largest_jump, 0.5);
      pn.push_back(static_cast<double>(size)), pjump.push_back(*f.largest_jump);
    }
  // The jump (~0.55: the path's half plus the small clusters it touches) does not depend on n: exponents
  // -0.001..0.004 over 8 seed sets.
  const auto planted = fit_scaling(pn, pjump);
  ASSERT_TRUE(planted.status.ok() && planted.exponent && planted.exponent_lo && planted.exponent_hi);
  EXPECT_NEAR(*planted.exponent, 0.0, 0.02) << "planted largest jump ~ n^" << *planted.exponent;
  EXPECT_GT(*planted.exponent_lo, -0.05);
}

// Least squares of y on the columns of x (with their own intercept column); returns the coefficients.
std::vector<double> least_squares(const std::vector<std::vector<double>>& x, const std::vector<double>& y) {
  const std::size_t k = x[0].size();
  std::vector<std::vector<double>> a(k, std::vector<double>(k + 1, 0.0));
  for (std::size_t i = 0; i < y.size(); ++i)
    for (std::size_t r = 0; r < k; ++r) {
      for (std::size_t c = 0; c < k; ++c) a[r][c] += x[i][r] * x[i][c];
      a[r][k] += x[i][r] * y[i];
    }
  for (std::size_t c = 0; c < k; ++c) {  // Gauss-Jordan; the normal matrix is positive definite
    for (std::size_t r = 0; r < k; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (std::size_t q = c; q <= k; ++q) a[r][q] -= f * a[c][q];
    }
  }
  std::vector<double> b(k);
  for (std::size_t r = 0; r < k; ++r) b[r] = a[r][k] / a[r][r];
  return b;
}

TEST(FiniteSizeScaling, OrderParameterExponentIsOneAboveTheTransition) {
  // Mean field: P_inf = 2 eps - (8/3) eps^2 + ... at c = 1 + eps, so beta = 1, but the correction is large:
  // the local slope d ln P / d ln eps is 1 - (4/3) eps, and a plain power law on eps in [0.05, 0.8] gives
  // 0.754 even on the exact n = infinity curve (0.85 on [0.05, 0.3]). Closer to 1 the finite size takes
  // over: the window must stay well outside the critical one, eps >> n^(-1/3) = 0.01 at n = 10^6, and
  // eps >= 0.05 puts its lower end at 5 critical widths, where the giant's relative fluctuation is
  // 1/sqrt(2 n eps^3) = 6%.
  // So beta is fitted with the leading analytic corrections, ln P = a + beta ln eps + b1 eps + b2 eps^2 (on
  // the exact curve: 0.989; with b1 alone: 0.949), once per graph, with the t-interval over the graphs.
  // Calibration over 60 graphs: mean 1.0005, sd 0.083 per graph. The interval is a 99% one: over 24 seed
  // sets the 95% interval missed 1 once (1.036 +- 0.029), as it should about 5% of the time; the means
  // ranged over 0.966..1.039 (their average 1.005).
  const std::int64_t n = 1000000;
  const int graphs = 12;
  std::vector<double> eps, thresholds, theory;
  for (int i = 0; i < 25; ++i) {
    eps.push_back(0.05 * std::pow(0.8 / 0.05, i / 24.0));
    thresholds.push_back(threshold_for_mean_degree(n, 1 + eps.back()));
    theory.push_back(erdos_renyi_giant_fraction(1 + eps.back()));
  }
  const auto corrected_beta = [&](const std::vector<double>& p) {
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    for (std::size_t i = 0; i < eps.size(); ++i) {
      x.push_back({1, std::log(eps[i]), eps[i], eps[i] * eps[i]});
      y.push_back(std::log(p[i]));
    }
    return least_squares(x, y)[1];
  };
  EXPECT_NEAR(corrected_beta(theory), 1.0, 0.015);
  const auto plain_theory = fit_scaling(eps, theory);
  ASSERT_TRUE(plain_theory.exponent);
  EXPECT_NEAR(*plain_theory.exponent, 0.754, 0.005);

  double sum = 0, sum_sq = 0, plain_sum = 0;
  for (int g = 0; g < graphs; ++g) {
    const auto sweep =
        percolation_sweep(n, random_graph_process(n, 9 * n / 10, kSeed + 9000 + g), thresholds);
    std::vector<double> p;
    for (const auto& point : sweep) p.push_back(point.p_inf);
    const double beta = corrected_beta(p);
    sum += beta, sum_sq += beta * beta;
    plain_sum += fit_scaling(eps, p).exponent.value_or(0);
  }
  const double mean = sum / graphs, sd = std::sqrt((sum_sq - graphs * mean * mean) / (graphs - 1));
  const double half =
      stats::student_t_quantile(0.995, graphs - 1) * sd / std::sqrt(static_cast<double>(graphs));
  EXPECT_LE(mean - half, 1.0) << "beta " << mean << " +- " << half;
  EXPECT_GE(mean + half, 1.0) << "beta " << mean << " +- " << half;
  EXPECT_LT(half, 0.15);  // an interval that says something (0.04..0.11 over the 24 seed sets)
  // The plain power law on the simulated graphs is as biased as on the exact curve: the analytic
  // correction, not noise, is what the corrected fit removes.
  EXPECT_NEAR(plain_sum / graphs, *plain_theory.exponent, 0.03);
}

TEST(FiniteSizeScaling, CollapseOfErdosRenyiOrderParameterRecoversMeanFieldExponents) {
  // P_inf(c) averaged over 150 graphs at each of n = 10^3 .. 10^5, with its standard error, on c = 0.7 ..
  // 1.5 in steps of 0.002 (fine enough to put ~130 points of the largest size in the window), collapses as
  // P n^(beta/nu) against (c - 1) n^(1/nu) with 1/nu = beta/nu = 1/3.
  // Window 3: wide enough that a wrong exponent shows (at window 1, 1/nu = 1/2 collapsed as well as 1/3),
  // narrow enough to keep the analytic corrections moderate (P = 2 eps (1 - 4/3 eps): at n = 10^3 the
  // window reaches eps = 0.3). Those corrections bias the exponents at these sizes, and with x_c free, x_c
  // and beta/nu trade off (a larger x_c, a smaller beta/nu). In 16 fits on independent data (16 seed sets):
  //   x_c free:       x_c 1.006..1.013, 1/nu 0.353..0.375, beta/nu 0.263..0.300, S 0.44..2.3;
  //   x_c = 1 (exact): 1/nu 0.354..0.373, beta/nu 0.304..0.327, S 0.70..2.6;
  //   S with 1/nu held at 1/2: 2.5..11 times the free optimum's; beta/nu held at 1/2: 3.3..25 times.
  // Hence the tolerances: 0.05 on x_c; 0.07 on both exponents at the exact x_c (largest deviation seen
  // 0.040) and on 1/nu with x_c free (0.042); 0.1 on beta/nu with x_c free (0.071: the free x_c's ~+0.01
  // costs ~-0.04 in beta/nu). With 60 graphs instead of 150, one fit in 8 at x_c = 1 ended in a spurious
  // optimum at 1/nu ~ 0.51 (where the largest size keeps only a few points in the window; see scaling.cpp).
  const std::vector<std::int64_t> sizes{1000, 3000, 10000, 30000, 100000};
  const int graphs = 150;
  std::vector<double> grid;
  for (int i = 0; i <= 400; ++i) grid.push_back(0.7 + 0.002 * i);
  std::vector<CollapseCurve> curves;
  for (const auto n : sizes) {
    std::vector<double> thresholds;
    for (double c : grid) thresholds.push_back(threshold_for_mean_degree(n, c));
    std::vector<double> mean(grid.size(), 0), mean_sq(grid.size(), 0);
    for (int g = 0; g < graphs; ++g) {
      const auto sweep = percolation_sweep(
          n, random_graph_process(n, 3 * n / 4 + 1, kSeed + 31 + 1000000 * static_cast<std::uint64_t>(g) + n),
          thresholds);
      for (std::size_t i = 0; i < grid.size(); ++i) {
        mean[i] += sweep[i].p_inf / graphs;
        mean_sq[i] += sweep[i].p_inf * sweep[i].p_inf / graphs;
      }
    }
    CollapseCurve curve{static_cast<double>(n), grid, mean, {}};
    for (std::size_t i = 0; i < grid.size(); ++i)
      curve.y_err.push_back(std::sqrt(std::max(0.0, mean_sq[i] - mean[i] * mean[i]) / (graphs - 1)));
    curves.push_back(curve);
  }
  const CollapseOptions box{.x_c_min = 0.9,
                            .x_c_max = 1.1,
                            .inv_nu_min = 0.1,
                            .inv_nu_max = 2.0,
                            .beta_nu_min = 0.0,
                            .beta_nu_max = 1.0,
                            .window = 3.0};
  const auto free = collapse(curves, box);
  ASSERT_TRUE(free.status.ok()) << free.status.to_string();
  ASSERT_TRUE(free.x_c && free.inv_nu && free.beta_nu && free.quality);
  EXPECT_NEAR(*free.x_c, 1.0, 0.05);
  EXPECT_NEAR(*free.inv_nu, 1.0 / 3, 0.07);
  EXPECT_NEAR(*free.beta_nu, 1.0 / 3, 0.1);
  EXPECT_LT(*free.quality, 4.0);
  EXPECT_GT(free.points, 400);
  EXPECT_TRUE(free.status.message.empty()) << free.status.message;  // no curve thinly sampled in the window

  auto at_exact = box;
  at_exact.fix_x_c = true, at_exact.x_c = 1.0;
  const auto exact = collapse(curves, at_exact);
  ASSERT_TRUE(exact.status.ok() && exact.inv_nu && exact.beta_nu && exact.quality)
      << exact.status.to_string();
  EXPECT_NEAR(*exact.inv_nu, 1.0 / 3, 0.07);
  EXPECT_NEAR(*exact.beta_nu, 1.0 / 3, 0.07);
  EXPECT_LT(*exact.quality, 4.0);
  EXPECT_GT(exact.points, 400);

  // A wrong exponent held fixed (the other parameters free) collapses clearly worse.
  auto wrong_nu = box;
  wrong_nu.inv_nu_min = wrong_nu.inv_nu_max = 0.5;
  auto wrong_beta = box;
  wrong_beta.beta_nu_min = wrong_beta.beta_nu_max = 0.5;
  for (const auto& o : {wrong_nu, wrong_beta}) {
    const auto w = collapse(curves, o);
    ASSERT_TRUE(w.status.ok() && w.quality) << w.status.to_string();
    EXPECT_GT(*w.quality, 2 * *free.quality)
        << "1/nu " << w.inv_nu.value_or(-1) << " beta/nu " << w.beta_nu.value_or(-1);
  }
}

}  // namespace
}  // namespace critlab::graph
