// The survey analysis written for people: tables, plots and summary.md (analysis.cpp computes).
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <map>

#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/survey/analysis.h"

namespace critlab::survey {

namespace {

std::string num(const std::optional<double>& v, const char* spec = "{:.4g}") {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string();
}

double cell_value(const io::TextTable& t, std::size_t r, std::size_t c) {
  if (c == std::string::npos) return std::nan("");
  bool bad = false;  // analyse_table has named the bad cells already
  return cell_number(t.cell(r, c), &bad);
}

io::TextTable spearman_table(const std::vector<SpearmanResult>& rows) {
  io::TextTable t{{"x", "y", "rho", "ci_low", "ci_high", "p", "p_holm", "n", "status"}, {}, {}};
  for (const auto& s : rows)
    t.rows.push_back({s.x, s.y, num(s.r.rho), num(s.r.low), num(s.r.high), num(s.r.p_value), num(s.p_holm),
                      std::to_string(s.r.n), s.r.status.to_string()});
  return t;
}

}  // namespace

std::string claims_brief(const SurveyAnalysis& a) {
  std::string text;
  int untestable = 0;
  for (const auto& c : a.claims) {
    if (c.verdict == "not-testable") {
      ++untestable;
      continue;
    }
    text += fmt::format("  [{}] {}\n      {}\n", c.verdict, c.statement, c.evidence);
  }
  if (untestable)
    text += fmt::format("  ({} claims not testable on these data: see summary.md)\n", untestable);
  if (!text.empty()) text.pop_back();
  return text;
}

std::string summary_markdown(const SurveyAnalysis& a) {
  std::string md = "# Survey: does accuracy track closeness to criticality?\n\n";
  md += fmt::format("{} models in the table, {} with a numeric `{}` and a metric", a.rows, a.usable,
                    a.options.accuracy);
  if (!a.options.group.empty()) md += fmt::format(", in {} groups (`{}`)", a.groups, a.options.group);
  md +=
      ". Claims are judged at alpha = " + fmt::format("{}", a.options.alpha) +
      " (Holm-adjusted over the metrics for the correlations): *supported* means significant in the claimed "
      "direction, *contradicted* significant in the opposite one, *not-supported* no significant "
      "association, "
      "*not-testable* too few data.\n\n";
  if (!a.status.ok()) md += "**Status:** " + a.status.to_string() + "\n\n";
  md += "## Claims\n\n| claim | verdict | evidence |\n|---|---|---|\n";
  // A '|' inside a cell (the model formula "(1 | family)") would end the cell.
  const auto cell = [](std::string t) {
    for (std::size_t i = 0; (i = t.find('|', i)) != std::string::npos; i += 2) t.insert(i, "\\");
    return t;
  };
  for (const auto& c : a.claims)
    md += fmt::format("| {} | **{}** | {} |\n", cell(c.statement), c.verdict, cell(c.evidence));
  md += "\n## Which metric predicts accuracy best\n\n";
  md += "| metric | role | rho | p | Holm p | mixed slope | slope SE | standardised slope | mixed p |\n";
  md += "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& m : a.ranking) {
    const SpearmanResult* s = nullptr;
    const MixedResult* mm = nullptr;
    for (const auto& x : a.spearman)
      if (x.x == m) s = &x;
    for (const auto& x : a.mixed_model)
      if (x.metric == m) mm = &x;
    const MetricRole role = metric_role(m);
    const char* role_text = role == MetricRole::kDistance    ? "distance"
                            : role == MetricRole::kCloseness ? "closeness"
                            : role == MetricRole::kSpectral  ? "weight spectrum (data-free)"
                                                             : "other";
    md +=
        fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", m, role_text, num(s->r.rho, "{:.3f}"),
                    num(s->r.p_value, "{:.3g}"), num(s->p_holm, "{:.3g}"), mm ? num(mm->fit.slope) : "",
                    mm ? num(mm->fit.slope_se) : "", mm ? num(mm->slope_standardized, "{:.3f}") : "",
                    mm ? num(mm->fit.p_value, "{:.3g}") : "");
  }
  if (!a.mixed_model.empty()) {
    md += "\n## Mixed models: accuracy ~ metric + (1 | " + a.options.group + "), REML\n\n";
    md += "| metric | slope | SE | df | p | intercept | group SD | residual SD | n | groups | status |\n";
    md += "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& m : a.mixed_model)
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", m.metric,
                        num(m.fit.slope), num(m.fit.slope_se), num(m.fit.df, "{:.1f}"),
                        num(m.fit.p_value, "{:.3g}"), num(m.fit.intercept), num(m.fit.group_sd),
                        num(m.fit.residual_sd), m.fit.n, m.fit.groups,
                        m.fit.status.to_string() + (m.fit.boundary ? " (group variance at 0)" : ""));
  }
  if (!a.spearman_year.empty()) {
    md +=
        "\n## Metrics against year (Spearman)\n\n| metric | rho | 95% CI | p | Holm p | n "
        "|\n|---|---|---|---|---|---|\n";
    for (const auto& s : a.spearman_year)
      md += fmt::format("| {} | {} | [{}, {}] | {} | {} | {} |\n", s.y, num(s.r.rho, "{:.3f}"),
                        num(s.r.low, "{:.3f}"), num(s.r.high, "{:.3f}"), num(s.r.p_value, "{:.3g}"),
                        num(s.p_holm, "{:.3g}"), s.r.n);
  }
  if (!a.mann_whitney.empty()) {
    md += "\n## Factors: Mann-Whitney U (U of the first level)\n\n";
    md += "| factor | variable | levels | median 1 | median 2 | U | p | exact | n1 | n2 |\n";
    md += "|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& m : a.mann_whitney)
      md += fmt::format("| {} | {} | {} / {} | {} | {} | {} | {} | {} | {} | {} |\n", m.factor, m.variable,
                        m.level1, m.level2, num(m.median1), num(m.median2), num(m.test.statistic),
                        num(m.test.p_value, "{:.3g}"), m.test.exact ? "yes" : "no", m.test.n1, m.test.n2);
  }
  if (!a.wilcoxon.empty()) {
    md += "\n## Paired variants: Wilcoxon signed-rank (differences level 2 - level 1)\n\n";
    md +=
        "| factor | variable | pairs | median difference | V | p | exact | n "
        "|\n|---|---|---|---|---|---|---|---|\n";
    for (const auto& w : a.wilcoxon)
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", w.factor, w.variable, w.pair_column,
                        num(w.median_difference), num(w.test.statistic), num(w.test.p_value, "{:.3g}"),
                        w.test.exact ? "yes" : "no", w.test.n1);
  }
  if (!a.notes.empty()) {
    md += "\n## Rows left out\n\n";
    for (const auto& n : a.notes) md += "- " + n + "\n";
  }
  md +=
      "\nPlots: `plots/accuracy_vs_<metric>.png`, `plots/<metric>_vs_year.png`, "
      "`plots/family_means_<metric>.png`; "
      "tables: `tables/*.csv`; every number: `analysis.json`.\n";
  return md;
}

void write_analysis_files(const std::filesystem::path& dir, const io::TextTable& table,
                          const SurveyAnalysis& a) {
  const auto tables = dir / "tables";
  const auto plots = dir / "plots";
  std::filesystem::create_directories(tables);
  io::write_atomic(tables / "spearman.csv", spearman_table(a.spearman).to_csv());
  io::write_atomic(tables / "spearman_year.csv", spearman_table(a.spearman_year).to_csv());
  io::TextTable mm{{"metric", "slope", "slope_se", "slope_standardized", "df", "p", "intercept", "group_sd",
                    "residual_sd", "n", "groups", "boundary", "status"},
                   {},
                   {}};
  for (const auto& m : a.mixed_model)
    mm.rows.push_back({m.metric, num(m.fit.slope, "{:.8g}"), num(m.fit.slope_se, "{:.8g}"),
                       num(m.slope_standardized, "{:.8g}"), num(m.fit.df, "{:.8g}"),
                       num(m.fit.p_value, "{:.8g}"), num(m.fit.intercept, "{:.8g}"),
                       num(m.fit.group_sd, "{:.8g}"), num(m.fit.residual_sd, "{:.8g}"),
                       std::to_string(m.fit.n), std::to_string(m.fit.groups), m.fit.boundary ? "1" : "0",
                       m.fit.status.to_string()});
  io::write_atomic(tables / "mixed_model.csv", mm.to_csv());
  io::TextTable mw{{"factor", "variable", "level1", "level2", "median1", "median2", "u", "p", "exact", "n1",
                    "n2", "status"},
                   {},
                   {}};
  for (const auto& m : a.mann_whitney)
    mw.rows.push_back({m.factor, m.variable, m.level1, m.level2, num(m.median1, "{:.8g}"),
                       num(m.median2, "{:.8g}"), num(m.test.statistic, "{:.8g}"),
                       num(m.test.p_value, "{:.8g}"), m.test.exact ? "1" : "0", std::to_string(m.test.n1),
                       std::to_string(m.test.n2), m.test.status.to_string()});
  io::write_atomic(tables / "mann_whitney.csv", mw.to_csv());
  io::TextTable wx{
      {"factor", "variable", "pairs", "median_difference", "v", "p", "exact", "n", "status"}, {}, {}};
  for (const auto& w : a.wilcoxon)
    wx.rows.push_back({w.factor, w.variable, w.pair_column, num(w.median_difference, "{:.8g}"),
                       num(w.test.statistic, "{:.8g}"), num(w.test.p_value, "{:.8g}"),
                       w.test.exact ? "1" : "0", std::to_string(w.test.n1), w.test.status.to_string()});
  io::write_atomic(tables / "wilcoxon.csv", wx.to_csv());

  // Plots from the rows themselves.
  // Column indices, or npos (plain integers: GCC 12 warns falsely about optionals captured by lambdas).
  constexpr std::size_t npos = std::string::npos;
  const auto index = [&](const std::string& name) {
    return name.empty() ? npos : table.find(name).value_or(npos);
  };
  const std::size_t acc_c = index(a.options.accuracy), year_c = index(a.options.year),
                    group_c = index(a.options.group), name_c = index("name");
  const auto group_of = [&](std::size_t r) {
    return group_c != npos ? table.cell(r, group_c) : std::string("all");
  };
  const auto name_of = [&](std::size_t r) {
    return name_c != npos ? table.cell(r, name_c) : std::to_string(table.lines[r]);
  };
  io::TextTable means{{"group", "metric", "models", "mean_metric", "mean_accuracy"}, {}, {}};
  for (const auto& m : a.metrics) {
    const std::size_t mc = index(m);
    std::vector<io::ScatterPoint> acc_points, year_points;
    std::map<std::string, std::array<double, 3>> sums;  // group -> {n, sum metric, sum accuracy}
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      const double x = cell_value(table, r, mc), y = cell_value(table, r, acc_c),
                   yr = cell_value(table, r, year_c);
      acc_points.push_back({group_of(r), name_of(r), x, y});
      if (year_c != npos) year_points.push_back({group_of(r), name_of(r), yr, x});
      if (std::isfinite(x) && std::isfinite(y)) {
        auto& s = sums[group_of(r)];
        s[0] += 1, s[1] += x, s[2] += y;
      }
    }
    const SpearmanResult* s = nullptr;
    for (const auto& x : a.spearman)
      if (x.x == m) s = &x;
    io::plot_scatter_groups(plots, "accuracy_vs_" + m, acc_points,
                            {.title = fmt::format("{} against {} (Spearman rho = {})", a.options.accuracy, m,
                                                  s && s->r.rho ? fmt::format("{:.3f}", *s->r.rho) : "null"),
                             .xlabel = m,
                             .ylabel = a.options.accuracy});
    if (year_c != npos)
      io::plot_scatter_groups(
          plots, m + "_vs_year", year_points,
          {.title = fmt::format("{} against {}", m, a.options.year), .xlabel = a.options.year, .ylabel = m});
    std::vector<io::ScatterPoint> family_points;
    for (const auto& [g, v] : sums) {
      means.rows.push_back({g, m, fmt::format("{}", v[0]), fmt::format("{:.8g}", v[1] / v[0]),
                            fmt::format("{:.8g}", v[2] / v[0])});
      family_points.push_back({g, g, v[1] / v[0], v[2] / v[0]});
    }
    io::plot_scatter_groups(
        plots, "family_means_" + m, family_points,
        {.title = fmt::format("Per-{} means: {} against {}",
                              a.options.group.empty() ? "group" : a.options.group, a.options.accuracy, m),
         .xlabel = "mean " + m,
         .ylabel = "mean " + a.options.accuracy},
        /*labels=*/true);
  }
  io::write_atomic(tables / "family_means.csv", means.to_csv());
  io::write_json(dir / "analysis.json", to_json(a));
  io::write_atomic(dir / "summary.md", summary_markdown(a));
}

}  // namespace critlab::survey
