// Special functions and small optimisers used by the statistics module (no libtorch: plain doubles).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace critlab::stats {

// Hurwitz zeta zeta(s, q) = sum_{k>=0} (k + q)^{-s}, s > 1, q > 0, by Euler-Maclaurin summation
// (relative error ~1e-15).
double hurwitz_zeta(double s, double q);

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
