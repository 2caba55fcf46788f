#include "critlab/stats/special.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "critlab/core/error.h"

namespace critlab::stats {

namespace {
// B_{2j} / (2j)! for j = 1..8.
constexpr double kB[] = {1.0 / 12,
                         -1.0 / 720,
                         1.0 / 30240,
                         -1.0 / 1209600,
                         1.0 / 47900160,
                         -691.0 / 1307674368000.0,
                         1.0 / 74724249600.0,
                         -3617.0 / 10670622842880000.0};
constexpr int kEulerMaclaurinDirect = 9;  // terms summed directly before the Euler-Maclaurin tail

// Adds to `sum` the Euler-Maclaurin correction terms of sum_{k>=N} (q + k)^-s at a = q + N (a_s = a^-s, in
// whatever scale `sum` has): B_2j/(2j)! * s(s+1)...(s+2j-2) * a^{-s-2j+1}, until they fall below 1e-17 of it.
void add_euler_maclaurin_corrections(double s, double a, double a_s, double& sum) {
  double poch = s;         // s (s+1) ... (s + 2j - 2)
  double power = a_s / a;  // a^{-s-1}
  for (int j = 0; j < 8; ++j) {
    const double term = kB[j] * poch * power;
    sum += term;
    if (std::abs(term) < 1e-17 * sum) break;
    poch *= (s + 2 * j + 1) * (s + 2 * j + 2);
    power /= a * a;
  }
}
}  // namespace

double hurwitz_zeta(double s, double q) {
  CRITLAB_ASSERT(s > 1 && q > 0, "hurwitz_zeta needs s > 1 and q > 0");
  constexpr int kN = kEulerMaclaurinDirect;
  double sum = 0;
  for (int k = 0; k < kN; ++k) sum += std::pow(q + k, -s);
  const double a = q + kN;
  const double a_s = std::pow(a, -s);
  sum += a * a_s / (s - 1) + 0.5 * a_s;
  add_euler_maclaurin_corrections(s, a, a_s, sum);
  return sum;
}

double log_hurwitz_zeta(double s, double q) {
  CRITLAB_ASSERT(s > 1 && q > 0, "log_hurwitz_zeta needs s > 1 and q > 0");
  // The terms of hurwitz_zeta divided by q^-s: (q + k)^-s / q^-s = (1 + k/q)^-s.
  constexpr int kN = kEulerMaclaurinDirect;
  double sum = 0;
  for (int k = 0; k < kN; ++k) sum += std::exp(-s * std::log1p(k / q));
  const double a = q + kN;
  const double a_s = std::exp(-s * std::log1p(kN / q));  // (a/q)^-s
  sum += a * a_s / (s - 1) + 0.5 * a_s;
  add_euler_maclaurin_corrections(s, a, a_s, sum);
  return -s * std::log(q) + std::log(sum);
}

double power_sum(double s, double a, double b) {
  CRITLAB_ASSERT(a >= 1 && b >= a, "power_sum needs 1 <= a <= b");
  if (std::isinf(b)) {
    CRITLAB_ASSERT(s > 1, "power_sum to infinity needs s > 1");
    return hurwitz_zeta(s, a);
  }
  b = std::floor(b);
  constexpr int kN = kEulerMaclaurinDirect;
  double sum = 0;
  if (b - a < 64) {  // counted by index, so it ends even where a + i no longer changes (beyond 2^53)
    const auto count = static_cast<int>(b - a) + 1;
    for (int i = 0; i < count; ++i) sum += std::pow(a + i, -s);
    return sum;
  }
  for (int k = 0; k < kN; ++k) sum += std::pow(a + k, -s);
  // sum_{k=A}^{b} f(k) = integral_A^b f + (f(A) + f(b))/2 + sum_j B_2j/(2j)! (f^(2j-1)(b) - f^(2j-1)(A)),
  // f(x) = x^-s, f^(2j-1)(x) = -s (s+1) ... (s+2j-2) x^(-s-2j+1).
  const double A = a + kN;
  const double c = 1 - s, t = std::log(b / A);
  sum += std::pow(A, c) * (std::abs(c * t) < 1e-12 ? t : std::expm1(c * t) / c);
  const double fa = std::pow(A, -s), fb = std::pow(b, -s);
  sum += 0.5 * (fa + fb);
  double poch = s, pa = fa / A, pb = fb / b;
  for (int j = 0; j < 8; ++j) {
    const double term = kB[j] * poch * (pa - pb);
    sum += term;
    if (std::abs(term) < 1e-17 * std::abs(sum)) break;
    poch *= (s + 2 * j + 1) * (s + 2 * j + 2);
    pa /= A * A;
    pb /= b * b;
  }
  return sum;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double log_normal_sf(double z) {
  if (z < 30) return std::log(0.5 * std::erfc(z / std::sqrt(2.0)));
  // Asymptotic series of the Mills ratio: 1 - Phi(z) ~ phi(z)/z (1 - 1/z^2 + 3/z^4 - 15/z^6).
  const double z2 = z * z;
  return -0.5 * z2 - std::log(z) - 0.5 * std::log(2 * M_PI) +
         std::log1p(-1 / z2 + 3 / (z2 * z2) - 15 / (z2 * z2 * z2));
}

double log_diff_exp(double a, double b) {
  if (b == -std::numeric_limits<double>::infinity()) return a;
  if (b >= a) return -std::numeric_limits<double>::infinity();
  return a + std::log1p(-std::exp(b - a));
}

double minimize_brent(const std::function<double(double)>& f, double lo, double hi, double tol,
                      int max_iter) {
  const double golden = 0.3819660112501051;
  double a = lo, b = hi, x = a + golden * (b - a), w = x, v = x;
  double fx = f(x), fw = fx, fv = fx, d = 0, e = 0;
  for (int it = 0; it < max_iter; ++it) {
    const double m = 0.5 * (a + b);
    const double tol1 = tol * std::abs(x) + 1e-12, tol2 = 2 * tol1;
    if (std::abs(x - m) <= tol2 - 0.5 * (b - a)) break;
    bool golden_step = true;
    if (std::abs(e) > tol1) {
      double r = (x - w) * (fx - fv), q = (x - v) * (fx - fw), p = (x - v) * q - (x - w) * r;
      q = 2 * (q - r);
      if (q > 0) p = -p;
      q = std::abs(q);
      if (std::abs(p) < std::abs(0.5 * q * e) && p > q * (a - x) && p < q * (b - x)) {
        e = d;
        d = p / q;
        const double u = x + d;
        if (u - a < tol2 || b - u < tol2) d = x < m ? tol1 : -tol1;
        golden_step = false;
      }
    }
    if (golden_step) {
      e = (x < m ? b : a) - x;
      d = golden * e;
    }
    const double u = x + (std::abs(d) >= tol1 ? d : (d > 0 ? tol1 : -tol1));
    const double fu = f(u);
    if (fu <= fx) {
      (u < x ? b : a) = x;
      v = w, fv = fw, w = x, fw = fx, x = u, fx = fu;
    } else {
      (u < x ? a : b) = u;
      if (fu <= fw || w == x)
        v = w, fv = fw, w = u, fw = fu;
      else if (fu <= fv || v == x || v == w)
        v = u, fv = fu;
    }
  }
  return x;
}

std::vector<double> minimize_nelder_mead(const std::function<double(const std::vector<double>&)>& f,
                                         std::vector<double> x0, const std::vector<double>& step,
                                         double* fmin, bool* converged, double tol, int max_iter) {
  const std::size_t n = x0.size();
  std::vector<std::vector<double>> p(n + 1, x0);
  for (std::size_t i = 0; i < n; ++i) p[i + 1][i] += step[i];
  std::vector<double> fv(n + 1);
  auto eval = [&](const std::vector<double>& x) {
    const double y = f(x);
    return std::isfinite(y) ? y : std::numeric_limits<double>::max();
  };
  for (std::size_t i = 0; i <= n; ++i) fv[i] = eval(p[i]);
  bool done = false;
  for (int it = 0; it < max_iter && !done; ++it) {
    std::vector<std::size_t> order(n + 1);
    for (std::size_t i = 0; i <= n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return fv[a] < fv[b]; });
    const auto best = order.front(), worst = order.back(), second = order[n - 1];
    double spread = 0;
    for (std::size_t i = 0; i <= n; ++i)
      for (std::size_t k = 0; k < n; ++k) spread = std::max(spread, std::abs(p[i][k] - p[best][k]));
    if (spread < tol && std::abs(fv[worst] - fv[best]) < tol * (1 + std::abs(fv[best]))) {
      done = true;
      break;
    }
    std::vector<double> c(n, 0.0);
    for (std::size_t i = 0; i <= n; ++i)
      if (i != worst)
        for (std::size_t k = 0; k < n; ++k) c[k] += p[i][k] / n;
    auto along = [&](double t) {
      std::vector<double> x(n);
      for (std::size_t k = 0; k < n; ++k) x[k] = c[k] + t * (p[worst][k] - c[k]);
      return x;
    };
    auto xr = along(-1);
    const double fr = eval(xr);
    if (fr < fv[best]) {
      auto xe = along(-2);
      const double fe = eval(xe);
      if (fe < fr)
        p[worst] = xe, fv[worst] = fe;
      else
        p[worst] = xr, fv[worst] = fr;
    } else if (fr < fv[second]) {
      p[worst] = xr, fv[worst] = fr;
    } else {
      auto xc = fr < fv[worst] ? along(-0.5) : along(0.5);
      const double fc = eval(xc);
      if (fc < std::min(fr, fv[worst])) {
        p[worst] = xc, fv[worst] = fc;
      } else {
        for (std::size_t i = 0; i <= n; ++i) {
          if (i == best) continue;
          for (std::size_t k = 0; k < n; ++k) p[i][k] = p[best][k] + 0.5 * (p[i][k] - p[best][k]);
          fv[i] = eval(p[i]);
        }
      }
    }
  }
  const auto best = static_cast<std::size_t>(std::min_element(fv.begin(), fv.end()) - fv.begin());
  if (fmin) *fmin = fv[best];
  if (converged) *converged = done;
  return p[best];
}

LineFit weighted_line_fit(const std::vector<double>& x, const std::vector<double>& y,
                          const std::vector<double>& w) {
  CRITLAB_ASSERT(x.size() == y.size() && x.size() == w.size(), "weighted_line_fit: sizes differ");
  double sw = 0, sx = 0, sy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sw += w[i], sx += w[i] * x[i], sy += w[i] * y[i];
  if (x.size() < 2 || sw <= 0) throw Error("a line fit needs at least two weighted points");
  const double mx = sx / sw, my = sy / sw;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    sxx += w[i] * (x[i] - mx) * (x[i] - mx), sxy += w[i] * (x[i] - mx) * (y[i] - my);
  if (sxx <= 0) throw Error("a line fit needs at least two distinct x values");
  LineFit r;
  r.slope = sxy / sxx;
  r.intercept = my - r.slope * mx;
  double rss = 0;
  for (std::size_t i = 0; i < x.size(); ++i) rss += w[i] * std::pow(y[i] - r.intercept - r.slope * x[i], 2);
  // Weights as frequencies: effective residual variance over (sum of weights - 2) degrees of freedom.
  r.slope_se = x.size() > 2 && sw > 2 ? std::sqrt(rss / (sw - 2) / sxx) : 0.0;
  return r;
}

}  // namespace critlab::stats
