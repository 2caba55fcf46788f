// Power-law fitting following Clauset, Shalizi & Newman, "Power-law distributions in empirical data",
// SIAM Review 51 (2009) ("CSN").
//
// For tail data x >= xmin (and <= xmax when given):
//   continuous  p(x) = x^-alpha / Z,  Z = integral_xmin^xmax x^-alpha dx; without xmax the MLE is
//               alpha = 1 + n / sum ln(x / xmin) (CSN eq. 3.1)
//   discrete    p(k) = k^-alpha / Z,  Z = zeta(alpha, xmin) - zeta(alpha, xmax + 1) (Hurwitz zeta), the MLE
//               found by maximising the exact likelihood (the approximation alpha = 1 + n / sum ln(x/(xmin -
//               1/2)) of CSN eq. 3.7 only on request)
// alpha_se = 1 / sqrt(n (ln Z)''(alpha)), which is (alpha - 1)/sqrt(n) for the continuous case (CSN eq. 3.2).
// xmin minimises the Kolmogorov-Smirnov distance D between the tail's empirical CDF and the fit over the
// unique data values (CSN section 3.3): over all of them while at most kXminScanAll qualify (a tail of at
// least min_tail values); beyond that over kXminScanCoarse of them evenly spaced in rank (quantile-spaced),
// then zooming in on the 8 best points of each pass (least KS distance, or least lower bound where the
// scan cut a losing candidate short), one step either side at a 16 times finer step, down to single
// values, so a fit of 10^6 distinct
// values costs seconds, not minutes. The JSON says how many were scanned: xmin_candidates of
// xmin_candidates_total. D = max |S - P| between the tail's empirical CDF S and the fit P:
// for continuous data on both sides of each step of S (plfit.m compares only the left side, (0..n-1)/n);
// for discrete data over every integer from xmin to the maximum as in plfit.m, evaluated exactly at the
// two ends of each step of S. The scan uses suffix sums
// over the sorted unique values, so its cost is O(n log n) for sorting plus O(u * u_tail) for the KS
// distances over u unique values, never quadratic in n itself.
// The goodness-of-fit p-value is CSN's semi-parametric bootstrap (section 4.1): synthetic sets draw from the
// fitted power law with probability n_tail / n and otherwise from the observed values below xmin; xmin and
// alpha are re-estimated on each. Simulations are seeded by (seed, index), so p does not depend on threads.
// The bootstrap runs on min(threads, hardware_concurrency()) threads (threads = 0: all cores); where the
// system refuses to start a thread it goes on with those already running. At most kMaxBootstrap
// simulations and kMaxBootstrapDraws values drawn in all (bootstrap * n); more is refused up front.
// Discrete sampling inverts the exact CCDF by doubling and bisection (O(log x) per draw), and every
// discrete sum is O(1) (Hurwitz zeta differences, Euler-Maclaurin), so values up to 1e308 cost no more
// than small ones. xmax = inf is no truncation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

inline constexpr std::size_t kXminScanAll = 10'000;    // candidate xmins scanned exhaustively
inline constexpr std::size_t kXminScanCoarse = 2'000;  // the coarse pass's candidates beyond that
inline constexpr int kMaxBootstrap = 100'000;          // bootstrap simulations
inline constexpr double kMaxBootstrapDraws = 1e10;     // bootstrap * n

// The bootstrap's thread count for `requested` threads (0 = all cores): at most the cores and the
// simulations, at least 1.
int bootstrap_threads(int requested, int simulations);

struct PowerLawOptions {
  bool discrete = false;  // integer data: the Hurwitz-zeta likelihood
  bool discrete_approximation =
      false;                   // discrete: use 1 + n / sum ln(x/(xmin - 1/2)) instead of the exact MLE
  std::optional<double> xmin;  // fix xmin instead of scanning
  std::optional<double> xmax;  // truncate the tail at xmax (normalisation truncated accordingly)
  std::int64_t min_tail = 10;  // smallest tail the xmin scan considers
  int bootstrap = 0;           // simulations for the goodness-of-fit p-value (0 = none)
  std::uint64_t seed = 0;
  int threads = 0;  // bootstrap threads, 0 = all cores; capped at the cores
  bool IsValid(std::string* error) const;
};

// The fit's status: ok; insufficient-data (too few values in any candidate tail); not-found (the tail is
// steeper than any power law the search allows, or alpha is at its bound 1: not normalisable without xmax);
// no-convergence; invalid-input (a value <= 0, not finite, or not an integer for a discrete fit).
// alpha, alpha_se and ks are the fit's only when status is ok; JSON writes them as null otherwise.
struct PowerLawFit {
  double xmin = 0, xmax = 0;  // xmax = 0 when untruncated
  double alpha = 0, alpha_se = 0;
  double ks = 0;  // KS distance of the tail to the fit
  std::int64_t n = 0, n_tail = 0;
  bool discrete = false;
  std::optional<double> p_value;  // the bootstrap's goodness-of-fit p-value; empty when none ran
  Status p_value_status = make_status(StatusCode::kNotRun, "no bootstrap was asked for (--bootstrap N)");
  int bootstrap = 0;
  std::int64_t xmin_candidates = 0;          // candidate xmins (distinct values with a long enough tail)
  std::int64_t xmin_candidates_scanned = 0;  // of those, the ones the scan fitted (all, up to kXminScanAll)
  Status status;
  bool ok() const { return status.ok(); }
};

// Fits data (any order; values below xmin are kept for the bootstrap). Never throws on statistical trouble:
// too few points, alpha <= 1 or invalid values come back as a status with a message. Throws critlab::Error
// only for invalid options.
PowerLawFit fit_power_law(const std::vector<double>& data, const PowerLawOptions& options = {});

// A power law with known parameters (for sampling and as a reference), status ok.
PowerLawFit power_law_model(double alpha, double xmin, bool discrete = false, double xmax = 0.0);

// Draws n values from the power law of `fit` (xmin, alpha, xmax, discrete) using `rng`.
std::vector<double> sample_power_law(const PowerLawFit& fit, std::size_t n, std::mt19937_64& rng);

// Log-density (continuous) or log-mass (discrete) of the fitted power law at x >= xmin.
double power_law_log_pdf(const PowerLawFit& fit, double x);

// P(X >= x) of the fitted power law for x >= xmin: (x/xmin)^{1-alpha} continuous, zeta(alpha, x)/zeta(alpha,
// xmin) discrete, with the truncated normalisation when xmax is set.
double power_law_ccdf(const PowerLawFit& fit, double x);

// Writes <stem>.csv, .gp and .png in `dir`: the empirical CCDF of `data` (at most ~2,000 points) with the
// fit's tail CCDF scaled by n_tail / n; `label` names the quantity on the x axis.
void plot_power_law_ccdf(const std::filesystem::path& dir, const std::string& stem, const std::string& label,
                         std::vector<double> data, const PowerLawFit& fit);

nlohmann::json to_json(const PowerLawFit& fit);

}  // namespace critlab::stats
