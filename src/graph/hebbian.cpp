#include "critlab/graph/hebbian.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

#include "critlab/core/error.h"
#include "critlab/stats/correlation.h"
#include "critlab/stats/describe.h"

namespace critlab::graph {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// An independent seed for each use of the random numbers (subsample, null, bootstrap), so that asking for
// more shuffles leaves the subsample and the bootstrap as they were (splitmix64 of seed and stream).
std::uint64_t substream(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Mean (one value or more) and sample standard deviation (two or more) of the finite values.
struct MeanSd {
  std::optional<double> mean, sd;
};
MeanSd mean_sd(const std::vector<double>& values) {
  std::vector<double> v;
  for (double x : values)
    if (std::isfinite(x)) v.push_back(x);
  MeanSd m;
  if (v.empty()) return m;
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  m.mean = mean;
  if (v.size() < 2) return m;
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  m.sd = std::sqrt(ss / (n - 1));
  return m;
}

bool all_finite(const float* p, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// k distinct integers of [0, n), ascending, every k-subset equally likely (Floyd's algorithm on a bitmap:
// k draws and n bits, so a large layer costs no index array).
std::vector<std::int64_t> sample_without_replacement(std::int64_t n, std::int64_t k, std::mt19937_64& rng) {
  std::vector<std::int64_t> out;
  if (k >= n) {
    out.resize(static_cast<std::size_t>(n));
    std::iota(out.begin(), out.end(), std::int64_t{0});
    return out;
  }
  std::vector<std::uint64_t> bits(static_cast<std::size_t>((n + 63) / 64), 0);
  const auto has = [&](std::int64_t i) { return (bits[static_cast<std::size_t>(i >> 6)] >> (i & 63)) & 1U; };
  const auto set = [&](std::int64_t i) {
    bits[static_cast<std::size_t>(i >> 6)] |= std::uint64_t{1} << (i & 63);
  };
  for (std::int64_t j = n - k; j < n; ++j) {
    const auto t = std::uniform_int_distribution<std::int64_t>(0, j)(rng);
    set(has(t) ? j : t);
  }
  out.reserve(static_cast<std::size_t>(k));
  for (std::size_t w = 0; w < bits.size(); ++w)
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1)
      out.push_back(static_cast<std::int64_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(word))));
  return out;
}

// A float's bits as an unsigned key in the float's order (-0 and +0 the same key, so they tie).
std::uint32_t order_key(float f) {
  if (f == 0) f = 0.0F;
  const auto u = std::bit_cast<std::uint32_t>(f);
  return (u & 0x80000000U) != 0 ? ~u : (u | 0x80000000U);
}

// Pearson's correlation of the average ranks of `keys` (1..k, ties averaged: what stats::ranks gives for the
// floats they encode) with `yc`, centred values whose sum of squares is syy. A three-pass LSD radix sort that
// carries yc along, so the sums are taken in key order without scattering ranks back: O(k), the null's inner
// loop.
class RankCorrelator {
 public:
  double correlate(const std::vector<std::uint32_t>& keys, const std::vector<double>& yc, double syy) {
    const std::size_t k = keys.size();
    key_a_ = keys;
    y_a_ = yc;
    key_b_.resize(k);
    y_b_.resize(k);
    constexpr std::array<int, 3> kShift = {0, 11, 22};
    constexpr std::uint32_t kMask = (1U << 11) - 1;
    std::array<std::array<std::uint32_t, 2048>, 3> count{};
    for (const auto key : keys)
      for (std::size_t p = 0; p < 3; ++p) ++count[p][(key >> kShift[p]) & kMask];
    for (std::size_t p = 0; p < 3; ++p) {
      auto& c = count[p];
      if (c[(key_a_[0] >> kShift[p]) & kMask] == k) continue;  // all in one bucket: nothing to sort
      std::uint32_t sum = 0;
      for (auto& x : c) sum += std::exchange(x, sum);
      for (std::size_t i = 0; i < k; ++i) {
        const auto dst = c[(key_a_[i] >> kShift[p]) & kMask]++;
        key_b_[dst] = key_a_[i];
        y_b_[dst] = y_a_[i];
      }
      key_a_.swap(key_b_);
      y_a_.swap(y_b_);
    }
    const double mean_rank = 0.5 * static_cast<double>(k + 1);
    double sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < k;) {
      std::size_t j = i;
      double y = y_a_[i];
      while (j + 1 < k && key_a_[j + 1] == key_a_[i]) y += y_a_[++j];
      const double xc = 0.5 * static_cast<double>(i + j) + 1.0 - mean_rank;
      sxy += xc * y;
      sxx += static_cast<double>(j - i + 1) * xc * xc;
      i = j + 1;
    }
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
  }

 private:
  std::vector<std::uint32_t> key_a_, key_b_;
  std::vector<double> y_a_, y_b_;
};

// Sums over one row's pairs of the centred ranks, for the row bootstrap.
struct RowSums {
  double n = 0, x = 0, y = 0, xx = 0, yy = 0, xy = 0;
  void add(const RowSums& o) { n += o.n, x += o.x, y += o.y, xx += o.xx, yy += o.yy, xy += o.xy; }
  double pearson() const {
    const double sxx = xx - x * x / n, syy = yy - y * y / n, sxy = xy - x * y / n;
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
  }
};

void check_series(const std::vector<double>& times, const std::vector<const float*>& snapshots) {
  if (snapshots.size() != times.size())
    throw Error(fmt::format("snapshots: {} weight arrays for {} times; need one per time", snapshots.size(),
                            times.size()));
  for (std::size_t k = 0; k < times.size(); ++k) {
    if (!std::isfinite(times[k]))
      throw Error(fmt::format("times must be finite, got {} at position {}", times[k], k));
    if (k > 0 && !(times[k] > times[k - 1]))
      throw Error(fmt::format("times must be strictly ascending, got {} after {}", times[k], times[k - 1]));
    if (snapshots[k] == nullptr) throw Error(fmt::format("snapshots: array {} is null", k));
  }
}

// The indices as a sorted list with no repeats, each in [0, n); throws naming `field` otherwise.
void check_units(const std::vector<std::int64_t>& units, std::int64_t n, const char* field) {
  std::vector<std::int64_t> sorted = units;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] < 0 || sorted[i] >= n)
      throw Error(fmt::format("{} must be unit indices in [0, {}), got {}", field, n, sorted[i]));
    if (i > 0 && sorted[i] == sorted[i - 1])
      throw Error(fmt::format("{} must not repeat a unit, got {} twice", field, sorted[i]));
  }
}

}  // namespace

bool HebbianOptions::IsValid(std::string* error) const {
  std::string e;
  if (shuffles < 0 || shuffles > 100000)
    e = fmt::format("shuffles must be in [0, 100000], got {}", shuffles);
  else if (bootstrap < 0 || bootstrap > 100000)
    e = fmt::format("bootstrap must be in [0, 100000], got {}", bootstrap);
  else if (max_pairs < 10 || max_pairs > 1000000000)
    e = fmt::format("max_pairs must be in [10, 10^9], got {}", max_pairs);
  else if (!(level > 0 && level < 1))
    e = fmt::format("level must be in (0, 1), got {}", level);
  if (e.empty()) return true;
  if (error) *error = e;
  return false;
}

HebbianResult hebbian_test(const float* dw, const float* coactivity, std::int64_t out, std::int64_t in,
                           const HebbianOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  if (out < 0 || in < 0) throw Error(fmt::format("out and in must be >= 0, got {} x {}", out, in));
  HebbianResult r;
  const std::int64_t total = out * in;
  if (total < 10 || out < 2) {
    r.pairs = total;
    r.status = make_status(
        StatusCode::kInsufficientData,
        fmt::format("a {} x {} layer: the Hebbian test needs at least 10 pairs in 2 rows", out, in));
    return r;
  }
  if (dw == nullptr || coactivity == nullptr) throw Error("dw and coactivity must not be null");
  if (!all_finite(dw, total) || !all_finite(coactivity, total)) {
    r.status = make_status(StatusCode::kNonFinite,
                           fmt::format("{} holds NaN or Inf (a diverged run?)",
                                       all_finite(dw, total) ? "the co-activity" : "the weight change"));
    return r;
  }

  // The pairs: all of them, or max_pairs drawn at random; ascending, so each row's pairs are contiguous.
  std::mt19937_64 sample_rng(substream(o.seed, 0));
  const auto flat = sample_without_replacement(total, std::min(total, o.max_pairs), sample_rng);
  const std::size_t k = flat.size();
  r.pairs = static_cast<std::int64_t>(k);
  std::vector<double> x(k), y(k);
  std::vector<std::uint32_t> row(k), col(k);
  for (std::size_t p = 0; p < k; ++p) {
    x[p] = coactivity[flat[p]];
    y[p] = dw[flat[p]];
    row[p] = static_cast<std::uint32_t>(flat[p] / in);
    col[p] = static_cast<std::uint32_t>(flat[p] % in);
  }
  std::vector<std::size_t> row_start;  // first pair of each row present, then k
  for (std::size_t p = 0; p < k; ++p)
    if (p == 0 || row[p] != row[p - 1]) row_start.push_back(p);
  const std::size_t rows = row_start.size();
  row_start.push_back(k);
  if (rows < 2) {
    r.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("the {} pairs drawn lie in one row; the test needs 2", k));
    return r;
  }

  const auto rx = stats::ranks(x), ry = stats::ranks(y);
  const double rho = stats::pearson(rx, ry);
  if (!std::isfinite(rho)) {
    const bool x_constant = std::all_of(x.begin(), x.end(), [&](double v) { return v == x.front(); });
    r.status = make_status(StatusCode::kNotFound,
                           fmt::format("{} is constant on the {} pairs: no rank correlation",
                                       x_constant ? "the co-activity" : "the weight change", k));
    return r;
  }
  r.rho = rho;
  {
    const double n = static_cast<double>(k);
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n,
                 my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0;
    for (std::size_t p = 0; p < k; ++p) sxy += (x[p] - mx) * (y[p] - my), sxx += (x[p] - mx) * (x[p] - mx);
    r.slope = sxy / sxx;  // sxx > 0: the co-activity is not constant
  }

  // Centred ranks (the mean rank is (k + 1) / 2 whatever the ties).
  const double mean_rank = 0.5 * static_cast<double>(k + 1);
  std::vector<double> yc(k);
  double syy = 0;
  for (std::size_t p = 0; p < k; ++p) yc[p] = ry[p] - mean_rank, syy += yc[p] * yc[p];

  // The null: C's rows and columns relabelled at random, its values on the same pairs ranked afresh.
  std::vector<double> null_rho;
  if (o.shuffles > 0) {
    std::mt19937_64 rng(substream(o.seed, 1));
    std::vector<std::int64_t> perm_r(static_cast<std::size_t>(out)), perm_c(static_cast<std::size_t>(in));
    std::iota(perm_r.begin(), perm_r.end(), std::int64_t{0});
    std::iota(perm_c.begin(), perm_c.end(), std::int64_t{0});
    std::vector<std::uint32_t> keys(k);
    RankCorrelator correlator;
    for (int s = 0; s < o.shuffles; ++s) {
      std::shuffle(perm_r.begin(), perm_r.end(), rng);
      std::shuffle(perm_c.begin(), perm_c.end(), rng);
      for (std::size_t p = 0; p < k; ++p)
        keys[p] = order_key(coactivity[perm_r[row[p]] * in + perm_c[col[p]]]);
      null_rho.push_back(correlator.correlate(keys, yc, syy));
    }
  }
  const auto null = mean_sd(null_rho);
  r.null_mean = null.mean;
  r.null_sd = null.sd;
  if (null.mean && null.sd && *null.sd > 0) r.z = (rho - *null.mean) / *null.sd;

  // The interval: whole rows resampled with replacement, from each row's sums of centred ranks.
  if (o.bootstrap > 0) {
    std::vector<RowSums> sums(rows);
    for (std::size_t g = 0; g < rows; ++g)
      for (std::size_t p = row_start[g]; p < row_start[g + 1]; ++p) {
        const double xc = rx[p] - mean_rank;
        sums[g].add({1, xc, yc[p], xc * xc, yc[p] * yc[p], xc * yc[p]});
      }
    std::mt19937_64 rng(substream(o.seed, 2));
    std::uniform_int_distribution<std::size_t> pick(0, rows - 1);
    std::vector<double> boot;
    for (int b = 0; b < o.bootstrap; ++b) {
      RowSums s;
      for (std::size_t g = 0; g < rows; ++g) s.add(sums[pick(rng)]);
      const double v = s.pearson();
      if (std::isfinite(v)) boot.push_back(v);
    }
    if (boot.size() >= 2) {
      const auto ci = stats::percentile_interval(std::move(boot), o.level);
      r.rho_lo = ci[0];
      r.rho_hi = ci[1];
    } else {
      r.status.message = fmt::format("only {} of {} bootstrap resamples had a rank correlation: no interval",
                                     boot.size(), o.bootstrap);
    }
  }
  return r;
}

DriftDiffusion drift_diffusion(const std::vector<double>& times, const std::vector<const float*>& snapshots,
                               const std::vector<std::int64_t>& indices) {
  check_series(times, snapshots);
  for (const auto i : indices)
    if (i < 0) throw Error(fmt::format("indices must be >= 0, got {}", i));
  DriftDiffusion r;
  const std::size_t n = indices.size();
  if (times.size() < 2 || n < 2) {
    r.status = make_status(
        StatusCode::kInsufficientData,
        fmt::format("{} times and {} weights; drift and diffusion need at least 2 of each", times.size(), n));
    return r;
  }
  for (std::size_t t = 0; t < times.size(); ++t)
    for (const auto i : indices)
      if (!std::isfinite(snapshots[t][i])) {
        r.status = make_status(
            StatusCode::kNonFinite,
            fmt::format("weight {} is {} at time {} (a diverged run?)", i, snapshots[t][i], times[t]));
        return r;
      }

  const double dn = static_cast<double>(n);
  const std::size_t windows = times.size() - 1;
  std::vector<double> u(n), mean_u(windows), m2(windows), dt(windows);
  std::vector<signed char> sign_prev(n), sign_cur(n);
  std::int64_t same = 0, counted = 0;
  for (std::size_t k = 0; k < windows; ++k) {
    const float* w0 = snapshots[k];
    const float* w1 = snapshots[k + 1];
    dt[k] = times[k + 1] - times[k];
    for (std::size_t m = 0; m < n; ++m) {
      const double a = w0[indices[m]], b = w1[indices[m]];
      const double change = b - a;
      u[m] = a > 0 ? change : (a < 0 ? -change : 0.0);  // sign(0) = 0
      sign_cur[m] = static_cast<signed char>((change > 0) - (change < 0));
    }
    mean_u[k] = std::accumulate(u.begin(), u.end(), 0.0) / dn;
    m2[k] = 0;
    for (const double v : u) m2[k] += (v - mean_u[k]) * (v - mean_u[k]);

    DriftWindow w;
    w.t0 = times[k];
    w.t1 = times[k + 1];
    w.n = static_cast<std::int64_t>(n);
    w.drift = mean_u[k] / dt[k];
    w.diffusion = m2[k] / dn / (2 * dt[k]);
    if (*w.diffusion > 0) w.peclet = *w.drift * *w.drift * dt[k] / *w.diffusion;
    if (k > 0) {
      std::int64_t s = 0, c = 0;
      for (std::size_t m = 0; m < n; ++m)
        if (sign_cur[m] != 0 && sign_prev[m] != 0) ++c, s += sign_cur[m] == sign_prev[m];
      if (c > 0) w.sign_persistence = static_cast<double>(s) / static_cast<double>(c);
      same += s;
      counted += c;
    }
    r.windows.push_back(w);
    sign_prev.swap(sign_cur);
  }

  const double span = std::accumulate(dt.begin(), dt.end(), 0.0);
  const double drift = std::accumulate(mean_u.begin(), mean_u.end(), 0.0) / span;
  double ss = 0;  // sum over windows and weights of (u - drift dt_k)^2
  for (std::size_t k = 0; k < windows; ++k)
    ss += m2[k] + dn * (mean_u[k] - drift * dt[k]) * (mean_u[k] - drift * dt[k]);
  r.drift = drift;
  r.diffusion = ss / (2 * dn * span);
  if (counted > 0) r.sign_persistence = static_cast<double>(same) / static_cast<double>(counted);
  if (*r.diffusion > 0) r.peclet = drift * drift * (span / static_cast<double>(windows)) / *r.diffusion;
  return r;
}

bool RedistributionOptions::IsValid(std::string* error) const {
  std::string e;
  if (shuffles < 0 || shuffles > 100000) e = fmt::format("shuffles must be in [0, 100000], got {}", shuffles);
  if (e.empty()) return true;
  if (error) *error = e;
  return false;
}

Redistribution redistribution_test(const std::vector<double>& times,
                                   const std::vector<const float*>& snapshots, std::int64_t out,
                                   std::int64_t in, const std::vector<std::int64_t>& critical_rows,
                                   const std::vector<std::int64_t>& critical_cols,
                                   const RedistributionOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  if (out < 1 || in < 1) throw Error(fmt::format("out and in must be >= 1, got {} x {}", out, in));
  check_series(times, snapshots);
  check_units(critical_rows, out, "critical_rows");
  check_units(critical_cols, in, "critical_cols");
  Redistribution r;
  const std::int64_t total = out * in;

  std::vector<std::int64_t> all_cols(static_cast<std::size_t>(in));
  std::iota(all_cols.begin(), all_cols.end(), std::int64_t{0});
  const auto& cols = critical_cols.empty() ? all_cols : critical_cols;
  const auto block = [&](const std::vector<std::int64_t>& rs, const std::vector<std::int64_t>& cs) {
    std::vector<std::int64_t> idx;
    idx.reserve(rs.size() * cs.size());
    for (const auto j : rs)
      for (const auto i : cs) idx.push_back(j * in + i);
    std::sort(idx.begin(), idx.end());  // ascending: kinder to the cache
    return idx;
  };
  const auto critical = block(critical_rows, cols);
  std::vector<char> in_block(static_cast<std::size_t>(total), 0);
  for (const auto i : critical) in_block[static_cast<std::size_t>(i)] = 1;
  std::vector<std::int64_t> other;
  other.reserve(static_cast<std::size_t>(total) - critical.size());
  for (std::int64_t i = 0; i < total; ++i)
    if (!in_block[static_cast<std::size_t>(i)]) other.push_back(i);
  r.critical_weights = static_cast<std::int64_t>(critical.size());
  r.other_weights = static_cast<std::int64_t>(other.size());

  if (times.size() < 2 || critical.size() < 2 || other.size() < 2) {
    r.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("{} times, {} critical and {} other weights; the test needs at least 2 "
                                "of each",
                                times.size(), critical.size(), other.size()));
    return r;
  }
  for (std::size_t t = 0; t < times.size(); ++t)
    if (!all_finite(snapshots[t], total)) {
      r.status =
          make_status(StatusCode::kNonFinite,
                      fmt::format("the layer holds NaN or Inf at time {} (a diverged run?)", times[t]));
      return r;
    }

  r.critical_path = drift_diffusion(times, snapshots, critical);
  r.other_path = drift_diffusion(times, snapshots, other);

  using Field = std::optional<double> DriftDiffusion::*;
  constexpr std::array<Field, 4> kFields = {&DriftDiffusion::drift, &DriftDiffusion::diffusion,
                                            &DriftDiffusion::sign_persistence, &DriftDiffusion::peclet};
  const std::array<FigureVsNull*, 4> figures = {&r.drift, &r.diffusion, &r.sign_persistence, &r.peclet};
  std::array<std::vector<double>, 4> null;

  std::mt19937_64 rng(substream(o.seed, 0));
  std::vector<std::int64_t> rows_perm(static_cast<std::size_t>(out)), cols_perm(all_cols);
  std::iota(rows_perm.begin(), rows_perm.end(), std::int64_t{0});
  const auto draw = [&](std::vector<std::int64_t>& pool, std::size_t m) {  // m of pool, at random
    for (std::size_t a = 0; a < m; ++a)
      std::swap(pool[a], pool[std::uniform_int_distribution<std::size_t>(a, pool.size() - 1)(rng)]);
    return std::vector<std::int64_t>(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(m));
  };
  for (int s = 0; s < o.shuffles; ++s) {
    const auto rs = draw(rows_perm, critical_rows.size());
    const auto cs = critical_cols.empty() ? all_cols : draw(cols_perm, critical_cols.size());
    const auto path = drift_diffusion(times, snapshots, block(rs, cs));
    for (std::size_t f = 0; f < 4; ++f) null[f].push_back((path.*kFields[f]).value_or(kNaN));
  }
  for (std::size_t f = 0; f < 4; ++f) {
    auto& fig = *figures[f];
    fig.critical = r.critical_path.*kFields[f];
    fig.other = r.other_path.*kFields[f];
    const auto m = mean_sd(null[f]);
    fig.null_mean = m.mean;
    fig.null_sd = m.sd;
    if (fig.critical && m.mean && m.sd && *m.sd > 0) fig.z = (*fig.critical - *m.mean) / *m.sd;
  }
  return r;
}

}  // namespace critlab::graph
