#include "critlab/stats/inference.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "critlab/stats/correlation.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLnSqrt2Pi = 0.918938533204672741780329736406;

std::vector<double> without_nan(const std::vector<double>& v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double x : v)
    if (!std::isnan(x)) out.push_back(x);
  return out;
}

// Sizes of the groups of tied values (only groups of 2 or more).
std::vector<double> tie_sizes(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::vector<double> t;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[i]) ++j;
    if (j > i) t.push_back(static_cast<double>(j - i + 1));
    i = j + 1;
  }
  return t;
}

double tie_sum(const std::vector<double>& t) {
  double s = 0;
  for (double k : t) s += k * k * k - k;
  return s;
}

// R's two-sided exact p: twice the smaller tail of the observed statistic, at most 1.
double exact_two_sided(const std::vector<double>& pmf, double statistic) {
  const auto s = static_cast<std::size_t>(std::llround(statistic));
  double lower = 0, upper = 0;
  for (std::size_t k = 0; k < pmf.size(); ++k) (k <= s ? lower : upper) += pmf[k];
  upper += pmf[s];  // P(U >= s) includes s itself
  return std::min(1.0, 2 * std::min(lower, upper));
}

// Normal approximation with R's continuity correction 0.5 sign(z).
double normal_two_sided(double centred, double sigma) {
  const double correction = centred > 0 ? 0.5 : (centred < 0 ? -0.5 : 0.0);
  const double z = (centred - correction) / sigma;
  return 2 * std::min(normal_cdf(z), normal_cdf(-z));
}

// ln Gamma(x) - Stirling's approximation, for x >= 10 (the series to x^-11: error < 1e-16 there).
double lgamma_correction(double x) {
  const double x2 = 1 / (x * x);
  return (1.0 / 12 + x2 * (-1.0 / 360 + x2 * (1.0 / 1260 + x2 * (-1.0 / 1680 +
                                                                 x2 * (1.0 / 1188 - x2 * 691.0 / 360360))))) /
         x;
}

// ln B(a, b) without the cancellation of lgamma(a) + lgamma(b) - lgamma(a + b) for large arguments
// (the split of R's lbeta).
double log_beta(double a, double b) {
  const double p = std::min(a, b), q = std::max(a, b);
  if (p >= 10) {
    const double corr = lgamma_correction(p) + lgamma_correction(q) - lgamma_correction(p + q);
    return -0.5 * std::log(q) + kLnSqrt2Pi + corr + (p - 0.5) * std::log(p / (p + q)) +
           q * std::log1p(-p / (p + q));
  }
  if (q >= 10) {
    const double corr = lgamma_correction(q) - lgamma_correction(p + q);
    return std::lgamma(p) + corr + p - p * std::log(p + q) + (q - 0.5) * std::log1p(-p / (p + q));
  }
  return std::lgamma(p) + std::lgamma(q) - std::lgamma(p + q);
}

// The continued fraction of I_x(a, b) (Numerical Recipes' betacf), evaluated by the modified Lentz method.
double beta_continued_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300, eps = 1e-16;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1) < eps) break;
  }
  return h;
}

// I_x(a, b) given both x and y = 1 - x, so that a y known more precisely than 1 - x is used as such.
double incomplete_beta(double a, double b, double x, double y) {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const double log_front = a * std::log(x) + b * std::log(y) - log_beta(a, b);
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  return 1 - std::exp(log_front) * beta_continued_fraction(b, a, y) / b;
}

// ---- Kolmogorov's distribution ----

// P(D_n < d) by Marsaglia, Tsang & Wang (2003), "Evaluating Kolmogorov's distribution", J. Stat. Softw.
// 8(18): the (k, k) element of H^n times n!/n^n, with H the (2k - 1)-square matrix of their eq. (2). Powers
// keep a decimal exponent apart so that nothing overflows. Without the paper's quick approximation for
// large n d^2 (R's pKolmogorov2x omits it too).
using Matrix = std::vector<double>;

Matrix multiply(const Matrix& a, const Matrix& b, int m) {
  Matrix c(static_cast<std::size_t>(m) * m, 0.0);
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < m; ++k) {
      const double aik = a[i * m + k];
      if (aik == 0) continue;
      for (int j = 0; j < m; ++j) c[i * m + j] += aik * b[k * m + j];
    }
  return c;
}

void matrix_power(const Matrix& a, int ea, Matrix& v, int& ev, int m, int n) {
  if (n == 1) {
    v = a;
    ev = ea;
    return;
  }
  matrix_power(a, ea, v, ev, m, n / 2);
  Matrix b = multiply(v, v, m);
  const int eb = 2 * ev;
  if (n % 2 == 0) {
    v = std::move(b);
    ev = eb;
  } else {
    v = multiply(a, b, m);
    ev = ea + eb;
  }
  if (v[(m / 2) * m + m / 2] > 1e140) {
    for (double& x : v) x *= 1e-140;
    ev += 140;
  }
}

double kolmogorov_cdf_exact(int n, double d) {
  const int k = static_cast<int>(n * d) + 1, m = 2 * k - 1;
  const double h = k - n * d;
  Matrix hm(static_cast<std::size_t>(m) * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) hm[i * m + j] = i - j + 1 < 0 ? 0 : 1;
  for (int i = 0; i < m; ++i) {
    hm[i * m] -= std::pow(h, i + 1);
    hm[(m - 1) * m + i] -= std::pow(h, m - i);
  }
  hm[(m - 1) * m] += 2 * h - 1 > 0 ? std::pow(2 * h - 1, m) : 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j)
      for (int g = 1; g <= i - j + 1; ++g) hm[i * m + j] /= g;
  Matrix q;
  int eq = 0;
  matrix_power(hm, 0, q, eq, m, n);
  double s = q[(k - 1) * m + k - 1];
  for (int i = 1; i <= n; ++i) {
    s = s * i / n;
    if (s < 1e-140) {
      s *= 1e140;
      eq -= 140;
    }
  }
  return s * std::pow(10.0, eq);
}

// P(K > x) for Kolmogorov's limit K = lim sqrt(n) D_n: below x = 1 by the theta-function form
// 1 - sqrt(2 pi)/x sum_{k odd} exp(-k^2 pi^2 / (8 x^2)), above by 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2);
// both summed until the terms no longer change the sum.
double kolmogorov_sf(double x) {
  if (x <= 0) return 1;
  if (x < 1) {
    const double z = -M_PI * M_PI / (8 * x * x);
    double s = 0;
    for (int k = 1; k < 200; k += 2) {
      const double term = std::exp(k * k * z);
      s += term;
      if (term < 1e-17 * s) break;
    }
    return 1 - std::sqrt(2 * M_PI) / x * s;
  }
  double s = 0, sign = 1;
  for (int k = 1; k < 200; ++k, sign = -sign) {
    const double term = std::exp(-2.0 * k * k * x * x);
    s += sign * term;
    if (term < 1e-17 * std::abs(s)) break;
  }
  return std::min(1.0, 2 * s);
}

// ---- the random-intercept model ----

struct Group {
  double n = 0, mean_x = 0, mean_y = 0;
  std::vector<double> dx, dy;  // deviations from the group's means
  double sxx = 0, sxy = 0;     // within-group sums of squares and products
};

// Everything REML needs at phi = s_g^2 / s^2, with V_g = I + phi J (the covariance over s^2), and the
// derivatives in phi for the optimum and for Satterthwaite's df. V_g^-1 = (I - J/n_g) + h_g J/n_g with
// h_g = 1 / (1 + n_g phi), which splits every quadratic form into a within-group part and a part of the
// group means weighted by n_g h_g: no differences of large sums.
struct RemlAt {
  std::array<double, 3> c{};  // (X'V^-1 X)^-1 as (00, 01, 11)
  double a = 0, b = 0;        // GLS intercept and slope (of the centred data)
  double q = 0;               // r'V^-1 r
  double log_det_m = 0, log_det_v = 0;
  double dq = 0, d2q = 0, dlog_det_m = 0, d2log_det_m = 0, dlog_det_v = 0, d2log_det_v = 0;
  std::array<double, 3> dm{};  // d(X'V^-1 X)/d phi
};

using Sym = std::array<double, 3>;  // a symmetric 2 x 2 matrix (00, 01, 11)

// a b c where the product is symmetric (here C M' C).
Sym sym_product(const Sym& a, const Sym& b, const Sym& c) {
  const double ab00 = a[0] * b[0] + a[1] * b[1], ab01 = a[0] * b[1] + a[1] * b[2],
               ab10 = a[1] * b[0] + a[2] * b[1], ab11 = a[1] * b[1] + a[2] * b[2];
  return {ab00 * c[0] + ab01 * c[1], ab00 * c[1] + ab01 * c[2], ab10 * c[1] + ab11 * c[2]};
}
double trace_product(const Sym& a, const Sym& b) { return a[0] * b[0] + 2 * a[1] * b[1] + a[2] * b[2]; }

RemlAt reml_at(const std::vector<Group>& groups, double phi) {
  RemlAt r;
  Sym m{0, 0, 0}, dm{0, 0, 0}, d2m{0, 0, 0};
  double rhs0 = 0, rhs1 = 0;
  for (const auto& g : groups) {
    const double h = 1 / (1 + g.n * phi), w = g.n * h, w1 = -g.n * g.n * h * h,
                 w2 = 2 * g.n * g.n * g.n * h * h * h;
    const Sym between{1, g.mean_x, g.mean_x * g.mean_x};
    for (int k = 0; k < 3; ++k) {
      m[k] += w * between[k];
      dm[k] += w1 * between[k];
      d2m[k] += w2 * between[k];
    }
    m[2] += g.sxx;
    rhs0 += w * g.mean_y;
    rhs1 += g.sxy + w * g.mean_x * g.mean_y;
    r.log_det_v += std::log1p(g.n * phi);
    r.dlog_det_v += w;
    r.d2log_det_v -= w * w;
  }
  const double det = m[0] * m[2] - m[1] * m[1];
  r.dm = dm;
  r.c = {m[2] / det, -m[1] / det, m[0] / det};
  r.log_det_m = std::log(det);
  r.a = r.c[0] * rhs0 + r.c[1] * rhs1;
  r.b = r.c[1] * rhs0 + r.c[2] * rhs1;
  // q(phi) = min over beta of Q(beta, phi); q' = dQ/dphi at the minimum (envelope theorem), and
  // q'' = Q_phiphi - Q_phibeta' (2 M)^-1 Q_betaphi since beta moves with phi.
  double qphi_beta0 = 0, qphi_beta1 = 0, qphiphi = 0;
  for (const auto& g : groups) {
    const double h = 1 / (1 + g.n * phi), rbar = g.mean_y - r.a - r.b * g.mean_x;
    double within = 0;
    for (std::size_t i = 0; i < g.dx.size(); ++i)
      within += (g.dy[i] - r.b * g.dx[i]) * (g.dy[i] - r.b * g.dx[i]);
    r.q += within + g.n * h * rbar * rbar;
    r.dq -= g.n * g.n * h * h * rbar * rbar;
    qphiphi += 2 * g.n * g.n * g.n * h * h * h * rbar * rbar;
    qphi_beta0 += 2 * g.n * g.n * h * h * rbar;
    qphi_beta1 += 2 * g.n * g.n * h * h * rbar * g.mean_x;
  }
  const double quad = r.c[0] * qphi_beta0 * qphi_beta0 + 2 * r.c[1] * qphi_beta0 * qphi_beta1 +
                      r.c[2] * qphi_beta1 * qphi_beta1;
  r.d2q = qphiphi - 0.5 * quad;
  r.dlog_det_m = trace_product(r.c, dm);
  r.d2log_det_m = trace_product(r.c, d2m) - trace_product(sym_product(r.c, dm, r.c), dm);
  return r;
}

// -2 x the REML log-likelihood with s^2 profiled out (lme4's REML criterion), and its first two derivatives
// in phi.
double reml_criterion_at(const RemlAt& r, double nmp) {
  return nmp * (1 + std::log(2 * M_PI * r.q / nmp)) + r.log_det_v + r.log_det_m;
}
double reml_slope_at(const RemlAt& r, double nmp) { return nmp * r.dq / r.q + r.dlog_det_v + r.dlog_det_m; }
double reml_curvature_at(const RemlAt& r, double nmp) {
  return nmp * (r.d2q / r.q - (r.dq / r.q) * (r.dq / r.q)) + r.d2log_det_v + r.d2log_det_m;
}

// The phi that minimises the profiled criterion. A grid over 0 and phi = 1e-10..1e10 finds the basin (the
// criterion need not be unimodal), Brent's method on log phi (or on phi next to 0) narrows it, and Newton's
// method on the analytic derivative finishes it to double precision, which function values alone cannot
// (the criterion is flat at the optimum). `at_grid_end` is set when the best value lies at phi = 1e10, where
// the residual variance is heading to 0.
double minimise_reml(const std::vector<Group>& groups, double nmp, bool* at_grid_end) {
  auto f = [&](double phi) { return reml_criterion_at(reml_at(groups, phi), nmp); };
  constexpr int per_decade = 8, decades = 20;
  std::vector<double> grid{0.0};
  for (int i = 0; i <= per_decade * decades; ++i)
    grid.push_back(std::pow(10.0, -10.0 + static_cast<double>(i) / per_decade));
  std::vector<double> values(grid.size());
  for (std::size_t i = 0; i < grid.size(); ++i) values[i] = f(grid[i]);
  const auto best = static_cast<std::size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  *at_grid_end = best + 1 == grid.size();
  if (*at_grid_end) return grid.back();
  if (best == 0 && reml_slope_at(reml_at(groups, 0), nmp) >= 0) return 0;  // a boundary optimum
  const double lo = best == 0 ? 0 : grid[best - 1], hi = grid[best + 1];
  double phi = lo == 0 ? minimize_brent(f, 0, hi, 1e-12)
                       : std::exp(minimize_brent([&](double t) { return f(std::exp(t)); }, std::log(lo),
                                                 std::log(hi), 1e-12));
  for (int it = 0; it < 30; ++it) {
    const RemlAt r = reml_at(groups, phi);
    const double g = reml_slope_at(r, nmp), h = reml_curvature_at(r, nmp);
    if (!(h > 0)) break;
    const double next = phi - g / h;
    if (!(next > lo && next < hi)) break;
    const bool done = std::abs(next - phi) <= 1e-15 * phi;
    phi = next;
    if (done) break;
  }
  return f(phi) <= values[0] ? phi : 0;
}

}  // namespace

// ---- rank tests ----

std::vector<double> mann_whitney_null_pmf(int n1, int n2) {
  if (n1 < 0 || n2 < 0) return {};
  // U's null distribution is symmetric in the two samples, so count the subsets of the smaller one:
  // count[j][s] = number of j-subsets of the ranks seen so far whose rank sum is s.
  const int small = std::min(n1, n2), total = n1 + n2;
  const int max_sum = small * total;
  std::vector<std::vector<double>> count(small + 1, std::vector<double>(max_sum + 1, 0.0));
  count[0][0] = 1;
  for (int r = 1; r <= total; ++r)
    for (int j = std::min(r, small); j >= 1; --j)
      for (int s = max_sum; s >= r; --s) count[j][s] += count[j - 1][s - r];
  double subsets = 1;  // C(n1 + n2, small)
  for (int i = 1; i <= small; ++i) subsets = subsets * (total - small + i) / i;
  const int offset = small * (small + 1) / 2;
  std::vector<double> pmf(static_cast<std::size_t>(n1) * n2 + 1);
  for (std::size_t u = 0; u < pmf.size(); ++u) pmf[u] = count[small][u + offset] / subsets;
  return pmf;
}

std::vector<double> signed_rank_null_pmf(int n) {
  if (n < 0) return {};
  // count[s] = number of subsets of 1..k (the ranks given a plus sign) with sum s.
  const int max_sum = n * (n + 1) / 2;
  std::vector<double> count(max_sum + 1, 0.0);
  count[0] = 1;
  for (int k = 1; k <= n; ++k)
    for (int s = max_sum; s >= k; --s) count[s] += count[s - k];
  for (double& c : count) c = std::ldexp(c, -n);
  return count;
}

RankTest mann_whitney(const std::vector<double>& x, const std::vector<double>& y) {
  RankTest t;
  const auto a = without_nan(x), b = without_nan(y);
  t.n1 = static_cast<std::int64_t>(a.size());
  t.n2 = static_cast<std::int64_t>(b.size());
  if (a.empty() || b.empty()) {
    t.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("samples of {} and {} values; each needs at least 1", t.n1, t.n2));
    return t;
  }
  std::vector<double> pooled = a;
  pooled.insert(pooled.end(), b.begin(), b.end());
  const auto r = ranks(pooled);
  const double n1 = static_cast<double>(a.size()), n2 = static_cast<double>(b.size()), n = n1 + n2;
  const double u =
      std::accumulate(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(a.size()), 0.0) - n1 * (n1 + 1) / 2;
  t.statistic = u;
  const auto ties = tie_sizes(pooled);
  if (a.size() < 50 && b.size() < 50 && ties.empty()) {
    t.exact = true;
    t.p_value = exact_two_sided(mann_whitney_null_pmf(static_cast<int>(n1), static_cast<int>(n2)), u);
    return t;
  }
  // R's wilcox.test(x, y, correct = TRUE): the variance shrinks by sum(t^3 - t) / (n (n - 1)) for ties.
  const double variance = n1 * n2 / 12 * ((n + 1) - tie_sum(ties) / (n * (n - 1)));
  if (!(variance > 0)) {
    t.status = make_status(StatusCode::kNotFound, "all values are tied: U has no spread and no p-value");
    return t;
  }
  t.p_value = normal_two_sided(u - n1 * n2 / 2, std::sqrt(variance));
  return t;
}

RankTest wilcoxon_signed_rank(const std::vector<double>& differences) {
  RankTest t;
  std::vector<double> d;
  bool zeros = false;
  for (double v : differences) {
    if (std::isnan(v)) continue;
    if (v == 0) {
      zeros = true;
      continue;
    }
    d.push_back(v);
  }
  t.n1 = static_cast<std::int64_t>(d.size());
  if (d.empty()) {
    t.status =
        make_status(StatusCode::kInsufficientData, "no non-zero differences; the test needs at least 1");
    return t;
  }
  std::vector<double> magnitude(d.size());
  for (std::size_t i = 0; i < d.size(); ++i) magnitude[i] = std::abs(d[i]);
  const auto r = ranks(magnitude);
  double v = 0;
  for (std::size_t i = 0; i < d.size(); ++i)
    if (d[i] > 0) v += r[i];
  t.statistic = v;
  const double n = static_cast<double>(d.size());
  const auto ties = tie_sizes(magnitude);
  // R uses the exact distribution only without ties and without zeros (it drops the zeros either way).
  if (d.size() < 50 && ties.empty() && !zeros) {
    t.exact = true;
    t.p_value = exact_two_sided(signed_rank_null_pmf(static_cast<int>(n)), v);
    return t;
  }
  const double variance = n * (n + 1) * (2 * n + 1) / 24 - tie_sum(ties) / 48;  // > 0 for every n >= 1
  t.p_value = normal_two_sided(v - n * (n + 1) / 4, std::sqrt(variance));
  return t;
}

// ---- the random-intercept model ----

MixedModelFit random_intercept_model(const std::vector<double>& y, const std::vector<double>& x,
                                     const std::vector<std::string>& group) {
  MixedModelFit fit;
  if (y.size() != x.size() || y.size() != group.size()) {
    fit.status = make_status(
        StatusCode::kInvalidInput,
        fmt::format("y, x and group differ in length ({}, {}, {})", y.size(), x.size(), group.size()));
    return fit;
  }
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!std::isnan(y[i]) && !std::isnan(x[i])) rows.push_back(i);
  std::map<std::string, std::vector<std::size_t>> members;
  for (auto i : rows) members[group[i]].push_back(i);
  fit.n = static_cast<std::int64_t>(rows.size());
  fit.groups = static_cast<std::int64_t>(members.size());
  for (auto i : rows)
    if (!std::isfinite(y[i]) || !std::isfinite(x[i])) {
      fit.status = make_status(StatusCode::kInvalidInput, fmt::format("row {} holds an infinite value", i));
      return fit;
    }
  if (fit.n < 3) {
    fit.status = make_status(StatusCode::kInsufficientData,
                             fmt::format("{} complete observations; the model needs at least 3", fit.n));
    return fit;
  }
  if (fit.groups < 2) {
    fit.status = make_status(StatusCode::kInsufficientData,
                             fmt::format("{} group; a random intercept needs at least 2", fit.groups));
    return fit;
  }
  // Centring x and y changes only the intercept (undone below) and keeps the sums small.
  double mean_x = 0, mean_y = 0;
  for (auto i : rows) mean_x += x[i], mean_y += y[i];
  mean_x /= static_cast<double>(fit.n);
  mean_y /= static_cast<double>(fit.n);
  double sxx_total = 0, syy_total = 0;
  std::vector<Group> groups;
  for (const auto& [name, idx] : members) {
    Group g;
    g.n = static_cast<double>(idx.size());
    for (auto i : idx) g.mean_x += x[i] - mean_x, g.mean_y += y[i] - mean_y;
    g.mean_x /= g.n;
    g.mean_y /= g.n;
    for (auto i : idx) {
      g.dx.push_back(x[i] - mean_x - g.mean_x);
      g.dy.push_back(y[i] - mean_y - g.mean_y);
      g.sxx += g.dx.back() * g.dx.back();
      g.sxy += g.dx.back() * g.dy.back();
      sxx_total += (x[i] - mean_x) * (x[i] - mean_x);
      syy_total += (y[i] - mean_y) * (y[i] - mean_y);
    }
    groups.push_back(std::move(g));
  }
  if (!(sxx_total > 0)) {
    fit.status = make_status(StatusCode::kInvalidInput, "x is constant: the slope is not identified");
    return fit;
  }
  const double nmp = static_cast<double>(fit.n - 2);
  const RemlAt ols = reml_at(groups, 0);
  if (!(ols.q > 1e-24 * syy_total) || !(syy_total > 0)) {
    fit.status =
        make_status(StatusCode::kInvalidInput, "y is an exact linear function of x: no residual variance");
    return fit;
  }
  bool at_grid_end = false;
  const double phi = minimise_reml(groups, nmp, &at_grid_end);
  if (at_grid_end) {
    fit.status =
        make_status(StatusCode::kNoConvergence,
                    "the REML optimum has the residual variance going to 0 (group SD / residual SD beyond "
                    "1e5): y is almost a function of x and the group");
    return fit;
  }
  const RemlAt r = reml_at(groups, phi);
  const double s2 = r.q / nmp;  // the REML estimate of s^2
  // Back to uncentred x and y: a = a_c + mean_y - b mean_x, and Cov(a, b) follows from that linear map.
  const double var_b = s2 * r.c[2], cov_ab_c = s2 * r.c[1], var_a_c = s2 * r.c[0];
  fit.slope = r.b;
  fit.slope_se = std::sqrt(var_b);
  fit.intercept = r.a + mean_y - r.b * mean_x;
  fit.intercept_se = std::sqrt(var_a_c - 2 * mean_x * cov_ab_c + mean_x * mean_x * var_b);
  fit.residual_sd = std::sqrt(s2);
  fit.group_sd = std::sqrt(phi * s2);
  fit.reml_criterion = reml_criterion_at(r, nmp);
  // lme4's isSingular() tolerance on theta = s_g / s.
  fit.boundary = std::sqrt(phi) < 1e-4;

  // Satterthwaite: df = 2 Var(b)^2 / (g' A g), A = 2 H^-1 with H the Hessian of -2 REML log-likelihood in the
  // variance parameters and g the gradient of Var(b) in them. Computed in (phi, s^2) rather than
  // (s_g^2, s^2): at the optimum the gradient of the criterion vanishes, so H transforms as J'HJ and
  // g as J'g, and g'H^-1g (hence df) is the same in every smooth parametrisation (lmerTest uses (s_g/s, s)).
  // -2 l(phi, s^2) = (n - 2) ln s^2 + ln|V| + ln|X'V^-1X| + q(phi) / s^2 + const, all derivatives analytic.
  if (phi == 0) {
    fit.df = nmp;
    fit.status = make_status(
        StatusCode::kOk, fmt::format("singular fit: the group variance is estimated at 0; the slope's df is "
                                     "the residual df n - 2 = {} (as lmerTest gives there)",
                                     fit.n - 2));
  } else {
    const double h_pp = r.d2log_det_v + r.d2log_det_m + r.d2q / s2, h_ps = -r.dq / (s2 * s2),
                 h_ss = -nmp / (s2 * s2) + 2 * r.q / (s2 * s2 * s2);
    const Sym dc = sym_product(r.c, r.dm, r.c);  // d(X'V^-1X)^-1/dphi = -C M' C
    const double g_p = -s2 * dc[2], g_s = r.c[2];
    const double det = h_pp * h_ss - h_ps * h_ps;
    const double gag = 2 * (g_p * g_p * h_ss - 2 * g_p * g_s * h_ps + g_s * g_s * h_pp) / det;
    if (det > 0 && h_pp > 0 && gag > 0) {
      fit.df = 2 * var_b * var_b / gag;
      if (fit.boundary)
        fit.status = make_status(StatusCode::kOk, "near-singular fit: group SD / residual SD below 1e-4");
    } else {
      fit.df = nmp;
      fit.status =
          make_status(StatusCode::kOk,
                      fmt::format("the REML Hessian is not positive definite at the optimum; the slope's "
                                  "df falls back to the residual df n - 2 = {}",
                                  fit.n - 2));
    }
  }
  fit.t = *fit.slope / *fit.slope_se;
  fit.p_value = 2 * student_t_cdf(-std::abs(*fit.t), *fit.df);
  for (const auto* v : {&fit.intercept, &fit.intercept_se, &fit.slope, &fit.slope_se, &fit.df, &fit.t,
                        &fit.p_value, &fit.group_sd, &fit.residual_sd, &fit.reml_criterion})
    if (!std::isfinite(v->value())) {
      MixedModelFit failed;
      failed.n = fit.n;
      failed.groups = fit.groups;
      failed.status = make_status(StatusCode::kNonFinite, "the REML fit produced a non-finite figure");
      return failed;
    }
  return fit;
}

// ---- Kolmogorov-Smirnov ----

KsTest ks_uniform(std::vector<double> u) {
  KsTest t;
  u = without_nan(u);
  t.n = static_cast<std::int64_t>(u.size());
  if (u.empty()) {
    t.status = make_status(StatusCode::kInsufficientData, "no values to test");
    return t;
  }
  std::sort(u.begin(), u.end());
  const double n = static_cast<double>(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    const double f = std::clamp(u[i], 0.0, 1.0);  // the U(0, 1) CDF
    t.statistic = std::max({t.statistic, static_cast<double>(i + 1) / n - f, f - static_cast<double>(i) / n});
  }
  t.p_value = t.n <= 100 ? 1 - kolmogorov_cdf_exact(static_cast<int>(t.n), t.statistic)
                         : kolmogorov_sf(std::sqrt(n) * t.statistic);
  t.p_value = std::clamp(t.p_value, 0.0, 1.0);
  return t;
}

// ---- distributions ----

double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return kNaN;
  return incomplete_beta(a, b, x, 1 - x);
}

double student_t_cdf(double t, double df) {
  if (!(df > 0) || std::isnan(t)) return kNaN;
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  if (std::isinf(df)) return normal_cdf(t);
  // P(T < -|t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2); 1 - x = t^2 / (df + t^2) passed exactly.
  const double t2 = t * t;
  const double tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
  return t < 0 ? tail : 1 - tail;
}

double student_t_quantile(double p, double df) {
  if (!(p >= 0.5 && p < 1) || !(df > 0)) return kNaN;
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, df) < p && hi < 1e300) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace critlab::stats
