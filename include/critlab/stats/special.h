// Special functions and small optimisers used by the statistics module (no libtorch: plain doubles).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace critlab::stats {

// Hurwitz zeta zeta(s, q) = sum_{k>=0} (k + q)^{-s}, s > 1, q > 0, by Euler-Maclaurin summation
// (relative error ~1e-15).
double hurwitz_zeta(double s, double q);
// ln zeta(s, q), computed with every term scaled by q^-s, so it stays finite where zeta(s, q) itself
// underflows (q near 1e300, or s large with q beyond 2^53).
double log_hurwitz_zeta(double s, double q);

// The finite sum sum_{k=a}^{floor(b)} k^{-s} over the integers a, a + 1, ... (a >= 1 an integer, any real
// s), in O(1): summed term by term when the range is short, else the first terms directly and the rest by
// Euler-Maclaurin (integral, end-point terms and Bernoulli corrections at both ends; relative error ~1e-15).
// The cost never depends on b - a, so it also serves ranges far beyond 2^53, where doubles no longer hold
// every integer. b = +inf is allowed for s > 1 (then it is hurwitz_zeta(s, a)).
double power_sum(double s, double a, double b);

// Standard normal CDF and the log of its survival function, ln(1 - Phi(z)), accurate far into the tail.
double normal_cdf(double z);
double log_normal_sf(double z);

// ln(exp(a) - exp(b)) for a >= b.
double log_diff_exp(double a, double b);

// Minimises f on [lo, hi] by Brent's method (golden section + parabolic steps). Returns the argmin.
double minimize_brent(const std::function<double(double)>& f, double lo, double hi, double tol = 1e-10,
                      int max_iter = 200);

// Nelder-Mead simplex minimisation from x0 with initial step sizes `step`. Returns the argmin; `fmin`
// receives the minimum and `converged` whether the simplex shrank below `tol` within max_iter.
std::vector<double> minimize_nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                                         std::vector<double> x0, const std::vector<double>& step,
                                         double* fmin, bool* converged, double tol = 1e-10,
                                         int max_iter = 4000);

// Weighted least squares line y = a + b x; returns {a, b, se_b}.
struct LineFit {
  double intercept = 0, slope = 0, slope_se = 0;
};
LineFit weighted_line_fit(const std::vector<double>& x, const std::vector<double>& y,
                          const std::vector<double>& w);

}  // namespace critlab::stats
