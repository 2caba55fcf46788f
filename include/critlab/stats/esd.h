// Heavy-tailed self-regularisation metrics of one weight matrix, compatible with WeightWatcher
// (Martin & Mahoney, "Implicit self-regularization in deep neural networks", JMLR 22 (2021); the
// weightwatcher package, its default fit: WW_powerlaw.WWFit, which replicates the `powerlaw` package's
// continuous power-law fit).
//
// Input: the eigenvalues lambda of W^T W (lambda = s^2 for the singular values s of W, no normalisation), in
// any order. A Conv2d layer pools the eigenvalues of its kh*kw slices before calling. Values <= cutoff =
// max(absolute_cutoff, relative_cutoff * lambda_max) are dropped and counted (zeros of a rank-deficient
// matrix; tiny negatives from round-off); WeightWatcher drops lambda <= 1e-5 (set absolute_cutoff = 1e-5 to
// match it exactly).
//
// Norm metrics, over the eigenvalues kept (WeightWatcher's apply_norm_metrics):
//   log_norm = log10 sum lambda, log_spectral_norm = log10 lambda_max, stable_rank = sum lambda / lambda_max,
//   alpha_weighted = alpha * log10 lambda_max.
//
// The fit: the continuous power law p(lambda) ~ lambda^-alpha for lambda >= xmin, untruncated. Sort the
// eigenvalues ascending; every distinct value except the largest is a candidate xmin. For each candidate the
// tail is the n eigenvalues >= xmin and
//   alpha = 1 + n / sum_tail ln(lambda_i / xmin)                         (the MLE, CSN eq. 3.1)
//   D     = max over the tail's distinct values x of |S(x) - P(x)|,     P(x) = 1 - (x / xmin)^(1 - alpha)
// where S(x) = #{tail values < x} / n: the empirical CDF just below each step, the `powerlaw` package's
// convention (statistics.cdf: arange(n)/n for distinct data, searchsorted(side='left')/n with ties), which
// WWFit copies (np.arange(n)/n). The candidate with the least D wins (the first, i.e. the smallest xmin, on
// a tie, as numpy's argmin). alpha_se = (alpha - 1)/sqrt(n_tail) (WeightWatcher's sigma).
// For distinct eigenvalues this is exactly WWFit; with ties WWFit would also start tails inside a run of
// equal values, whereas here (as in `powerlaw`) a tail holds every value >= xmin.
//
// The scan is exact but pruned: a few candidates spread over the ranks are evaluated first, then every
// other candidate's KS sum stops at the first point whose discrepancy shows it cannot beat the best so far,
// trying first the point that decided the previous candidate. Worst case O(n^2) exp calls; 5000 eigenvalues
// (Pareto, gamma or lognormal) take about 1 ms in a Release build.
//
// Bounds (decided here, not in WWFit, which reports whatever argmin D gives and only warns for alpha < 2
// "over-trained" and alpha > 6 "under-trained"): a fit is reported only when
//   - at least min_evals eigenvalues remain after the cutoff, else insufficient-data;
//   - the KS-best tail holds at least min_tail eigenvalues, else insufficient-data (a 2-4 point tail matches
//     any exponent);
//   - alpha <= alpha_max (8: WeightWatcher's README throws away fits with alpha > 8.0 as spurious, "the ESD
//     is random (not heavy tailed)"), else not-found (a Marchenko-Pastur bulk fits a steep exponent at its
//     edge).
// A fit that fails a bound is never reported as alpha: alpha, alpha_weighted, alpha_se, xmin, ks and n_tail
// are null, and alpha_unbounded keeps the KS-best exponent for diagnosis only (it is set whenever the scan
// ran, bound or not).
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

struct EsdFitOptions {
  std::int64_t min_evals = 10;     // eigenvalues (after the cutoff) needed to fit at all; WeightWatcher's 10
  std::int64_t min_tail = 5;       // eigenvalues the KS-best tail must hold for alpha to be reported
  double alpha_max = 8.0;          // alphas above this are reported as not-found; +inf: no bound
  double relative_cutoff = 1e-10;  // drop lambda <= relative_cutoff * lambda_max ...
  double absolute_cutoff = 0.0;    // ... or <= absolute_cutoff (WeightWatcher: 1e-5)
  // A negative eigenvalue below -negative_tolerance * lambda_max (and below -cutoff) is not round-off:
  // invalid-input. The default allows float32 round-off.
  double negative_tolerance = 1e-6;
  bool IsValid(std::string* error) const;
};

// status: ok; insufficient-data (no positive eigenvalue, fewer than min_evals, or a KS-best tail shorter
// than min_tail); not-found (alpha > alpha_max); non-finite (a NaN or infinite eigenvalue: every figure is
// null); invalid-input (an eigenvalue clearly negative: every figure is null).
struct EsdFit {
  std::int64_t num_evals = 0;    // positive eigenvalues used (after the cutoff)
  std::int64_t num_dropped = 0;  // eigenvalues at or below the cutoff (zeros, round-off negatives)
  // Defined whenever the input is finite, valid and holds a positive eigenvalue, even without a fit.
  std::optional<double> lambda_max, log_norm, log_spectral_norm, stable_rank;
  // The fit; null unless status is ok.
  std::optional<double> alpha, alpha_weighted, alpha_se, xmin, ks;
  std::optional<std::int64_t> n_tail;
  // The KS-best exponent before the bounds (min_tail, alpha_max) were applied; null when no scan ran.
  // Diagnostic only: never a fitted alpha when status is not ok.
  std::optional<double> alpha_unbounded;
  std::int64_t xmin_candidates = 0;  // distinct eigenvalues tried as xmin
  Status status;
  bool ok() const { return status.ok(); }
};

// Fits one layer's eigenvalues. Never throws on bad data (NaN, negatives, too few values come back as a
// status); throws critlab::Error for invalid options.
EsdFit fit_esd(std::vector<double> eigenvalues, const EsdFitOptions& options = {});

// Keys: num_evals, num_dropped, alpha, alpha_unbounded, alpha_weighted, alpha_se, xmin, ks, n_tail,
// log_norm, log_spectral_norm, stable_rank, lambda_max, xmin_candidates, status, message; a figure not
// obtained is null.
nlohmann::json to_json(const EsdFit& fit);

}  // namespace critlab::stats
