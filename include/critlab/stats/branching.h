// Branching processes: simulators with exact references, and estimators of the branching ratio m.
//
// Estimators for an activity time series A_t (events per bin), possibly in several trials:
//   naive        m = sum_t A_{t+1} / sum_t A_t (descendants over ancestors), over bins with A_t > 0
//   multistep regression (MR; Wilting & Priesemann, Nature Communications 9, 2325, 2018)
//                r_k = slope of the linear regression of A_{t+k} on A_t, k = 1..kmax. Under subsampling
//                r_k = b m^k with an unknown b, so m comes from fitting r_k = b m^k (+ c with the offset
//                option) by least squares; the conventional estimator r_1 = b m is biased by b.
//   Variants: trial-separated (each trial's regression uses that trial's own means; slopes from pooled
//   covariances) or stationary-mean (one mean over all trials and times).
//   Bootstrap: trials are resampled with replacement for a confidence interval of m.
//   Autocorrelation time tau = -1 / ln m (in bins).
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

// One Galton-Watson tree with Poisson(m) offspring, started from one ancestor; simulated generation by
// generation (Z_{t+1} ~ Poisson(m Z_t)). size = total progeny (ancestor included), duration = generations
// with at least one individual, shape = individuals per generation. Stops early when size exceeds max_size
// (then truncated = true).
struct Avalanche {
  std::int64_t size = 0;
  std::int64_t duration = 0;
  std::vector<double> shape;
  bool truncated = false;
};
Avalanche simulate_galton_watson(double m, std::mt19937_64& rng, std::int64_t max_size = 1'000'000'000,
                                 bool keep_shape = false);

// Driven branching process A_{t+1} ~ Poisson(m A_t + h), started at its stationary mean h / (1 - m), observed
// through binomial thinning at rate `observed` (each event seen with that probability).
std::vector<double> simulate_driven_branching(double m, double h, std::int64_t steps, double observed,
                                              std::mt19937_64& rng);

struct BranchingOptions {
  int kmax = 40;                 // largest lag
  bool stationary_mean = false;  // false: trial-separated means
  bool offset = false;           // fit r_k = b m^k + c
  int bootstrap = 0;             // resamples over trials for the confidence interval (0 = none)
  std::uint64_t seed = 0;
  double confidence = 0.95;
  bool IsValid(std::string* error) const;
};

struct BranchingResult {
  double m_naive = 0;            // descendants over ancestors
  double r1 = 0;                 // conventional estimator (regression slope at lag 1)
  double m = 0, b = 0, c = 0;    // MR fit r_k = b m^k (+ c)
  double m_low = 0, m_high = 0;  // bootstrap confidence interval (equal to m without bootstrap)
  double tau = 0;                // autocorrelation time, bins
  std::vector<double> rk;        // r_1 .. r_kmax
  Status status;                 // insufficient-data (series too short), no-convergence (the fit of r_k); the
  bool ok() const { return status.ok(); }  // figures are the estimate only when ok (JSON null otherwise)
};

// `trials`: one activity series per trial (equal lengths not required).
BranchingResult estimate_branching_ratio(const std::vector<std::vector<double>>& trials,
                                         const BranchingOptions& options = {});

nlohmann::json to_json(const BranchingResult& r);

}  // namespace critlab::stats
