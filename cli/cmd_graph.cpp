// critlab graph: correlation graphs, the connectivity transition, critical neurons, critical computational
// graphs and rasters of a run recorded with `critlab train --record`.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine.h"
#include "critlab/core/error.h"
#include "critlab/graph/analysis.h"

namespace critlab::cli {

Runner add_graph(CLI::App& cmd) {
  struct State {
    std::string run, sign = "abs";
    std::vector<std::string> compare;
    std::vector<double> fractions;
    graph::GraphOptions o;
    bool json = false, no_pruning = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--run", s->run, "run directory trained with --record")->required();
  cmd.add_option("--theta", s->o.theta, "correlation threshold for graphs over training (0 = auto: the initial network's percolation threshold)")->capture_default_str();
  cmd.add_option("--edge-sign", s->sign, "edges from |r| (abs), r > 0 (positive) or r < 0 (negative)")
      ->capture_default_str();
  cmd.add_option("--theta-min", s->o.theta_min, "theta sweep: smallest threshold")->capture_default_str();
  cmd.add_option("--theta-max", s->o.theta_max, "theta sweep: largest threshold")->capture_default_str();
  cmd.add_option("--theta-step", s->o.theta_step, "theta sweep: spacing")->capture_default_str();
  cmd.add_option("--critical-fraction", s->o.neurons.fraction, "fraction of each layer called critical")
      ->capture_default_str();
  cmd.add_option("--bins", s->o.neurons.bins, "activity bins for the mutual information")->capture_default_str();
  cmd.add_option("--prune-fractions", s->fractions, "fractions of weights kept in the pruning test");
  cmd.add_option("--prune-repeats", s->o.prune_random_repeats, "random-pruning repeats per fraction")
      ->capture_default_str();
  cmd.add_flag("--no-pruning", s->no_pruning, "skip the pruning test and class graphs (no test set needed)");
  cmd.add_option("--ccg-units", s->o.ccg_units, "units per hidden layer in each class graph")->capture_default_str();
  cmd.add_option("--ccg-inputs", s->o.ccg_inputs, "input pixels in each class graph")->capture_default_str();
  cmd.add_option("--compare", s->compare, "further recorded runs (other widths) for the finite-size comparison");
  add_runtime_flags(cmd, {.device = &s->o.device, .threads = &s->o.threads, .data_dir = &s->o.data_dir, .data_help = "Fashion-MNIST directory for pruning (default: the run's)"});
  cmd.add_option("--seed", s->o.seed, "seed for bootstraps, random pruning, community detection")->capture_default_str();
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  return [s]() {
    s->o.sign = graph::edge_sign_from_string(s->sign);
    if (!s->fractions.empty()) s->o.prune_fractions = s->fractions;
    s->o.pruning = !s->no_pruning;
    for (const auto& c : s->compare) s->o.compare.emplace_back(c);
    const auto r = graph::analyse_run(s->run, s->o);
    if (s->json) {
      print(r.dump(2));
      return 0;
    }
    const auto& t = r.at("transition");
    print(fmt::format("{}: {} recorded steps, {} probes, theta = {:.3f}{}", s->run, r.at("percolation").size(),
                      r.at("probes").get<std::int64_t>(), r.at("theta").get<double>(),
                      r.at("theta_auto").get<bool>() ? " (auto)" : ""));
    const auto& rise = r.at("rise");
    if (rise.at("status") == "ok")
      print(fmt::format("  P_inf {} {:.3f} -> {:.3f} (step {}): 10%, 50%, 90% of it by steps {}, {}, {}",
                        rise.at("direction").get<std::string>(), rise.at("p_inf_initial").get<double>(),
                        rise.at("p_inf_extreme").get<double>(), rise.at("step_extreme").get<double>(),
                        rise.at("step_10").get<double>(), rise.at("step_50").get<double>(),
                        rise.at("step_90").get<double>()));
    const auto& first = r.at("percolation").front();
    const auto& last = r.at("percolation").back();
    print(fmt::format("  P_inf {:.3f} at step {} -> {:.3f} at step {}", first.at("p_inf").get<double>(),
                      first.at("step").get<double>(), last.at("p_inf").get<double>(), last.at("step").get<double>()));
    if (t.at("status") == "ok")
      print(fmt::format("  transition: susceptibility peak {:.2f} at step {}, beta = {:.3f} [{:.3f}, {:.3f}] ({} points)",
                        t.at("chi_max").get<double>(), t.at("step").get<double>(), t.at("beta").get<double>(),
                        t.at("beta_ci")[0].get<double>(), t.at("beta_ci")[1].get<double>(), t.at("fit_points").get<int>()));
    else
      print(fmt::format("  transition: {}", t.at("status").get<std::string>()));
    for (const auto& p : r.at("pruning"))
      print(fmt::format("  keep {:6.3f}: critical {:.4f}  magnitude {:.4f}  random {:.4f}", p.at("fraction_kept").get<double>(),
                        p.at("critical").get<double>(), p.at("magnitude").get<double>(), p.at("random").get<double>()));
    print(fmt::format("  tables, plots and class graphs in {}/graph", s->run));
    return 0;
  };
}

}  // namespace critlab::cli
