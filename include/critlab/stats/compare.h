// Likelihood-ratio comparison of the fitted power law with alternative distributions on the same tail
// (CSN section 5; Vuong, Econometrica 57, 1989).
//
// Each alternative is fitted by maximum likelihood to the tail data x >= xmin (<= xmax), normalised on that
// range. With l_i = ln p_powerlaw(x_i) - ln p_alt(x_i):
//   log_likelihood_ratio = sum_i l_i              (positive: the power law fits better)
//   non-nested: R = sum l_i / (sigma sqrt(n)), sigma the standard deviation of l_i, and the two-sided
//               p = erfc(|R| / sqrt(2)) (CSN eq. 5.4)
//   nested (power law inside the cut-off power law, lambda = 0): 2 |sum l_i| ~ chi^2 with 1 degree of
//   freedom,
//               p = erfc(sqrt(|sum l_i|)); R is still the normalised ratio, for its sign.
// R > 0 favours the power law, R < 0 the alternative; `favours` names the winner when p < 0.1 (CSN's
// threshold), else "inconclusive".
//
// Alternatives, continuous / discrete (discrete forms of continuous laws are their mass in [k - 1/2, k +
// 1/2], normalised on the tail):
//   exponential            lambda e^{-lambda (x - xmin)}              / (1 - e^{-lambda}) e^{-lambda (k -
//   xmin)} lognormal              truncated lognormal(mu, sigma)             / binned stretched_exponential
//   beta lambda x^{beta-1} e^{-lambda (x^beta - xmin^beta)} / binned Weibull poisson                (discrete
//   only) mu^k e^{-mu} / k!, truncated to k >= xmin truncated_power_law    x^{-alpha} e^{-lambda x} / Z
//   (nested)      / same on integers
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/progress.h"
#include "critlab/stats/powerlaw.h"

namespace critlab::stats {

enum class Alternative { kExponential, kLognormal, kStretchedExponential, kPoisson, kTruncatedPowerLaw };
}  // namespace critlab::stats
namespace critlab {
CRITLAB_ENUM_NAMES(stats::Alternative, "alternative", {stats::Alternative::kExponential, "exponential"},
                   {stats::Alternative::kLognormal, "lognormal"},
                   {stats::Alternative::kStretchedExponential, "stretched_exponential"},
                   {stats::Alternative::kPoisson, "poisson"},
                   {stats::Alternative::kTruncatedPowerLaw, "truncated_power_law"})
}  // namespace critlab
namespace critlab::stats {

// The figures are empty when the comparison could not be made; `status` says why (not-applicable: the fit
// failed or the alternative does not apply; insufficient-data; no-convergence; non-finite likelihoods).
struct Comparison {
  std::string against;
  std::optional<double> R;                     // normalised log-likelihood ratio (+ power law, - alternative)
  std::optional<double> log_likelihood_ratio;  // sum of per-point log-likelihood differences
  std::optional<double> p;
  bool nested = false;
  std::string favours;  // "power_law", the alternative's name, or "inconclusive" (empty if no result)
  std::vector<std::pair<std::string, double>> parameters;  // the alternative's fitted parameters
  Status status;  // ok may carry a caveat in its message (a simplex that had not fully converged)
  bool ok() const { return status.ok(); }
};

// One alternative against the fit (which must be ok). `data` is the full sample; its tail is used.
Comparison compare_power_law(const std::vector<double>& data, const PowerLawFit& fit,
                             Alternative alternative);

// All alternatives that apply (poisson only for discrete fits).
// `progress` is told of each alternative as it starts (a discrete fit of 10^6 values takes minutes).
std::vector<Comparison> compare_all(const std::vector<double>& data, const PowerLawFit& fit,
                                    const ProgressFn& progress = {});

nlohmann::json to_json(const Comparison& c);

}  // namespace critlab::stats
