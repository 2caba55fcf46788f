// Mean-field theory of deep random networks (Poole et al. 2016; Schoenholz et al. 2017).
//
// For h_l = phi(z_l), z_l = W h_{l-1} + b with W_ij ~ N(0, sigma_w^2/N), b_i ~ N(0, sigma_b^2), the
// pre-activation variance follows the length map
//     q_{l} = sigma_w^2 E_z[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2,    z ~ N(0, 1),
// with fixed point q*. The mean squared singular value of a layer Jacobian at the fixed point is
//     chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2],
// ordered for chi_1 < 1, chaotic for chi_1 > 1; the edge of chaos is chi_1 = 1.
//
// Expectations E_z[f(sqrt(q) z)] use Gauss-Hermite quadrature while q <= 1. For larger q the integrand
// f(sqrt(q) z) varies on a scale 1/sqrt(q) in z, finer than the Hermite nodes (at q = 400, 160-point
// Gauss-Hermite gave chi_1 = 0.06 for a true value near 10.9), so the integral is taken in u = sqrt(q) z by
// composite 8-point Gauss-Legendre panels over |u| <= 12 sqrt(q): width 0.5 for |u| <= 20, the Gaussian's
// scale sqrt(q)/2 beyond, where the activations are linear or saturated (so the cost stays bounded).
// relu and linear use exact closed forms (the kink defeats quadrature).
#pragma once
#include <algorithm>
#include <cmath>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/progress.h"
#include "critlab/core/status.h"

namespace critlab::measure {

// Nodes and weights for integral e^{-x^2} f(x) dx (physicists' Gauss-Hermite), n >= 1.
struct GaussHermite {
  std::vector<double> nodes;
  std::vector<double> weights;
};
GaussHermite gauss_hermite(int n);

// Nodes and weights for integral_{-1}^{1} f(x) dx (Gauss-Legendre), n >= 1.
struct GaussLegendre {
  std::vector<double> nodes;
  std::vector<double> weights;
};
GaussLegendre gauss_legendre(int n);

// E_z[f(sqrt(q) z)] for z ~ N(0,1), by the rule described above (Hermite for q <= 1, else Legendre panels).
template <typename F>
double gaussian_expectation(const GaussHermite& gh, double q, F&& f);
// The two rules on their own, for tests and for callers that need one.
template <typename F>
double gaussian_expectation_hermite(const GaussHermite& gh, double q, F&& f);
template <typename F>
double gaussian_expectation_panels(double q, F&& f, double panel_width = 0.5);

// The ranges mean_field accepts (critlab::Error otherwise): below 20 Gauss-Hermite points the length map of
// tanh-like activations need not converge (--quadrature 2 once made --edge-of-chaos run for 6 minutes);
// the edge-of-chaos curve's cost grows linearly with the points (tanh: ~3 s at 20, ~20 s at 160 on a loaded
// 2-core machine) and 200 is already beyond any gain in accuracy. sigma_w below 1e-6
// squares to nothing a double resolves, and sigmas beyond 1e3 put q* beyond 1e6, where the quadrature no
// longer resolves the activations.
inline constexpr int kMinQuadrature = 20, kMaxQuadrature = 200;
inline constexpr double kMinSigmaW = 1e-6, kMaxSigma = 1e3;

struct MeanFieldOptions {
  int quadrature_points = 160;  // Gauss-Hermite order, in [kMinQuadrature, kMaxQuadrature]
  double q0 = 1.0;              // starting variance of the length-map iteration
  double tolerance = 1e-13;     // relative change that counts as converged
  int max_iterations = 200000;
  bool IsValid(std::string* error) const;
};

// status: ok (the length map converged to its fixed point, and q*, chi_1 and ln(chi_1)/2 are finite);
// no-convergence (no fixed point within the iteration limit: q_star is then the last iterate, and JSON writes
// the three figures as null); non-finite (one of them is NaN or Inf; JSON writes them as null). Throws
// critlab::Error for sigma_w outside [kMinSigmaW, kMaxSigma] or sigma_b outside [0, kMaxSigma].
struct MeanFieldResult {
  double q_star = 0;    // fixed point of the length map (last iterate if none)
  double chi1 = 0;      // sigma_w^2 E[phi'(sqrt(q*) z)^2]
  double lyapunov = 0;  // ln(chi1) / 2: the per-layer maximal Lyapunov exponent in the wide limit
  int iterations = 0;
  Status status;
  bool ok() const { return status.ok(); }
};

MeanFieldResult mean_field(Activation act, double sigma_w, double sigma_b,
                           const MeanFieldOptions& options = {});

// sigma_w on the edge of chaos (chi_1 = 1 at the fixed point) for a given sigma_b, by bisection on
// [0.05, 20]. Returns NaN if chi_1 never crosses 1 there.
double edge_of_chaos_sigma_w(Activation act, double sigma_b, const MeanFieldOptions& options = {});

// The phase the wide network is in: ordered (chi_1 < 1), critical (chi_1 = 1 within 1e-9), chaotic (> 1);
// undetermined when the mean field has no result.
enum class Phase { kOrdered, kCritical, kChaotic, kUndetermined };
Phase phase_of(const MeanFieldResult& r);

// sigma_w*(sigma_b) at sigma_b = 0, step, 2 step, ... up to sigma_b_max; sigma_w empty where chi_1 = 1 has no
// root in the bisection bracket.
struct EdgeOfChaosPoint {
  double sigma_b = 0;
  std::optional<double> sigma_w;
};
std::vector<EdgeOfChaosPoint> edge_of_chaos_curve(Activation act, double sigma_b_max = 3.0, double step = 0.1,
                                                  const MeanFieldOptions& options = {},
                                                  const ProgressFn& progress = {});

// q_star, chi1, lyapunov (null unless status ok), iterations, phase, status, message.
nlohmann::json to_json(const MeanFieldResult& r);

// ------------------------------------------------------------------------------------------- impl
template <typename F>
double gaussian_expectation(const GaussHermite& gh, double q, F&& f) {
  return q <= 1.0 ? gaussian_expectation_hermite(gh, q, f) : gaussian_expectation_panels(q, f);
}

template <typename F>
double gaussian_expectation_hermite(const GaussHermite& gh, double q, F&& f) {
  constexpr double kInvSqrtPi = 0.56418958354775628695;
  constexpr double kSqrt2 = 1.41421356237309504880;
  const double s = kSqrt2 * std::sqrt(q);
  double sum = 0;
  for (std::size_t i = 0; i < gh.nodes.size(); ++i) sum += gh.weights[i] * f(s * gh.nodes[i]);
  return sum * kInvSqrtPi;
}

template <typename F>
double gaussian_expectation_panels(double q, F&& f, double panel_width) {
  static const GaussLegendre gl = gauss_legendre(8);
  constexpr double kInvSqrt2Pi = 0.39894228040143267794;
  const double sd = std::sqrt(q);
  const double outer = 12.0 * sd;
  const double inner = std::min(outer, 20.0);
  double sum = 0;
  auto integrate = [&](double a, double b, double width) {
    const int panels = std::max(1, static_cast<int>(std::ceil((b - a) / width)));
    const double h = (b - a) / panels;
    for (int p = 0; p < panels; ++p) {
      const double mid = a + (p + 0.5) * h;
      for (std::size_t i = 0; i < gl.nodes.size(); ++i) {
        const double u = mid + 0.5 * h * gl.nodes[i];
        sum += gl.weights[i] * 0.5 * h * f(u) * std::exp(-0.5 * u * u / q);
      }
    }
  };
  integrate(-inner, inner, panel_width);
  if (outer > inner) {
    integrate(inner, outer, std::max(panel_width, 0.5 * sd));
    integrate(-outer, -inner, std::max(panel_width, 0.5 * sd));
  }
  return sum * kInvSqrt2Pi / sd;
}

}  // namespace critlab::measure

namespace critlab {
CRITLAB_ENUM_NAMES(measure::Phase, "phase", {measure::Phase::kOrdered, "ordered"},
                   {measure::Phase::kCritical, "critical"}, {measure::Phase::kChaotic, "chaotic"},
                   {measure::Phase::kUndetermined, "undetermined"})
}  // namespace critlab
