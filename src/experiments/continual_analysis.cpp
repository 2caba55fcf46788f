// The continual experiment's analysis (experiments/continual_analysis.h): the task table with plasticity,
// the early and late windows per method, the correlations of plasticity with the measures, the claims.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "continual_internal.h"
#include "critlab/stats/correlation.h"
#include "critlab/stats/describe.h"

namespace critlab::experiments {

using nlohmann::json;

std::string ContinualCorrelation::label() const {
  return control ? measure + " given " + *control + " (partial)" : measure;
}

const ContinualMethodWindows* ContinualAnalysis::find(const std::string& name) const {
  for (const auto& m : methods)
    if (m.name == name) return &m;
  return nullptr;
}

const ContinualCorrelation* ContinualAnalysis::find_correlation(const std::string& label) const {
  for (const auto& c : correlations)
    if (c.label() == label) return &c;
  return nullptr;
}

json to_json(const ContinualCorrelation& c) {
  json j{{"measure", c.label()},
         {"rho", or_null(c.rho)},
         {"fisher_low", or_null(c.fisher_low)},
         {"fisher_high", or_null(c.fisher_high)},
         {"bootstrap_low", or_null(c.bootstrap_low)},
         {"bootstrap_high", or_null(c.bootstrap_high)},
         {"p_value", or_null(c.p_value)},
         {"n", c.n}};
  put_status(j, c.status);
  return j;
}

json to_json(const ContinualClaim& c) {
  json j{{"verdict", c.verdict ? json(to_string(*c.verdict)) : json(nullptr)},
         {"rho", or_null(c.rho)},
         {"low", or_null(c.low)},
         {"high", or_null(c.high)}};
  put_status(j, c.status);
  return j;
}

namespace {

json paired_json(const ContinualAnalysis& a) {
  json out = json::array();
  for (const auto& p : a.paired) {
    json j = stats::to_json(p.result);
    j["method"] = p.method;
    j["baseline"] = p.baseline;
    out.push_back(std::move(j));
  }
  return out;
}

json ranking_json(const ContinualAnalysis& a) {
  json j = stats::to_json(a.ranking);
  if (j.contains("methods"))
    for (auto& m : j["methods"]) {
      const auto k = m.at("method").get<std::size_t>();
      if (k < a.ranked_names.size()) m["method"] = a.ranked_names[k];
    }
  return j;
}

}  // namespace

json to_json(const ContinualAnalysis& a) {
  auto spread = [](const SeedSpread& s) {
    json j{{"n", s.n}};
    put_result(j, "mean", s.mean,
               make_status(StatusCode::kInsufficientData,
                           "no run has a finite value in the window (plasticity needs the fresh reference)"));
    put_result(j, "sd", s.sd,
               make_status(StatusCode::kInsufficientData, "a standard deviation needs two or more seeds"));
    return j;
  };
  json methods = json::array();
  for (const auto& m : a.methods) {
    json j{{"method", m.name},
           {"performance_early", or_null(m.performance_early)},
           {"performance_late", spread(m.performance_late)},
           {"plasticity_late", spread(m.plasticity_late)},
           {"dead_fraction_early", or_null(m.dead_fraction_early)},
           {"dead_fraction_late", or_null(m.dead_fraction_late)},
           {"effective_rank_early", or_null(m.effective_rank_early)},
           {"effective_rank_late", or_null(m.effective_rank_late)},
           {"mean_abs_weight_late", or_null(m.mean_abs_weight_late)},
           {"distance_early", or_null(m.distance_early)},
           {"distance_late", or_null(m.distance_late)},
           {"lambda_max_late", or_null(m.lambda_max_late)},
           {"units_replaced", or_null(m.units_replaced)},
           {"backoffs", or_null(m.backoffs)},
           {"gauge_weight_change", or_null(m.gauge_weight_change)}};
    put_status(j, m.status);
    methods.push_back(std::move(j));
  }
  json correlations = json::array(), diverged = json::array();
  for (const auto& c : a.correlations) correlations.push_back(to_json(c));
  for (const auto& d : a.diverged)
    diverged.push_back({{"method", d.method}, {"seed", d.seed}, {"task", d.task}});
  return {{"methods", methods},
          {"correlations", correlations},
          {"claims",
           {{"distance_predicts_plasticity", to_json(a.distance_predicts_plasticity)},
            {"distance_beyond_effective_rank", to_json(a.distance_beyond_effective_rank)}}},
          {"diverged", diverged},
          {"paired", paired_json(a)},
          {"ranking", ranking_json(a)}};
}

}  // namespace critlab::experiments

namespace critlab::experiments::continual_detail {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Measures correlated with plasticity (the criticality ones first), and the controls of the partial ones.
const std::vector<std::string> kMeasures{"distance_to_criticality", "abs_lambda_max", "dead_fraction",
                                         "effective_rank", "mean_abs_weight"};
const std::vector<std::string> kControls{"dead_fraction", "effective_rank", "mean_abs_weight"};

std::optional<double> finite(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

// The mean of the finite values (NaN when there are none).
double mean_of(const std::vector<double>& v) { return stats::mean_sd(v).mean; }

bool is_regression(const ContinualOptions& o) { return o.stream == ContinualStream::kRegression; }

ContinualCorrelation correlation(std::string measure, std::optional<std::string> control,
                                 const stats::RankCorrelation& f, const stats::RankCorrelation& b) {
  ContinualCorrelation c;
  c.measure = std::move(measure);
  c.control = std::move(control);
  c.rho = f.rho;
  c.fisher_low = f.low, c.fisher_high = f.high, c.p_value = f.p_value;
  c.bootstrap_low = b.low, c.bootstrap_high = b.high;
  c.n = f.n;
  if (!c.rho)
    c.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("{} pairs with finite values; the correlation needs at least 4", f.n));
  else if (!c.bootstrap_low || !c.bootstrap_high)
    c.status = make_status(StatusCode::kInsufficientData, "too few runs for the cluster bootstrap");
  return c;
}

bool is_baseline(ContinualMethod m) {
  return m == ContinualMethod::kBackprop || m == ContinualMethod::kL2 ||
         m == ContinualMethod::kShrinkPerturb || m == ContinualMethod::kContinualBackprop ||
         m == ContinualMethod::kRedo;
}

// Late plasticity per method and seed (the mean over the late window's tasks), the paired tests and the
// ranking.
void paired_tests(const ContinualOptions& o, const TaskTable& table, ContinualAnalysis& a) {
  const std::int64_t tenth = std::max<std::int64_t>(1, o.tasks / 10);
  std::vector<std::uint64_t> seeds;
  for (std::int64_t k = 0; k < o.seeds; ++k) seeds.push_back(o.seed + static_cast<std::uint64_t>(k));
  std::map<std::pair<ContinualMethod, std::uint64_t>, std::pair<double, int>> sums;
  for (const auto& r : table.rows) {
    if (!r.method || get(r.values, "task") < static_cast<double>(o.tasks - tenth)) continue;
    auto& [sum, n] = sums[{*r.method, r.seed}];
    sum += get(r.values, "plasticity"), ++n;  // NaN (diverged, no reference) stays NaN
  }
  auto late = [&](ContinualMethod m) {
    std::vector<double> v;
    for (const auto s : seeds) {
      const auto it = sums.find({m, s});
      v.push_back(it == sums.end() || it->second.second == 0 ? kNaN : it->second.first / it->second.second);
    }
    return v;
  };
  auto add = [&](ContinualMethod m, ContinualMethod b) {
    a.paired.push_back({to_string(m), to_string(b), stats::paired_comparison(late(m), late(b))});
  };
  for (const auto m : o.methods)
    if (!is_baseline(m))
      for (const auto b : o.methods)
        if (is_baseline(b)) add(m, b);
  const auto& ms = o.methods;
  if (std::count(ms.begin(), ms.end(), ContinualMethod::kGaugeCritical) &&
      std::count(ms.begin(), ms.end(), ContinualMethod::kGaugeAway))
    add(ContinualMethod::kGaugeCritical, ContinualMethod::kGaugeAway);
  std::vector<std::vector<double>> scores(seeds.size());
  for (const auto m : o.methods) {
    a.ranked_names.push_back(to_string(m));
    const auto v = late(m);
    for (std::size_t s = 0; s < seeds.size(); ++s) scores[s].push_back(v[s]);
  }
  a.ranking = stats::rank_methods(scores, 2000, o.seed);
}

}  // namespace

double get(const json& row, const std::string& key) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return kNaN;
  if (it->is_string()) return it->get<std::string>() == "inf" ? INFINITY : -INFINITY;
  return it->get<double>();
}

TaskTable build_task_table(const ContinualOptions& o, const std::vector<RunRecord>& records) {
  const bool regression = is_regression(o);
  TaskTable table;
  // The fresh reference per (seed, task).
  std::map<std::pair<std::uint64_t, std::int64_t>, std::pair<double, double>> fresh;
  for (const auto& r : records)
    if (!r.method)
      for (const auto& row : r.rows)
        fresh[{r.seed, static_cast<std::int64_t>(get(row, "task"))}] = {get(row, "online_accuracy"),
                                                                        get(row, "online_loss")};
  // Rows with plasticity; per-layer column names.
  for (const auto& r : records)
    for (json row : r.rows) {
      const auto t = static_cast<std::int64_t>(get(row, "task"));
      if (t >= o.tasks) continue;  // an experiment reopened with fewer tasks reports only those
      auto it = fresh.find({r.seed, t});
      if (r.method && it != fresh.end()) {
        row["fresh_accuracy"] = it->second.first;
        row["fresh_loss"] = it->second.second;
        const double p = regression ? it->second.second / get(row, "online_loss")
                                    : get(row, "online_accuracy") / it->second.first;
        row["plasticity"] = std::isfinite(p) ? json(p) : json(nullptr);  // a diverged run: no plasticity
      }
      for (const auto& [k, v] : row.items())
        for (const char* prefix : {"dead_fraction_l", "effective_rank_l", "gain_sq_l"})
          if (k.rfind(prefix, 0) == 0) table.layer_columns.insert(k);
      table.rows.push_back({r.method, r.seed, std::move(row)});
    }
  table.methods.assign(o.methods.begin(), o.methods.end());
  if (o.fresh_baseline) table.methods.push_back(std::nullopt);
  for (const auto& r : table.rows) {
    const auto t = static_cast<std::size_t>(get(r.values, "task"));
    for (const auto& c : kSeriesColumns) {
      auto& v = table.series[c][r.method];
      if (v.size() <= t) v.resize(t + 1);
      v[t].push_back(get(r.values, c));
    }
  }
  return table;
}

ContinualAnalysis analyse(const ContinualOptions& o, const TaskTable& table) {
  ContinualAnalysis a;
  const std::int64_t tenth = std::max<std::int64_t>(1, o.tasks / 10);
  auto series = [&](const std::string& c, const RunMethod& m) -> const std::vector<std::vector<double>>& {
    static const std::vector<std::vector<double>> kNone;
    const auto by_column = table.series.find(c);
    if (by_column == table.series.end()) return kNone;
    auto it = by_column->second.find(m);
    return it == by_column->second.end() ? kNone : it->second;
  };
  // Tasks [first, end) of the early or late window among the n tasks of a series.
  auto window_range = [&](std::int64_t n, bool late) {
    return late ? std::make_pair(std::max<std::int64_t>(0, n - tenth), n)
                : std::make_pair<std::int64_t>(0, std::min(n, tenth));
  };
  // Mean over the window's tasks of the mean over seeds.
  auto window = [&](const std::string& c, const RunMethod& m, bool late) {
    std::vector<double> vals;
    const auto& v = series(c, m);
    const auto [first, end] = window_range(static_cast<std::int64_t>(v.size()), late);
    for (auto t = first; t < end; ++t) vals.push_back(mean_of(v[static_cast<std::size_t>(t)]));
    return finite(mean_of(vals));
  };
  // The same per seed, then the spread over seeds.
  auto window_spread = [&](const std::string& c, const RunMethod& m, bool late) {
    const auto& v = series(c, m);
    const auto [first, end] = window_range(static_cast<std::int64_t>(v.size()), late);
    std::vector<double> per_seed;
    for (std::int64_t k = 0; k < o.seeds; ++k) {
      std::vector<double> vals;
      for (auto t = first; t < end; ++t)
        if (k < static_cast<std::int64_t>(v[static_cast<std::size_t>(t)].size()))
          vals.push_back(v[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)]);
      per_seed.push_back(mean_of(vals));
    }
    const auto s = stats::mean_sd(per_seed);
    return SeedSpread{finite(s.mean), s.n < 2 ? std::nullopt : finite(s.sd), s.n};
  };

  // Runs that diverged (non-finite loss or weights), and from which task.
  std::map<std::pair<std::string, std::uint64_t>, std::int64_t> diverged_at;
  for (const auto& r : table.rows)
    if (get(r.values, "diverged") == 1 && !diverged_at.count({method_name(r.method), r.seed}))
      diverged_at[{method_name(r.method), r.seed}] = static_cast<std::int64_t>(get(r.values, "task"));
  for (const auto& [key, t] : diverged_at) a.diverged.push_back({key.first, key.second, t});

  const std::string perf = is_regression(o) ? "online_loss" : "online_accuracy";
  auto has_column = [&](const RunMethod& m, const char* c) {
    for (const auto& r : table.rows)
      if (r.method == m && r.values.contains(c)) return true;
    return false;
  };
  auto column_sum = [&](const RunMethod& m, const char* c) {
    double sum = 0;
    for (const auto& r : table.rows)
      if (r.method == m && std::isfinite(get(r.values, c))) sum += get(r.values, c);
    return sum;
  };
  auto column_max = [&](const RunMethod& m, const char* c) {
    std::optional<double> mx;
    for (const auto& r : table.rows)
      if (r.method == m && std::isfinite(get(r.values, c))) mx = std::max(mx.value_or(0.0), get(r.values, c));
    return mx;
  };
  std::map<RunMethod, double> replaced;
  for (const auto& r : table.rows)
    replaced[r.method] += get(r.values, "units_replaced") / static_cast<double>(o.seeds);
  for (const auto& m : table.methods) {
    if (series(perf, m).empty()) continue;
    ContinualMethodWindows w;
    w.method = m;
    w.name = method_name(m);
    w.performance_early = window(perf, m, false);
    w.performance_late = window_spread(perf, m, true);
    w.plasticity_late = window_spread("plasticity", m, true);
    w.dead_fraction_early = window("dead_fraction", m, false);
    w.dead_fraction_late = window("dead_fraction", m, true);
    w.effective_rank_early = window("effective_rank", m, false);
    w.effective_rank_late = window("effective_rank", m, true);
    w.mean_abs_weight_late = window("mean_abs_weight", m, true);
    w.distance_early = window("distance_to_criticality", m, false);
    w.distance_late = window("distance_to_criticality", m, true);
    w.lambda_max_late = window("lambda_max", m, true);
    if (m) w.units_replaced = replaced[m];
    if (m && has_column(m, "backoffs")) w.backoffs = column_sum(m, "backoffs") / static_cast<double>(o.seeds);
    if (m && has_column(m, "gauge_mean_abs_weight_change"))
      w.gauge_weight_change = column_max(m, "gauge_mean_abs_weight_change");
    // Why a window is empty: a diverged run, the missing reference, or measures not taken.
    std::vector<std::string> diverged;
    for (const auto& d : a.diverged)
      if (d.method == w.name) diverged.push_back(fmt::format("seed {} at task {}", d.seed, d.task));
    if (!diverged.empty())
      w.status = make_status(StatusCode::kNonFinite, fmt::format("diverged: {}", fmt::join(diverged, ", ")));
    else if (!m)
      w.status = make_status(StatusCode::kNotApplicable,
                             "the fresh reference has no plasticity and is not measured before its tasks");
    else if (!w.plasticity_late.mean && !o.fresh_baseline)
      w.status = make_status(StatusCode::kNotRun, "no fresh reference (fresh_baseline off): no plasticity");
    else if (!w.performance_early || !w.performance_late.mean || !w.plasticity_late.mean ||
             !w.distance_late || !w.effective_rank_late)
      w.status = make_status(StatusCode::kInsufficientData, "a window has no finite value");
    a.methods.push_back(std::move(w));
  }

  // Plasticity against each measure, over all methods and tasks >= 1.
  std::map<std::string, std::vector<double>> xs;
  std::vector<double> plasticity;
  std::vector<int> cluster;
  std::map<std::pair<RunMethod, std::uint64_t>, int> cluster_id;
  for (const auto& r : table.rows) {
    if (!r.method || get(r.values, "task") < 1) continue;
    plasticity.push_back(get(r.values, "plasticity"));
    for (const auto& c : kMeasures)
      xs[c].push_back(c == "abs_lambda_max" ? std::abs(get(r.values, "lambda_max")) : get(r.values, c));
    cluster.push_back(
        cluster_id.emplace(std::make_pair(r.method, r.seed), static_cast<int>(cluster_id.size()))
            .first->second);
  }
  stats::RankCorrelation headline, erank_partial;
  for (const auto& c : kMeasures) {
    const auto f = stats::spearman(xs[c], plasticity);
    const auto b = stats::spearman_cluster_bootstrap(xs[c], plasticity, cluster, 0.95, 2000, o.seed);
    if (c == "distance_to_criticality") headline = b;
    a.correlations.push_back(correlation(c, std::nullopt, f, b));
  }
  // Does the distance carry information beyond the classical plasticity measures?
  for (const auto& control : kControls) {
    const auto& d = xs["distance_to_criticality"];
    const auto f = stats::partial_spearman(d, plasticity, xs[control]);
    const auto b =
        stats::partial_spearman_cluster_bootstrap(d, plasticity, xs[control], cluster, 0.95, 2000, o.seed);
    if (control == "effective_rank") erank_partial = b;
    a.correlations.push_back(correlation("distance_to_criticality", control, f, b));
  }

  // The claims, from the cluster-bootstrap intervals.
  auto claim = [](const stats::RankCorrelation& b) {
    ContinualClaim c;
    c.rho = b.rho, c.low = b.low, c.high = b.high;
    if (!c.rho || !c.low || !c.high) {
      c.rho = c.low = c.high = std::nullopt;
      c.status =
          make_status(StatusCode::kInsufficientData, "too few runs or tasks for the cluster bootstrap");
    }
    return c;
  };
  a.distance_predicts_plasticity = claim(headline);
  if (auto& c = a.distance_predicts_plasticity; c.status.ok())
    c.verdict = *c.high < 0  ? ClaimVerdict::kSupported
                : *c.low > 0 ? ClaimVerdict::kOpposite
                             : ClaimVerdict::kNotSupported;
  paired_tests(o, table, a);
  a.distance_beyond_effective_rank = claim(erank_partial);
  if (auto& c = a.distance_beyond_effective_rank; c.status.ok())
    c.verdict = *c.low <= 0 && *c.high >= 0 ? ClaimVerdict::kNotSupported : ClaimVerdict::kSupported;
  return a;
}

}  // namespace critlab::experiments::continual_detail
