#include "critlab/stats/correlation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "critlab/core/error.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void drop_nan(const std::vector<double>& x, const std::vector<double>& y, std::vector<double>& xo,
              std::vector<double>& yo, const std::vector<int>* g = nullptr, std::vector<int>* go = nullptr) {
  CRITLAB_ASSERT(x.size() == y.size(), "correlation: x and y differ in length");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isnan(x[i]) && !std::isnan(y[i])) {
      xo.push_back(x[i]), yo.push_back(y[i]);
      if (g) go->push_back((*g)[i]);
    }
}

double quantile_sorted(const std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  CRITLAB_ASSERT(x.size() == y.size(), "pearson: x and y differ in length");
  const double n = static_cast<double>(x.size());
  if (x.size() < 2) return kNaN;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
}

double normal_quantile(double p) {
  CRITLAB_ASSERT(p > 0 && p < 1, "normal_quantile: p must be in (0, 1)");
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-13; ++i) {
    const double mid = 0.5 * (lo + hi);
    (normal_cdf(mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

RankCorrelation spearman(const std::vector<double>& x_in, const std::vector<double>& y_in, double confidence) {
  std::vector<double> x, y;
  drop_nan(x_in, y_in, x, y);
  RankCorrelation r;
  r.n = static_cast<std::int64_t>(x.size());
  r.interval = "fisher";
  if (r.n < 4) {
    r.rho = r.low = r.high = r.p_value = kNaN;
    return r;
  }
  r.rho = pearson(ranks(x), ranks(y));
  if (std::isnan(r.rho)) {
    r.low = r.high = r.p_value = kNaN;
    return r;
  }
  const double n3 = static_cast<double>(r.n - 3);
  const double z = std::atanh(std::clamp(r.rho, -1 + 1e-15, 1 - 1e-15));
  const double se = std::sqrt((1 + r.rho * r.rho / 2) / n3);
  const double q = normal_quantile(0.5 + confidence / 2);
  r.low = std::tanh(z - q * se);
  r.high = std::tanh(z + q * se);
  r.p_value = 2 * normal_cdf(-std::abs(z) * std::sqrt(n3 / 1.06));
  return r;
}

RankCorrelation spearman_cluster_bootstrap(const std::vector<double>& x_in, const std::vector<double>& y_in,
                                           const std::vector<int>& groups_in, double confidence, int resamples,
                                           std::uint64_t seed) {
  CRITLAB_ASSERT(groups_in.size() == x_in.size(), "cluster bootstrap: one group label per pair");
  std::vector<double> x, y;
  std::vector<int> g;
  drop_nan(x_in, y_in, x, y, &groups_in, &g);
  RankCorrelation r = spearman(x, y, confidence);
  r.interval = "cluster-bootstrap";
  r.p_value = kNaN;
  std::map<int, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < g.size(); ++i) members[g[i]].push_back(i);
  std::vector<std::vector<std::size_t>> clusters;
  for (auto& [k, v] : members) clusters.push_back(std::move(v));
  if (std::isnan(r.rho) || clusters.size() < 2 || resamples < 1) {
    r.low = r.high = kNaN;
    return r;
  }
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, clusters.size() - 1);
  std::vector<double> rhos;
  std::vector<double> bx, by;
  for (int b = 0; b < resamples; ++b) {
    bx.clear(), by.clear();
    for (std::size_t c = 0; c < clusters.size(); ++c)
      for (auto i : clusters[pick(rng)]) bx.push_back(x[i]), by.push_back(y[i]);
    const double rho = bx.size() >= 4 ? pearson(ranks(bx), ranks(by)) : kNaN;
    if (!std::isnan(rho)) rhos.push_back(rho);
  }
  if (rhos.empty()) {
    r.low = r.high = kNaN;
    return r;
  }
  std::sort(rhos.begin(), rhos.end());
  r.low = quantile_sorted(rhos, 0.5 - confidence / 2);
  r.high = quantile_sorted(rhos, 0.5 + confidence / 2);
  return r;
}

}  // namespace critlab::stats
