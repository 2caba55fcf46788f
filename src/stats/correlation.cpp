#include "critlab/stats/correlation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "critlab/core/error.h"
#include "critlab/stats/describe.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Keeps the indices where every column is a number.
std::vector<std::size_t> complete_cases(const std::vector<const std::vector<double>*>& cols) {
  for (const auto* c : cols)
    CRITLAB_ASSERT(c->size() == cols.front()->size(), "correlation: columns differ in length");
  std::vector<std::size_t> keep;
  for (std::size_t i = 0; i < cols.front()->size(); ++i) {
    bool ok = true;
    for (const auto* c : cols) ok = ok && !std::isnan((*c)[i]);
    if (ok) keep.push_back(i);
  }
  return keep;
}

std::vector<double> take(const std::vector<double>& v, const std::vector<std::size_t>& idx) {
  std::vector<double> out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(v[i]);
  return out;
}

// Residuals of a least-squares fit of y on x (with intercept).
std::vector<double> residuals(const std::vector<double>& y, const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n,
               my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  const double b = sxx > 0 ? sxy / sxx : 0.0;
  std::vector<double> r(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) r[i] = y[i] - my - b * (x[i] - mx);
  return r;
}

double partial_rank(const std::vector<double>& x, const std::vector<double>& y,
                    const std::vector<double>& z) {
  const auto rz = ranks(z);
  return pearson(residuals(ranks(x), rz), residuals(ranks(y), rz));
}

// Fisher interval and p-value for a (partial) rank correlation with `controls` variables held fixed.
void fisher_interval(RankCorrelation& r, int controls, double confidence) {
  const double dof = static_cast<double>(r.n - 3 - controls);
  r.low = r.high = r.p_value = std::nullopt;
  if (!r.rho || dof < 1) return;
  const double rho = *r.rho;
  const double z = std::atanh(std::clamp(rho, -1 + 1e-15, 1 - 1e-15));
  const double se = std::sqrt((1 + rho * rho / 2) / dof);
  const double q = normal_quantile(0.5 + confidence / 2);
  r.low = std::tanh(z - q * se);
  r.high = std::tanh(z + q * se);
  r.p_value = 2 * normal_cdf(-std::abs(z) * std::sqrt(dof / 1.06));
}

// Percentile interval of `statistic` over resamples of whole groups.
void cluster_bootstrap(RankCorrelation& r, const std::vector<int>& groups, double confidence, int resamples,
                       std::uint64_t seed,
                       const std::function<double(const std::vector<std::size_t>&)>& statistic) {
  r.interval = "cluster-bootstrap";
  r.p_value = std::nullopt;
  std::map<int, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < groups.size(); ++i) members[groups[i]].push_back(i);
  std::vector<std::vector<std::size_t>> clusters;
  for (auto& [k, v] : members) clusters.push_back(std::move(v));
  r.low = r.high = std::nullopt;
  if (!r.rho || clusters.size() < 2 || resamples < 1) return;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, clusters.size() - 1);
  std::vector<double> stats;
  std::vector<std::size_t> idx;
  for (int b = 0; b < resamples; ++b) {
    idx.clear();
    for (std::size_t c = 0; c < clusters.size(); ++c)
      for (auto i : clusters[pick(rng)]) idx.push_back(i);
    const double v = idx.size() >= 4 ? statistic(idx) : kNaN;
    if (!std::isnan(v)) stats.push_back(v);
  }
  if (stats.empty()) return;
  const auto ci = percentile_interval(std::move(stats), confidence);
  r.low = ci[0];
  r.high = ci[1];
}

// rho from a value that may be NaN (too few pairs, or constant ranks), then the status of the whole result.
void set_rho(RankCorrelation& r, double rho) {
  if (std::isfinite(rho)) r.rho = rho;
}
void set_status(RankCorrelation& r, std::int64_t min_pairs) {
  if (!r.rho && r.n < min_pairs)
    r.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("{} complete pairs; a rank correlation needs at least {}", r.n, min_pairs));
  else if (!r.rho)
    r.status = make_status(StatusCode::kNotFound, "a variable's ranks are constant: no rank correlation");
  else if (!r.low || !r.high)
    r.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("too few {} for the {} interval",
                                       r.interval == "fisher" ? "pairs" : "clusters", r.interval));
  else
    r.status = Status::Ok();
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
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n,
               my = std::accumulate(y.begin(), y.end(), 0.0) / n;
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

RankCorrelation spearman(const std::vector<double>& x_in, const std::vector<double>& y_in,
                         double confidence) {
  const auto keep = complete_cases({&x_in, &y_in});
  RankCorrelation r;
  r.n = static_cast<std::int64_t>(keep.size());
  r.interval = "fisher";
  set_rho(r, r.n >= 4 ? pearson(ranks(take(x_in, keep)), ranks(take(y_in, keep))) : kNaN);
  fisher_interval(r, 0, confidence);
  set_status(r, 4);
  return r;
}

RankCorrelation spearman_cluster_bootstrap(const std::vector<double>& x_in, const std::vector<double>& y_in,
                                           const std::vector<int>& groups, double confidence, int resamples,
                                           std::uint64_t seed) {
  CRITLAB_ASSERT(groups.size() == x_in.size(), "cluster bootstrap: one group label per pair");
  const auto keep = complete_cases({&x_in, &y_in});
  const auto x = take(x_in, keep), y = take(y_in, keep);
  std::vector<int> g;
  for (auto i : keep) g.push_back(groups[i]);
  RankCorrelation r = spearman(x, y, confidence);
  cluster_bootstrap(r, g, confidence, resamples, seed, [&](const std::vector<std::size_t>& idx) {
    return pearson(ranks(take(x, idx)), ranks(take(y, idx)));
  });
  set_status(r, 4);
  return r;
}

RankCorrelation partial_spearman(const std::vector<double>& x_in, const std::vector<double>& y_in,
                                 const std::vector<double>& z_in, double confidence) {
  const auto keep = complete_cases({&x_in, &y_in, &z_in});
  RankCorrelation r;
  r.n = static_cast<std::int64_t>(keep.size());
  r.interval = "fisher";
  set_rho(r, r.n >= 5 ? partial_rank(take(x_in, keep), take(y_in, keep), take(z_in, keep)) : kNaN);
  fisher_interval(r, 1, confidence);
  set_status(r, 5);
  return r;
}

RankCorrelation partial_spearman_cluster_bootstrap(const std::vector<double>& x_in,
                                                   const std::vector<double>& y_in,
                                                   const std::vector<double>& z_in,
                                                   const std::vector<int>& groups, double confidence,
                                                   int resamples, std::uint64_t seed) {
  CRITLAB_ASSERT(groups.size() == x_in.size(), "cluster bootstrap: one group label per triple");
  const auto keep = complete_cases({&x_in, &y_in, &z_in});
  const auto x = take(x_in, keep), y = take(y_in, keep), z = take(z_in, keep);
  std::vector<int> g;
  for (auto i : keep) g.push_back(groups[i]);
  RankCorrelation r = partial_spearman(x, y, z, confidence);
  cluster_bootstrap(r, g, confidence, resamples, seed, [&](const std::vector<std::size_t>& idx) {
    return partial_rank(take(x, idx), take(y, idx), take(z, idx));
  });
  set_status(r, 5);
  return r;
}

}  // namespace critlab::stats
