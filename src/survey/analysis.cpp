#include "critlab/survey/analysis.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "critlab/core/error.h"
#include "critlab/stats/describe.h"

namespace critlab::survey {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A column as numbers (missing = NaN); names each non-numeric cell by its line in `notes`.
std::vector<double> numeric_column(const io::TextTable& t, const std::string& name,
                                   std::vector<std::string>* notes) {
  std::vector<double> out(t.rows.size(), kNaN);
  const auto c = t.find(name);
  if (!c) return out;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    bool bad = false;
    out[r] = cell_number(t.cell(r, *c), &bad);
    if (bad)
      notes->push_back(fmt::format("line {}: {} '{}' is not a number; the row is left out of the tests on {}",
                                   t.lines[r], name, t.cell(r, *c), name));
  }
  return out;
}

std::vector<std::string> text_column(const io::TextTable& t, const std::string& name) {
  std::vector<std::string> out(t.rows.size());
  if (const auto c = t.find(name))
    for (std::size_t r = 0; r < t.rows.size(); ++r) out[r] = t.cell(r, *c);
  return out;
}

// Holm's step-down adjustment of the p-values that exist.
void holm(std::vector<SpearmanResult>* results) {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < results->size(); ++i)
    if ((*results)[i].r.p_value) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return *(*results)[a].r.p_value < *(*results)[b].r.p_value;
  });
  double running = 0;
  const double m = static_cast<double>(idx.size());
  for (std::size_t k = 0; k < idx.size(); ++k) {
    running = std::max(running, std::min(1.0, (m - static_cast<double>(k)) * *(*results)[idx[k]].r.p_value));
    (*results)[idx[k]].p_holm = running;
  }
}

std::optional<double> median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

stats::RankCorrelation too_few(std::int64_t n, int min_models) {
  stats::RankCorrelation r;
  r.n = n;
  r.interval = "fisher";
  r.status = make_status(StatusCode::kInsufficientData,
                         fmt::format("{} models with both values; a test needs at least {}", n, min_models));
  return r;
}

stats::RankCorrelation spearman_gated(const std::vector<double>& x, const std::vector<double>& y,
                                      const AnalysisOptions& o) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < x.size(); ++i) n += !std::isnan(x[i]) && !std::isnan(y[i]);
  if (n < o.min_models) return too_few(n, o.min_models);
  return stats::spearman(x, y, o.confidence);
}

std::string fmt_opt(const std::optional<double>& v, const char* spec = "{:.3g}") {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("null");
}

// The sign a claim expects of rho(accuracy, metric): closer to criticality = more accurate.
int expected_sign(MetricRole role) {
  return role == MetricRole::kDistance ? -1 : role == MetricRole::kCloseness ? +1 : 0;
}

const char* role_name(MetricRole role) {
  switch (role) {
    case MetricRole::kDistance:
      return "distance to criticality";
    case MetricRole::kCloseness:
      return "closeness to criticality";
    case MetricRole::kSpectral:
      return "weight-spectrum metric (data-free)";
    case MetricRole::kOther:
      break;
  }
  return "other";
}

// supported / contradicted / not-supported from a signed association and its p.
std::string verdict(const std::optional<double>& effect, const std::optional<double>& p, int expected,
                    double alpha) {
  if (!effect || !p) return "not-testable";
  if (*p >= alpha || *effect == 0) return "not-supported";
  return (*effect > 0) == (expected > 0) ? "supported" : "contradicted";
}

}  // namespace

double cell_number(const std::string& cell, bool* bad) {
  *bad = false;
  if (cell.empty() || cell == "null" || cell == "NA" || cell == "nan" || cell == "NaN") return kNaN;
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  if (end == cell.c_str() || end != cell.c_str() + cell.size()) {
    *bad = true;
    return kNaN;
  }
  *bad = !std::isfinite(v);  // "inf", 1e400
  return *bad ? kNaN : v;
}

MetricRole metric_role(const std::string& m) {
  if (m == "d" || m == "abs_lambda0" || m == "sigma_distance") return MetricRole::kDistance;
  if (m == "delta_db") return MetricRole::kCloseness;
  if (m == "alpha_mean" || m == "alpha_weighted_mean") return MetricRole::kSpectral;
  return MetricRole::kOther;
}

const std::vector<std::string>& default_metrics() {
  static const std::vector<std::string> m{"d",       "abs_lambda0", "sigma_distance", "delta_db",
                                          "lambda0", "sigma",       "alpha_mean",     "alpha_weighted_mean"};
  return m;
}

FactorSpec parse_factor(const std::string& text) {
  FactorSpec f;
  std::string rest = text;
  if (const auto colon = rest.find(':'); colon != std::string::npos) {
    f.pair_column = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  if (const auto eq = rest.find('='); eq != std::string::npos) {
    f.innovation = rest.substr(eq + 1);
    rest = rest.substr(0, eq);
  }
  f.column = rest;
  if (f.column.empty() || (text.find(':') != std::string::npos && f.pair_column.empty()) ||
      (text.find('=') != std::string::npos && f.innovation.empty()))
    throw Error(
        fmt::format("--factor '{}': expected COL, COL=LEVEL, COL:PAIRCOL or COL=LEVEL:PAIRCOL", text));
  return f;
}

bool AnalysisOptions::IsValid(const io::TextTable& t, std::string* error) const {
  const auto missing = [&](const std::string& what, const std::string& col) {
    *error = fmt::format("{} column '{}' is not in the table (columns: {})", what, col,
                         fmt::join(t.columns, ", "));
    return false;
  };
  if (!t.find(accuracy)) return missing("the accuracy", accuracy);
  for (const auto& m : metrics)
    if (!t.find(m)) return missing("metric", m);
  if (!group.empty() && !t.find(group)) return missing("the group", group);
  for (const auto& f : factors) {
    if (!t.find(f.column)) return missing("factor", f.column);
    if (!f.pair_column.empty() && !t.find(f.pair_column)) return missing("pair", f.pair_column);
  }
  if (!(confidence > 0 && confidence < 1)) {
    *error = "confidence must be in (0, 1)";
    return false;
  }
  if (!(alpha > 0 && alpha < 1)) {
    *error = "alpha must be in (0, 1)";
    return false;
  }
  if (min_models < 3) {
    *error = "min_models must be at least 3";
    return false;
  }
  return true;
}

SurveyAnalysis analyse_table(const io::TextTable& t, const AnalysisOptions& options) {
  std::string error;
  if (!options.IsValid(t, &error)) throw Error(error);
  SurveyAnalysis a;
  a.options = options;
  a.rows = static_cast<std::int64_t>(t.rows.size());
  a.metrics = options.metrics;
  if (a.metrics.empty())
    for (const auto& m : default_metrics())
      if (t.find(m)) a.metrics.push_back(m);

  const auto acc = numeric_column(t, options.accuracy, &a.notes);
  const bool have_year = !options.year.empty() && t.find(options.year);
  const auto year =
      have_year ? numeric_column(t, options.year, &a.notes) : std::vector<double>(t.rows.size(), kNaN);
  std::map<std::string, std::vector<double>> metric;
  for (const auto& m : a.metrics) metric[m] = numeric_column(t, m, &a.notes);
  const auto group = options.group.empty() ? std::vector<std::string>() : text_column(t, options.group);
  std::set<std::string> groups;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    // Usable: an accuracy and at least one metric (a failed model's row has only the manifest's columns).
    const bool any_metric = std::any_of(a.metrics.begin(), a.metrics.end(),
                                        [&](const std::string& m) { return !std::isnan(metric[m][r]); });
    a.usable += !std::isnan(acc[r]) && any_metric;
    if (!std::isnan(acc[r]) && !group.empty()) groups.insert(group[r]);
  }
  a.groups = static_cast<std::int64_t>(groups.size());

  // Spearman: accuracy against each metric (one family for Holm), then against year; each metric against
  // year.
  for (const auto& m : a.metrics)
    a.spearman.push_back({m, options.accuracy, spearman_gated(metric[m], acc, options)});
  holm(&a.spearman);
  if (have_year) {
    a.spearman.push_back({options.year, options.accuracy, spearman_gated(year, acc, options)});
    for (const auto& m : a.metrics)
      a.spearman_year.push_back({options.year, m, spearman_gated(year, metric[m], options)});
    holm(&a.spearman_year);
  }

  // The mixed model, per metric.
  if (!options.group.empty()) {
    for (const auto& m : a.metrics) {
      MixedResult res{m, {}, std::nullopt};
      std::vector<double> y, x;
      std::vector<std::string> g;
      for (std::size_t r = 0; r < t.rows.size(); ++r)
        if (!std::isnan(acc[r]) && !std::isnan(metric[m][r]) && !group[r].empty())
          y.push_back(acc[r]), x.push_back(metric[m][r]), g.push_back(group[r]);
      const std::size_t levels = std::set<std::string>(g.begin(), g.end()).size();
      if (static_cast<int>(y.size()) < options.min_models || y.size() < levels + 2) {
        // With no more models than groups + 1, the group and residual variances cannot be told apart.
        res.fit.n = static_cast<std::int64_t>(y.size());
        res.fit.groups = static_cast<std::int64_t>(levels);
        res.fit.status = make_status(
            StatusCode::kInsufficientData,
            fmt::format(
                "{} models with accuracy, {} and a {} in {} groups; the model needs at least {} and more "
                "than groups + 1",
                y.size(), m, options.group, levels, options.min_models));
      } else {
        res.fit = stats::random_intercept_model(y, x, g);
        const double sx = stats::mean_sd(x).sd, sy = stats::mean_sd(y).sd;
        if (res.fit.slope && sx > 0 && sy > 0) res.slope_standardized = *res.fit.slope * sx / sy;
      }
      a.mixed_model.push_back(std::move(res));
    }
  }

  // Factors: Mann-Whitney between the two levels, Wilcoxon over the pairs.
  for (const auto& f : options.factors) {
    const auto level = text_column(t, f.column);
    std::set<std::string> levels_set;
    for (std::size_t r = 0; r < t.rows.size(); ++r)
      if (!level[r].empty()) levels_set.insert(level[r]);
    std::vector<std::string> levels(levels_set.begin(), levels_set.end());
    std::vector<std::string> variables = a.metrics;
    variables.push_back(options.accuracy);
    std::map<std::string, std::vector<double>> values = metric;
    values[options.accuracy] = acc;
    Status level_problem;
    if (levels.size() != 2)
      level_problem =
          make_status(levels.size() < 2 ? StatusCode::kInsufficientData : StatusCode::kInvalidInput,
                      fmt::format("factor '{}' has {} level(s) ({}); the tests compare exactly two", f.column,
                                  levels.size(), fmt::join(levels, ", ")));
    if (!f.innovation.empty() && level_problem.ok() && !levels_set.count(f.innovation))
      level_problem = make_status(StatusCode::kInvalidInput,
                                  fmt::format("factor '{}' has no level '{}' (levels: {})", f.column,
                                              f.innovation, fmt::join(levels, ", ")));
    const std::string l1 = levels.size() > 0 ? levels[0] : "", l2 = levels.size() > 1 ? levels[1] : "";
    for (const auto& v : variables) {
      MannWhitneyResult mw{f.column, v, l1, l2, {}, std::nullopt, std::nullopt};
      std::vector<double> s1, s2;
      for (std::size_t r = 0; r < t.rows.size(); ++r) {
        if (std::isnan(values[v][r]) || level[r].empty()) continue;  // a row outside the factor's contrast
        if (level[r] == l1) s1.push_back(values[v][r]);
        if (level[r] == l2 && !l2.empty()) s2.push_back(values[v][r]);
      }
      if (!level_problem.ok())
        mw.test.status = level_problem;
      else if (static_cast<int>(s1.size() + s2.size()) < options.min_models || s1.empty() || s2.empty())
        mw.test.status =
            make_status(StatusCode::kInsufficientData,
                        fmt::format("{} and {} models with {} at the two levels; the test needs at "
                                    "least {} in all and one at each level",
                                    s1.size(), s2.size(), v, options.min_models));
      else
        mw.test = stats::mann_whitney(s1, s2);
      mw.test.n1 = static_cast<std::int64_t>(s1.size());
      mw.test.n2 = static_cast<std::int64_t>(s2.size());
      mw.median1 = median(s1);
      mw.median2 = median(s2);
      a.mann_whitney.push_back(std::move(mw));
      if (f.pair_column.empty()) continue;
      WilcoxonResult w{f.column, v, f.pair_column, l1, l2, {}, std::nullopt};
      const auto pair = text_column(t, f.pair_column);
      std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_pair;
      for (std::size_t r = 0; r < t.rows.size(); ++r) {
        if (pair[r].empty() || level[r].empty() || std::isnan(values[v][r])) continue;
        if (level[r] == l1) by_pair[pair[r]].first.push_back(values[v][r]);
        if (level[r] == l2 && !l2.empty()) by_pair[pair[r]].second.push_back(values[v][r]);
      }
      std::vector<double> diff;
      for (const auto& [id, members] : by_pair)  // a pair is one row at each level; others are not pairs
        if (members.first.size() == 1 && members.second.size() == 1)
          diff.push_back(members.second.front() - members.first.front());
      if (!level_problem.ok())
        w.test.status = level_problem;
      else if (static_cast<int>(diff.size()) < options.min_models)
        w.test.status =
            make_status(StatusCode::kInsufficientData,
                        fmt::format("{} complete pairs in '{}' with {}; the test needs at least {}",
                                    diff.size(), f.pair_column, v, options.min_models));
      else
        w.test = stats::wilcoxon_signed_rank(diff);
      w.median_difference = median(diff);
      if (!w.test.statistic) w.test.n1 = static_cast<std::int64_t>(diff.size());
      a.wilcoxon.push_back(std::move(w));
    }
  }

  // Ranking by |rho| with accuracy.
  std::vector<std::pair<double, std::string>> order;
  for (const auto& s : a.spearman)
    if (s.x != options.year && s.r.rho) order.emplace_back(-std::abs(*s.r.rho), s.x);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [v, m] : order) a.ranking.push_back(m);

  // The claims.
  const double alpha = options.alpha;
  for (const auto& s : a.spearman) {
    const MetricRole role = metric_role(s.x);
    if (s.x == options.year || expected_sign(role) == 0) continue;
    const MixedResult* mm = nullptr;
    for (const auto& m : a.mixed_model)
      if (m.metric == s.x) mm = &m;
    Claim c;
    c.id = "accuracy-tracks-criticality:" + s.x;
    c.statement = fmt::format("Models closer to criticality are more accurate ({} {}: rho {} 0 expected)",
                              role_name(role), s.x, expected_sign(role) < 0 ? "<" : ">");
    c.verdict = verdict(s.r.rho, s.p_holm, expected_sign(role), alpha);
    c.evidence =
        fmt::format("Spearman rho = {} [{}, {}], p = {}, Holm p = {}, n = {}", fmt_opt(s.r.rho),
                    fmt_opt(s.r.low), fmt_opt(s.r.high), fmt_opt(s.r.p_value), fmt_opt(s.p_holm), s.r.n);
    if (!s.r.rho) c.evidence += " (" + s.r.status.to_string() + ")";
    if (mm)
      c.evidence +=
          fmt::format("; within families (mixed model, {} groups): slope = {} +- {}, p = {}{}",
                      mm->fit.groups, fmt_opt(mm->fit.slope), fmt_opt(mm->fit.slope_se),
                      fmt_opt(mm->fit.p_value), mm->fit.slope ? "" : " (" + mm->fit.status.to_string() + ")");
    a.claims.push_back(std::move(c));
    if (!mm) continue;
    // The same claim within families: the mixed model's slope (a random intercept absorbs what differs
    // between families, e.g. architecture and training budget).
    Claim w;
    w.id = "accuracy-tracks-criticality-within-families:" + s.x;
    w.statement = fmt::format(
        "Within a {}, models closer to criticality are more accurate ({} {}: slope {} 0 expected)",
        options.group, role_name(role), s.x, expected_sign(role) < 0 ? "<" : ">");
    w.verdict = verdict(mm->fit.slope, mm->fit.p_value, expected_sign(role), alpha);
    w.evidence = fmt::format(
        "accuracy ~ {} + (1 | {}), REML: slope = {} +- {}, df = {}, p = {}, {} SD = {}, residual SD = {}, "
        "n = {}, {} groups",
        s.x, options.group, fmt_opt(mm->fit.slope), fmt_opt(mm->fit.slope_se), fmt_opt(mm->fit.df),
        fmt_opt(mm->fit.p_value), options.group, fmt_opt(mm->fit.group_sd), fmt_opt(mm->fit.residual_sd),
        mm->fit.n, mm->fit.groups);
    if (!mm->fit.slope) w.evidence += " (" + mm->fit.status.to_string() + ")";
    a.claims.push_back(std::move(w));
  }
  if (have_year) {
    for (const auto& s : a.spearman_year) {
      const MetricRole role = metric_role(s.y);
      if (expected_sign(role) == 0) continue;
      Claim c;
      c.id = "moved-toward-criticality-over-years:" + s.y;
      c.statement = fmt::format("Over the years, models moved toward criticality ({} {} against {})",
                                role_name(role), s.y, options.year);
      c.verdict = verdict(s.r.rho, s.p_holm, expected_sign(role), alpha);
      c.evidence =
          fmt::format("Spearman rho = {} [{}, {}], p = {}, Holm p = {}, n = {}", fmt_opt(s.r.rho),
                      fmt_opt(s.r.low), fmt_opt(s.r.high), fmt_opt(s.r.p_value), fmt_opt(s.p_holm), s.r.n);
      a.claims.push_back(std::move(c));
    }
    const auto& s = a.spearman.back();  // accuracy against year
    a.claims.push_back(
        {"accuracy-rose-over-years",
         fmt::format("Accuracy rose over the years ({} against {})", options.accuracy, options.year),
         verdict(s.r.rho, s.r.p_value, +1, alpha),
         fmt::format("Spearman rho = {} [{}, {}], p = {}, n = {}", fmt_opt(s.r.rho), fmt_opt(s.r.low),
                     fmt_opt(s.r.high), fmt_opt(s.r.p_value), s.r.n)});
  }
  for (const auto& f : options.factors) {
    for (const auto& mw : a.mann_whitney) {
      const MetricRole role = metric_role(mw.variable);
      if (mw.factor != f.column || expected_sign(role) == 0) continue;
      Claim c;
      c.id = fmt::format("innovation-moves-toward-criticality:{}:{}", f.column, mw.variable);
      const WilcoxonResult* wx = nullptr;
      for (const auto& w : a.wilcoxon)
        if (w.factor == f.column && w.variable == mw.variable) wx = &w;
      // Effect: how much closer to criticality the innovation level is (positive = closer).
      std::optional<double> effect;
      std::optional<double> p = mw.test.p_value;
      const bool paired = wx && wx->test.p_value;  // pairs, where there are enough, decide the verdict
      if (paired) p = wx->test.p_value;
      const auto d =
          paired ? wx->median_difference
                 : (mw.median1 && mw.median2 ? std::optional(*mw.median2 - *mw.median1) : std::nullopt);
      if (d && !f.innovation.empty()) {
        const double toward_level2 = expected_sign(role) < 0 ? -*d : *d;  // level2 closer to criticality
        effect = f.innovation == mw.level2 ? toward_level2 : -toward_level2;
      }
      c.statement = f.innovation.empty()
                        ? fmt::format("'{}' changes the distance to criticality ({})", f.column, mw.variable)
                        : fmt::format("The innovation {} = {} moves models toward criticality ({})", f.column,
                                      f.innovation, mw.variable);
      c.verdict = f.innovation.empty() ? (p ? (*p < alpha ? "difference" : "no-difference") : "not-testable")
                                       : verdict(effect, p, +1, alpha);
      c.evidence = fmt::format(
          "Mann-Whitney: median {} = {} at {} = {}, {} at {} = {}; U = {}, p = {} (n = {}, {})", mw.variable,
          fmt_opt(mw.median1), f.column, mw.level1, fmt_opt(mw.median2), f.column, mw.level2,
          fmt_opt(mw.test.statistic), fmt_opt(mw.test.p_value), mw.test.n1, mw.test.n2);
      if (wx)
        c.evidence +=
            fmt::format("; Wilcoxon over pairs: median difference ({} - {}) = {}, V = {}, p = {}, n = {}",
                        mw.level2, mw.level1, fmt_opt(wx->median_difference), fmt_opt(wx->test.statistic),
                        fmt_opt(wx->test.p_value), wx->test.n1);
      if (paired) c.evidence += " (the verdict is the paired test's)";
      a.claims.push_back(std::move(c));
    }
  }
  // Criticality against the data-free competitor.
  std::optional<std::pair<double, std::string>> best_crit, best_spec;
  std::optional<double> best_crit_p;
  for (const auto& s : a.spearman) {
    if (!s.r.rho || s.x == options.year) continue;
    const MetricRole role = metric_role(s.x);
    auto& best = role == MetricRole::kSpectral ? best_spec : best_crit;
    if (role == MetricRole::kOther) continue;
    if (!best || std::abs(*s.r.rho) > best->first) {
      best = std::make_pair(std::abs(*s.r.rho), s.x);
      if (role != MetricRole::kSpectral) best_crit_p = s.p_holm;
    }
  }
  Claim comp{"criticality-beats-weight-spectra",
             "A criticality metric predicts accuracy better than the data-free weight-spectrum metrics",
             "not-testable", ""};
  if (best_crit && best_spec) {
    // Supported only where the better criticality metric is itself significant; the two rhos' difference is
    // described, not tested.
    comp.verdict = best_crit->first > best_spec->first && best_crit_p && *best_crit_p < alpha
                       ? "supported"
                       : "not-supported";
    comp.evidence = fmt::format(
        "best |rho|: {} {:.3f} (Holm p = {}) against {} {:.3f} (the difference of two rhos "
        "is described, not tested)",
        best_crit->second, best_crit->first, fmt_opt(best_crit_p), best_spec->second, best_spec->first);
  } else {
    comp.evidence = "needs rho for at least one criticality and one weight-spectrum metric";
  }
  a.claims.push_back(std::move(comp));

  if (a.usable < options.min_models)
    a.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("{} of {} rows have a numeric {} and a metric; the tests need at least {}",
                                a.usable, a.rows, options.accuracy, options.min_models));
  return a;
}

namespace {

nlohmann::json rank_test_json(const stats::RankTest& t, const char* stat) {
  nlohmann::json j{{stat, or_null(t.statistic)}, {"p", or_null(t.p_value)}, {"exact", t.exact}};
  put_status(j, t.status);
  return j;
}

nlohmann::json spearman_json(const SpearmanResult& s, bool against_year) {
  nlohmann::json j{
      {"metric", against_year ? s.y : s.x},
      {"rho", or_null(s.r.rho)},
      {"ci", s.r.low && s.r.high ? nlohmann::json::array({*s.r.low, *s.r.high}) : nlohmann::json()},
      {"p", or_null(s.r.p_value)},
      {"p_holm", or_null(s.p_holm)},
      {"n", s.r.n},
      {"against", against_year ? s.x : s.y}};
  put_status(j, s.r.status);
  return j;
}

}  // namespace

nlohmann::json to_json(const SurveyAnalysis& a) {
  nlohmann::json j;
  j["rows"] = a.rows;
  j["usable"] = a.usable;
  j["groups"] = a.groups;
  j["accuracy"] = a.options.accuracy;
  j["group"] = a.options.group;
  j["metrics"] = a.metrics;
  j["spearman"] = nlohmann::json::array();
  for (const auto& s : a.spearman) j["spearman"].push_back(spearman_json(s, false));
  j["spearman_year"] = nlohmann::json::array();
  for (const auto& s : a.spearman_year) j["spearman_year"].push_back(spearman_json(s, true));
  j["mixed_model"] = nlohmann::json::array();
  for (const auto& m : a.mixed_model) {
    const auto& f = m.fit;
    nlohmann::json e{{"metric", m.metric},
                     {"slope", or_null(f.slope)},
                     {"slope_se", or_null(f.slope_se)},
                     {"slope_standardized", or_null(m.slope_standardized)},
                     {"intercept", or_null(f.intercept)},
                     {"group_sd", or_null(f.group_sd)},
                     {"residual_sd", or_null(f.residual_sd)},
                     {"df", or_null(f.df)},
                     {"p", or_null(f.p_value)},
                     {"n", f.n},
                     {"groups", f.groups},
                     {"boundary", f.boundary}};
    put_status(e, f.status);
    j["mixed_model"].push_back(std::move(e));
  }
  j["mann_whitney"] = nlohmann::json::array();
  for (const auto& m : a.mann_whitney) {
    auto e = rank_test_json(m.test, "u");
    e["metric"] = m.variable;
    e["factor"] = m.factor;
    e["levels"] = {m.level1, m.level2};
    e["n1"] = m.test.n1;
    e["n2"] = m.test.n2;
    e["median1"] = or_null(m.median1);
    e["median2"] = or_null(m.median2);
    j["mann_whitney"].push_back(std::move(e));
  }
  j["wilcoxon"] = nlohmann::json::array();
  for (const auto& w : a.wilcoxon) {
    auto e = rank_test_json(w.test, "v");
    e["metric"] = w.variable;
    e["factor"] = w.factor;
    e["pairs"] = w.pair_column;
    e["levels"] = {w.level1, w.level2};
    e["n"] = w.test.n1;
    e["median_difference"] = or_null(w.median_difference);
    j["wilcoxon"].push_back(std::move(e));
  }
  j["ranking"] = a.ranking;
  nlohmann::json best = nullptr;
  if (!a.ranking.empty())
    for (const auto& s : a.spearman)
      if (s.x == a.ranking.front()) {
        best = {{"metric", s.x},
                {"rho", or_null(s.r.rho)},
                {"p", or_null(s.r.p_value)},
                {"data_free", metric_role(s.x) == MetricRole::kSpectral}};
        for (const auto& m : a.mixed_model)
          if (m.metric == s.x) best["slope_standardized"] = or_null(m.slope_standardized);
      }
  j["best_predictor"] = best;
  if (best.is_null()) {
    j["best_predictor_status"] = to_string(StatusCode::kInsufficientData);
    j["best_predictor_message"] = "no metric has a rank correlation with accuracy";
  }
  j["claims"] = nlohmann::json::array();
  for (const auto& c : a.claims)
    j["claims"].push_back(
        {{"id", c.id}, {"statement", c.statement}, {"verdict", c.verdict}, {"evidence", c.evidence}});
  j["notes"] = a.notes;
  put_status(j, a.status);
  return j;
}

}  // namespace critlab::survey
