// The tests of the survey (Vock & Meisel: "Spearman rank correlation, Wilcoxon signed-rank, Mann-Whitney U
// and linear mixed-effects models"), with R's conventions so that a user can check any number in R. No
// libtorch.
//
//   mann_whitney          two independent samples; U of the first sample (R's wilcox.test(x, y)$statistic
//                         "W"): exact p when both samples are below 50 and there are no ties, else the normal
//                         approximation with the tie correction of the variance and a continuity correction
//   wilcoxon_signed_rank  paired differences (zeros dropped, as R does); V = sum of the ranks of the positive
//                         differences; exact below 50 non-zero differences without ties, else normal with the
//                         tie and continuity corrections
//   random_intercept_model  y_ij = a + b x_ij + u_i + e_ij, u_i ~ N(0, s_g^2), e_ij ~ N(0, s^2), fitted by
//                         REML (lme4's lmer(y ~ x + (1 | g)) default); the slope's p from the t distribution
//                         with Satterthwaite's degrees of freedom (lmerTest's default); unbalanced groups
//                         allowed
//   ks_uniform            one-sample Kolmogorov-Smirnov test against U(0, 1) (e.g. of p-values under a null)
//
// Every test returns a result whose figures are empty with a status where they cannot be computed (too few
// values, a constant sample, a singular design); never 0 or NaN in their place.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

struct RankTest {
  std::optional<double> statistic;  // Mann-Whitney: U of the first sample; Wilcoxon: V
  std::optional<double> p_value;    // two-sided
  bool exact = false;               // the p-value is from the exact null distribution
  std::int64_t n1 = 0;              // first sample's size (Wilcoxon: non-zero differences used)
  std::int64_t n2 = 0;              // second sample's size (Wilcoxon: 0)
  Status status;
};

// NaN values are dropped. Needs at least one value in each sample (insufficient-data otherwise).
RankTest mann_whitney(const std::vector<double>& x, const std::vector<double>& y);
// `differences[i]` = after_i - before_i of one pair; NaN and zero differences are dropped.
RankTest wilcoxon_signed_rank(const std::vector<double>& differences);

// The exact null distributions (no ties): P(U = u) for u = 0..n1*n2, and P(V = v) for v = 0..n(n+1)/2.
std::vector<double> mann_whitney_null_pmf(int n1, int n2);
std::vector<double> signed_rank_null_pmf(int n);

struct MixedModelFit {
  std::optional<double> intercept, intercept_se;
  std::optional<double> slope, slope_se;
  std::optional<double> df;       // Satterthwaite's degrees of freedom of the slope's t statistic
  std::optional<double> t;        // slope / slope_se
  std::optional<double> p_value;  // two-sided, t distribution with df
  std::optional<double> group_sd, residual_sd;
  std::optional<double>
      reml_criterion;       // -2 x the REML log-likelihood at the optimum (lme4's "REML criterion")
  std::int64_t n = 0;       // observations used
  std::int64_t groups = 0;  // distinct groups among them
  bool boundary = false;    // the group variance was estimated at 0 (a singular fit)
  Status status;
};
// Rows with a NaN in y or x are dropped. Needs at least 3 observations and 2 groups, and x not constant.
MixedModelFit random_intercept_model(const std::vector<double>& y, const std::vector<double>& x,
                                     const std::vector<std::string>& group);

struct KsTest {
  double statistic = 0;  // D = sup |F_n - F|
  double p_value = 1;    // two-sided, exact for n <= 100 (Marsaglia, Tsang & Wang 2003), asymptotic beyond
  std::int64_t n = 0;
  Status status;  // insufficient-data when no value is left (then D = 0 and p = 1 mean nothing)
};
// NaN values are dropped. The asymptotic p beyond n = 100 is the plain Kolmogorov limit
// P(K > sqrt(n) D), without a finite-n correction, as R's ks.test(u, "punif", exact = FALSE) (R sums the
// series only to 1e-6; here it is summed to double precision). R switches to it from n = 100 on.
KsTest ks_uniform(std::vector<double> u);

// The Student t CDF with df > 0 degrees of freedom, and I_x(a, b), the regularised incomplete beta function
// (a, b > 0, 0 <= x <= 1; by its continued fraction, ~1e-13 relative). NaN for arguments outside these.
double student_t_cdf(double t, double df);
// The t with student_t_cdf(t, df) = p, for p in [0.5, 1) (upper quantiles; by bisection to ~1e-14
// relative); NaN outside.
double student_t_quantile(double p, double df);
double regularized_incomplete_beta(double a, double b, double x);

}  // namespace critlab::stats
