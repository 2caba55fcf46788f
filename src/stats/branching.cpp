#include "critlab/stats/branching.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

Avalanche simulate_galton_watson(double m, std::mt19937_64& rng, std::int64_t max_size, bool keep_shape) {
  Avalanche a;
  std::int64_t z = 1;
  while (z > 0) {
    a.size += z;
    ++a.duration;
    if (keep_shape) a.shape.push_back(static_cast<double>(z));
    if (a.size > max_size) {
      a.truncated = true;
      break;
    }
    // The offspring of z individuals, each Poisson(m), is Poisson(m z).
    std::poisson_distribution<std::int64_t> offspring(m * static_cast<double>(z));
    z = offspring(rng);
  }
  return a;
}

std::vector<double> simulate_driven_branching(double m, double h, std::int64_t steps, double observed,
                                              std::mt19937_64& rng) {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(steps));
  std::int64_t a = static_cast<std::int64_t>(std::llround(h / (1 - m)));
  for (std::int64_t t = 0; t < steps; ++t) {
    std::binomial_distribution<std::int64_t> thin(a, observed);
    out.push_back(static_cast<double>(observed >= 1 ? a : thin(rng)));
    std::poisson_distribution<std::int64_t> next(m * static_cast<double>(a) + h);
    a = next(rng);
  }
  return out;
}

bool BranchingOptions::IsValid(std::string* error) const {
  if (kmax < 1 || bootstrap < 0 || !(confidence > 0 && confidence < 1)) {
    if (error) *error = "branching options need kmax >= 1, bootstrap >= 0 and 0 < confidence < 1";
    return false;
  }
  return true;
}

namespace {
// Regression slopes r_k from pooled (co)variances of (A_t, A_{t+k}).
std::vector<double> regression_slopes(const std::vector<const std::vector<double>*>& trials, int kmax,
                                      bool stationary_mean) {
  double grand = 0, count = 0;
  for (auto* t : trials)
    for (double v : *t) grand += v, ++count;
  grand /= std::max(1.0, count);
  std::vector<double> rk;
  for (int k = 1; k <= kmax; ++k) {
    double sxy = 0, sxx = 0;
    for (auto* tr : trials) {
      const auto& a = *tr;
      if (static_cast<int>(a.size()) <= k) continue;
      const std::size_t n = a.size() - static_cast<std::size_t>(k);
      double mx = grand, my = grand;
      if (!stationary_mean) {
        mx = my = 0;
        for (std::size_t t = 0; t < n; ++t) mx += a[t], my += a[t + k];
        mx /= n, my /= n;
      }
      for (std::size_t t = 0; t < n; ++t)
        sxy += (a[t] - mx) * (a[t + k] - my), sxx += (a[t] - mx) * (a[t] - mx);
    }
    rk.push_back(sxx > 0 ? sxy / sxx : std::nan(""));
  }
  return rk;
}

// Least squares r_k = b m^k (+ c): for fixed m the amplitudes are linear, so only m is searched.
void fit_exponential(const std::vector<double>& rk, bool offset, double* m_out, double* b_out,
                     double* c_out) {
  auto residual = [&](double m, double* b, double* c) {
    // Solve the 1x1 or 2x2 normal equations for (b[, c]).
    double sff = 0, sf = 0, s1 = 0, sfr = 0, sr = 0;
    for (std::size_t i = 0; i < rk.size(); ++i) {
      if (!std::isfinite(rk[i])) continue;
      const double f = std::pow(m, static_cast<double>(i + 1));
      sff += f * f, sf += f, s1 += 1, sfr += f * rk[i], sr += rk[i];
    }
    double bb = 0, cc = 0;
    if (offset) {
      const double det = sff * s1 - sf * sf;
      if (std::abs(det) < 1e-300) return 1e300;
      bb = (sfr * s1 - sf * sr) / det;
      cc = (sff * sr - sf * sfr) / det;
    } else {
      bb = sff > 0 ? sfr / sff : 0;
    }
    double rss = 0;
    for (std::size_t i = 0; i < rk.size(); ++i)
      if (std::isfinite(rk[i])) rss += std::pow(rk[i] - bb * std::pow(m, static_cast<double>(i + 1)) - cc, 2);
    if (b) *b = bb;
    if (c) *c = cc;
    return rss;
  };
  // A coarse grid locates the basin; Brent refines it.
  double best = 0.5, best_rss = 1e300;
  for (int g = 1; g < 2000; ++g) {
    const double m = g / 1600.0;  // up to 1.25
    const double r = residual(m, nullptr, nullptr);
    if (r < best_rss) best_rss = r, best = m;
  }
  const double m = minimize_brent([&](double x) { return residual(x, nullptr, nullptr); },
                                  std::max(1e-6, best - 1.0 / 1600), best + 1.0 / 1600, 1e-12);
  residual(m, b_out, c_out);
  *m_out = m;
}
}  // namespace

BranchingResult estimate_branching_ratio(const std::vector<std::vector<double>>& trials,
                                         const BranchingOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  BranchingResult r;
  std::vector<const std::vector<double>*> all;
  std::size_t longest = 0;
  for (const auto& t : trials) all.push_back(&t), longest = std::max(longest, t.size());
  if (longest <= static_cast<std::size_t>(o.kmax) + 2) {
    r.status = make_status(StatusCode::kInsufficientData, "the series are too short for the requested kmax");
    return r;
  }
  double anc = 0, desc = 0;
  for (const auto& t : trials)
    for (std::size_t i = 0; i + 1 < t.size(); ++i)
      if (t[i] > 0) anc += t[i], desc += t[i + 1];
  r.m_naive = anc > 0 ? desc / anc : std::nan("");
  r.rk = regression_slopes(all, o.kmax, o.stationary_mean);
  r.r1 = r.rk.front();
  fit_exponential(r.rk, o.offset, &r.m, &r.b, &r.c);
  r.m_low = r.m_high = r.m;
  if (o.bootstrap > 0 && trials.size() > 1) {
    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<std::size_t> pick(0, trials.size() - 1);
    std::vector<double> ms;
    for (int s = 0; s < o.bootstrap; ++s) {
      std::vector<const std::vector<double>*> sample;
      for (std::size_t i = 0; i < trials.size(); ++i) sample.push_back(&trials[pick(rng)]);
      double m, b, c;
      fit_exponential(regression_slopes(sample, o.kmax, o.stationary_mean), o.offset, &m, &b, &c);
      ms.push_back(m);
    }
    std::sort(ms.begin(), ms.end());
    const double lo = (1 - o.confidence) / 2;
    r.m_low = ms[static_cast<std::size_t>(lo * (ms.size() - 1))];
    r.m_high = ms[static_cast<std::size_t>((1 - lo) * (ms.size() - 1))];
  }
  r.tau = r.m > 0 && r.m < 1 ? -1 / std::log(r.m) : std::nan("");
  if (!std::isfinite(r.m))
    r.status = make_status(StatusCode::kNoConvergence, "the exponential fit of r_k did not converge");
  return r;
}

nlohmann::json to_json(const BranchingResult& r) {
  const auto result = [&](double v) { return r.ok() ? finite_or_null(v) : nlohmann::json(nullptr); };
  nlohmann::json j{{"m", result(r.m)},   {"m_low", result(r.m_low)}, {"m_high", result(r.m_high)},
                   {"b", result(r.b)},   {"c", result(r.c)},         {"m_naive", finite_or_null(r.m_naive)},
                   {"r1", result(r.r1)}, {"tau", result(r.tau)},     {"rk", r.rk}};
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::stats
