// Rank correlation with confidence intervals.
//
// Spearman's rho is Pearson's correlation of the ranks (ties get their average rank). Intervals:
//   fisher     tanh(atanh(rho) -/+ z_{(1+c)/2} se), se = sqrt((1 + rho^2 / 2) / (n - 3)) (Bonett & Wright
//   2000),
//              for n independent pairs; p-value from z = atanh(rho) sqrt((n - 3) / 1.06) (Fieller et al.
//              1957)
//   cluster    percentile bootstrap that resamples whole groups (e.g. all tasks of one method), for pairs
//              that are independent only between groups; the Fisher interval is too narrow for such data
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

// Ranks 1..n, ties averaged.
std::vector<double> ranks(const std::vector<double>& x);
double pearson(const std::vector<double>& x, const std::vector<double>& y);

// A figure that could not be formed is empty, and `status` says why: insufficient-data (too few pairs for
// rho, or too few pairs or clusters for the interval), not-found (a variable's ranks are constant: rho
// undefined).
struct RankCorrelation {
  std::optional<double> rho;
  std::optional<double> low, high;  // confidence interval
  std::optional<double>
      p_value;           // two-sided test of rho = 0; the Fisher interval's only (none from the bootstrap)
  std::int64_t n = 0;    // complete pairs used
  std::string interval;  // "fisher" or "cluster-bootstrap"
  Status status;
};

// Pairs with a NaN in either coordinate are dropped. Needs at least 4 pairs (else rho and interval empty).
RankCorrelation spearman(const std::vector<double>& x, const std::vector<double>& y,
                         double confidence = 0.95);
// `groups[i]` labels pair i's cluster; `resamples` bootstrap draws with a fixed seed.
RankCorrelation spearman_cluster_bootstrap(const std::vector<double>& x, const std::vector<double>& y,
                                           const std::vector<int>& groups, double confidence = 0.95,
                                           int resamples = 2000, std::uint64_t seed = 1);

// Partial Spearman correlation of x and y given z: Pearson's correlation of the residuals of rank(x) and
// rank(y) after least-squares regression on rank(z). "Does x still track y once z is accounted for?" The
// Fisher interval uses n - 4 (one variable controlled for).
RankCorrelation partial_spearman(const std::vector<double>& x, const std::vector<double>& y,
                                 const std::vector<double>& z, double confidence = 0.95);
RankCorrelation partial_spearman_cluster_bootstrap(const std::vector<double>& x, const std::vector<double>& y,
                                                   const std::vector<double>& z,
                                                   const std::vector<int>& groups, double confidence = 0.95,
                                                   int resamples = 2000, std::uint64_t seed = 1);

// z with Phi(z) = p, 0 < p < 1.
double normal_quantile(double p);

}  // namespace critlab::stats
