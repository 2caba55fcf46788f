#include "critlab/measure/theory.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/nn/activation_scalar.h"

namespace critlab::measure {

GaussHermite gauss_hermite(int n) {
  // Newton iteration on the orthonormal Hermite recurrence, with the asymptotic initial guesses of
  // Numerical Recipes (3rd ed., section 4.6, routine gauher). Nodes come out in decreasing order.
  if (n < 1) throw Error("Gauss-Hermite order must be positive");
  constexpr double kPiM4 = 0.7511255444649425;  // pi^(-1/4)
  GaussHermite gh;
  gh.nodes.assign(n, 0.0);
  gh.weights.assign(n, 0.0);
  const int m = (n + 1) / 2;
  double z = 0;
  for (int i = 0; i < m; ++i) {
    if (i == 0)
      z = std::sqrt(2.0 * n + 1) - 1.85575 * std::pow(2.0 * n + 1, -0.16667);
    else if (i == 1)
      z -= 1.14 * std::pow(static_cast<double>(n), 0.426) / z;
    else if (i == 2)
      z = 1.86 * z - 0.86 * gh.nodes[0];
    else if (i == 3)
      z = 1.91 * z - 0.91 * gh.nodes[1];
    else
      z = 2.0 * z - gh.nodes[i - 2];
    double pp = 0;
    for (int it = 0; it < 100; ++it) {
      double p1 = kPiM4, p2 = 0;
      for (int j = 0; j < n; ++j) {
        const double p3 = p2;
        p2 = p1;
        p1 = z * std::sqrt(2.0 / (j + 1)) * p2 - std::sqrt(static_cast<double>(j) / (j + 1)) * p3;
      }
      pp = std::sqrt(2.0 * n) * p2;
      const double z1 = z;
      z = z1 - p1 / pp;
      if (std::abs(z - z1) <= 1e-15 * std::max(1.0, std::abs(z))) break;
    }
    gh.nodes[i] = z;
    gh.nodes[n - 1 - i] = -z;
    gh.weights[i] = gh.weights[n - 1 - i] = 2.0 / (pp * pp);
  }
  return gh;
}

GaussLegendre gauss_legendre(int n) {
  // Newton iteration on the Legendre recurrence from Chebyshev-like initial guesses (Numerical Recipes
  // routine gauleg).
  if (n < 1) throw Error("Gauss-Legendre order must be positive");
  GaussLegendre gl;
  gl.nodes.assign(n, 0.0);
  gl.weights.assign(n, 0.0);
  const int m = (n + 1) / 2;
  for (int i = 0; i < m; ++i) {
    double z = std::cos(M_PI * (i + 0.75) / (n + 0.5)), pp = 0;
    for (int it = 0; it < 100; ++it) {
      double p1 = 1, p2 = 0;
      for (int j = 0; j < n; ++j) {
        const double p3 = p2;
        p2 = p1;
        p1 = ((2.0 * j + 1) * z * p2 - j * p3) / (j + 1);
      }
      pp = n * (z * p1 - p2) / (z * z - 1);
      const double z1 = z;
      z = z1 - p1 / pp;
      if (std::abs(z - z1) <= 1e-15) break;
    }
    gl.nodes[i] = -z;
    gl.nodes[n - 1 - i] = z;
    gl.weights[i] = gl.weights[n - 1 - i] = 2.0 / ((1 - z * z) * pp * pp);
  }
  return gl;
}

bool MeanFieldOptions::IsValid(std::string* error) const {
  if (quadrature_points < kMinQuadrature || quadrature_points > kMaxQuadrature) {
    if (error)
      *error = fmt::format("quadrature_points must be in [{}, {}], got {}", kMinQuadrature, kMaxQuadrature,
                           quadrature_points);
    return false;
  }
  if (!(q0 > 0) || !(tolerance > 0) || max_iterations < 1) {
    if (error) *error = "q0 and tolerance must be positive, max_iterations at least 1";
    return false;
  }
  return true;
}

namespace {
// E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2], closed form where the activation allows.
double second_moment(Activation act, const GaussHermite& gh, double q) {
  if (act == Activation::kRelu) return q / 2;
  if (act == Activation::kLinear) return q;
  return gaussian_expectation(gh, q, [act](double z) {
    const double p = nn::activate(act, z);
    return p * p;
  });
}
double derivative_moment(Activation act, const GaussHermite& gh, double q) {
  if (act == Activation::kRelu) return 0.5;
  if (act == Activation::kLinear) return 1.0;
  return gaussian_expectation(gh, q, [act](double z) {
    const double d = nn::activate_grad(act, z);
    return d * d;
  });
}
}  // namespace

MeanFieldResult mean_field(Activation act, double sigma_w, double sigma_b, const MeanFieldOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error("mean-field options: " + err);
  if (!(sigma_w >= kMinSigmaW && sigma_w <= kMaxSigma))
    throw Error(fmt::format("sigma_w must be in [{:g}, {:g}], got {}", kMinSigmaW, kMaxSigma, sigma_w));
  if (!(sigma_b >= 0 && sigma_b <= kMaxSigma))
    throw Error(fmt::format("sigma_b must be in [0, {:g}], got {}", kMaxSigma, sigma_b));
  const GaussHermite gh = gauss_hermite(options.quadrature_points);
  const double sw2 = sigma_w * sigma_w, sb2 = sigma_b * sigma_b;
  MeanFieldResult r;
  double q = options.q0;
  bool converged_any = false;
  for (r.iterations = 1; r.iterations <= options.max_iterations; ++r.iterations) {
    const double next = sw2 * second_moment(act, gh, q) + sb2;
    const bool converged = std::abs(next - q) <= options.tolerance * std::max(1.0, q);
    q = next;
    if (converged) {
      converged_any = true;
      break;
    }
    if (!std::isfinite(q) || q > 1e12) break;
  }
  r.q_star = q;
  r.chi1 = sw2 * derivative_moment(act, gh, std::isfinite(q) ? q : 1.0);
  r.lyapunov = 0.5 * std::log(r.chi1);
  if (!converged_any)
    r.status =
        make_status(StatusCode::kNoConvergence,
                    fmt::format("the length map has no finite fixed point for {} at sigma_w={}, sigma_b={} "
                                "(q grew to {:.3g})",
                                to_string(act), sigma_w, sigma_b, q));
  else if (!std::isfinite(r.q_star) || !std::isfinite(r.chi1) || !std::isfinite(r.lyapunov))
    r.status = make_status(
        StatusCode::kNonFinite,
        fmt::format("the fixed point, chi_1 or ln(chi_1) is not finite for {} at sigma_w={}, sigma_b={}",
                    to_string(act), sigma_w, sigma_b));
  return r;
}

double edge_of_chaos_sigma_w(Activation act, double sigma_b, const MeanFieldOptions& options) {
  auto chi_minus_one = [&](double sw) { return mean_field(act, sw, sigma_b, options).chi1 - 1.0; };
  double lo = 0.05, hi = 20.0;
  double flo = chi_minus_one(lo), fhi = chi_minus_one(hi);
  if (flo * fhi > 0) return std::numeric_limits<double>::quiet_NaN();
  for (int it = 0; it < 200 && hi - lo > 1e-12; ++it) {
    const double mid = 0.5 * (lo + hi);
    const double fm = chi_minus_one(mid);
    if ((fm < 0) == (flo < 0))
      lo = mid, flo = fm;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

Phase phase_of(const MeanFieldResult& r) {
  if (!r.ok()) return Phase::kUndetermined;
  return r.chi1 < 1 - 1e-9 ? Phase::kOrdered : (r.chi1 > 1 + 1e-9 ? Phase::kChaotic : Phase::kCritical);
}

std::vector<EdgeOfChaosPoint> edge_of_chaos_curve(Activation act, double sigma_b_max, double step,
                                                  const MeanFieldOptions& options,
                                                  const ProgressFn& progress) {
  if (!(step > 0) || !(sigma_b_max >= 0) || sigma_b_max / step > 1e4)
    throw Error(
        fmt::format("edge-of-chaos curve: step must be positive and at most 10,000 points, got "
                    "sigma_b_max {} and step {}",
                    sigma_b_max, step));
  std::vector<EdgeOfChaosPoint> curve;
  // Near the edge the length map converges slowly (algebraically where q* -> 0), so a point can take seconds:
  // the curve reports its progress point by point.
  const auto points = static_cast<std::int64_t>(std::floor((sigma_b_max + 1e-12) / step)) + 1;
  for (int i = 0; i * step <= sigma_b_max + 1e-12; ++i) {
    const double sb = step * i;
    report_progress(progress, "edge of chaos", i, points, fmt::format("sigma_b = {:.2f}", sb));
    const double sw = edge_of_chaos_sigma_w(act, sb, options);
    curve.push_back({sb, std::isfinite(sw) ? std::optional(sw) : std::nullopt});
  }
  report_progress(progress, "edge of chaos", points, points);
  return curve;
}

nlohmann::json to_json(const MeanFieldResult& r) {
  const auto result = [&](double v) { return r.ok() ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j{{"q_star", result(r.q_star)},
                   {"chi1", result(r.chi1)},
                   {"lyapunov", result(r.lyapunov)},
                   {"iterations", r.iterations},
                   {"phase", critlab::to_string(phase_of(r))}};
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::measure
