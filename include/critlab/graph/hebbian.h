// Is learning Hebbian, and is it "reinforce and redistribute"? Tests on weight changes between recorded
// steps (no libtorch: plain C++ on row-major float arrays).
//
// The Hebbian test. A dense layer's weight W [out, in] changes by dW between two recorded steps; its units
// j (rows) and the units i below (columns) have a co-activity C_ji on the probes (Pearson r_ji, or the mean
// product <a_j a_i>). Under a Hebbian rule dW_ji ~ C_ji. Reported:
//   rho       Spearman's rank correlation of dW and C over the out x in pairs (at most max_pairs of them,
//             drawn at random with the seed, when there are more);
//   rho_lo/hi percentile interval from a bootstrap that resamples whole rows (output units) with
//             replacement: the pairs of one unit share its activity and are not independent. Ranks are those
//             of the pairs used (the usual approximation; exact for the point estimate);
//   slope     least-squares slope of dW on C (raw values, on the same pairs);
//   null      rho after permuting the unit labels of C (rows and columns independently), `shuffles` times,
//             C's relabelled values on the same pairs ranked afresh: its mean (0 in expectation) and sample
//             standard deviation; z = (rho - null_mean) / null_sd (empty when null_sd is 0 or missing).
// A NaN or Inf anywhere in dW or C (a diverged run) gives the status non-finite, not an exception.
//
// Drift and diffusion. For a set of weights followed over recorded times t_0 < t_1 < ..., in each window
// [t_k, t_k+1] the change of weight i is projected on the sign of the weight at the window's start,
// u_i = sign(w_i(t_k)) dw_i (u > 0: |w| grows, reinforcement):
//   drift      mean(u) / dt                     (per step of training)
//   diffusion  var(u) / (2 dt)                  (population variance), so a path with
//              dw = s mu dt + sqrt(2 D dt) xi gives drift mu and diffusion D;
//   sign persistence  the fraction of weights whose change has the same sign in this window as in the
//              previous one (0.5 for a random walk, 1 for steady drift; weights with a zero change left out);
//   peclet     drift^2 dt / diffusion, per window: > 1 the change is mostly directed, < 1 mostly random
//              (empty when the diffusion is 0).
// A weight exactly 0 at a window's start has sign 0: its u is 0 in that window.
// Pooled over windows: drift = sum u / (n sum dt), diffusion = sum (u - drift dt_k)^2 / (2 n sum dt),
// sign persistence over all weight-window pairs of windows 1.., peclet = drift^2 mean(dt) / diffusion (the
// mean window length, so comparable with the windows' own).
//
// Reinforce and redistribute. For a dense layer with a critical set of rows (its critical units) and of
// columns (the critical units below; all columns when empty), the critical block's drift, diffusion, sign
// persistence and peclet (pooled) are set against the rest of the matrix ("other": every weight outside the
// block) and against a null of `shuffles` random blocks with the same numbers of rows and columns (random
// rows, and random columns unless all are taken): z = (critical - null mean) / null sd (sample sd) for each
// figure, empty when the sd is 0 or there are fewer than 2 shuffles.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::graph {

struct HebbianOptions {
  int shuffles = 20;               // label permutations for the null, in [0, 100000] (0: no null)
  int bootstrap = 200;             // row resamples for rho's interval, in [0, 100000] (0: no interval)
  std::int64_t max_pairs = 50000;  // pairs used, in [10, 10^9]; more are subsampled at random
  double level = 0.95;             // the interval's coverage, in (0, 1)
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;  // messages name the field
};
struct HebbianResult {
  // ok; insufficient-data (fewer than 10 pairs or 2 rows); not-found (dW or C constant on the pairs);
  // non-finite (a NaN or Inf in dW or C). Unless ok, every optional below is empty.
  Status status;
  std::int64_t pairs = 0;  // pairs used
  std::optional<double> rho, rho_lo, rho_hi, slope, null_mean, null_sd, z;
};
// dw and coactivity: row-major [out, in]. Throws critlab::Error for invalid options (the message names the
// field) or negative sizes. The same seed gives the same results.
HebbianResult hebbian_test(const float* dw, const float* coactivity, std::int64_t out, std::int64_t in,
                           const HebbianOptions& options = {});

struct DriftWindow {
  double t0 = 0, t1 = 0;
  std::int64_t n = 0;
  std::optional<double> drift, diffusion, sign_persistence, peclet;  // persistence: empty in window 0
};
struct DriftDiffusion {
  Status status;  // ok; insufficient-data (fewer than 2 times or 2 weights); non-finite (a NaN or Inf)
  std::vector<DriftWindow> windows;
  std::optional<double> drift, diffusion, sign_persistence, peclet;  // pooled; persistence over windows 1..
};
// snapshots[k] points at the whole weight array at times[k] (ascending); `indices` picks the weights
// followed (flat indices into each snapshot; they must lie inside it, which cannot be checked here). Throws
// critlab::Error when the times are not finite and strictly ascending, snapshots and times differ in number,
// or an index is negative.
DriftDiffusion drift_diffusion(const std::vector<double>& times, const std::vector<const float*>& snapshots,
                               const std::vector<std::int64_t>& indices);

struct RedistributionOptions {
  int shuffles = 50;  // random blocks for the null, in [0, 100000]
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};
struct FigureVsNull {
  std::optional<double> critical, other, null_mean, null_sd, z;
};
struct Redistribution {
  // ok; insufficient-data (fewer than 2 times, or fewer than 2 critical or 2 other weights); non-finite (a
  // NaN or Inf anywhere in the layer at any time). Unless ok, the figures and paths are empty.
  Status status;
  std::int64_t critical_weights = 0, other_weights = 0;
  FigureVsNull drift, diffusion, sign_persistence, peclet;
  DriftDiffusion critical_path, other_path;
};
// snapshots[k]: the layer's weight [out, in] at times[k]. critical_rows and critical_cols: unit indices.
// Throws critlab::Error for invalid options, bad times (as drift_diffusion), out or in < 1, or a unit index
// out of range or repeated.
Redistribution redistribution_test(const std::vector<double>& times,
                                   const std::vector<const float*>& snapshots, std::int64_t out,
                                   std::int64_t in, const std::vector<std::int64_t>& critical_rows,
                                   const std::vector<std::int64_t>& critical_cols,
                                   const RedistributionOptions& options = {});

}  // namespace critlab::graph
