// Comparing methods whose runs are paired by seed (method A and method B trained from the same seeds, or a
// seeds x methods table of scores). No libtorch.
//
//   paired_comparison  A against B over the seeds where both are finite: d_s = a_s - b_s, n pairs.
//                      mean difference  dbar = sum d_s / n
//                      t interval       dbar -/+ t_{(1+level)/2, n-1} sd / sqrt(n), sd the sample sd (n - 1)
//                                       of d; needs n >= 2; d constant (sd = 0) gives [dbar, dbar]
//                      Wilcoxon         V = sum of the ranks of |d_s| over the positive d_s (R's
//                                       wilcox.test(a, b, paired = TRUE)$statistic), zeros dropped; the
//                                       two-sided p of wilcoxon_signed_rank (inference.h): exact below 50
//                                       non-zero differences without ties or zeros, else normal
//                      wins / losses    seeds with d_s > 0 / d_s < 0 (zeros are neither)
//   rank_methods       a seeds x methods table of scores, higher better. On each seed the methods are ranked
//                      1 (best) .. m, ties sharing their mean rank; a missing score (not finite: NaN, or
//                      +-inf) ranks last, the missing ones of a seed tied with one another. A seed where no
//                      method has a score says nothing and is dropped. mean_rank = mean over the n seeds.
//                      Bootstrap: `resamples` draws of n seeds with replacement; per draw the mean rank of
//                      each method; rank_low/high = the (1-level)/2 and (1+level)/2 quantiles of those
//                      (linear interpolation between order statistics, R's quantile type 7); p_best = the
//                      fraction of draws in which the method's mean rank is the lowest, a tie of k methods
//                      giving each 1/k. With one seed every draw is that seed: the intervals are [r, r] and
//                      p_best is 1/k for the k methods best on it (status ok, with a caveat in its message).
//
// Determinism: the draws come from std::mt19937_64(seed) (its output sequence is fixed by the standard) with
// indices by modulo with rejection (not std::uniform_int_distribution, whose output is left to the
// implementation), so a table gives the same figures with every compiler and library.
//
// A figure that cannot be formed is empty (JSON null) and `status` says why; never 0 or NaN in its place.
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

// Method A against method B over seeds.
struct PairedComparison {
  std::int64_t n = 0;                     // pairs with both values finite
  std::optional<double> mean_difference;  // mean of d = a - b
  std::optional<double> ci_low, ci_high;  // t interval of the mean difference at `level`
  double level = 0.95;                    // the interval's confidence level
  std::optional<double> wilcoxon_v;       // V of the Wilcoxon signed-rank test (sum of ranks of positive d)
  std::optional<double> p_value;          // its two-sided p
  bool exact = false;                     // p from the exact null distribution
  std::int64_t wins = 0, losses = 0;      // seeds with d > 0, d < 0
  Status status;  // ok, or why a figure is empty: insufficient-data (no pair; one pair: no interval; no
                  // non-zero difference: no test), non-finite (a difference or the mean overflowed)
};

// `a[s]` and `b[s]` are the two methods' results on seed s. Throws critlab::Error when the lengths differ or
// `level` is not in (0, 1).
PairedComparison paired_comparison(const std::vector<double>& a, const std::vector<double>& b,
                                   double level = 0.95);

struct MethodRank {
  std::size_t method = 0;                     // column index
  std::optional<double> mean_rank;            // mean over seeds of the rank (1 = best)
  std::optional<double> rank_low, rank_high;  // percentile bootstrap interval of the mean rank at `level`
  std::optional<double> p_best;  // fraction of resamples in which it has the lowest mean rank (ties split)
  std::int64_t seeds = 0;        // seeds where its score is finite
};

struct Ranking {
  std::vector<MethodRank> methods;  // sorted by mean rank, best first; ties by column index
  std::int64_t seeds = 0;           // seeds used (rows with at least one finite score)
  std::int64_t resamples = 0;       // bootstrap draws made
  double level = 0.95;              // the intervals' confidence level
  Status status;  // insufficient-data (no seed with a score; then `methods` is empty), not-run (resamples =
                  // 0: no intervals, no p_best), or ok (with a caveat for one seed)
};

// `scores[s][j]` = method j's score on seed s (higher is better; NaN = missing). Every row must have the
// same length; throws critlab::Error when they differ, when resamples < 0 or when `level` is not in (0, 1).
Ranking rank_methods(const std::vector<std::vector<double>>& scores, int resamples = 2000,
                     std::uint64_t seed = 1, double level = 0.95);

nlohmann::json to_json(const PairedComparison& c);
nlohmann::json to_json(const Ranking& r);

}  // namespace critlab::stats
