// The continual experiment's report writer: tasks.csv from the task table, summary.md and correlations.json
// from the analysis, and the plots (gnuplot scripts, their data, and SVGs where gnuplot is installed).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "continual_internal.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/stats/describe.h"

namespace critlab::experiments::continual_detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The fixed columns of tasks.csv, then the per-layer ones in name order.
const std::vector<std::string> kColumns{"online_accuracy",
                                        "online_loss",
                                        "plasticity",
                                        "fresh_accuracy",
                                        "fresh_loss",
                                        "dead_fraction",
                                        "effective_rank",
                                        "mean_abs_weight",
                                        "distance_to_criticality",
                                        "lambda_max",
                                        "dynamic_range_db",
                                        "branching_sigma",
                                        "units_replaced",
                                        "diverged",
                                        "backoffs",
                                        "units_rescaled",

                                        "units_reinitialised",
                                        "gauge_applications",
                                        "gauge_log_gain_shift",
                                        "gauge_mean_abs_weight_change",
                                        "gauge_distance_after"};

std::string fixed(double v, int digits = 3) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "-";
}
std::string fixed(const std::optional<double>& v, int digits = 3) { return fixed(v.value_or(kNaN), digits); }
// "mean ± sd" over seeds (just the mean for one seed).
std::string fixed(const SeedSpread& s) {
  return s.sd ? fmt::format("{} ± {}", fixed(s.mean), fixed(s.sd)) : fixed(s.mean);
}

std::string tasks_csv(const TaskTable& table) {
  std::string csv = "method,seed,task";
  for (const auto& c : kColumns) csv += "," + c;
  for (const auto& c : table.layer_columns) csv += "," + c;
  csv += "\n";
  for (const auto& r : table.rows) {
    csv += fmt::format("{},{},{}", method_name(r.method), r.seed,
                       static_cast<std::int64_t>(get(r.values, "task")));
    for (const auto& c : kColumns)
      csv +=
          "," + (c == "diverged" ? std::to_string(get(r.values, c) == 1) : io::csv_number(get(r.values, c)));
    for (const auto& c : table.layer_columns) csv += "," + io::csv_number(get(r.values, c));
    csv += "\n";
  }
  return csv;
}

std::string p_value(const std::optional<double>& p, bool exact) {
  return p ? fmt::format("{:.4g}{}", *p, exact ? "" : " (normal)") : "-";
}

std::string tuning_md(const ContinualOptions& o, const ContinualTuning& t) {
  std::string md = fmt::format(
      "\n## Tuning\n\nEach method's own hyper-parameter over a small grid, scored by the online {} over the "
      "second half of a {} tasks x {} examples stream on tuning seeds {}..{} (not evaluation seeds); the "
      "best "
      "setting (*) runs in the evaluation. A diverged run has no score.\n\n| method | setting | score per "
      "seed | "
      "score |\n| --- | --- | --- | --- |\n",
      o.stream == ContinualStream::kRegression ? "error (negated)" : "accuracy", o.tune_tasks,
      o.tune_examples, o.seed + 1000, o.seed + 1000 + static_cast<std::uint64_t>(o.tune_seeds) - 1);
  for (const auto& m : t.methods)
    for (std::size_t c = 0; c < m.cells.size(); ++c) {
      std::vector<std::string> per_seed;
      for (const auto& v : m.cells[c].scores) per_seed.push_back(fixed(v, 4));
      md += fmt::format("| {} | {}{} | {} | {} |\n", to_string(m.method), m.cells[c].setting.label(),
                        m.chosen == c ? " *" : "", fmt::join(per_seed, ", "), fixed(m.cells[c].score, 4));
    }
  return md;
}

std::string paired_md(const ContinualAnalysis& a) {
  std::string md =
      "\n## Tests between methods\n\nLate plasticity, paired by seed: the mean difference (method minus "
      "baseline) with its 95% t interval, the seeds won and lost, and the two-sided Wilcoxon signed-rank "
      "test "
      "(exact where there are no ties). With n seeds the exact test cannot give p below 2 / 2^n (0.25 for "
      "3 seeds, 0.0625 for 5).\n\n| method | baseline | n | mean difference | 95% CI | won / lost | V | p "
      "|\n| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& p : a.paired) {
    const auto& r = p.result;
    md += fmt::format("| {} | {} | {} | {} | [{}, {}] | {} / {} | {} | {} |\n", p.method, p.baseline, r.n,
                      fixed(r.mean_difference, 4), fixed(r.ci_low, 4), fixed(r.ci_high, 4), r.wins, r.losses,
                      r.wilcoxon_v ? fmt::format("{:.1f}", *r.wilcoxon_v) : "-", p_value(r.p_value, r.exact));
  }
  md +=
      "\n## Ranking\n\nMethods ranked on each seed by late plasticity (1 = best); the mean rank with a "
      "bootstrap interval over seeds and the share of resamples in which the method ranks first.\n\n"
      "| method | mean rank | 95% interval | P(best) | seeds |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& m : a.ranking.methods)
    md +=
        fmt::format("| {} | {} | [{}, {}] | {} | {} |\n",
                    m.method < a.ranked_names.size() ? a.ranked_names[m.method] : "?", fixed(m.mean_rank, 2),
                    fixed(m.rank_low, 2), fixed(m.rank_high, 2), fixed(m.p_best, 3), m.seeds);
  if (!a.ranking.status.ok()) md += "\nRanking: " + a.ranking.status.to_string() + "\n";
  return md;
}

// The intervention arm next to backprop: what the rescaling moved and what it held.
std::string intervention_md(const ContinualAnalysis& a) {
  const auto* gc = a.find("gauge-critical");
  const auto* ga = a.find("gauge-away");
  if (!gc && !ga) return "";
  std::string md =
      "\n## Intervention: the distance to criticality moved, everything else held\n\nThe gauge arms are "
      "backprop with a function-preserving rescaling of the layers every few hundred steps: each hidden gain "
      "is moved to 1 (gauge-critical) or to e^{+-d} (gauge-away) while the network's outputs, its dead "
      "fraction and effective rank (every unit's activity pattern) and mean |W| stay exactly as they were "
      "at that moment. Differences in plasticity from backprop are then caused by the distance to "
      "criticality (through the learning dynamics it sets), not by those three.\n\n| method | distance late "
      "| "
      "plasticity late | dead late | erank late | mean abs W late | largest change of mean abs W by a "
      "rescaling |\n| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const char* name : {"backprop", "gauge-critical", "gauge-away"})
    if (const auto* m = a.find(name))
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", m->name, fixed(m->distance_late),
                        fixed(m->plasticity_late), fixed(m->dead_fraction_late),
                        fixed(m->effective_rank_late, 1), fixed(m->mean_abs_weight_late, 4),
                        m->gauge_weight_change ? fmt::format("{:.1e}", *m->gauge_weight_change) : "-");
  return md;
}

std::string summary_md(const ContinualOptions& o, const ContinualAnalysis& a,
                       const std::optional<ContinualTuning>& tuning) {
  const bool regression = o.stream == ContinualStream::kRegression;
  const std::int64_t tenth = std::max<std::int64_t>(1, o.tasks / 10);
  std::string md = fmt::format("# Continual learning: {} stream\n\n", to_string(o.stream));
  md += fmt::format(
      "{} tasks x {} examples, online (batch 1), {} {}-{}x{}-{}, lr {}, seeds {}..{}. Early = the first "
      "{} task(s), late = the last {} completed task(s); values are means over seeds (late accuracy and "
      "plasticity: "
      "mean ± sd over seeds' means); measures are taken "
      "before each task on its first {} inputs.\n\n",
      o.tasks, o.examples_per_task, o.adam ? "Adam" : "SGD", regression ? 20 : 784, o.width, o.depth,
      regression ? 1 : 10, o.lr, o.seed, o.seed + static_cast<std::uint64_t>(o.seeds) - 1, tenth, tenth,
      o.probe_examples);
  md += fmt::format(
      "| method | {0} early | {0} late | plasticity late | dead early | dead late | erank early | erank late "
      "| mean abs W late | distance early | distance late | lambda_max late | units replaced |\n",
      regression ? "error" : "accuracy");
  md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& m : a.methods)
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", m.name,
                      fixed(m.performance_early), fixed(m.performance_late), fixed(m.plasticity_late),
                      fixed(m.dead_fraction_early), fixed(m.dead_fraction_late),
                      fixed(m.effective_rank_early, 1), fixed(m.effective_rank_late, 1),
                      fixed(m.mean_abs_weight_late, 4), fixed(m.distance_early), fixed(m.distance_late),
                      fixed(m.lambda_max_late),
                      m.units_replaced ? fmt::format("{:.0f}", *m.units_replaced) : "-");
  std::string backoffs;
  for (const auto& m : a.methods)
    if (m.backoffs) backoffs += fmt::format(" {} {:.1f};", m.name, *m.backoffs);
  if (!backoffs.empty()) {
    backoffs.back() = '.';
    md += "\nMaintainers' back-offs per run (non-finite weights restored from the last finite snapshot):" +
          backoffs + "\n";
  }
  if (!a.diverged.empty()) {
    md += "\nDiverged (non-finite loss or weights; no measures from then on):";
    for (const auto& d : a.diverged) md += fmt::format(" {} seed {} at task {};", d.method, d.seed, d.task);
    md.back() = '.';
    md += "\n";
  }

  md +=
      "\n## Does plasticity track criticality?\n\nSpearman rank correlation of plasticity with each measure "
      "over "
      "all methods and tasks >= 1 (task 0 starts from initialisation). The Fisher interval treats every task "
      "as "
      "independent; the cluster bootstrap resamples whole runs (method x seed) and is the honest one, since "
      "consecutive tasks of one run are not independent. A partial row asks whether the distance still "
      "tracks "
      "plasticity once a classical measure is accounted for.\n\n"
      "| measure | rho | 95% CI (Fisher) | 95% CI (cluster bootstrap) | p (Fisher) | n |\n| --- | --- | --- "
      "| --- | --- | --- |\n";
  for (const auto& c : a.correlations)
    md += fmt::format("| {} | {} | [{}, {}] | [{}, {}] | {} | {} |\n", c.label(), fixed(c.rho),
                      fixed(c.fisher_low), fixed(c.fisher_high), fixed(c.bootstrap_low),
                      fixed(c.bootstrap_high), c.p_value ? fmt::format("{:.2g}", *c.p_value) : "-", c.n);

  md +=
      "\nThe paper's claim predicts a negative correlation with the distance to criticality (closer to "
      "criticality, "
      "more plastic). ";
  const auto& h = a.distance_predicts_plasticity;
  if (!h.verdict)
    md += "Here there are too few runs or tasks to test it.\n";
  else if (*h.verdict == ClaimVerdict::kSupported)
    md += fmt::format(
        "Here rho = {:.3f} with a cluster-bootstrap interval below zero: consistent with the claim.\n",
        *h.rho);
  else if (*h.verdict == ClaimVerdict::kOpposite)
    md += fmt::format(
        "Here rho = {:.3f} with a cluster-bootstrap interval above zero: the opposite of the claim.\n",
        *h.rho);
  else
    md += fmt::format(
        "Here rho = {:.3f} and the cluster-bootstrap interval [{:.3f}, {:.3f}] includes zero: not "
        "supported by these runs.\n",
        *h.rho, *h.low, *h.high);
  const auto& e = a.distance_beyond_effective_rank;
  if (e.verdict)
    md += fmt::format(
        "Once the effective rank is accounted for, the partial rho is {:.3f} [{:.3f}, {:.3f}]: {}\n", *e.rho,
        *e.low, *e.high,
        *e.verdict == ClaimVerdict::kNotSupported
            ? "the distance to criticality tells nothing about plasticity that the effective rank "
              "does not already tell."
            : "the distance carries information about plasticity beyond the effective rank.");
  md += intervention_md(a);
  md += paired_md(a);
  if (tuning) md += tuning_md(o, *tuning);
  return md;
}

// A line plot of `column` against task, one series per method (mean over seeds).
void plot_per_task(const fs::path& dir, const std::string& stem, const std::string& title,
                   const std::string& ylabel, const std::vector<RunMethod>& methods, std::int64_t tasks,
                   const TaskTable& table, const std::string& column, std::vector<double> hlines = {}) {
  static const std::map<RunMethod, std::vector<std::vector<double>>> kNone;
  const auto found = table.series.find(column);
  const auto& by_method = found == table.series.end() ? kNone : found->second;
  io::Table t;
  t.columns = {"task"};
  std::vector<io::PlotSeries> series;
  for (const auto& m : methods) {
    t.columns.push_back(method_name(m));
    series.push_back({method_name(m), method_name(m)});
  }
  bool any = false;
  for (std::int64_t k = 0; k < tasks; ++k) {
    std::vector<double> row{static_cast<double>(k)};
    for (const auto& m : methods) {
      auto it = by_method.find(m);
      const double v = it != by_method.end() && k < static_cast<std::int64_t>(it->second.size())
                           ? stats::mean_sd(it->second[static_cast<std::size_t>(k)]).mean
                           : kNaN;
      any |= std::isfinite(v);
      row.push_back(v);
    }
    t.add_row(row);
  }
  if (!any) return;
  io::plot_lines(
      dir, stem, t, "task", series,
      {.title = title, .xlabel = "task", .ylabel = ylabel, .points = tasks <= 60, .hlines = hlines});
}

void write_plots(const fs::path& plots, const ContinualOptions& o, const TaskTable& table) {
  const bool regression = o.stream == ContinualStream::kRegression;
  const std::vector<RunMethod> with_measures(o.methods.begin(), o.methods.end());
  plot_per_task(plots, "accuracy_per_task",
                regression ? "Online squared error per task" : "Online accuracy per task",
                regression ? "mean squared error" : "accuracy", table.methods, o.tasks, table,
                regression ? "online_loss" : "online_accuracy");
  plot_per_task(plots, "plasticity_per_task", "Plasticity: performance relative to a fresh network",
                "plasticity", with_measures, o.tasks, table, "plasticity", {1.0});
  plot_per_task(plots, "dead_units_per_task", "Dead hidden units (before each task)", "fraction dead",
                with_measures, o.tasks, table, "dead_fraction");
  plot_per_task(plots, "effective_rank_per_task", "Effective rank (mean over hidden layers)",
                "effective rank", with_measures, o.tasks, table, "effective_rank");
  plot_per_task(plots, "distance_per_task", "Distance to criticality (before each task)", "mean |ln gain|",
                with_measures, o.tasks, table, "distance_to_criticality", {o.tolerance});
  plot_per_task(plots, "lambda_max_per_task", "Maximal Lyapunov exponent (before each task)",
                "lambda_max per layer", with_measures, o.tasks, table, "lambda_max", {0.0});
  plot_per_task(plots, "branching_per_task", "Branching parameter (before each task)", "sigma", with_measures,
                o.tasks, table, "branching_sigma", {1.0});
  if (!regression)
    plot_per_task(plots, "dynamic_range_per_task", "Dynamic range (before each task)", "Delta (dB)",
                  with_measures, o.tasks, table, "dynamic_range_db");
  plot_per_task(plots, "weight_magnitude_per_task", "Mean |W| (before each task)", "mean |W|", with_measures,
                o.tasks, table, "mean_abs_weight");
  // The scatter: plasticity against distance, one point set per method.
  std::string dat, body =
                       "set title 'Plasticity against distance to criticality (tasks >= 1)'\n"
                       "set xlabel 'distance to criticality (mean |ln gain|)'\nset ylabel 'plasticity'\n"
                       "set key outside right\nset grid\nplot ";
  int block = 0;
  for (const auto m : o.methods) {
    std::string pts;
    for (const auto& r : table.rows)
      if (r.method == m && get(r.values, "task") >= 1 && std::isfinite(get(r.values, "plasticity")) &&
          std::isfinite(get(r.values, "distance_to_criticality")))
        pts += fmt::format("{} {}\n", get(r.values, "distance_to_criticality"), get(r.values, "plasticity"));
    if (pts.empty()) continue;
    dat += fmt::format("# {}\n{}\n\n", to_string(m), pts);
    body += fmt::format("{}'plasticity_vs_distance.dat' index {} with points pt 7 ps 0.6 title '{}'",
                        block ? ", " : "", block, to_string(m));
    ++block;
  }
  if (block) {
    io::write_atomic(plots / "plasticity_vs_distance.dat", dat);
    io::render_gnuplot(plots, "plasticity_vs_distance", body + "\n");
  }
}

}  // namespace

ReportPaths write_report(const fs::path& out, const ContinualOptions& o, const TaskTable& table,
                         const ContinualAnalysis& analysis, const std::optional<ContinualTuning>& tuning) {
  ReportPaths paths{out / "tasks.csv", out / "summary.md", out / "correlations.json"};
  io::write_atomic(paths.tasks_csv, tasks_csv(table));
  io::write_atomic(paths.summary_md, summary_md(o, analysis, tuning));
  write_plots(out / "plots", o, table);
  json correlations = json::array();
  for (const auto& c : analysis.correlations) correlations.push_back(to_json(c));
  io::write_json(paths.correlations_json, correlations);
  return paths;
}

}  // namespace critlab::experiments::continual_detail
