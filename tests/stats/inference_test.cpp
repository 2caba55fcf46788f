// The survey's tests (inference.h) against brute-force enumeration, against R, against a dense-matrix REML
// fit, and by simulation.
//
// The R numbers come from tests/stats/reference/inference_reference.R, run with R 4.2.2 Patched
// (2022-11-10 r83330), lme4 1.1-31 and lmerTest 3.1-3 on Debian 12 (packages r-base-core, r-cran-lme4,
// r-cran-lmertest); R is not needed to run these tests. The lmer figures are the script's "root" fit: theta
// at the root of the derivative of lme4's own REML deviance (numDeriv + uniroot), the fit rebuilt there by
// lmer and lmerTest. lme4's optimiser, even with its tolerances at 1e-14..1e-16 ("tight"), stops ~1e-8
// (relative) short in theta where the criterion is flat (theta = 10.8 in the unbalanced set); the C++ fit
// solves for the root by Newton's method and agrees with the root fit to < 4e-9 in every figure (df:
// lmerTest's numerical Hessian, < 1e-9). For the singular fit the figures are the tight fit's (theta = 0
// exactly).
#include "critlab/stats/inference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "critlab/stats/correlation.h"
#include "critlab/stats/special.h"

using namespace critlab;

#define EXPECT_REL(actual, expected, rel) EXPECT_NEAR((actual), (expected), (rel)*std::abs(expected))

namespace {

// ---- data sets shared with inference_reference.R ----

const std::vector<double> kMwX{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
const std::vector<double> kMwY{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.07, 3.14, 1.28};

struct Data {
  std::vector<double> x, y;
  std::vector<std::string> g;
};

std::vector<std::string> labels(const std::string& prefix, const std::vector<int>& sizes) {
  std::vector<std::string> g;
  for (std::size_t k = 0; k < sizes.size(); ++k)
    for (int i = 0; i < sizes[k]; ++i) g.push_back(prefix + std::to_string(k + 1));
  return g;
}

Data balanced_data() {
  return {{9.24, 4.66, 1.85, 5.12, 0.94, 8.1,  6.93, 9.65, 6.54, 0.15, 1.9,  2.42, 4.41, 8.42, 5.0,
           2.78, 9.98, 7.08, 3.15, 0.7,  8.47, 3.87, 0.01, 2.1,  9.8,  6.29, 7.79, 3.33, 9.64, 2.46},
          {7.453, 2.998, 2.576, 3.387, 0.802, 8.099, 9.726,  9.356, 6.314, 2.529,
           3.664, 5.135, 5.442, 6.218, 5.415, 3.032, 10.209, 6.503, 4.302, 3.546,
           7.2,   7.318, 2.625, 5.336, 8.402, 6.634, 7.247,  5.048, 8.436, 3.602},
          labels("g", {5, 5, 5, 5, 5, 5})};
}

// Group sizes 1, 2, 3, 5, 9; x rises from group to group while the group intercepts fall, and y rises with
// x within each group: lm's slope is negative, the mixed model's (within-group) slope positive.
Data unbalanced_data() {
  return {{1.89, 2.84, 2.07, 5.43, 4.14, 4.31, 6.41, 6.68, 8.06,  8.47,
           6.14, 8.49, 7.77, 9.25, 8.62, 8.86, 9.22, 10.1, 10.23, 9.95},
          {12.384, 11.027, 9.563, 8.967, 7.88, 8.768, 6.727, 6.263, 7.484, 7.764,
           6.087,  6.589,  6.353, 7.317, 7.72, 7.742, 7.047, 8.121, 8.429, 7.837},
          labels("f", {1, 2, 3, 5, 9})};
}

// Errors centred within each group: the group means lie on the line and the group variance is estimated at 0.
Data singular_data() {
  const std::vector<double> x{1, 2, 3, 4, 2, 3, 5, 6, 1, 4, 5, 7, 3, 4, 6, 8};
  const std::vector<double> e{0.3, -0.5, 0.1,  0.1,  -0.2, 0.4, -0.6, 0.4,
                              0.5, 0.2,  -0.4, -0.3, -0.1, 0.3, 0.2,  -0.4};
  Data d{x, {}, labels("s", {4, 4, 4, 4})};
  for (std::size_t i = 0; i < x.size(); ++i) d.y.push_back(1 + 0.5 * x[i] + e[i]);
  return d;
}

double frac(double v) { return v - std::floor(v); }

// ---- a dense REML for the independent check ----

using Dense = std::vector<std::vector<double>>;

// Cholesky factor L (lower) of a symmetric positive definite matrix.
Dense cholesky(const Dense& a) {
  const std::size_t n = a.size();
  Dense l(n, std::vector<double>(n, 0.0));
  for (std::size_t j = 0; j < n; ++j) {
    double s = a[j][j];
    for (std::size_t k = 0; k < j; ++k) s -= l[j][k] * l[j][k];
    l[j][j] = std::sqrt(s);
    for (std::size_t i = j + 1; i < n; ++i) {
      double t = a[i][j];
      for (std::size_t k = 0; k < j; ++k) t -= l[i][k] * l[j][k];
      l[i][j] = t / l[j][j];
    }
  }
  return l;
}

// x = A^-1 b from A = L L'.
std::vector<double> cholesky_solve(const Dense& l, std::vector<double> b) {
  const std::size_t n = l.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < i; ++k) b[i] -= l[i][k] * b[k];
    b[i] /= l[i][i];
  }
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t k = i + 1; k < n; ++k) b[i] -= l[k][i] * b[k];
    b[i] /= l[i][i];
  }
  return b;
}

struct DenseReml {
  double criterion;  // -2 REML log-likelihood
  double intercept, slope;
  double cov[2][2];  // (X' Sigma^-1 X)^-1
};

// Sigma = s_g^2 Z Z' + s^2 I built in full, everything else by dense linear algebra.
DenseReml dense_reml(const Data& d, double group_var, double residual_var) {
  const std::size_t n = d.y.size();
  Dense sigma(n, std::vector<double>(n, 0.0));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      sigma[i][j] = (d.g[i] == d.g[j] ? group_var : 0) + (i == j ? residual_var : 0);
  const Dense l = cholesky(sigma);
  double log_det = 0;
  for (std::size_t i = 0; i < n; ++i) log_det += 2 * std::log(l[i][i]);
  const auto si_one = cholesky_solve(l, std::vector<double>(n, 1.0)), si_x = cholesky_solve(l, d.x),
             si_y = cholesky_solve(l, d.y);
  double m00 = 0, m01 = 0, m11 = 0, v0 = 0, v1 = 0, yy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    m00 += si_one[i], m01 += d.x[i] * si_one[i], m11 += d.x[i] * si_x[i];
    v0 += si_y[i], v1 += d.x[i] * si_y[i], yy += d.y[i] * si_y[i];
  }
  const double det = m00 * m11 - m01 * m01;
  DenseReml r;
  r.cov[0][0] = m11 / det, r.cov[0][1] = r.cov[1][0] = -m01 / det, r.cov[1][1] = m00 / det;
  r.intercept = r.cov[0][0] * v0 + r.cov[0][1] * v1;
  r.slope = r.cov[1][0] * v0 + r.cov[1][1] * v1;
  const double quad = yy - r.intercept * v0 - r.slope * v1;  // r' Sigma^-1 r at the GLS estimate
  r.criterion = log_det + std::log(det) + quad + static_cast<double>(n - 2) * std::log(2 * M_PI);
  return r;
}

// Survey-like data: accuracy = a + b metric + family effect + noise, metric with a family component too.
Data simulate_survey(std::mt19937_64& rng, const std::vector<int>& sizes, double a, double b,
                     double family_sd, double noise_sd) {
  std::normal_distribution<double> n01;
  Data d;
  for (std::size_t f = 0; f < sizes.size(); ++f) {
    const double effect = family_sd * n01(rng), metric_mean = n01(rng);
    for (int i = 0; i < sizes[f]; ++i) {
      const double metric = metric_mean + n01(rng);
      d.x.push_back(metric);
      d.y.push_back(a + b * metric + effect + noise_sd * n01(rng));
      d.g.push_back("family" + std::to_string(f));
    }
  }
  return d;
}

}  // namespace

// ---- exact null distributions ----

TEST(InferencePmf, MannWhitneyMatchesEnumeration) {
  for (auto [n1, n2] : std::vector<std::pair<int, int>>{{5, 5}, {5, 6}, {6, 6}, {3, 8}}) {
    SCOPED_TRACE(testing::Message() << "n1 = " << n1 << ", n2 = " << n2);
    const int n = n1 + n2;
    // Every split of the ranks 1..n: the first sample holds the ranks whose bits are set.
    std::vector<double> counts(n1 * n2 + 1, 0.0);
    double splits = 0;
    for (unsigned mask = 0; mask < (1u << n); ++mask) {
      if (__builtin_popcount(mask) != n1) continue;
      int rank_sum = 0;
      for (int r = 0; r < n; ++r)
        if (mask & (1u << r)) rank_sum += r + 1;
      counts[rank_sum - n1 * (n1 + 1) / 2] += 1;
      splits += 1;
    }
    const auto pmf = stats::mann_whitney_null_pmf(n1, n2);
    ASSERT_EQ(pmf.size(), counts.size());
    double total = 0;
    for (std::size_t u = 0; u < pmf.size(); ++u) {
      EXPECT_NEAR(pmf[u], counts[u] / splits, 1e-15) << "u = " << u;
      total += pmf[u];
    }
    EXPECT_NEAR(total, 1.0, 1e-14);
  }
}

TEST(InferencePmf, SignedRankMatchesEnumeration) {
  for (int n : {5, 6, 10}) {
    SCOPED_TRACE(testing::Message() << "n = " << n);
    std::vector<double> counts(n * (n + 1) / 2 + 1, 0.0);
    for (unsigned signs = 0; signs < (1u << n); ++signs) {
      int v = 0;
      for (int r = 0; r < n; ++r)
        if (signs & (1u << r)) v += r + 1;
      counts[v] += 1;
    }
    const auto pmf = stats::signed_rank_null_pmf(n);
    ASSERT_EQ(pmf.size(), counts.size());
    double total = 0;
    for (std::size_t v = 0; v < pmf.size(); ++v) {
      EXPECT_NEAR(pmf[v], counts[v] / std::ldexp(1.0, n), 1e-15) << "v = " << v;
      total += pmf[v];
    }
    EXPECT_NEAR(total, 1.0, 1e-14);
  }
}

// ---- rank tests against R's wilcox.test and cor.test ----

TEST(InferenceRankTests, MannWhitneyAgainstR) {
  // wilcox.test(x1, y1): exact (9 and 9 values, no ties).
  auto t = stats::mann_whitney(kMwX, kMwY);
  ASSERT_TRUE(t.status.ok()) << t.status.to_string();
  EXPECT_TRUE(t.exact);
  EXPECT_EQ(t.statistic.value(), 58);
  EXPECT_REL(t.p_value.value(), 0.13591114767585355, 1e-12);
  // Swapping the samples turns U into n1 n2 - U with the same two-sided p; NaN is dropped.
  auto x = kMwX;
  x.push_back(NAN);
  const auto swapped = stats::mann_whitney(kMwY, x);
  EXPECT_EQ(swapped.statistic.value(), 81 - 58);
  EXPECT_EQ(swapped.n2, 9);
  EXPECT_REL(swapped.p_value.value(), 0.13591114767585355, 1e-12);

  // wilcox.test(x2, y2): ties, so the normal approximation with tie and continuity corrections.
  t = stats::mann_whitney({1, 2, 2, 3, 4, 5, 5, 5, 7}, {2, 3, 3, 4, 6, 6, 8, 9, 9, 10});
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.statistic.value(), 24.5);
  EXPECT_REL(t.p_value.value(), 0.10020848496324515, 1e-10);

  // wilcox.test(x3, y3): 50 values in the first sample, no ties: normal approximation too.
  std::vector<double> x3, y3;
  for (int i = 1; i <= 50; ++i) x3.push_back(std::sqrt(3.0 * i));
  for (int i = 1; i <= 40; ++i) y3.push_back(std::sqrt(3.1 * i) + 0.7);
  t = stats::mann_whitney(x3, y3);
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.statistic.value(), 1026);
  EXPECT_REL(t.p_value.value(), 0.83596341011760844, 1e-10);
}

TEST(InferenceRankTests, SignedRankAgainstR) {
  // wilcox.test(d1): exact.
  std::vector<double> d1;
  const std::vector<double> before{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
  for (std::size_t i = 0; i < before.size(); ++i) d1.push_back(kMwX[i] - before[i]);
  auto t = stats::wilcoxon_signed_rank(d1);
  ASSERT_TRUE(t.status.ok()) << t.status.to_string();
  EXPECT_TRUE(t.exact);
  EXPECT_EQ(t.statistic.value(), 40);
  EXPECT_REL(t.p_value.value(), 0.0390625, 1e-14);  // = 20 / 512

  // wilcox.test(d2): ties and zeros (dropped): normal approximation.
  t = stats::wilcoxon_signed_rank({1.5, -0.5, 2, 0, 2, 3.5, -1, 0, 4, 2.5, -2, 1});
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.n1, 10);
  EXPECT_EQ(t.statistic.value(), 45.5);
  EXPECT_REL(t.p_value.value(), 0.073520655858531125, 1e-10);

  // wilcox.test(d3): no ties, but a zero: R leaves the exact distribution then.
  t = stats::wilcoxon_signed_rank({0.3, -1.2, 2.2, 0, 0.9, 1.7, -0.4, 2.9});
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.n1, 7);
  EXPECT_EQ(t.statistic.value(), 22);
  EXPECT_REL(t.p_value.value(), 0.20489389381637854, 1e-10);
}

TEST(InferenceRankTests, SpearmanRhoWithTiesAgainstR) {
  // cor.test(sx, sy, method = "spearman")$estimate; only rho (the p-values use different approximations).
  const auto c = stats::spearman({1, 2, 2, 3, 4, 5, 5, 6, 7, 8}, {2, 1, 3, 3, 5, 4, 6, 6, 9, 7});
  EXPECT_REL(c.rho.value(), 0.93251533742331316, 1e-13);
}

// ---- the random-intercept model against lme4 + lmerTest ----

TEST(InferenceMixedModel, BalancedAgainstLme4) {
  const auto d = balanced_data();
  const auto f = stats::random_intercept_model(d.y, d.x, d.g);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_EQ(f.n, 30);
  EXPECT_EQ(f.groups, 6);
  EXPECT_FALSE(f.boundary);
  EXPECT_REL(f.intercept.value(), 2.4273134932963281, 1e-8);
  EXPECT_REL(f.intercept_se.value(), 0.48177123310514175, 1e-8);
  EXPECT_REL(f.slope.value(), 0.62661732688251237, 1e-8);
  EXPECT_REL(f.slope_se.value(), 0.05958277337134435, 1e-8);
  EXPECT_REL(f.group_sd.value(), 0.79769656671803568, 1e-8);
  EXPECT_REL(f.residual_sd.value(), 1.0096132331197094, 1e-8);
  EXPECT_REL(f.reml_criterion.value(), 96.138279466345338, 1e-12);
  EXPECT_REL(f.df.value(), 23.601284846344605, 1e-8);
  EXPECT_REL(f.t.value(), 10.51675327325191, 1e-8);
  EXPECT_REL(f.p_value.value(), 2.197185924543629e-10, 1e-8);
}

TEST(InferenceMixedModel, UnbalancedAgainstLme4AndUnlikeOls) {
  const auto d = unbalanced_data();
  const auto f = stats::random_intercept_model(d.y, d.x, d.g);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_EQ(f.n, 20);
  EXPECT_EQ(f.groups, 5);
  EXPECT_FALSE(f.boundary);
  EXPECT_REL(f.intercept.value(), 5.6899143258982114, 1e-8);
  EXPECT_REL(f.intercept_se.value(), 1.9765253351560783, 1e-8);
  EXPECT_REL(f.slope.value(), 0.6740679787023619, 1e-8);
  EXPECT_REL(f.slope_se.value(), 0.11593331512490128, 1e-8);
  EXPECT_REL(f.group_sd.value(), 4.2123843525400959, 1e-8);
  EXPECT_REL(f.residual_sd.value(), 0.39132535992283207, 1e-8);
  EXPECT_REL(f.reml_criterion.value(), 45.971647060489829, 1e-12);
  EXPECT_REL(f.df.value(), 14.655439829417244, 1e-8);
  EXPECT_REL(f.t.value(), 5.8142732999237685, 1e-8);
  EXPECT_REL(f.p_value.value(), 3.7414074004649371e-05, 1e-8);
  // lm(y ~ x): slope -0.36726692833992947 (se 0.10793224498624927). The between-group trend drags the
  // pooled slope below 0; the mixed model recovers the within-group slope, about 9 of lm's SEs away.
  const double ols_slope = -0.36726692833992947, ols_se = 0.10793224498624927;
  EXPECT_GT(*f.slope - ols_slope, 9 * ols_se);
  EXPECT_GT(*f.slope, 0);
}

TEST(InferenceMixedModel, SingularFitAgainstLme4) {
  const auto d = singular_data();
  const auto f = stats::random_intercept_model(d.y, d.x, d.g);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_TRUE(f.boundary);
  EXPECT_EQ(f.group_sd.value(), 0);
  EXPECT_REL(f.intercept.value(), 1.2312499999999993, 1e-12);
  EXPECT_REL(f.intercept_se.value(), 0.19514725152249962, 1e-12);
  EXPECT_REL(f.slope.value(), 0.44218750000000018, 1e-12);
  EXPECT_REL(f.slope_se.value(), 0.043636252002655848, 1e-12);
  EXPECT_REL(f.residual_sd.value(), 0.34909001602124679, 1e-12);
  EXPECT_REL(f.reml_criterion.value(), 17.193837730044919, 1e-12);
  // lmerTest's numerical Hessian gives 13.999999999662412 = n - 2 up to its differencing error; here the
  // boundary fit falls back to n - 2 exactly and says so in the status message.
  EXPECT_EQ(f.df.value(), 14);
  EXPECT_NE(f.status.message.find("n - 2"), std::string::npos);
  EXPECT_REL(f.df.value(), 13.999999999662412, 1e-10);
  EXPECT_REL(f.t.value(), 10.133489465893797, 1e-12);
  EXPECT_REL(f.p_value.value(), 7.9244533869308768e-08, 1e-9);
}

// The REML fit against a brute-force one: Sigma = s_g^2 Z Z' + s^2 I built as a full matrix, the REML
// log-likelihood by Cholesky, minimised by Nelder-Mead over (ln s_g, ln s); and Satterthwaite's df by
// central differences of that dense likelihood in (s_g^2, s^2), the parametrisation lmerTest's formula is
// stated in.
TEST(InferenceMixedModel, MatchesDenseRemlAndDenseSatterthwaite) {
  const auto d = unbalanced_data();
  const auto f = stats::random_intercept_model(d.y, d.x, d.g);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  auto objective = [&](const std::vector<double>& p) {
    return dense_reml(d, std::exp(2 * p[0]), std::exp(2 * p[1])).criterion;
  };
  double fmin = 0;
  bool converged = false;
  auto p = stats::minimize_nelder_mead(objective, {0.0, 0.0}, {0.5, 0.5}, &fmin, &converged, 1e-12, 20000);
  p = stats::minimize_nelder_mead(objective, p, {0.01, 0.01}, &fmin, &converged, 1e-12, 20000);  // restart
  EXPECT_REL(std::exp(p[0]), *f.group_sd, 1e-6);
  EXPECT_REL(std::exp(p[1]), *f.residual_sd, 1e-6);
  EXPECT_REL(fmin, *f.reml_criterion, 1e-11);
  EXPECT_LE(*f.reml_criterion, fmin + 1e-11);  // the fit's optimum is at least as good

  const double tau = *f.group_sd * *f.group_sd, s2 = *f.residual_sd * *f.residual_sd;
  const auto at = dense_reml(d, tau, s2);
  EXPECT_REL(at.criterion, *f.reml_criterion, 1e-12);
  EXPECT_REL(at.intercept, *f.intercept, 1e-12);
  EXPECT_REL(at.slope, *f.slope, 1e-12);
  EXPECT_REL(std::sqrt(at.cov[1][1]), *f.slope_se, 1e-12);
  EXPECT_REL(std::sqrt(at.cov[0][0]), *f.intercept_se, 1e-12);

  // Satterthwaite in (tau, s2) = (s_g^2, s^2): H by central differences, g = grad Var(b).
  const double h[2] = {2e-4 * tau, 2e-4 * s2};
  auto crit = [&](double dt, double ds) { return dense_reml(d, tau + dt, s2 + ds).criterion; };
  auto var_b = [&](double dt, double ds) { return dense_reml(d, tau + dt, s2 + ds).cov[1][1]; };
  const double f0 = crit(0, 0);
  const double h00 = (crit(h[0], 0) - 2 * f0 + crit(-h[0], 0)) / (h[0] * h[0]);
  const double h11 = (crit(0, h[1]) - 2 * f0 + crit(0, -h[1])) / (h[1] * h[1]);
  const double h01 =
      (crit(h[0], h[1]) - crit(h[0], -h[1]) - crit(-h[0], h[1]) + crit(-h[0], -h[1])) / (4 * h[0] * h[1]);
  const double g0 = (var_b(h[0], 0) - var_b(-h[0], 0)) / (2 * h[0]);
  const double g1 = (var_b(0, h[1]) - var_b(0, -h[1])) / (2 * h[1]);
  const double det = h00 * h11 - h01 * h01;
  ASSERT_GT(det, 0);
  const double gag = 2 * (g0 * g0 * h11 - 2 * g0 * g1 * h01 + g1 * g1 * h00) / det;  // g' (2 H^-1) g
  const double v = at.cov[1][1];
  EXPECT_REL(*f.df, 2 * v * v / gag, 1e-5);
}

// Two designs where Satterthwaite's df is exact. Balanced with x centred inside each group: b-hat is the
// within-group regression, Var(b-hat) = s^2 / Sxx depends on s^2 alone, and the REML likelihood factors
// into s^2 chi^2_{n - G - 1} and (s_g^2 + s^2/m) chi^2_{G - 1} parts, so df = n - G - 1. Balanced with x
// constant within groups: b-hat is the regression of the group means, Var(b-hat) depends on
// lambda = s_g^2 + s^2/m alone, whose REML part is lambda chi^2_{G - 2}: df = G - 2. Both hold when the
// group variance is estimated inside the parameter space (not at 0), which the data make sure of.
TEST(InferenceMixedModel, SatterthwaiteExactInBalancedDesigns) {
  std::mt19937_64 rng(2024);
  std::normal_distribution<double> n01;
  const int groups = 8, per_group = 6;
  Data within, between;
  for (int k = 0; k < groups; ++k) {
    const double u = n01(rng), between_x = n01(rng);
    std::vector<double> xs(per_group);
    for (double& v : xs) v = n01(rng);
    double mean = 0;
    for (double v : xs) mean += v / per_group;
    for (int i = 0; i < per_group; ++i) {
      const std::string g = "k" + std::to_string(k);
      within.x.push_back(xs[i] - mean);
      within.y.push_back(1 + 0.5 * within.x.back() + u + 0.5 * n01(rng));
      within.g.push_back(g);
      between.x.push_back(between_x);
      between.y.push_back(1 + 0.5 * between_x + u + 0.5 * n01(rng));
      between.g.push_back(g);
    }
  }
  const auto fw = stats::random_intercept_model(within.y, within.x, within.g);
  ASSERT_TRUE(fw.status.ok()) << fw.status.to_string();
  ASSERT_FALSE(fw.boundary);
  EXPECT_REL(fw.df.value(), groups * per_group - groups - 1, 1e-9);
  const auto fb = stats::random_intercept_model(between.y, between.x, between.g);
  ASSERT_TRUE(fb.status.ok()) << fb.status.to_string();
  ASSERT_FALSE(fb.boundary);
  EXPECT_REL(fb.df.value(), groups - 2, 1e-9);
}

TEST(InferenceMixedModel, VeryUnbalancedGroups) {
  // A group of 1 beside a group of 20 (and one of 4).
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n01;
  Data d;
  for (auto [name, size, effect] : std::vector<std::tuple<std::string, int, double>>{
           {"one", 1, 1.5}, {"twenty", 20, -0.7}, {"four", 4, 0.4}}) {
    for (int i = 0; i < size; ++i) {
      d.x.push_back(n01(rng));
      d.y.push_back(2 + 0.8 * d.x.back() + effect + 0.3 * n01(rng));
      d.g.push_back(name);
    }
  }
  const auto f = stats::random_intercept_model(d.y, d.x, d.g);
  ASSERT_TRUE(f.status.ok()) << f.status.to_string();
  EXPECT_EQ(f.groups, 3);
  const auto dense = dense_reml(d, *f.group_sd * *f.group_sd, *f.residual_sd * *f.residual_sd);
  EXPECT_REL(dense.criterion, *f.reml_criterion, 1e-12);
  EXPECT_REL(dense.slope, *f.slope, 1e-12);
  // The optimum: the criterion rises when either SD moves by 0.1% (it is a minimum, not just a stationary
  // point of the profile).
  for (double step : {0.999, 1.001}) {
    EXPECT_GT(dense_reml(d, std::pow(*f.group_sd * step, 2), std::pow(*f.residual_sd, 2)).criterion,
              *f.reml_criterion);
    EXPECT_GT(dense_reml(d, std::pow(*f.group_sd, 2), std::pow(*f.residual_sd * step, 2)).criterion,
              *f.reml_criterion);
  }
  EXPECT_GT(*f.df, 0);
  EXPECT_NEAR(*f.slope, 0.8, 0.3);
}

// ---- Kolmogorov-Smirnov against R's ks.test ----

TEST(InferenceKs, AgainstR) {
  std::vector<double> u10, u50, u500;
  for (int i = 1; i <= 10; ++i) u10.push_back(std::pow(frac(i * 0.618034), 2));
  for (int i = 1; i <= 50; ++i) u50.push_back(std::pow(frac(i * 0.7548776662), 1.5));
  for (int i = 1; i <= 500; ++i) u500.push_back(std::pow(frac(i * 0.5698402910), 1.08));
  // ks.test(u, "punif"): exact (Marsaglia-Tsang-Wang) below n = 100.
  auto k = stats::ks_uniform(u10);
  EXPECT_REL(k.statistic, 0.31803397484399998, 1e-13);
  EXPECT_REL(k.p_value, 0.21295456590946882, 1e-12);
  k = stats::ks_uniform(u50);
  EXPECT_REL(k.statistic, 0.14827765369514503, 1e-13);
  EXPECT_REL(k.p_value, 0.20055770323552169, 1e-12);
  // ks.test(u, "punif", exact = FALSE): 0.74900139291684409. R sums the limiting series only to 1e-6 (one
  // term below sqrt(n) D = 1); the full series, also printed by the script, is 0.74900139280480926.
  k = stats::ks_uniform(u500);
  EXPECT_EQ(k.n, 500);
  EXPECT_REL(k.statistic, 0.030279160325283994, 1e-13);
  EXPECT_REL(k.p_value, 0.74900139280480926, 1e-13);
  EXPECT_REL(k.p_value, 0.74900139291684409, 1e-9);
  // A sample far from uniform: p small but positive; the midpoint grid: D = 1/(2n), p = 1 to 6 digits.
  std::vector<double> skewed, grid;
  for (int i = 1; i <= 40; ++i) skewed.push_back(std::pow((i - 0.5) / 40, 3));
  for (int i = 1; i <= 40; ++i) grid.push_back((i - 0.5) / 40);
  EXPECT_LT(stats::ks_uniform(skewed).p_value, 1e-4);
  EXPECT_NEAR(stats::ks_uniform(grid).statistic, 1.0 / 80, 1e-15);
  EXPECT_GT(stats::ks_uniform(grid).p_value, 0.999999);
}

// ---- distribution functions against R's pt and pbeta, and closed forms ----

TEST(InferenceDistributions, StudentTAndIncompleteBetaAgainstR) {
  EXPECT_REL(stats::student_t_cdf(-2.5, 3), 0.043853323504032753, 1e-12);
  EXPECT_REL(stats::student_t_cdf(1.3, 7.5), 0.88393661059219575, 1e-12);
  EXPECT_REL(stats::student_t_cdf(0.2, 0.7), 0.55800233072904037, 1e-12);
  // Quantiles: R's qt(0.975, 10), qt(0.995, 3), qt(0.5, 4).
  EXPECT_REL(stats::student_t_quantile(0.975, 10), 2.2281388519862744, 1e-12);
  EXPECT_REL(stats::student_t_quantile(0.995, 3), 5.8409093097333530, 1e-12);
  EXPECT_NEAR(stats::student_t_quantile(0.5, 4), 0.0, 1e-12);
  EXPECT_TRUE(std::isnan(stats::student_t_quantile(0.4, 4)));
  EXPECT_TRUE(std::isnan(stats::student_t_quantile(0.9, 0)));
  EXPECT_REL(stats::student_t_cdf(-40, 12.25), 1.1714451183086003e-14, 1e-12);
  EXPECT_REL(stats::student_t_cdf(3, 250.5), 0.99851394819074701, 1e-12);
  EXPECT_REL(stats::student_t_cdf(-1e-3, 4), 0.49962500007812499, 1e-12);
  EXPECT_REL(stats::regularized_incomplete_beta(2, 5, 0.3), 0.57982500000000015, 1e-12);
  EXPECT_REL(stats::regularized_incomplete_beta(0.5, 0.5, 0.9), 0.79516723530086664, 1e-12);
  EXPECT_REL(stats::regularized_incomplete_beta(30, 0.7, 0.01), 2.7753696034387894e-61, 1e-12);
  EXPECT_REL(stats::regularized_incomplete_beta(400, 500, 0.45), 0.63214238030037895, 1e-12);
  EXPECT_REL(stats::regularized_incomplete_beta(2.5, 1e-3, 0.999), 0.0056136425076991972, 1e-12);
  // Closed forms: Cauchy (df = 1), df = 2, and I_x(1, b) = 1 - (1 - x)^b.
  for (double t : {-30.0, -2.0, -0.3, 0.0, 0.7, 5.0}) {
    EXPECT_NEAR(stats::student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-15);
    EXPECT_NEAR(stats::student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-15);
  }
  EXPECT_REL(stats::regularized_incomplete_beta(1, 3.5, 0.2), 1 - std::pow(0.8, 3.5), 1e-14);
  EXPECT_TRUE(std::isnan(stats::student_t_cdf(1, 0)));
  EXPECT_TRUE(std::isnan(stats::regularized_incomplete_beta(1, 1, 1.5)));
}

// ---- guards: never a number where none can be computed ----

TEST(InferenceGuards, EmptyOptionalsAndStatuses) {
  auto expect_empty = [](const stats::MixedModelFit& f, StatusCode code) {
    EXPECT_EQ(f.status.code, code) << f.status.to_string();
    EXPECT_FALSE(f.status.message.empty());
    EXPECT_FALSE(f.intercept || f.intercept_se || f.slope || f.slope_se || f.df || f.t || f.p_value ||
                 f.group_sd || f.residual_sd || f.reml_criterion);
  };
  // Two observations; three of which one has a NaN.
  expect_empty(stats::random_intercept_model({1, 2}, {1, 2}, {"a", "b"}), StatusCode::kInsufficientData);
  expect_empty(stats::random_intercept_model({1, 2, NAN}, {1, 2, 3}, {"a", "b", "b"}),
               StatusCode::kInsufficientData);
  // One group.
  const auto one = stats::random_intercept_model({1, 2, 4, 3}, {1, 2, 3, 4}, {"a", "a", "a", "a"});
  expect_empty(one, StatusCode::kInsufficientData);
  EXPECT_NE(one.status.message.find("group"), std::string::npos);
  // Constant x.
  const auto flat = stats::random_intercept_model({1, 2, 4, 3}, {5, 5, 5, 5}, {"a", "a", "b", "b"});
  expect_empty(flat, StatusCode::kInvalidInput);
  EXPECT_NE(flat.status.message.find("x is constant"), std::string::npos);
  // Lengths that differ; y an exact line in x.
  expect_empty(stats::random_intercept_model({1, 2, 3}, {1, 2}, {"a", "b", "b"}), StatusCode::kInvalidInput);
  expect_empty(stats::random_intercept_model({3, 5, 7, 9}, {1, 2, 3, 4}, {"a", "a", "b", "b"}),
               StatusCode::kInvalidInput);

  // Rank tests: an empty sample (after dropping NaN), all values tied, no non-zero difference.
  auto t = stats::mann_whitney({}, {1, 2});
  EXPECT_EQ(t.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(t.statistic || t.p_value);
  t = stats::mann_whitney({1, 2}, {NAN});
  EXPECT_EQ(t.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(t.statistic || t.p_value);
  t = stats::mann_whitney({2, 2}, {2, 2, 2});
  EXPECT_EQ(t.status.code, StatusCode::kNotFound);
  EXPECT_EQ(t.statistic.value(), 3);  // W = n1 n2 / 2, as R reports; only the p-value is undefined
  EXPECT_FALSE(t.p_value);
  t = stats::wilcoxon_signed_rank({0, 0, NAN});
  EXPECT_EQ(t.status.code, StatusCode::kInsufficientData);
  EXPECT_EQ(t.n1, 0);
  EXPECT_FALSE(t.statistic || t.p_value);
  t = stats::wilcoxon_signed_rank({});
  EXPECT_EQ(t.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(t.statistic || t.p_value);
  // One non-zero difference: V = 1, p = 1 (exact, as R: psignrank(0, 1) = 0.5, doubled).
  t = stats::wilcoxon_signed_rank({0.4});
  EXPECT_TRUE(t.status.ok());
  EXPECT_EQ(t.statistic.value(), 1);
  EXPECT_EQ(t.p_value.value(), 1);

  const auto k = stats::ks_uniform({NAN});
  EXPECT_EQ(k.status.code, StatusCode::kInsufficientData);
  EXPECT_EQ(k.n, 0);
}

// ---- simulation: the survey's mixed model and rank test behave as their theory says ----

// accuracy = 0.5 + 0.8 metric + family effect (SD 1.0) + noise (SD 0.5), 12 families of 3 to 10 models.
TEST(SurveyStatsValidation, MixedModelSlopeCoverageAndFamilySd) {
  const std::vector<int> sizes{3, 4, 5, 6, 7, 8, 9, 10, 3, 5, 7, 10};
  const double b = 0.8, family_sd = 1.0;
  std::mt19937_64 rng(17);
  const int sims = 200;
  int within_1se = 0, within_196se = 0;
  std::vector<double> slopes, family_sds;
  for (int s = 0; s < sims; ++s) {
    const auto d = simulate_survey(rng, sizes, 0.5, b, family_sd, 0.5);
    const auto f = stats::random_intercept_model(d.y, d.x, d.g);
    ASSERT_TRUE(f.status.ok()) << f.status.to_string();
    const double err = std::abs(*f.slope - b);
    within_1se += err < *f.slope_se;
    within_196se += err < 1.96 * *f.slope_se;
    slopes.push_back(*f.slope);
    family_sds.push_back(*f.group_sd);
  }
  EXPECT_NEAR(static_cast<double>(within_1se) / sims, 0.68, 0.07);
  EXPECT_NEAR(static_cast<double>(within_196se) / sims, 0.95, 0.04);
  double mean = 0, var = 0;
  for (double v : slopes) mean += v / sims;
  for (double v : slopes) var += (v - mean) * (v - mean) / (sims - 1);
  EXPECT_NEAR(mean, b, 3 * std::sqrt(var / sims));
  std::nth_element(family_sds.begin(), family_sds.begin() + sims / 2, family_sds.end());
  EXPECT_NEAR(family_sds[sims / 2], family_sd, 0.2 * family_sd);
}

// With b = 0 the slope's p-values (t with Satterthwaite's df) are uniform: KS against U(0, 1).
TEST(SurveyStatsValidation, MixedModelNullPValuesAreUniform) {
  const std::vector<int> sizes{3, 4, 5, 6, 7, 8, 9, 10, 3, 5, 7, 10};
  std::mt19937_64 rng(23);
  std::vector<double> p;
  for (int s = 0; s < 500; ++s) {
    const auto d = simulate_survey(rng, sizes, 0.5, 0.0, 1.0, 0.5);
    const auto f = stats::random_intercept_model(d.y, d.x, d.g);
    ASSERT_TRUE(f.status.ok()) << f.status.to_string();
    p.push_back(*f.p_value);
  }
  const auto k = stats::ks_uniform(p);
  EXPECT_GT(k.p_value, 0.01) << "D = " << k.statistic;
  // The size at 0.05, within 3 binomial SEs (0.0097 each). This seed gives 0.074, 2.5 SEs high: chance, for
  // 3 x 20000 simulations of this design gave 0.051, 0.054 and 0.052 (and 0.0107, 0.0105, 0.0100 at 0.01).
  std::size_t rejected = std::count_if(p.begin(), p.end(), [](double v) { return v <= 0.05; });
  EXPECT_NEAR(static_cast<double>(rejected) / 500, 0.05, 0.03);
}

// Mann-Whitney under the null, continuous data, n1 = 7, n2 = 9, 500 simulations (exact p-values).
// The exact p-values take ~33 values only, so a KS test of them against U(0, 1) is bound to fail: their CDF
// is a staircase under the diagonal whose largest step, from 1 - 2 P(U = 31) = 0.93 to 1 (U = 31 or 32), is
// 0.07, and sqrt(500) 0.07 = 1.6 (with this seed D = 0.094, KS p = 0.0003). What does hold exactly, and is
// checked: (1) at every attainable level alpha, P(p <= alpha) = alpha (the test is exact, never liberal), in
// particular at the largest level below 0.05 and P(p <= 0.05) <= 0.05 + sampling tolerance; (2) the
// randomised p-value P(P < p) + V P(P = p), V ~ U(0, 1), with P the null distribution of the p-value, is
// exactly U(0, 1), so a KS test of it must pass.
TEST(SurveyStatsValidation, MannWhitneyNullPValues) {
  const int n1 = 7, n2 = 9, sims = 500;
  const auto pmf = stats::mann_whitney_null_pmf(n1, n2);
  // R's two-sided p of each u, from the pmf: min(1, 2 min(P(U <= u), P(U >= u))).
  std::vector<double> p_of_u(pmf.size());
  for (std::size_t u = 0; u < pmf.size(); ++u) {
    double lower = 0, upper = 0;
    for (std::size_t k = 0; k < pmf.size(); ++k) {
      if (k <= u) lower += pmf[k];
      if (k >= u) upper += pmf[k];
    }
    p_of_u[u] = std::min(1.0, 2 * std::min(lower, upper));
  }
  auto null_prob = [&](auto pred) {
    double s = 0;
    for (std::size_t u = 0; u < pmf.size(); ++u)
      if (pred(p_of_u[u])) s += pmf[u];
    return s;
  };
  std::mt19937_64 rng(29);
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> unit;
  std::vector<double> p, randomised;
  for (int s = 0; s < sims; ++s) {
    std::vector<double> x(n1), y(n2);
    for (double& v : x) v = n01(rng);
    for (double& v : y) v = n01(rng);
    const auto t = stats::mann_whitney(x, y);
    ASSERT_TRUE(t.exact);
    const auto u = static_cast<std::size_t>(t.statistic.value());
    ASSERT_NEAR(t.p_value.value(), p_of_u[u], 1e-14);
    p.push_back(*t.p_value);
    const double pu = p_of_u[u];
    randomised.push_back(null_prob([&](double q) { return q < pu - 1e-12; }) +
                         unit(rng) * null_prob([&](double q) { return std::abs(q - pu) <= 1e-12; }));
  }
  auto fraction_at_most = [&](double alpha) {
    return static_cast<double>(
               std::count_if(p.begin(), p.end(), [&](double v) { return v <= alpha + 1e-12; })) /
           sims;
  };
  std::vector<double> levels(p_of_u);
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  for (double alpha : levels) {
    if (alpha > 0.5) break;
    // The exact null probability of p <= alpha is alpha itself; 3.5 binomial standard errors of 500 draws.
    EXPECT_NEAR(null_prob([&](double q) { return q <= alpha + 1e-12; }), alpha, 1e-12);
    EXPECT_NEAR(fraction_at_most(alpha), alpha, 3.5 * std::sqrt(alpha * (1 - alpha) / sims) + 1e-9)
        << "alpha = " << alpha;
  }
  EXPECT_LE(fraction_at_most(0.05), 0.05 + 3.5 * std::sqrt(0.05 * 0.95 / sims));
  const auto k = stats::ks_uniform(randomised);
  EXPECT_GT(k.p_value, 0.01) << "D = " << k.statistic;
}
