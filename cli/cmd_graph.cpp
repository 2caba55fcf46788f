// critlab graph: correlation graphs, the connectivity transition, critical neurons, critical computational
// graphs and rasters of a run recorded with `critlab train --record`.
#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <utility>

#include "critlab/core/error.h"
#include "critlab/graph/analysis.h"
#include "critlab/graph/report.h"
#include "critlab/io/files.h"
#include "engine.h"

namespace critlab::cli {

Runner add_graph(CLI::App& cmd) {
  struct State {
    std::string run, out, sign = "abs", rule = "final";
    std::vector<std::string> compare;
    std::vector<double> fractions;
    graph::GraphOptions o;
    bool json = false, no_pruning = false, no_hebbian = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--run", s->run, "run directory trained with --record")->required();
  cmd.add_option("--out", s->out, "report directory (default: RUN/graph)");
  auto* theta = cmd.add_option("--theta", s->o.theta,
                               "correlation threshold for graphs over training (implies --theta-rule fixed)");
  auto* rule =
      cmd.add_option(
             "--theta-rule", s->rule,
             "how theta is chosen: final (the trained network's own percolation threshold, reproducible "
             "across seeds), initial (the first recorded network's: at initialisation hardly defined), "
             "null (the |r| independent units exceed with probability --null-alpha on the probes), "
             "fixed (--theta)")
          ->capture_default_str();
  cmd.add_option("--null-alpha", s->o.null_alpha, "tail probability of the null rule")->capture_default_str();
  cmd.add_option("--edge-sign", s->sign, "edges from |r| (abs), r > 0 (positive) or r < 0 (negative)")
      ->capture_default_str();
  cmd.add_option("--theta-min", s->o.theta_min, "theta sweep: smallest threshold")->capture_default_str();
  cmd.add_option("--theta-max", s->o.theta_max, "theta sweep: largest threshold")->capture_default_str();
  cmd.add_option("--theta-step", s->o.theta_step, "theta sweep: spacing")->capture_default_str();
  cmd.add_option("--critical-fraction", s->o.neurons.fraction, "fraction of each layer called critical")
      ->capture_default_str();
  cmd.add_option("--bins", s->o.neurons.bins, "activity bins for the mutual information")
      ->capture_default_str();
  cmd.add_option("--prune-fractions", s->fractions, "fractions of weights kept in the pruning test");
  cmd.add_option("--prune-repeats", s->o.prune_random_repeats, "random-pruning repeats per fraction")
      ->capture_default_str();
  cmd.add_flag("--no-pruning", s->no_pruning, "skip the pruning test and class graphs (no test set needed)");
  cmd.add_option("--ccg-units", s->o.ccg_units, "units per hidden layer in each class graph")
      ->capture_default_str();
  cmd.add_option("--ccg-inputs", s->o.ccg_inputs, "input pixels in each class graph")->capture_default_str();
  cmd.add_option("--compare", s->compare,
                 "further recorded runs (other widths, other seeds) for finite-size scaling");
  cmd.add_flag("--no-hebbian", s->no_hebbian, "skip the Hebbian and redistribution tests");
  cmd.add_option("--hebbian-shuffles", s->o.hebbian_options.shuffles, "label shuffles for the Hebbian null")
      ->capture_default_str();
  cmd.add_option("--hebbian-pairs", s->o.hebbian_options.max_pairs,
                 "weights per layer and step in the Hebbian test (more are subsampled)")
      ->capture_default_str();
  cmd.add_option("--redistribution-shuffles", s->o.redistribution_options.shuffles,
                 "random blocks for the redistribution null")
      ->capture_default_str();
  cmd.add_option("--avalanche-threshold", s->o.avalanche_threshold,
                 "activity avalanches: a unit is active above its first-step mean + this many sd")
      ->capture_default_str();
  add_runtime_flags(cmd, {.device = &s->o.device,
                          .threads = &s->o.threads,
                          .data_dir = &s->o.data_dir,
                          .data_help = "Fashion-MNIST directory for pruning (default: the run's)"});
  cmd.add_option("--seed", s->o.seed, "seed for bootstraps, random pruning, community detection")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  return [s, theta, rule]() {
    s->o.sign = from_string<graph::EdgeSign>(s->sign);
    s->o.theta_rule = theta->count() > 0 ? graph::ThetaRule::kFixed : from_string<graph::ThetaRule>(s->rule);
    if (theta->count() > 0 && rule->count() > 0 && s->rule != "fixed")
      throw Error(
          fmt::format("--theta sets the fixed rule; it cannot be combined with --theta-rule {}", s->rule));
    s->o.hebbian = !s->no_hebbian;
    if (!s->fractions.empty()) s->o.prune_fractions = s->fractions;
    s->o.pruning = !s->no_pruning;
    for (const auto& c : s->compare) s->o.compare.emplace_back(c);
    std::string err;
    if (!s->o.IsValid(&err)) throw Error(err);  // run_app names the flag
    s->o.progress = terminal_progress();
    if (!std::filesystem::is_directory(s->run))
      throw Error(
          fmt::format("'{}' is not a directory; --run names a run directory trained with --record", s->run));
    // No training may write the run while it is analysed, and two reports may not be written at once.
    io::DirectoryLock lock(s->run, "its report is being written, or it is training");
    const auto a = graph::analyse_run(s->run, s->o);
    const auto out = s->out.empty() ? std::filesystem::path(s->run) / "graph" : std::filesystem::path(s->out);
    graph::write_graph_report(a, out);
    if (s->json) {
      print(graph::to_json(a).dump(2));
      return 0;
    }
    print(fmt::format("{}: {} recorded steps, {} probes, theta = {:.3f} (rule {})", s->run,
                      a.percolation.size(), a.probes, a.theta, to_string(a.theta_rule)));
    const auto& f0 = a.theta_c.front().sweep;
    const auto& f1 = a.theta_c.back().sweep;
    if (f0.theta_c && f1.theta_c)
      print(fmt::format("  theta_c {:.3f} (chi_max {:.2f}) at step {} -> {:.3f} (chi_max {:.2f}) at step {}",
                        *f0.theta_c, *f0.chi_max, a.theta_c.front().step, *f1.theta_c, *f1.chi_max,
                        a.theta_c.back().step));
    const auto& rise = a.rise;
    if (rise.status.ok())
      print(fmt::format("  P_inf {} {:.3f} -> {:.3f} (step {}): 10%, 50%, 90% of it by steps {}, {}, {}",
                        to_string(*rise.direction), *rise.p_inf_initial, *rise.p_inf_extreme,
                        *rise.step_extreme, *rise.step_10, *rise.step_50, *rise.step_90));
    const auto& first = a.percolation.front();
    const auto& last = a.percolation.back();
    print(fmt::format("  P_inf {:.3f} at step {} -> {:.3f} at step {}", first.p_inf, first.step, last.p_inf,
                      last.step));
    const auto& t = a.transition;
    if (t.status.ok())
      print(fmt::format(
          "  transition: susceptibility peak {:.2f} at step {}, beta = {:.3f} [{:.3f}, {:.3f}] ({} points)",
          *t.chi_max, *t.x_c, *t.beta, *t.beta_lo, *t.beta_hi, t.fit_points));
    else
      print(fmt::format("  transition: {}", t.status.to_string()));
    for (const auto& p : a.pruning.curve)
      print(fmt::format("  keep {:6.3f}: critical {:.4f}  magnitude {:.4f}  random {:.4f}", p.fraction_kept,
                        p.critical, p.magnitude, p.random));
    if (!a.pruning.status.ok()) print(fmt::format("  pruning: {}", a.pruning.status.to_string()));
    for (const auto& l : a.redistribution)
      if (l.result.status.ok() && l.result.drift.z)
        print(
            fmt::format("  layer {}: drift of the critical block {:.3g} vs other {:.3g} (z = {:.1f} against "
                        "random blocks)",
                        l.layer, *l.result.drift.critical, *l.result.drift.other, *l.result.drift.z));
    if (a.finite_size)
      print(fmt::format("  finite size over {} runs ({} widths): {} ({})", a.finite_size->runs.size(),
                        a.finite_size->widths, a.finite_size->continuity, a.finite_size->continuity_reason));
    print(fmt::format("  tables, plots and class graphs in {}", out.string()));
    return 0;
  };
}

}  // namespace critlab::cli
