// Likelihood-ratio comparison of the fitted power law with alternative distributions on the same tail
// (CSN section 5; Vuong, Econometrica 57, 1989).
//
// Each alternative is fitted by maximum likelihood to the tail data x >= xmin (<= xmax), normalised on that
// range. With l_i = ln p_powerlaw(x_i) - ln p_alt(x_i):
//   log_likelihood_ratio = sum_i l_i              (positive: the power law fits better)
//   non-nested: R = sum l_i / (sigma sqrt(n)), sigma the standard deviation of l_i, and the two-sided
//               p = erfc(|R| / sqrt(2)) (CSN eq. 5.4)
//   nested (power law inside the cut-off power law, lambda = 0): 2 |sum l_i| ~ chi^2 with 1 degree of freedom,
//               p = erfc(sqrt(|sum l_i|)); R is still the normalised ratio, for its sign.
// R > 0 favours the power law, R < 0 the alternative; `favours` names the winner when p < 0.1 (CSN's
// threshold), else "inconclusive".
//
// Alternatives, continuous / discrete (discrete forms of continuous laws are their mass in [k - 1/2, k + 1/2],
// normalised on the tail):
//   exponential            lambda e^{-lambda (x - xmin)}              / (1 - e^{-lambda}) e^{-lambda (k - xmin)}
//   lognormal              truncated lognormal(mu, sigma)             / binned
//   stretched_exponential  beta lambda x^{beta-1} e^{-lambda (x^beta - xmin^beta)} / binned Weibull
//   poisson                (discrete only) mu^k e^{-mu} / k!, truncated to k >= xmin
//   truncated_power_law    x^{-alpha} e^{-lambda x} / Z (nested)      / same on integers
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "critlab/stats/powerlaw.h"

namespace critlab::stats {

enum class Alternative { kExponential, kLognormal, kStretchedExponential, kPoisson, kTruncatedPowerLaw };
std::string to_string(Alternative a);

struct Comparison {
  std::string against;
  double R = 0;                     // normalised log-likelihood ratio (sign: + power law, - alternative)
  double log_likelihood_ratio = 0;  // sum of per-point log-likelihood differences
  double p = 1;
  bool nested = false;
  std::string favours;              // "power_law", the alternative's name, or "inconclusive"
  std::vector<std::pair<std::string, double>> parameters;  // the alternative's fitted parameters
  bool ok = false;
  std::string message;
};

// One alternative against the fit (which must be ok). `data` is the full sample; its tail is used.
Comparison compare_power_law(const std::vector<double>& data, const PowerLawFit& fit, Alternative alternative);

// All alternatives that apply (poisson only for discrete fits).
std::vector<Comparison> compare_all(const std::vector<double>& data, const PowerLawFit& fit);

nlohmann::json to_json(const Comparison& c);

}  // namespace critlab::stats
