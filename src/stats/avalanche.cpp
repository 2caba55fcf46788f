#include "critlab/stats/avalanche.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/stats/special.h"

namespace critlab::stats {

std::vector<Avalanche> avalanches_from_series(const std::vector<double>& counts) {
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53: every integer below it is exact
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double c = counts[i];
    if (!(c >= 0 && c <= kMaxCount && c == std::floor(c)))
      throw Error(
          fmt::format("series value {} (item {}) is not an event count: counts must be integers from 0 "
                      "to 2^53 = 9007199254740992",
                      c, i + 1));
  }
  std::vector<Avalanche> out;
  std::size_t i = 0;
  while (i < counts.size() && counts[i] > 0) ++i;  // a run open at the start is dropped
  while (i < counts.size()) {
    while (i < counts.size() && counts[i] <= 0) ++i;
    if (i >= counts.size()) break;
    Avalanche a;
    const std::size_t start = i;
    while (i < counts.size() && counts[i] > 0) {
      a.shape.push_back(counts[i]);
      if (a.size > static_cast<std::int64_t>(kMaxCount - counts[i]))
        throw Error(fmt::format("the avalanche ending at item {} holds more than 2^53 events", i + 1));
      a.size += static_cast<std::int64_t>(counts[i]);
      ++i;
    }
    a.duration = static_cast<std::int64_t>(i - start);
    if (i < counts.size()) out.push_back(std::move(a));  // a run still open at the end is dropped
  }
  return out;
}

namespace {
constexpr int kGrid = 20;

// Mean shape of each duration with at least min_count avalanches, resampled on kGrid points of u = t/T.
// Bin t (0-based) of a duration-T avalanche sits at u = (t + 1/2)/T, so the grid spans only the range every
// duration covers, [1/(2 lo), 1 - 1/(2 lo)], and is interpolated, never extrapolated.
std::map<std::int64_t, std::vector<double>> mean_shapes(const std::vector<Avalanche>& av, std::int64_t lo,
                                                        std::int64_t hi, std::int64_t min_count) {
  std::map<std::int64_t, std::pair<std::vector<double>, std::int64_t>> acc;
  for (const auto& a : av) {
    if (a.duration < lo || a.duration > hi || static_cast<std::int64_t>(a.shape.size()) != a.duration)
      continue;
    auto& [sum, n] = acc[a.duration];
    if (sum.empty()) sum.assign(static_cast<std::size_t>(a.duration), 0.0);
    for (std::size_t t = 0; t < a.shape.size(); ++t) sum[t] += a.shape[t];
    ++n;
  }
  std::map<std::int64_t, std::vector<double>> out;
  for (auto& [T, sn] : acc) {
    if (sn.second < min_count) continue;
    std::vector<double> grid(kGrid);
    const double u_lo = 0.5 / static_cast<double>(lo), u_hi = 1 - u_lo;
    for (int k = 0; k < kGrid; ++k) {
      const double u = u_lo + (u_hi - u_lo) * k / (kGrid - 1);
      const double pos = u * static_cast<double>(T) - 0.5;
      const auto t0 = static_cast<std::int64_t>(std::floor(std::clamp(pos, 0.0, static_cast<double>(T - 1))));
      const auto t1 = std::min<std::int64_t>(t0 + 1, T - 1);
      const double w = std::clamp(pos - static_cast<double>(t0), 0.0, 1.0);
      grid[k] =
          ((1 - w) * sn.first[static_cast<std::size_t>(t0)] + w * sn.first[static_cast<std::size_t>(t1)]) /
          static_cast<double>(sn.second);
    }
    out[T] = grid;
  }
  return out;
}

double collapse_spread(const std::map<std::int64_t, std::vector<double>>& shapes, double gamma) {
  double total = 0;
  for (int k = 0; k < kGrid; ++k) {
    double s = 0, s2 = 0, n = 0;
    for (const auto& [T, g] : shapes) {
      const double v = std::pow(static_cast<double>(T), 1 - gamma) * g[static_cast<std::size_t>(k)];
      s += v, s2 += v * v, n += 1;
    }
    const double mean = s / n;
    total += (s2 / n - mean * mean) / (mean * mean);
  }
  return total / kGrid;
}
}  // namespace

ShapeCollapse shape_collapse(const std::vector<Avalanche>& avalanches, std::int64_t min_duration,
                             std::int64_t max_duration, std::int64_t min_count) {
  ShapeCollapse c;
  const auto shapes = mean_shapes(avalanches, min_duration, max_duration, min_count);
  if (shapes.size() < 3) {
    c.status =
        make_status(StatusCode::kInsufficientData,
                    "fewer than three durations with enough avalanches (and recorded shapes) for a collapse");
    return c;
  }
  c.exponent = minimize_brent([&](double g) { return collapse_spread(shapes, g); }, 0.5, 4.0, 1e-8);
  c.spread = collapse_spread(shapes, c.exponent);
  for (const auto& [T, g] : shapes) {
    c.durations.push_back(T);
    std::vector<double> scaled(g.size());
    for (std::size_t k = 0; k < g.size(); ++k)
      scaled[k] = std::pow(static_cast<double>(T), 1 - c.exponent) * g[k];
    c.scaled_shapes.push_back(scaled);
  }
  return c;
}

bool AvalancheOptions::IsValid(std::string* error) const {
  std::string e;
  if (collapse_min_duration < 1 || collapse_max_duration < collapse_min_duration)
    e = fmt::format(
        "collapse durations must satisfy 1 <= collapse_min_duration <= collapse_max_duration, got {} and {}",
        collapse_min_duration, collapse_max_duration);
  else if (gamma_min_duration < 1 || (gamma_max_duration != 0 && gamma_max_duration < gamma_min_duration))
    e = fmt::format("gamma_min_duration must be >= 1 and gamma_max_duration 0 or >= it, got {} and {}",
                    gamma_min_duration, gamma_max_duration);
  else if (bootstrap < 0)
    e = fmt::format("bootstrap must be >= 0, got {}", bootstrap);
  if (e.empty()) return true;
  if (error) *error = e;
  return false;
}

AvalancheAnalysis analyse_avalanches(const std::vector<Avalanche>& av, const AvalancheOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  AvalancheAnalysis r;
  r.count = static_cast<std::int64_t>(av.size());
  std::vector<double> sizes, durations;
  std::map<std::int64_t, std::pair<double, double>> by_t;  // duration -> (sum of sizes, count)
  for (const auto& a : av) {
    sizes.push_back(static_cast<double>(a.size));
    durations.push_back(static_cast<double>(a.duration));
    auto& e = by_t[a.duration];
    e.first += static_cast<double>(a.size), e.second += 1;
  }
  PowerLawOptions po;
  po.discrete = true;
  po.bootstrap = o.bootstrap;
  po.seed = o.seed;
  r.size_fit = fit_power_law(sizes, po);
  r.duration_fit = fit_power_law(durations, po);
  std::vector<double> lx, ly, w;
  for (const auto& [T, e] : by_t) {
    r.mean_size_durations.push_back(static_cast<double>(T));
    r.mean_size.push_back(e.first / e.second);
    r.counts_per_duration.push_back(e.second);
    const bool in_window =
        T >= o.gamma_min_duration && (o.gamma_max_duration <= 0 || T <= o.gamma_max_duration);
    if (in_window && e.second >= 2)
      lx.push_back(std::log(T)), ly.push_back(std::log(e.first / e.second)), w.push_back(e.second);
  }
  if (lx.size() >= 2) {
    const auto line = weighted_line_fit(lx, ly, w);
    r.gamma = line.slope;
    r.gamma_se = line.slope_se;
  }
  if (r.size_fit.ok() && r.duration_fit.ok())
    r.gamma_predicted = (r.duration_fit.alpha - 1) / (r.size_fit.alpha - 1);
  r.collapse = shape_collapse(av, o.collapse_min_duration, o.collapse_max_duration);
  return r;
}

nlohmann::json to_json(const AvalancheAnalysis& a) {
  const auto fitted = [](const PowerLawFit& f) { return f.ok() ? std::optional(f.alpha) : std::nullopt; };
  nlohmann::json j{{"count", a.count}, {"size", to_json(a.size_fit)}, {"duration", to_json(a.duration_fit)}};
  put_result(j, "tau", fitted(a.size_fit), a.size_fit.status);
  put_result(j, "tau_t", fitted(a.duration_fit), a.duration_fit.status);
  const Status no_gamma =
      make_status(StatusCode::kInsufficientData, "fewer than two durations in the <S>(T) window");
  put_result(j, "gamma", a.gamma, no_gamma);
  put_result(j, "gamma_se", a.gamma_se, no_gamma);
  const Status no_prediction = make_status(StatusCode::kNotApplicable, "needs both power-law fits");
  put_result(j, "gamma_predicted", a.gamma_predicted, no_prediction);
  put_result(j, "crackling_difference",
             a.gamma && a.gamma_predicted ? std::optional(*a.gamma - *a.gamma_predicted) : std::nullopt,
             a.gamma ? no_prediction : no_gamma);
  nlohmann::json collapse{{"exponent", a.collapse.ok() ? nlohmann::json(a.collapse.exponent) : nullptr},
                          {"spread", a.collapse.ok() ? nlohmann::json(a.collapse.spread) : nullptr},
                          {"durations", a.collapse.durations}};
  put_status(collapse, a.collapse.status);
  j["collapse"] = collapse;
  return j;
}

void write_avalanche_files(const std::filesystem::path& dir, const std::vector<Avalanche>& av,
                           const AvalancheAnalysis& a) {
  const auto tables = dir / "tables", plots = dir / "plots";
  io::Table all{{"size", "duration"}, {}};
  std::vector<double> sizes, durations;
  for (const auto& x : av) {
    all.add_row({static_cast<double>(x.size), static_cast<double>(x.duration)});
    sizes.push_back(static_cast<double>(x.size));
    durations.push_back(static_cast<double>(x.duration));
  }
  io::write_csv(tables / "avalanches.csv", all);
  if (av.empty()) return;
  plot_power_law_ccdf(plots, "size_ccdf", "size", sizes, a.size_fit);
  plot_power_law_ccdf(plots, "duration_ccdf", "duration", durations, a.duration_fit);
  io::Table ms{{"duration", "mean_size", "count", "fit"}, {}};
  const double anchor_t = a.mean_size_durations.empty() ? 1 : a.mean_size_durations.front();
  const double anchor_s = a.mean_size.empty() ? 1 : a.mean_size.front();
  for (std::size_t i = 0; i < a.mean_size.size(); ++i)
    ms.add_row({a.mean_size_durations[i], a.mean_size[i], a.counts_per_duration[i],
                a.gamma ? anchor_s * std::pow(a.mean_size_durations[i] / anchor_t, *a.gamma) : std::nan("")});
  io::write_csv(tables / "mean_size.csv", ms);
  io::plot_lines(
      plots, "mean_size", ms, "duration",
      {{"mean_size", "<S>(T)"}, {"fit", fmt::format("slope gamma = {:.3f}", a.gamma.value_or(std::nan("")))}},
      {.title = fmt::format("Mean size given duration (crackling prediction {:.3f})",
                            a.gamma_predicted.value_or(std::nan(""))),
       .xlabel = "duration T",
       .ylabel = "<S>(T)",
       .logx = true,
       .logy = true});
  if (a.collapse.ok()) {
    io::Table c{{"u"}, {}};
    const std::size_t step = std::max<std::size_t>(1, a.collapse.durations.size() / 6);
    std::vector<std::size_t> picked;
    for (std::size_t i = 0; i < a.collapse.durations.size(); i += step) picked.push_back(i);
    std::vector<io::PlotSeries> series;
    for (std::size_t i : picked) {
      c.columns.push_back(fmt::format("T_{}", a.collapse.durations[i]));
      series.push_back({c.columns.back(), fmt::format("T = {}", a.collapse.durations[i])});
    }
    const std::size_t grid = a.collapse.scaled_shapes.front().size();
    for (std::size_t k = 0; k < grid; ++k) {
      std::vector<double> row{(k + 0.5) / static_cast<double>(grid)};
      for (std::size_t i : picked) row.push_back(a.collapse.scaled_shapes[i][k]);
      c.add_row(row);
    }
    io::plot_lines(plots, "collapse", c, "u", series,
                   {.title = fmt::format("Shape collapse, exponent {:.3f} (spread {:.3g})",
                                         a.collapse.exponent, a.collapse.spread),
                    .xlabel = "position in the avalanche (grid index / 20)",
                    .ylabel = "T^{1-gamma} s_T"});
  }
}

}  // namespace critlab::stats
