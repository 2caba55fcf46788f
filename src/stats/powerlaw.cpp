#include "critlab/stats/powerlaw.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "critlab/core/error.h"
#include "critlab/core/resources.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kAlphaSearchMax = 20.0;               // numerical MLEs search alpha in (1, 20]
constexpr double kExactIntegers = 9007199254740992.0;  // 2^53: doubles hold every integer below it
constexpr std::size_t kScanAllCandidates = kXminScanAll;
constexpr std::size_t kCoarseCandidates = kXminScanCoarse;
constexpr std::size_t kXminRefineWindows = 8;  // the points of each pass whose neighbours the next scans

// ln Z(alpha) of the tail normalisation.
double log_norm_continuous(double alpha, double xmin, double xmax) {
  if (xmax <= 0) return alpha > 1 ? (1 - alpha) * std::log(xmin) - std::log(alpha - 1) : kInf;
  const double t = std::log(xmax / xmin);
  const double c = 1 - alpha;
  // Z = xmin^{1-alpha} (exp(c t) - 1) / c, with its alpha -> 1 limit xmin^0 * t.
  const double ratio = std::abs(c * t) < 1e-12 ? t : std::expm1(c * t) / c;
  return c * std::log(xmin) + std::log(ratio);
}

// ln of sum_{k=xmin}^{xmax} k^-alpha, in O(1) whatever the range: Hurwitz zeta differences for alpha > 1
// (in logs where zeta underflows, for xmin near 1e300), Euler-Maclaurin (power_sum) for alpha <= 1, which
// only a truncated fit allows.
double log_norm_discrete(double alpha, double xmin, double xmax) {
  constexpr double kTiny = 1e-290;
  if (xmax <= 0) {
    if (!(alpha > 1)) return kInf;
    const double z = hurwitz_zeta(alpha, xmin);
    return z > kTiny ? std::log(z) : log_hurwitz_zeta(alpha, xmin);
  }
  xmax = std::floor(xmax);
  if (alpha > 1) {
    const double z = hurwitz_zeta(alpha, xmin) - hurwitz_zeta(alpha, xmax + 1);
    if (z > kTiny) return std::log(z);
    return log_diff_exp(log_hurwitz_zeta(alpha, xmin), log_hurwitz_zeta(alpha, xmax + 1));
  }
  return std::log(power_sum(alpha, xmin, xmax));
}

double log_norm(bool discrete, double alpha, double xmin, double xmax) {
  return discrete ? log_norm_discrete(alpha, xmin, xmax) : log_norm_continuous(alpha, xmin, xmax);
}

// Sorted unique values with counts and suffix sums: the whole xmin scan works on these.
struct Compressed {
  std::vector<double> value, count;  // unique values ascending, their multiplicities
  std::vector<double> log_value;     // ln(value)
  std::vector<double> n_ge,
      log_ge;  // suffix sums: count and sum of count * ln(value) over values >= value[i]
};

Compressed compress(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  Compressed c;
  for (std::size_t i = 0; i < x.size();) {
    std::size_t j = i;
    while (j < x.size() && x[j] == x[i]) ++j;
    c.value.push_back(x[i]);
    c.log_value.push_back(std::log(x[i]));
    c.count.push_back(static_cast<double>(j - i));
    i = j;
  }
  const std::size_t u = c.value.size();
  c.n_ge.assign(u + 1, 0.0);
  c.log_ge.assign(u + 1, 0.0);
  for (std::size_t i = u; i-- > 0;) {
    c.n_ge[i] = c.n_ge[i + 1] + c.count[i];
    c.log_ge[i] = c.log_ge[i + 1] + c.count[i] * std::log(c.value[i]);
  }
  return c;
}

struct TailFit {
  double alpha = 0, ks = kInf;
  bool ok = false;
};

// MLE of alpha for the tail starting at unique index i (values in [value[i], xmax]).
// The tail is the unique values [i, end); xmin is its lower bound (value[i], or a fixed xmin below it).
double fit_alpha(const Compressed& c, std::size_t i, std::size_t end, double xmin, bool discrete, bool approx,
                 double xmax) {
  const double n = c.n_ge[i] - c.n_ge[end];
  const double sum_log = c.log_ge[i] - c.log_ge[end];
  if (xmax <= 0) {
    if (!discrete) return 1 + n / (sum_log - n * std::log(xmin));
    if (approx) return 1 + n / (sum_log - n * std::log(xmin - 0.5));
  }
  const double lo = xmax > 0 ? 0.01 : 1.0 + 1e-9;
  auto neg_ll = [&](double a) { return a * sum_log + n * log_norm(discrete, a, xmin, xmax); };
  return minimize_brent(neg_ll, lo, kAlphaSearchMax, 1e-12);
}

// Kolmogorov-Smirnov distance of the tail [i, end) to the power law with exponent alpha. The scan stops as
// soon as the running maximum exceeds `bound` (the best distance found so far): the candidate cannot win,
// and its exact distance is not needed. This keeps the xmin scan fast where most candidates lose early.
double ks_distance(const Compressed& c, std::size_t i, std::size_t end, double xmin, bool discrete,
                   double alpha, double xmax, double bound = std::numeric_limits<double>::infinity()) {
  const double n = c.n_ge[i] - c.n_ge[end];
  double d = 0, below = 0;  // below: empirical count of tail values < current
  if (!discrete) {
    // P(X <= x) = (1 - (x/xmin)^{1-alpha}) / (1 - (xmax/xmin)^{1-alpha}), one exp per point.
    const double a1 = 1 - alpha, lxmin = std::log(xmin);
    const double denom = xmax > 0 ? std::expm1(a1 * (std::log(xmax) - lxmin)) : -1.0;
    // Coarse passes first: the empirical CDF at any point follows from the suffix counts, so 64, then 4096
    // spread points bound D from below cheaply and settle most losing candidates without the full pass.
    if (std::isfinite(bound)) {
      for (const std::size_t points : {std::size_t{64}, std::size_t{4096}}) {
        if (end - i <= 2 * points) break;
        const std::size_t stride = (end - i) / points;
        for (std::size_t j = i; j < end; j += stride) {
          const double p = std::expm1(a1 * (c.log_value[j] - lxmin)) / denom;
          const double lo = (c.n_ge[i] - c.n_ge[j]) / n, hi = (c.n_ge[i] - c.n_ge[j + 1]) / n;
          if (std::max(std::abs(p - lo), std::abs(p - hi)) > bound)
            return std::max(std::abs(p - lo), std::abs(p - hi));
        }
      }
    }
    for (std::size_t j = i; j < end; ++j) {
      const double p = std::expm1(a1 * (c.log_value[j] - lxmin)) / denom;
      // Both sides of the empirical CDF's step at x_j (plfit.m compares only the left side, (0..n-1)/n).
      d = std::max(d, std::abs(p - below / n));
      below += c.count[j];
      d = std::max(d, std::abs(p - below / n));
      if (d > bound) return d;
    }
    return d;
  }
  // Discrete: the model CDF F(k) = sum_{j=xmin}^{k} j^-alpha / Z, compared at the ends of every step of the
  // empirical CDF. Walks integers while the gaps are short, and jumps over long gaps (and beyond 2^53, where
  // k + 1 may round back to k) with zeta differences or power_sum, so the cost never grows with the values.
  const double z = std::exp(log_norm_discrete(alpha, xmin, xmax));
  double f = 0;         // model CDF at integer k (inclusive)
  double k = xmin - 1;  // last integer included in f
  auto advance_to = [&](double target) {
    if (target <= k) return;
    if (target - k <= 64 && target < kExactIntegers) {
      for (; k < target;) f += std::pow(++k, -alpha) / z;
    } else {
      f += (alpha > 1 ? hurwitz_zeta(alpha, k + 1) - hurwitz_zeta(alpha, target + 1)
                      : power_sum(alpha, k + 1, target)) /
           z;
      k = target;
    }
  };
  if (c.value[i] >
      xmin) {  // a fixed xmin below the first data value: the model has mass there, the data none
    advance_to(c.value[i] - 1);
    d = f;
  }
  for (std::size_t j = i; j < end; ++j) {
    advance_to(c.value[j]);
    below += c.count[j];
    d = std::max(d, std::abs(f - below / n));  // at the data value, after its step
    const double next = j + 1 < end ? c.value[j + 1] - 1 : c.value[j];
    if (next > c.value[j]) {
      advance_to(next);  // just before the next step
      d = std::max(d, std::abs(f - below / n));
    }
    if (d > bound) return d;
  }
  return d;
}

double alpha_standard_error(bool discrete, double alpha, double xmin, double xmax, double n) {
  const double h = 1e-4 * std::max(1.0, alpha);
  const double l0 = log_norm(discrete, alpha, xmin, xmax);
  const double lp = log_norm(discrete, alpha + h, xmin, xmax);
  const double lm = log_norm(discrete, std::max(alpha - h, 1.0 + 1e-9), xmin, xmax);
  const double hm = alpha - std::max(alpha - h, 1.0 + 1e-9);
  // Non-uniform central second difference (hm may be shorter than h near alpha = 1).
  const double second = 2 * (hm * lp - (h + hm) * l0 + h * lm) / (h * hm * (h + hm));
  return second > 0 ? 1 / std::sqrt(n * second) : std::nan("");
}

// The fit on already-validated data (all values > 0, integers when discrete).
PowerLawFit fit_validated(const std::vector<double>& data, const PowerLawOptions& o) {
  PowerLawFit fit;
  fit.discrete = o.discrete;
  fit.n = static_cast<std::int64_t>(data.size());
  fit.xmax = o.xmax.value_or(0.0);
  Compressed c = compress(data);
  const std::size_t u = c.value.size();
  // Tail end: unique values above xmax are excluded.
  std::size_t end = u;
  if (o.xmax)
    end =
        static_cast<std::size_t>(std::upper_bound(c.value.begin(), c.value.end(), *o.xmax) - c.value.begin());

  std::vector<std::size_t> candidates;
  if (o.xmin) {
    const auto it = std::lower_bound(c.value.begin(), c.value.begin() + end, *o.xmin);
    if (it != c.value.begin() + end) candidates.push_back(static_cast<std::size_t>(it - c.value.begin()));
  } else {
    for (std::size_t i = 0; i + 1 < end; ++i)  // xmin = the largest value leaves no distribution to fit
      if (c.n_ge[i] - c.n_ge[end] >= static_cast<double>(o.min_tail)) candidates.push_back(i);
  }
  fit.xmin_candidates = static_cast<std::int64_t>(candidates.size());
  if (candidates.empty()) {
    fit.status = make_status(
        StatusCode::kInsufficientData,
        fmt::format("fewer than {} values in any candidate tail (n = {}); a power-law fit needs more data",
                    o.min_tail, data.size()));
    return fit;
  }
  std::size_t best = candidates.front();
  TailFit best_fit;
  auto evaluate = [&](std::size_t pos) {
    const std::size_t i = candidates[pos];
    const double xmin_i = o.xmin ? *o.xmin : c.value[i];  // a fixed xmin need not be a data value
    ++fit.xmin_candidates_scanned;
    TailFit t;
    t.alpha = fit_alpha(c, i, end, xmin_i, o.discrete, o.discrete_approximation, fit.xmax);
    if (!std::isfinite(t.alpha)) return kInf;
    t.ks = ks_distance(c, i, end, xmin_i, o.discrete, t.alpha, fit.xmax, best_fit.ks);
    if (t.ks < best_fit.ks) best_fit = t, best = i;
    return t.ks;
  };
  if (candidates.size() <= kScanAllCandidates) {
    for (std::size_t pos = 0; pos < candidates.size(); ++pos) evaluate(pos);
  } else {
    // Many distinct values: a coarse pass over kCoarseCandidates evenly spaced in rank (quantile-spaced
    // distinct values), then zooming in: around each of the kXminRefineWindows best points of a pass (least
    // KS, or least lower bound where the KS pass cut a loser short), one step either side, at a 16 times
    // finer step, down to every candidate.
    std::size_t step = (candidates.size() + kCoarseCandidates - 1) / kCoarseCandidates;
    std::vector<char> done(candidates.size(), 0);
    std::vector<std::pair<double, std::size_t>> level;  // (KS distance or its lower bound, position)
    for (std::size_t pos = 0; pos < candidates.size(); pos += step) {
      level.emplace_back(evaluate(pos), pos);
      done[pos] = 1;
    }
    while (step > 1) {
      const std::size_t windows = std::min(kXminRefineWindows, level.size());
      std::partial_sort(level.begin(), level.begin() + static_cast<std::ptrdiff_t>(windows), level.end());
      const std::size_t fine = std::max<std::size_t>(1, step / 16);
      std::vector<std::size_t> next;
      for (std::size_t w = 0; w < windows; ++w) {
        const std::size_t centre = level[w].second;
        const std::size_t from = centre > step ? centre - step : 0;
        const std::size_t to = std::min(candidates.size() - 1, centre + step);
        for (std::size_t pos = from; pos <= to; pos += fine)
          if (!done[pos]) next.push_back(pos), done[pos] = 1;
      }
      std::sort(next.begin(), next.end());
      level.clear();
      for (std::size_t pos : next) level.emplace_back(evaluate(pos), pos);
      step = fine;
    }
  }
  if (!std::isfinite(best_fit.ks)) {
    fit.status = make_status(StatusCode::kNoConvergence, "no candidate xmin gave a finite fit");
    return fit;
  }
  fit.xmin = o.xmin ? *o.xmin : c.value[best];
  fit.alpha = best_fit.alpha;
  fit.ks = best_fit.ks;
  fit.n_tail = static_cast<std::int64_t>(c.n_ge[best] - c.n_ge[end]);
  fit.alpha_se =
      alpha_standard_error(o.discrete, fit.alpha, fit.xmin, fit.xmax, static_cast<double>(fit.n_tail));
  if (fit.alpha >= kAlphaSearchMax - 1e-3) {
    fit.status = make_status(
        StatusCode::kNoConvergence,
        fmt::format("the likelihood is still rising at the search bound alpha = {:g}: the tail is not a "
                    "power law (it falls off faster than any)",
                    kAlphaSearchMax));
  } else if (fit.xmax <= 0 && fit.alpha <= 1 + 1e-6) {
    fit.status = make_status(
        StatusCode::kNotFound,
        "the fitted exponent is at its bound alpha = 1: the tail is not normalisable without --xmax");
  }
  return fit;
}

std::vector<double> below_xmin(const std::vector<double>& data, double xmin) {
  std::vector<double> out;
  for (double v : data)
    if (v < xmin) out.push_back(v);
  return out;
}
}  // namespace

int bootstrap_threads(int requested, int simulations) {
  const int cores = hardware_cores();
  return std::max(1, std::min({requested > 0 ? requested : cores, cores, std::max(simulations, 1)}));
}

bool PowerLawOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (min_tail < 2) return fail("min_tail must be at least 2");
  if (bootstrap < 0 || bootstrap > kMaxBootstrap)
    return fail(fmt::format("bootstrap must be in [0, {}], got {}", kMaxBootstrap, bootstrap));
  if (xmin && !(*xmin > 0 && std::isfinite(*xmin)))
    return fail(fmt::format("xmin must be positive and finite, got {}", *xmin));
  if (xmax && !(*xmax > 0))
    return fail(fmt::format("xmax must be positive (inf: no truncation), got {}", *xmax));
  if (xmin && xmax && !(*xmax > *xmin)) return fail("xmax must exceed xmin");
  if (threads < 0) return fail("threads must be >= 0");
  return true;
}

PowerLawFit power_law_model(double alpha, double xmin, bool discrete, double xmax) {
  PowerLawFit f;
  f.alpha = alpha;
  f.xmin = xmin;
  f.discrete = discrete;
  f.xmax = xmax;
  return f;
}

double power_law_log_pdf(const PowerLawFit& fit, double x) {
  return -fit.alpha * std::log(x) - log_norm(fit.discrete, fit.alpha, fit.xmin, fit.xmax);
}

double power_law_ccdf(const PowerLawFit& fit, double x) {
  if (x <= fit.xmin) return 1.0;
  if (fit.xmax > 0 && x > fit.xmax) return 0.0;
  return std::exp(log_norm(fit.discrete, fit.alpha, x, fit.xmax) -
                  log_norm(fit.discrete, fit.alpha, fit.xmin, fit.xmax));
}

void plot_power_law_ccdf(const std::filesystem::path& dir, const std::string& stem, const std::string& label,
                         std::vector<double> x, const PowerLawFit& f) {
  std::sort(x.begin(), x.end());
  io::Table t{{label, "ccdf", "fit"}, {}};
  const double n = static_cast<double>(x.size()), frac = static_cast<double>(f.n_tail) / n;
  const std::size_t stride = std::max<std::size_t>(1, x.size() / 2000);
  for (std::size_t i = 0; i < x.size(); i += stride) {
    if (i > 0 && x[i] == x[i - 1]) continue;
    const bool in_tail = f.ok() && x[i] >= f.xmin && (f.xmax <= 0 || x[i] <= f.xmax);
    t.add_row(
        {x[i], (n - static_cast<double>(i)) / n, in_tail ? frac * power_law_ccdf(f, x[i]) : std::nan("")});
  }
  io::plot_lines(
      dir, stem, t, label,
      {{"ccdf", "data"}, {"fit", f.ok() ? fmt::format("power law, exponent {:.3f}", f.alpha) : "no fit"}},
      {.title = f.ok() ? fmt::format("CCDF of {} with the fitted tail (xmin = {:g}, {} points in the tail)",
                                     label, f.xmin, f.n_tail)
                       : fmt::format("CCDF of {} (no power-law fit: {})", label, f.status.message),
       .xlabel = label,
       .ylabel = "P(X >= x)",
       .logx = true,
       .logy = true,
       .points = false});
}

std::vector<double> sample_power_law(const PowerLawFit& fit, std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::vector<double> out;
  out.reserve(n);
  const double a1 = fit.alpha - 1;
  if (!fit.discrete) {
    // Inverse CDF of the (truncated) continuous power law.
    const double lo = std::pow(fit.xmin, -a1), hi = fit.xmax > 0 ? std::pow(fit.xmax, -a1) : 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double r = unif(rng);
      out.push_back(std::abs(a1) < 1e-12 ? fit.xmin * std::pow(fit.xmax / fit.xmin, r)
                                         : std::pow(lo - r * (lo - hi), -1 / a1));
    }
    return out;
  }
  // Discrete: exact inversion of the CCDF P(X >= x): the draw for a uniform r in (0, 1] is the x with
  // P(X >= x + 1) < r <= P(X >= x). A table covers the first values, where most draws land; beyond it x is
  // bracketed by doubling from CSN's approximation (xmin - 1/2)(1 - r)^{-1/(alpha-1)} + 1/2 and found by
  // bisection on the exact CCDF (Hurwitz zeta differences; CSN appendix D): O(log x) CCDF evaluations per
  // draw, whatever the size of x. A draw beyond the largest double (possible for alpha near 1) is clamped
  // to it.
  const double z = std::exp(log_norm_discrete(fit.alpha, fit.xmin, fit.xmax));
  const double upper = fit.xmax > 0 ? std::floor(fit.xmax) : kInf;
  auto ccdf = [&](double x) {  // P(X >= x)
    if (x > upper) return 0.0;
    if (x <= fit.xmin) return 1.0;
    if (fit.xmax <= 0) return hurwitz_zeta(fit.alpha, x) / z;
    return (fit.alpha > 1 ? hurwitz_zeta(fit.alpha, x) - hurwitz_zeta(fit.alpha, upper + 1)
                          : power_sum(fit.alpha, x, upper)) /
           z;
  };
  constexpr int kTable = 4096;
  constexpr double kMax = std::numeric_limits<double>::max();
  std::vector<double> table;  // table[j] = P(X >= xmin + j + 1)
  double s = 1.0;
  for (int j = 0; j < kTable && fit.xmin + j <= upper; ++j) {
    s -= std::pow(fit.xmin + j, -fit.alpha) / z;
    table.push_back(std::max(s, 0.0));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double r = 1.0 - unif(rng);  // in (0, 1]: return x with P(X >= x + 1) < r <= P(X >= x)
    if (!table.empty() && r > table.back()) {
      // First j with table[j] < r: x = xmin + j.
      const auto it = std::upper_bound(table.begin(), table.end(), r, std::greater<double>());
      out.push_back(fit.xmin + static_cast<double>(it - table.begin()));
      continue;
    }
    // Invariant: P(X >= lo) >= r > P(X >= hi).
    double lo = fit.xmin + static_cast<double>(table.size());
    const double guess = a1 > 0 ? std::floor((fit.xmin - 0.5) * std::pow(r, -1 / a1) + 0.5) : lo + 1;
    double hi = std::min(std::max(guess, lo + 1), upper + 1);
    if (!(hi <= kMax)) hi = kMax;
    if (hi > lo + 1 && ccdf(hi - 1) >= r) lo = hi - 1;  // the guess is usually within one of the draw
    bool clamped = false;
    for (double step = std::max(1.0, hi - lo); ccdf(hi) >= r;) {
      if (hi >= kMax) {
        clamped = true;
        break;
      }
      lo = hi;
      step *= 2;
      hi = std::min(lo + step, kMax);
    }
    if (clamped) {
      out.push_back(kMax);
      continue;
    }
    while (hi - lo > 1) {
      const double mid = std::floor(lo + 0.5 * (hi - lo));
      if (mid <= lo || mid >= hi) break;  // beyond 2^53 no integer lies between them
      (ccdf(mid) >= r ? lo : hi) = mid;
    }
    out.push_back(lo);
  }
  return out;
}

PowerLawFit fit_power_law(const std::vector<double>& data, const PowerLawOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  if (o.xmax && std::isinf(*o.xmax)) {  // xmax = inf is no truncation, exactly as if none were given
    PowerLawOptions untruncated = o;
    untruncated.xmax.reset();
    return fit_power_law(data, untruncated);
  }
  PowerLawFit fit;
  fit.discrete = o.discrete;
  fit.n = static_cast<std::int64_t>(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) {
    const double v = data[i];
    if (!(v > 0) || !std::isfinite(v)) {
      fit.status = make_status(
          StatusCode::kInvalidInput,
          fmt::format("value {} (item {}) is not positive and finite; a power law needs x > 0", v, i + 1));
      return fit;
    }
    if (o.discrete && v != std::floor(v)) {
      fit.status = make_status(
          StatusCode::kInvalidInput,
          fmt::format("value {} (item {}) is not an integer; drop --discrete for continuous data", v, i + 1));
      return fit;
    }
  }
  if (o.bootstrap > 0 &&
      static_cast<double>(o.bootstrap) * static_cast<double>(data.size()) > kMaxBootstrapDraws)
    throw Error(fmt::format(
        "bootstrap {} would draw {:.3g} values ({} sets of {}, each refitted), far beyond what finishes; the "
        "limit is {:.0e} values in all",
        o.bootstrap, static_cast<double>(o.bootstrap) * static_cast<double>(data.size()), o.bootstrap,
        data.size(), kMaxBootstrapDraws));
  fit = fit_validated(data, o);
  if (!fit.ok()) fit.p_value_status = make_status(StatusCode::kNotRun, "no power-law fit to test");
  if (!fit.ok() || o.bootstrap == 0) return fit;

  // CSN section 4.1: semi-parametric bootstrap of the KS distance.
  const auto low = below_xmin(data, fit.xmin);
  const double p_tail = static_cast<double>(fit.n_tail) / static_cast<double>(fit.n);
  PowerLawOptions refit = o;
  refit.bootstrap = 0;
  std::vector<double> ks(static_cast<std::size_t>(o.bootstrap), kInf);
  // Threads: o.threads (0 = all cores), never more than the cores or the simulations (parallel_for: where
  // the system refuses a thread, the bootstrap runs on those already started; the p-value does not depend on
  // the count).
  parallel_for(o.bootstrap, bootstrap_threads(o.threads, o.bootstrap), [&](int s) {
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(s));
    std::binomial_distribution<std::int64_t> tail_count(fit.n, p_tail);
    const std::int64_t nt = low.empty() ? fit.n : tail_count(rng);
    std::vector<double> synth = sample_power_law(fit, static_cast<std::size_t>(nt), rng);
    std::uniform_int_distribution<std::size_t> pick(0, low.empty() ? 0 : low.size() - 1);
    for (std::int64_t k = nt; k < fit.n; ++k) synth.push_back(low[pick(rng)]);
    const auto f = fit_validated(synth, refit);
    ks[static_cast<std::size_t>(s)] = f.ok() ? f.ks : kInf;
  });
  int at_least = 0;
  for (double d : ks) at_least += d >= fit.ks;
  fit.bootstrap = o.bootstrap;
  fit.p_value = static_cast<double>(at_least) / o.bootstrap;
  fit.p_value_status = Status::Ok();
  return fit;
}

nlohmann::json to_json(const PowerLawFit& f) {
  const auto fitted = [&](double v) { return f.ok() ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j{
      {"xmin", fitted(f.xmin)},
      {"xmax", f.xmax > 0 ? nlohmann::json(f.xmax) : nlohmann::json(nullptr)},  // null: untruncated
      {"alpha", fitted(f.alpha)},
      {"alpha_se", fitted(f.alpha_se)},
      {"n", f.n},
      {"n_tail", fitted(static_cast<double>(f.n_tail))},
      {"ks", fitted(f.ks)},
      {"discrete", f.discrete},
      {"p_value", or_null(f.p_value)},
      {"p_value_status", critlab::to_string(f.p_value_status.code)},
      {"p_value_message", f.p_value_status.message},
      {"bootstrap", f.bootstrap},
      {"xmin_candidates", f.xmin_candidates_scanned},
      {"xmin_candidates_total", f.xmin_candidates}};
  put_status(j, f.status);
  return j;
}

}  // namespace critlab::stats
