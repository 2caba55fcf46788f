#include "critlab/stats/paired.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>

#include "critlab/core/error.h"
#include "critlab/stats/correlation.h"
#include "critlab/stats/describe.h"
#include "critlab/stats/inference.h"

namespace critlab::stats {

namespace {

void check_level(double level, const char* who) {
  if (!(level > 0 && level < 1))
    throw Error(fmt::format("{}: level {} must lie strictly between 0 and 1 (e.g. 0.95)", who, level));
}

// Records why a figure is empty: the first reason sets the code, later ones join the message.
void note(Status& s, StatusCode code, const std::string& why) {
  if (s.ok()) {
    s = make_status(code, why);
  } else {
    s.message += "; " + why;
  }
}

// A uniform index in [0, n), n >= 1, the same on every platform: the 2^64 mod n lowest outputs of the
// generator are rejected so that the rest, taken mod n, hit every index equally often.
std::size_t draw_below(std::mt19937_64& rng, std::size_t n) {
  const auto range = static_cast<std::uint64_t>(n);
  const std::uint64_t reject_below = (std::uint64_t{0} - range) % range;  // (2^64 - n) mod n = 2^64 mod n
  for (;;) {
    const std::uint64_t x = rng();
    if (x >= reject_below) return static_cast<std::size_t>(x % range);
  }
}

}  // namespace

// ---- two methods paired by seed ----

PairedComparison paired_comparison(const std::vector<double>& a, const std::vector<double>& b, double level) {
  if (a.size() != b.size())
    throw Error(fmt::format("paired_comparison: a has {} values and b {}; both need one value per seed",
                            a.size(), b.size()));
  check_level(level, "paired_comparison");
  PairedComparison c;
  c.level = level;
  std::vector<double> d;
  for (std::size_t s = 0; s < a.size(); ++s)
    if (std::isfinite(a[s]) && std::isfinite(b[s])) d.push_back(a[s] - b[s]);
  c.n = static_cast<std::int64_t>(d.size());
  for (double x : d) {
    if (x > 0) ++c.wins;
    if (x < 0) ++c.losses;
  }
  if (d.empty()) {
    c.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("no seed of {} has both values finite; a comparison needs 1", a.size()));
    return c;
  }

  // The signed-rank test (zeros dropped there; infinite differences from an overflow still rank).
  const RankTest w = wilcoxon_signed_rank(d);
  c.wilcoxon_v = w.statistic;
  c.p_value = w.p_value;
  c.exact = w.exact;
  if (!w.status.ok()) note(c.status, w.status.code, "Wilcoxon test: " + w.status.message);

  // The mean and its t interval. A constant d is its own mean exactly (a sum / n might round off it).
  const bool constant = std::all_of(d.begin(), d.end(), [&](double x) { return x == d.front(); });
  const double n = static_cast<double>(d.size());
  const double mean = constant ? d.front() : std::accumulate(d.begin(), d.end(), 0.0) / n;
  if (!std::isfinite(mean)) {
    note(c.status, StatusCode::kNonFinite,
         "the mean difference is not finite (a difference overflowed): no mean, no interval");
    return c;
  }
  c.mean_difference = mean;
  if (d.size() < 2) {
    note(c.status, StatusCode::kInsufficientData, "1 pair: the t interval needs at least 2");
  } else if (constant) {
    c.ci_low = c.ci_high = mean;  // sd = 0: the interval shrinks to the mean
  } else {
    double ss = 0;
    for (double x : d) ss += (x - mean) * (x - mean);
    const double half = student_t_quantile(0.5 + level / 2, n - 1) * std::sqrt(ss / (n - 1)) / std::sqrt(n);
    if (std::isfinite(half)) {
      c.ci_low = mean - half;
      c.ci_high = mean + half;
    } else {
      note(c.status, StatusCode::kNonFinite, "the spread of the differences overflowed: no t interval");
    }
  }
  return c;
}

// ---- a ranking of methods over seeds ----

Ranking rank_methods(const std::vector<std::vector<double>>& scores, int resamples, std::uint64_t seed,
                     double level) {
  if (resamples < 0)
    throw Error(fmt::format("rank_methods: resamples = {}; give 0 (no bootstrap) or more", resamples));
  check_level(level, "rank_methods");
  Ranking r;
  r.level = level;
  const std::size_t m = scores.empty() ? 0 : scores.front().size();
  for (std::size_t s = 0; s < scores.size(); ++s)
    if (scores[s].size() != m)
      throw Error(
          fmt::format("rank_methods: seed {} has {} scores and seed 0 has {}; every seed needs one "
                      "per method (NaN where missing)",
                      s, scores[s].size(), m));

  // rank[i][j]: method j's rank on the i-th seed used. Ranks are multiples of 1/2, so their sums are exact
  // and ties between sums are found by ==.
  std::vector<std::vector<double>> rank;
  std::vector<std::int64_t> finite(m, 0);
  for (const auto& row : scores) {
    std::vector<std::size_t> present;
    std::vector<double> negated;  // ascending ranks of -score = ranks from the best
    for (std::size_t j = 0; j < m; ++j)
      if (std::isfinite(row[j])) {
        present.push_back(j);
        negated.push_back(-row[j]);
        ++finite[j];
      }
    if (present.empty()) continue;  // no method has a score: the seed says nothing
    const double missing = 0.5 * static_cast<double>(present.size() + 1 + m);  // mean of ranks k+1..m
    std::vector<double> seed_rank(m, missing);
    const auto rp = ranks(negated);
    for (std::size_t i = 0; i < present.size(); ++i) seed_rank[present[i]] = rp[i];
    rank.push_back(std::move(seed_rank));
  }
  r.seeds = static_cast<std::int64_t>(rank.size());
  if (rank.empty()) {
    r.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("no seed of {} has a finite score for any of {} methods; a ranking needs 1",
                                scores.size(), m));
    return r;
  }
  const std::size_t n = rank.size();
  const double nd = static_cast<double>(n);

  std::vector<double> total(m, 0.0);
  for (const auto& row : rank)
    for (std::size_t j = 0; j < m; ++j) total[j] += row[j];
  r.methods.resize(m);
  for (std::size_t j = 0; j < m; ++j) {
    r.methods[j].method = j;
    r.methods[j].mean_rank = total[j] / nd;
    r.methods[j].seeds = finite[j];
  }

  if (resamples == 0) {
    r.status = make_status(StatusCode::kNotRun, "resamples = 0: no bootstrap intervals and no p_best");
  } else {
    std::mt19937_64 rng(seed);
    const auto draws = static_cast<std::size_t>(resamples);
    std::vector<std::vector<double>> boot(m, std::vector<double>(draws));
    std::vector<double> best(m, 0.0), sum(m);
    for (std::size_t b = 0; b < draws; ++b) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::size_t i = 0; i < n; ++i) {
        const auto& row = rank[draw_below(rng, n)];
        for (std::size_t j = 0; j < m; ++j) sum[j] += row[j];
      }
      const double lowest = *std::min_element(sum.begin(), sum.end());
      const auto tied = static_cast<double>(std::count(sum.begin(), sum.end(), lowest));
      for (std::size_t j = 0; j < m; ++j) {
        if (sum[j] == lowest) best[j] += 1 / tied;
        boot[j][b] = sum[j] / nd;
      }
    }
    for (std::size_t j = 0; j < m; ++j) {
      const auto ci = percentile_interval(std::move(boot[j]), level);
      r.methods[j].rank_low = ci[0];
      r.methods[j].rank_high = ci[1];
      r.methods[j].p_best = best[j] / static_cast<double>(draws);
    }
    r.resamples = resamples;
    if (n == 1) r.status.message = "one seed: every resample is that seed, so the intervals are [r, r]";
  }

  std::sort(r.methods.begin(), r.methods.end(), [&](const MethodRank& x, const MethodRank& y) {
    return total[x.method] != total[y.method] ? total[x.method] < total[y.method] : x.method < y.method;
  });
  return r;
}

// ---- JSON ----

nlohmann::json to_json(const PairedComparison& c) {
  nlohmann::json j{{"n", c.n},
                   {"mean_difference", or_null(c.mean_difference)},
                   {"ci_low", or_null(c.ci_low)},
                   {"ci_high", or_null(c.ci_high)},
                   {"level", c.level},
                   {"wilcoxon_v", or_null(c.wilcoxon_v)},
                   {"p_value", or_null(c.p_value)},
                   {"exact", c.exact},
                   {"wins", c.wins},
                   {"losses", c.losses}};
  put_status(j, c.status);
  return j;
}

nlohmann::json to_json(const Ranking& r) {
  nlohmann::json methods = nlohmann::json::array();
  for (const auto& m : r.methods)
    methods.push_back({{"method", m.method},
                       {"mean_rank", or_null(m.mean_rank)},
                       {"rank_low", or_null(m.rank_low)},
                       {"rank_high", or_null(m.rank_high)},
                       {"p_best", or_null(m.p_best)},
                       {"seeds", m.seeds}});
  nlohmann::json j{{"methods", methods}, {"seeds", r.seeds}, {"resamples", r.resamples}, {"level", r.level}};
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::stats
