#include "critlab/stats/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

namespace {

// 8-point Gauss-Legendre nodes and weights on [-1, 1], for the panel integrations below.
constexpr double kGaussNodes[8] = {-0.9602898564975363, -0.7966664774136267, -0.5255324099163290,
                                   -0.1834346424956498, 0.1834346424956498,  0.5255324099163290,
                                   0.7966664774136267,  0.9602898564975363};
constexpr double kGaussWeights[8] = {0.1012285362903763, 0.2223810344533745, 0.3137066458778873,
                                     0.3626837833783620, 0.3626837833783620, 0.3137066458778873,
                                     0.2223810344533745, 0.1012285362903763};
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
using Params = std::vector<double>;

// An alternative: per-point log-likelihoods on the tail for a parameter vector (free, unconstrained
// coordinates), starting points, and how to name its parameters.
struct Model {
  std::function<bool(const Params&, const std::vector<double>&, std::vector<double>*)> loglik;
  std::vector<Params> starts;
  Params step;
  std::function<std::vector<std::pair<std::string, double>>(const Params&)> describe;
};

// ln(SF(z_lo) - SF(z_hi)) for the standard normal, z_lo < z_hi, stable in both tails.
double log_normal_mass(double z_lo, double z_hi) {
  if (z_hi <= 0) return log_diff_exp(log_normal_sf(-z_hi), log_normal_sf(-z_lo));  // via the CDF
  return log_diff_exp(log_normal_sf(z_lo), log_normal_sf(z_hi));
}

// ln sum_{k=a}^{b} exp(l(k)) over the integers of [a, b] for a log-concave l peaking at the integer `mode`
// in [a, b] (the Poisson log-mass). Summed term by term outward from the mode until the terms fall 50 below
// the peak; where that takes more than 20,000 terms (a mean near 1e12, say, or beyond 2^53 where k + 1 may
// round back to k), the sum is the integral by Gauss-Legendre panels over the range that carries the mass
// plus the Euler-Maclaurin end-point terms: the mass then varies on a scale of hundreds of integers or more,
// where the two agree to double precision. Its cost never depends on the values.
double log_sum_unimodal(const std::function<double(double)>& l, double a, double b, double mode) {
  constexpr double kDrop = 50;
  constexpr int kDirectTerms = 20'000;
  const double peak = l(mode);
  if (!std::isfinite(peak)) return peak;
  double s = 1;  // exp(l(mode) - peak)
  int terms = 1;
  bool direct = mode < 9007199254740992.0;
  for (double k = mode - 1; direct && k >= a; --k, ++terms) {
    const double d = l(k) - peak;
    if (d < -kDrop) break;
    s += std::exp(d);
    if (terms > kDirectTerms) direct = false;
  }
  for (double k = mode + 1; direct && k <= b; ++k, ++terms) {
    const double d = l(k) - peak;
    if (d < -kDrop) break;
    s += std::exp(d);
    if (terms > kDirectTerms) direct = false;
  }
  if (direct) return peak + std::log(s);
  // The range that carries the mass: doubling away from the mode until l has fallen kDrop below the peak.
  auto edge = [&](double dir, double limit) {
    double step = 1;
    double k = mode;
    while (k != limit) {
      const double next = dir > 0 ? std::min(limit, k + step) : std::max(limit, k - step);
      k = next;
      if (l(k) - peak < -kDrop) break;
      step *= 2;
    }
    return k;
  };
  const double lo = edge(-1, a), hi = edge(+1, b);
  constexpr int kPanels = 512;
  const double h = (hi - lo) / kPanels;
  double integral = 0;
  for (int p = 0; p < kPanels; ++p)
    for (int i = 0; i < 8; ++i) {
      const double k = lo + (p + 0.5 + 0.5 * kGaussNodes[i]) * h;
      integral += 0.5 * h * kGaussWeights[i] * std::exp(l(k) - peak);
    }
  // sum_{k=lo}^{hi} f(k) = integral + (f(lo) + f(hi)) / 2 + ...; the ends are terms only where they bound
  // the range (elsewhere f is negligible there).
  const double ends = 0.5 * (std::exp(l(lo) - peak) + std::exp(l(hi) - peak));
  return peak + std::log(integral + ends);
}

// ln of integral_{xmin}^{xmax or inf} x^-alpha e^{-lambda x} dx, by Gauss-Legendre panels in t = ln(x/xmin).
double log_tpl_integral(double alpha, double lambda, double xmin, double xmax) {
  const double a = 1 - alpha, lx = lambda * xmin;
  double upper = xmax > 0 ? std::log(xmax / xmin) : 0;
  if (xmax <= 0) {
    // Past T the exponent a t - lx e^t has fallen by more than 60 from its peak.
    const double peak = a > 0 ? std::max(0.0, std::log(a / lx)) : 0.0;
    upper = peak + 1;
    auto g = [&](double t) { return a * t - lx * std::exp(t); };
    const double gmax = g(peak);
    while (g(upper) > gmax - 60 && upper < 800) upper += 1;
    if (upper >= 800)
      return std::numeric_limits<double>::infinity();  // lambda ~ 0 with alpha <= 1: divergent
  }
  const int panels = std::max(8, static_cast<int>(upper / 0.05));
  const double h = upper / panels;
  std::vector<double> logs;
  logs.reserve(static_cast<std::size_t>(panels) * 8);
  double mx = kNegInf;
  for (int p = 0; p < panels; ++p)
    for (int i = 0; i < 8; ++i) {
      const double t = (p + 0.5 + 0.5 * kGaussNodes[i]) * h;
      const double l = std::log(0.5 * h * kGaussWeights[i]) + a * t - lx * std::exp(t);
      logs.push_back(l);
      mx = std::max(mx, l);
    }
  double s = 0;
  for (double l : logs) s += std::exp(l - mx);
  return a * std::log(xmin) + mx + std::log(s);
}

Model make_model(Alternative alt, const PowerLawFit& fit, const std::vector<double>& tail) {
  const bool disc = fit.discrete;
  const double xmin = fit.xmin, xmax = fit.xmax;
  double mean = 0, mean_log = 0, var_log = 0;
  for (double x : tail) mean += x, mean_log += std::log(x);
  mean /= tail.size();
  mean_log /= tail.size();
  for (double x : tail) var_log += std::pow(std::log(x) - mean_log, 2);
  var_log /= tail.size();
  Model m;
  switch (alt) {
    case Alternative::kExponential:
      m.loglik = [=](const Params& p, const std::vector<double>& x, std::vector<double>* out) {
        const double lam = std::exp(p[0]);
        double norm;
        if (disc)
          norm =
              std::log(-std::expm1(-lam)) - (xmax > 0 ? std::log(-std::expm1(-lam * (xmax - xmin + 1))) : 0);
        else
          norm = std::log(lam) - (xmax > 0 ? std::log(-std::expm1(-lam * (xmax - xmin))) : 0);
        for (std::size_t i = 0; i < x.size(); ++i) (*out)[i] = norm - lam * (x[i] - xmin);
        return true;
      };
      m.starts = {{-std::log(std::max(mean - xmin, 1e-3) + (disc ? 1 : 0))}};
      m.step = {0.5};
      m.describe = [](const Params& p) {
        return std::vector<std::pair<std::string, double>>{{"lambda", std::exp(p[0])}};
      };
      break;
    case Alternative::kLognormal:
      m.loglik = [=](const Params& p, const std::vector<double>& x, std::vector<double>* out) {
        const double mu = p[0], sg = std::exp(p[1]);
        auto z = [&](double y) { return (std::log(y) - mu) / sg; };
        if (disc) {
          const double norm =
              xmax > 0 ? log_normal_mass(z(xmin - 0.5), z(xmax + 0.5)) : log_normal_sf(z(xmin - 0.5));
          for (std::size_t i = 0; i < x.size(); ++i)
            (*out)[i] = log_normal_mass(z(x[i] - 0.5), z(x[i] + 0.5)) - norm;
        } else {
          const double norm = xmax > 0 ? log_normal_mass(z(xmin), z(xmax)) : log_normal_sf(z(xmin));
          const double c = -std::log(sg) - 0.5 * std::log(2 * M_PI) - norm;
          for (std::size_t i = 0; i < x.size(); ++i) (*out)[i] = c - std::log(x[i]) - 0.5 * z(x[i]) * z(x[i]);
        }
        return std::isfinite((*out)[0]);
      };
      m.starts = {{mean_log, 0.5 * std::log(std::max(var_log, 1e-6))},
                  {std::log(xmin), std::log(2.0)},
                  {0.0, std::log(3.0)}};
      m.step = {1.0, 0.5};
      m.describe = [](const Params& p) {
        return std::vector<std::pair<std::string, double>>{{"mu", p[0]}, {"sigma", std::exp(p[1])}};
      };
      break;
    case Alternative::kStretchedExponential:
      m.loglik = [=](const Params& p, const std::vector<double>& x, std::vector<double>* out) {
        const double lam = std::exp(p[0]), beta = std::exp(p[1]);
        if (disc) {
          // Weibull survival S(y) = exp(-lam y^beta), binned and normalised from xmin - 1/2.
          const double s0 = -lam * std::pow(xmin - 0.5, beta);
          const double norm = xmax > 0 ? log_diff_exp(s0, -lam * std::pow(xmax + 0.5, beta)) : s0;
          for (std::size_t i = 0; i < x.size(); ++i)
            (*out)[i] =
                log_diff_exp(-lam * std::pow(x[i] - 0.5, beta), -lam * std::pow(x[i] + 0.5, beta)) - norm;
        } else {
          const double xb = std::pow(xmin, beta);
          const double trunc = xmax > 0 ? std::log(-std::expm1(-lam * (std::pow(xmax, beta) - xb))) : 0;
          for (std::size_t i = 0; i < x.size(); ++i)
            (*out)[i] = std::log(beta * lam) + (beta - 1) * std::log(x[i]) -
                        lam * (std::pow(x[i], beta) - xb) - trunc;
        }
        return std::isfinite((*out)[0]);
      };
      m.starts = {{-std::log(mean), std::log(1.0)},
                  {-std::log(mean), std::log(0.5)},
                  {-0.5 * std::log(mean), std::log(0.3)}};
      m.step = {1.0, 0.3};
      m.describe = [](const Params& p) {
        return std::vector<std::pair<std::string, double>>{{"lambda", std::exp(p[0])},
                                                           {"beta", std::exp(p[1])}};
      };
      break;
    case Alternative::kPoisson:
      m.loglik = [=](const Params& p, const std::vector<double>& x, std::vector<double>* out) {
        const double mu = std::exp(p[0]);
        auto lpmf = [&](double k) { return k * std::log(mu) - mu - std::lgamma(k + 1); };
        // ln P(xmin <= K <= xmax), in log space over the range that carries the mass.
        const double hi_k = xmax > 0 ? std::floor(xmax) : std::max(xmin, mu) + 40 * std::sqrt(mu) + 100;
        const double norm = log_sum_unimodal(lpmf, xmin, hi_k, std::clamp(std::floor(mu), xmin, hi_k));
        for (std::size_t i = 0; i < x.size(); ++i) (*out)[i] = lpmf(x[i]) - norm;
        return std::isfinite(norm);
      };
      m.starts = {{std::log(mean)}};
      m.step = {0.3};
      m.describe = [](const Params& p) {
        return std::vector<std::pair<std::string, double>>{{"mu", std::exp(p[0])}};
      };
      break;
    case Alternative::kTruncatedPowerLaw:
      m.loglik = [=](const Params& p, const std::vector<double>& x, std::vector<double>* out) {
        const double alpha = p[0], lam = std::exp(p[1]);
        double norm;
        if (disc) {
          // Direct sum of the first 1,000 terms, the rest by the midpoint form of Euler-Maclaurin:
          // sum_{k=K+1}^{M} f(k) = integral_{K+1/2}^{M+1/2} f + (f'(K+1/2) - f'(M+1/2)) / 24 + O(f'''), with
          // f(x) = x^-alpha e^{-lambda x}: past 1,000 terms the remainder is below double precision, and the
          // cost never depends on the values. Beyond 2^53 (where k + 1 may round back to k) no direct terms.
          constexpr double kDirect = 1000;
          const bool exact = xmin + kDirect < 9007199254740992.0;
          const double k_end = !exact     ? xmin - 1
                               : xmax > 0 ? std::min(std::floor(xmax), xmin + kDirect)
                                          : xmin + kDirect;
          double mx = kNegInf, s = 0;
          auto lt = [&](double k) { return -alpha * std::log(k) - lam * k; };
          for (double k = xmin; k <= k_end; ++k) mx = std::max(mx, lt(k));
          for (double k = xmin; k <= k_end; ++k) s += std::exp(lt(k) - mx);
          norm = exact ? mx + std::log(s) : kNegInf;
          if (xmax <= 0 || xmax > k_end) {
            const double lo = k_end + 0.5, hi = xmax > 0 ? std::floor(xmax) + 0.5 : 0;
            const double rest = log_tpl_integral(alpha, lam, lo, hi);
            const double top = std::max(norm, rest);
            // f'(x) = -f(x) (alpha / x + lambda), relative to e^top.
            double corr = -std::exp(lt(lo) - top) * (alpha / lo + lam) / 24;
            if (hi > 0) corr += std::exp(lt(hi) - top) * (alpha / hi + lam) / 24;
            norm = top + std::log(std::exp(norm - top) + std::exp(rest - top) + corr);
          }
        } else {
          norm = log_tpl_integral(alpha, lam, xmin, xmax);
        }
        if (!std::isfinite(norm)) return false;
        for (std::size_t i = 0; i < x.size(); ++i) (*out)[i] = -alpha * std::log(x[i]) - lam * x[i] - norm;
        return true;
      };
      m.starts = {{fit.alpha, std::log(1e-3 / mean)},
                  {fit.alpha - 0.3, std::log(0.1 / mean)},
                  {1.2, std::log(1.0 / mean)}};
      m.step = {0.3, 1.0};
      m.describe = [](const Params& p) {
        return std::vector<std::pair<std::string, double>>{{"alpha", p[0]}, {"lambda", std::exp(p[1])}};
      };
      break;
  }
  return m;
}
}  // namespace

Comparison compare_power_law(const std::vector<double>& data, const PowerLawFit& fit, Alternative alt) {
  Comparison c;
  c.against = to_string(alt);
  c.nested = alt == Alternative::kTruncatedPowerLaw;
  if (!fit.ok()) {
    c.status = make_status(StatusCode::kNotApplicable, "the power-law fit failed: " + fit.status.message);
    return c;
  }
  if (alt == Alternative::kPoisson && !fit.discrete) {
    c.status =
        make_status(StatusCode::kNotApplicable, "the Poisson alternative applies to discrete data only");
    return c;
  }
  std::vector<double> tail;
  for (double x : data)
    if (x >= fit.xmin && (fit.xmax <= 0 || x <= fit.xmax)) tail.push_back(x);
  const std::size_t n = tail.size();
  if (n < 2) {
    c.status = make_status(StatusCode::kInsufficientData, "fewer than two tail points");
    return c;
  }
  Model model = make_model(alt, fit, tail);
  // The likelihoods depend on the values only: each distinct value once, weighted by its count (discrete
  // tails repeat small values many times).
  std::sort(tail.begin(), tail.end());
  std::vector<double> values, weights;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && tail[j] == tail[i]) ++j;
    values.push_back(tail[i]);
    weights.push_back(static_cast<double>(j - i));
    i = j;
  }
  const std::size_t u = values.size();
  auto weighted_sum = [&](const std::vector<double>& v) {
    double s = 0;
    for (std::size_t i = 0; i < u; ++i) s += weights[i] * v[i];
    return s;
  };
  std::vector<double> buf(u);
  auto neg_ll = [&](const Params& p) {
    if (!model.loglik(p, values, &buf)) return std::numeric_limits<double>::infinity();
    const double s = weighted_sum(buf);
    return std::isfinite(s) ? -s : std::numeric_limits<double>::infinity();
  };
  Params best;
  double best_val = std::numeric_limits<double>::infinity();
  bool converged = false;
  for (const auto& start : model.starts) {
    double val;
    bool conv;
    auto p = minimize_nelder_mead(neg_ll, start, model.step, &val, &conv, 1e-9, 6000);
    if (val < best_val) best_val = val, best = p, converged = conv;
  }
  if (!std::isfinite(best_val)) {
    c.status = make_status(StatusCode::kNoConvergence, "the " + c.against + " fit did not converge");
    return c;
  }
  std::vector<double> alt_ll(u);
  model.loglik(best, values, &alt_ll);
  std::vector<double> l(u);
  for (std::size_t i = 0; i < u; ++i) l[i] = power_law_log_pdf(fit, values[i]) - alt_ll[i];
  double sum = weighted_sum(l);
  if (!std::isfinite(sum)) {
    c.status = make_status(StatusCode::kNonFinite,
                           fmt::format("the log-likelihood ratio against {} is {}", c.against, sum));
    return c;
  }
  if (c.nested && sum > 0) sum = 0, std::fill(l.begin(), l.end(), 0.0);  // the nesting model cannot do worse
  const double mean = sum / n;
  double var = 0;
  for (std::size_t i = 0; i < u; ++i) var += weights[i] * (l[i] - mean) * (l[i] - mean);
  var /= n;
  const double R = var > 0 ? sum / std::sqrt(n * var) : 0.0;  // identical likelihoods: no evidence either way
  const double p = c.nested ? std::erfc(std::sqrt(std::abs(sum))) : std::erfc(std::abs(R) / std::sqrt(2.0));
  if (!std::isfinite(var) || !std::isfinite(R) || !std::isfinite(p)) {
    // Per-point ratios too large to square (values near 1e308) or NaN: no evidence either way can be read.
    c.status =
        make_status(StatusCode::kNonFinite,
                    fmt::format("the log-likelihood ratio against {} is {} but its variance is {}; the "
                                "normalised ratio R is not finite",
                                c.against, sum, var));
    return c;
  }
  c.log_likelihood_ratio = sum;
  c.R = R;
  c.p = p;
  c.favours = *c.p < 0.1 ? (sum > 0 ? "power_law" : c.against) : "inconclusive";
  c.parameters = model.describe(best);
  if (!converged)
    c.status.message = "the simplex had not fully converged; the comparison uses its best point";
  return c;
}

std::vector<Comparison> compare_all(const std::vector<double>& data, const PowerLawFit& fit,
                                    const ProgressFn& progress) {
  std::vector<Alternative> alternatives;
  for (auto a : {Alternative::kExponential, Alternative::kLognormal, Alternative::kStretchedExponential,
                 Alternative::kPoisson, Alternative::kTruncatedPowerLaw})
    if (a != Alternative::kPoisson || fit.discrete) alternatives.push_back(a);
  const auto total = static_cast<std::int64_t>(alternatives.size());
  std::vector<Comparison> out;
  for (std::size_t i = 0; i < alternatives.size(); ++i) {
    report_progress(progress, "comparisons", static_cast<std::int64_t>(i), total,
                    "against " + critlab::to_string(alternatives[i]));
    out.push_back(compare_power_law(data, fit, alternatives[i]));
  }
  report_progress(progress, "comparisons", total, total);
  return out;
}

nlohmann::json to_json(const Comparison& c) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : c.parameters) params[k] = v;
  nlohmann::json j{{"against", c.against},
                   {"R", or_null(c.R)},
                   {"log_likelihood_ratio", or_null(c.log_likelihood_ratio)},
                   {"p", or_null(c.p)},
                   {"nested", c.nested},
                   {"favours", c.ok() ? nlohmann::json(c.favours) : nlohmann::json(nullptr)},
                   {"parameters", params}};
  put_status(j, c.status);
  return j;
}

}  // namespace critlab::stats
