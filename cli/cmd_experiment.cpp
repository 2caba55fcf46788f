// critlab experiment <name>: the papers' protocols, each resumable into an output directory.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "critlab/core/error.h"
#include "critlab/experiments/continual.h"
#include "critlab/experiments/critical_training.h"
#include "critlab/experiments/phase_diagram.h"
#include "critlab/experiments/zoo.h"
#include "critlab/io/files.h"
#include "critlab/survey/analysis.h"
#include "engine.h"

namespace critlab::cli {

namespace {

// One line per method of the analysis: late performance and plasticity, late distance; then the claim.
std::string continual_brief(const experiments::ContinualSummary& r, bool regression) {
  auto num = [](const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : std::string("-"); };
  std::string text;
  for (const auto& m : r.analysis.methods)
    text += fmt::format("  {:<24} {} late {}  plasticity late {}  distance late {}\n", m.name,
                        regression ? "error" : "accuracy", num(m.performance_late.mean),
                        num(m.plasticity_late.mean), num(m.distance_late));
  const auto& c = r.analysis.distance_predicts_plasticity;
  if (c.verdict)
    text += fmt::format("  rho(distance, plasticity) = {:.3f} [{:.3f}, {:.3f}] (cluster bootstrap): {}\n",
                        *c.rho, *c.low, *c.high, to_string(*c.verdict));
  else
    text += fmt::format("  rho(distance, plasticity): {}\n", c.status.to_string());
  text.pop_back();
  return text;
}

// An enum flag's value, or an error that names the flag.
template <typename E>
E parse_flag(const char* flag, const std::string& value) {
  try {
    return from_string<E>(value);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", flag, e.what()));
  }
}

// The fields the user gave on the command line, by their names in experiment.json ("--examples-per-task" ->
// "examples_per_task"), for the library's presets.
std::set<std::string> given_fields(const CLI::App& cmd) {
  std::set<std::string> given;
  for (const auto* opt : cmd.get_options())
    if (opt->count() > 0)
      for (auto name : opt->get_lnames()) {
        std::replace(name.begin(), name.end(), '-', '_');
        given.insert(name);
      }
  return given;
}

Runner add_critical_training(CLI::App& cmd) {
  struct State {
    experiments::CriticalTrainingOptions o;
    std::string out;
    std::vector<std::string> archs, methods;
    bool json = false;
    KillFlags kill;
  };
  auto s = std::make_shared<State>();
  auto& o = s->o;
  for (const auto a : o.archs) s->archs.push_back(to_string(a));
  for (const auto m : o.methods) s->methods.push_back(to_string(m));
  cmd.add_option("--out", s->out, "experiment directory (created; run again with the same options to resume)")
      ->required();
  cmd.add_option("--archs", s->archs, "architectures: " + valid_names<experiments::CriticalTrainingArch>())
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--methods", s->methods, "methods: " + valid_names<experiments::CriticalTrainingMethod>())
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--seeds", o.seeds, "seeds per cell")->capture_default_str();
  cmd.add_option("--first-seed", o.first_seed, "first seed")->capture_default_str()->check(unsigned_check());
  cmd.add_flag(
      "--full", o.full,
      "the full grid: larger architectures, all 60,000 training images, 10 epochs, 5 seeds (unless given)");
  cmd.add_option("--epochs", o.epochs, "epochs per run")->capture_default_str();
  cmd.add_option("--train-examples", o.train_examples, "training images per run (0 = all)")
      ->capture_default_str();
  cmd.add_option("--batch-size", o.batch_size, "minibatch size")->capture_default_str();
  cmd.add_option("--lr", o.lr, "SGD learning rate (momentum 0.9)")->capture_default_str();
  cmd.add_option("--strength", o.strength, "regularizer: lambda")->capture_default_str();
  cmd.add_option("--controller-rate", o.controller_rate, "controller: correction rate k")
      ->capture_default_str();
  cmd.add_option("--tolerance", o.tolerance, "controller: distance tolerance")->capture_default_str();
  cmd.add_option("--jacobian-reg", o.jacobian_reg, "jacobian-norm: lambda_JR")->capture_default_str();
  cmd.add_option("--weight-decay", o.weight_decay, "weight-decay: L2 coefficient")->capture_default_str();
  cmd.add_option("--critical-sigma-b", o.critical_sigma_b, "critical-init: sigma_b (sigma_w from the theory)")
      ->capture_default_str();
  cmd.add_option("--monitor-every", o.monitor_every, "steps between criticality measurements")
      ->capture_default_str();
  cmd.add_option("--noise", o.robustness.noise_std, "Gaussian noise standard deviations (pixel units)")
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--eps", o.robustness.eps, "FGSM and PGD L-infinity radii (pixel units)")
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--pgd-steps", o.robustness.pgd_steps, "PGD steps (step size 2.5 eps / steps)")
      ->capture_default_str();
  cmd.add_option("--robust-examples", o.robustness.examples,
                 "test images for the robustness evaluation (0 = all)")
      ->capture_default_str();
  add_runtime_flags(cmd, {.device = &o.device, .threads = &o.threads, .data_dir = &o.data_dir});
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  add_kill_flags(cmd, s->kill);
  return [s, &cmd]() {
    auto& o = s->o;
    o.archs.clear(), o.methods.clear();
    for (const auto& a : s->archs)
      o.archs.push_back(parse_flag<experiments::CriticalTrainingArch>("--archs", a));
    for (const auto& m : s->methods)
      o.methods.push_back(parse_flag<experiments::CriticalTrainingMethod>("--methods", m));
    o.callbacks = kill_callbacks(s->kill);
    o.progress = terminal_progress();
    o.given = given_fields(cmd);
    if (cmd.count("--robust-examples")) o.given.insert("robustness.examples");
    const auto r = experiments::run_critical_training(s->out, o);
    if (s->json)
      print(nlohmann::json{{"cells", r.cells},
                           {"computed", r.computed},
                           {"reused", r.reused},
                           {"seconds", r.seconds},
                           {"results", r.results_md.string()}}
                .dump(2));
    else
      print(fmt::format("critical-training: {} cells ({} computed, {} reused) in {:.0f} s; see {}", r.cells,
                        r.computed, r.reused, r.seconds, r.results_md.string()));
    return 0;
  };
}

Runner add_continual(CLI::App& cmd) {
  struct State {
    experiments::ContinualOptions o;
    std::string out, activation = "relu", stream = "permuted-pixels";
    std::vector<std::string> methods;
    bool json = false, no_fresh = false;
    std::int64_t kill_at_example = -1;
  };
  auto s = std::make_shared<State>();
  auto& o = s->o;
  for (const auto m : o.methods) s->methods.push_back(to_string(m));
  cmd.add_option("--out", s->out, "experiment directory (created; run again with the same options to resume)")
      ->required();
  cmd.add_option("--stream", s->stream, valid_names<experiments::ContinualStream>())->capture_default_str();
  cmd.add_option("--tasks", o.tasks, "tasks in the stream")->capture_default_str();
  cmd.add_option("--examples-per-task", o.examples_per_task,
                 "examples per task, each seen once (batch 1; regression: --flip-every)")
      ->capture_default_str();
  cmd.add_option("--methods", s->methods, valid_names<experiments::ContinualMethod>())
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "first seed (stream and networks)")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_option("--seeds", o.seeds, "seeds (runs per method)")->capture_default_str();
  cmd.add_flag("--full", o.full,
               "the full-size protocol: 800 tasks x 60,000 examples, 3 x 2000 units, 3 seeds (unless given)");
  cmd.add_option("--depth", o.depth, "hidden layers (regression: 1)")->capture_default_str();
  cmd.add_option("--width", o.width, "hidden units per layer (regression: 5)")->capture_default_str();
  cmd.add_option("--activation", s->activation, "hidden activation: " + valid_names<Activation>())
      ->capture_default_str();
  cmd.add_option("--lr", o.lr, "learning rate")->capture_default_str();
  cmd.add_flag("--adam", o.adam, "Adam instead of SGD");
  cmd.add_option("--weight-decay", o.weight_decay, "l2 and shrink-perturb: L2 coefficient")
      ->capture_default_str();
  cmd.add_option("--perturb-std", o.perturb_std,
                 "shrink-perturb: noise std added to every parameter each step")
      ->capture_default_str();
  cmd.add_option("--replacement-rate", o.replacement_rate, "continual-backprop: replacement rate")
      ->capture_default_str();
  cmd.add_option("--utility-decay", o.utility_decay, "continual-backprop: utility decay")
      ->capture_default_str();
  cmd.add_option("--maturity", o.maturity, "continual-backprop: maturity threshold (steps)")
      ->capture_default_str();
  cmd.add_option("--redo-tau", o.redo_tau, "redo: dormancy threshold tau")->capture_default_str();
  cmd.add_option("--redo-period", o.redo_period, "redo: steps between resets")->capture_default_str();
  cmd.add_option("--controller-rate", o.controller_rate, "criticality-controller: correction rate k")
      ->capture_default_str();
  cmd.add_option("--tolerance", o.tolerance, "criticality-controller: distance tolerance")
      ->capture_default_str();
  cmd.add_option("--controller-every", o.controller_every,
                 "criticality-controller: steps between corrections")
      ->capture_default_str();
  cmd.add_option("--maintainer-rate", o.maintainer_rate,
                 "homeostasis, critical-reinit (and criticality): fraction of the error corrected per round")
      ->capture_default_str();
  cmd.add_option("--maintainer-tolerance", o.maintainer_tolerance, "maintainers: dead band on |ln gain|")
      ->capture_default_str();
  cmd.add_option("--maintainer-every", o.maintainer_every, "maintainers: steps between correction rounds")
      ->capture_default_str();
  cmd.add_option("--maintainer-window", o.maintainer_window,
                 "maintainers and gauge arms: time constant of the unit statistics (steps)")
      ->capture_default_str();
  cmd.add_option("--homeostasis-band", o.homeostasis_band,
                 "homeostasis: activity floor of the gain law (units quieter than this keep norm 1/band)")
      ->capture_default_str();
  cmd.add_option("--gauge-every", o.gauge_every, "gauge arms: steps between function-preserving rescalings")
      ->capture_default_str();
  cmd.add_option("--gauge-distance", o.gauge_distance, "gauge-away: |ln gain| of each hidden layer")
      ->capture_default_str();
  cmd.add_flag("--tune", o.tune,
               "tune every method's own hyper-parameter on a short stream and separate seeds first, then "
               "run each with its best setting");
  cmd.add_option("--tune-tasks", o.tune_tasks, "tuning: tasks in the short stream")->capture_default_str();
  cmd.add_option("--tune-examples", o.tune_examples, "tuning: examples per task")->capture_default_str();
  cmd.add_option("--tune-seeds", o.tune_seeds, "tuning: seeds per setting (seed + 1000, ...)")
      ->capture_default_str();
  cmd.add_option("--criticality-strength", o.criticality_strength, "criticality-regularizer: lambda")
      ->capture_default_str();
  cmd.add_option("--critical-sigma-b", o.critical_sigma_b, "critical init: sigma_b (sigma_w from the theory)")
      ->capture_default_str();
  cmd.add_option("--flip-every", o.flip_every, "regression: examples between bit flips")
      ->capture_default_str();
  cmd.add_option("--probe-examples", o.probe_examples,
                 "inputs of each new task the measures use (regression: 1000)")
      ->capture_default_str();
  cmd.add_flag("--no-fresh", s->no_fresh, "skip the fresh-network reference (no plasticity column)");
  add_runtime_flags(cmd, {.device = &o.device,
                          .threads = &o.threads,
                          .data_dir = &o.data_dir,
                          .threads_help = "runs in parallel, one thread each (0 = all cores)"});
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  // Test hook: an abrupt kill (_Exit(137)) before the example with this index in its run's stream.
  cmd.add_option("--test-kill-at-example", s->kill_at_example)->group("");
  return [s, &cmd]() {
    auto& o = s->o;
    o.stream = parse_flag<experiments::ContinualStream>("--stream", s->stream);
    o.methods.clear();
    for (const auto& m : s->methods)
      o.methods.push_back(parse_flag<experiments::ContinualMethod>("--methods", m));
    o.activation = parse_flag<Activation>("--activation", s->activation);
    o.fresh_baseline = !s->no_fresh;
    o.given = given_fields(cmd);
    o.progress = terminal_progress();
    if (s->kill_at_example >= 0)
      o.on_example = [at = s->kill_at_example](experiments::ContinualMethod, std::uint64_t,
                                               std::int64_t example) {
        if (example == at) std::_Exit(137);
      };
    const auto r = experiments::run_continual(s->out, o);
    if (s->json)
      print(to_json(r).dump(2));
    else
      print(fmt::format("continual: {} runs, {} tasks computed, {} reused, in {:.0f} s; see {}\n{}", r.runs,
                        r.tasks_computed, r.tasks_reused, r.seconds, r.summary_md.string(),
                        continual_brief(r, o.stream == experiments::ContinualStream::kRegression)));
    return 0;
  };
}

Runner add_zoo(CLI::App& cmd) {
  struct State {
    experiments::ZooOptions o;
    std::string out;
    bool no_dynamic_range = false, json = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--out", s->out, "experiment directory (created; run again with the same options to resume)")
      ->required();
  cmd.add_flag("--full", s->o.full, "train every model longer, on all 60,000 images");
  cmd.add_option("--seed", s->o.seed, "training seed of every model")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_option("--probes", s->o.probes, "test images each model is measured on")->capture_default_str();
  cmd.add_flag("--no-dynamic-range", s->no_dynamic_range, "skip the dynamic range");
  cmd.add_option("--families", s->o.families, "only these families (default: all 17)")->delimiter(',');
  cmd.add_option("--timeout", s->o.timeout_s, "seconds per training or measurement before it is killed")
      ->capture_default_str();
  add_runtime_flags(cmd,
                    {.threads = &s->o.threads,
                     .data_dir = &s->o.data_dir,
                     .threads_help = "models trained and measured at once, one thread each (0 = all cores)"});
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  return [s]() {
    auto& o = s->o;
    o.out = s->out;
    o.program = self_executable();
    o.dynamic_range = !s->no_dynamic_range;
    o.progress = terminal_progress();
    const auto r = experiments::run_zoo(o);
    if (s->json) {
      print(io::read_text(o.out / "summary.json"));
      return 0;
    }
    print(fmt::format(
        "zoo: {} models trained, {} reused, {} failed; {} measured, {} reused, {} failed; {:.0f} s",
        r.trained, r.reused, r.failed, r.survey.measured, r.survey.reused, r.survey.failed, r.seconds));
    for (const auto& f : r.failures) print("  failed: " + f);
    print(claims_brief(r.analysis));
    print("tables, plots and summary.md in " + (o.out / "survey").string());
    return 0;
  };
}

Runner add_phase_diagram(CLI::App& cmd) {
  struct State {
    experiments::PhaseDiagramOptions o;
    std::string out, task = "fashion-mnist", activation = "relu";
    bool json = false;
  };
  auto s = std::make_shared<State>();
  auto& o = s->o;
  cmd.add_option("--out", s->out, "experiment directory (created; run again with the same options to resume)")
      ->required();
  cmd.add_option("--task", s->task, "fashion-mnist (an MLP) or quadratic (least squares, lambda_max = 1)")
      ->capture_default_str();
  cmd.add_option("--lrs", o.lrs, "learning rates, increasing")->delimiter(',')->capture_default_str();
  cmd.add_option("--batch-sizes", o.batch_sizes, "batch sizes, increasing")
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--seeds", o.seeds, "seeds per cell")->capture_default_str();
  cmd.add_option("--first-seed", o.first_seed, "first seed")->capture_default_str()->check(unsigned_check());
  cmd.add_option("--steps", o.steps, "SGD steps per cell")->capture_default_str();
  cmd.add_option("--window", o.window, "late window: the last steps recorded for fluctuation and flux")
      ->capture_default_str();
  cmd.add_option("--momentum", o.momentum, "heavy-ball momentum (0 = plain SGD)")->capture_default_str();
  cmd.add_option("--converged-ratio", o.converged_ratio,
                 "converged: final training loss at most this times the initial loss")
      ->capture_default_str();
  cmd.add_option("--divergence-ratio", o.divergence_ratio,
                 "a run stops as diverged when its minibatch loss exceeds this times the initial loss")
      ->capture_default_str();
  cmd.add_option("--depth", o.depth, "fashion-mnist: hidden layers")->capture_default_str();
  cmd.add_option("--width", o.width, "fashion-mnist: hidden units")->capture_default_str();
  cmd.add_option("--activation", s->activation, "fashion-mnist: " + valid_names<Activation>())
      ->capture_default_str();
  cmd.add_option("--train-examples", o.train_examples, "fashion-mnist: training images (stratified subset)")
      ->capture_default_str();
  cmd.add_option("--eval-examples", o.eval_examples,
                 "fashion-mnist: train and test images for the final figures")
      ->capture_default_str();
  cmd.add_option("--quadratic-dim", o.quadratic_dim, "quadratic: dimension")->capture_default_str();
  cmd.add_option("--quadratic-samples", o.quadratic_samples, "quadratic: examples")->capture_default_str();
  cmd.add_option("--sketch", o.sketch, "random directions every step's parameters are projected on")
      ->capture_default_str();
  cmd.add_option("--components", o.components, "principal components of the window analysed for flux")
      ->capture_default_str();
  cmd.add_flag(
      "!--no-detrend", o.detrend,
      "keep the window's linear trend in the PCs and the flux (default: taken out; trend_share says how "
      "much it held)");
  cmd.add_option("--sharpness-examples", o.sharpness_examples, "training examples of the sharpness batch")
      ->capture_default_str();
  cmd.add_option("--sharpness-iterations", o.sharpness_iterations, "Lanczos steps for lambda_max")
      ->capture_default_str();
  cmd.add_option("--flux-bootstrap", o.flux.bootstrap, "block-bootstrap resamples of the flux CIs")
      ->capture_default_str();
  cmd.add_option("--flux-blocks", o.flux.blocks, "time blocks of the flux estimators")->capture_default_str();
  cmd.add_option("--flux-bins", o.flux.bins, "grid boxes per axis (0 = automatic)")->capture_default_str();
  cmd.add_option("--flux-min-box-count", o.flux.min_box_count, "boxes with fewer samples are left out of e_p")
      ->capture_default_str();
  cmd.add_option("--fit-max-batch", o.fit_max_batch,
                 "fit eta_c = c B^kappa on batch sizes up to this (0 = all)")
      ->capture_default_str();
  cmd.add_option("--boundary-bootstrap", o.boundary_bootstrap,
                 "seed resamples for the CIs of eta_c and kappa")
      ->capture_default_str();
  add_runtime_flags(cmd, {.device = &o.device, .threads = &o.threads, .data_dir = &o.data_dir});
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  cmd.add_option("--test-kill-after-cells", o.kill_after_cells)->group("");
  return [s]() {
    auto& o = s->o;
    o.task = parse_flag<experiments::PhaseTask>("--task", s->task);
    o.activation = parse_flag<Activation>("--activation", s->activation);
    o.progress = terminal_progress();
    const auto r = experiments::run_phase_diagram(s->out, o);
    const auto summary = io::read_json(std::filesystem::path(s->out) / "summary.json");
    if (s->json) {
      print(summary.dump(2));
      return 0;
    }
    print(fmt::format("phase-diagram: {} cells ({} computed, {} reused) in {:.0f} s; see {}", r.cells,
                      r.computed, r.reused, r.seconds, r.summary_md.string()));
    for (const auto& row : r.boundary)
      print(row.eta_c ? fmt::format("  B = {:<6} eta_c = {:.4g}{}", row.batch_size, *row.eta_c,
                                    row.low ? fmt::format(" [{:.4g}, {:.4g}]", *row.low, *row.high) : "")
                      : fmt::format("  B = {:<6} eta_c: {}", row.batch_size, row.status.message));
    std::string local;
    for (const auto& [B, k] : r.fit.local_kappa) local += fmt::format(" {:.2f} (to B = {})", k, B);
    if (!local.empty()) print("  local slopes d ln eta_c / d ln B:" + local);
    print(r.fit.kappa ? fmt::format("  eta_c = c B^kappa: kappa = {:.3f}{}", *r.fit.kappa,
                                    r.fit.kappa_low ? fmt::format(" [{:.3f}, {:.3f}]", *r.fit.kappa_low,
                                                                  *r.fit.kappa_high)
                                                    : "")
                      : "  kappa: " + r.fit.status.message);
    return 0;
  };
}

}  // namespace

Runner add_experiment(CLI::App& cmd) {
  cmd.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> subs;
  auto* ct =
      cmd.add_subcommand("critical-training",
                         "criticality-driven training vs baselines: accuracy, noise, FGSM, PGD over a grid");
  subs.emplace_back(ct, add_critical_training(*ct));
  auto* cl = cmd.add_subcommand(
      "continual",
      "continual learning: loss of plasticity vs loss of criticality, with the standard remedies");
  subs.emplace_back(cl, add_continual(*cl));
  auto* pd = cmd.add_subcommand("phase-diagram",
                                "the convergence boundary over (learning rate, batch size), with sharpness, "
                                "fluctuation and probability flux");
  subs.emplace_back(pd, add_phase_diagram(*pd));
  auto* zoo = cmd.add_subcommand(
      "zoo", "train 82 Fashion-MNIST models spanning a decade of innovations and run the survey on them");
  subs.emplace_back(zoo, add_zoo(*zoo));
  return [subs]() {
    for (const auto& [sub, run] : subs)
      if (sub->parsed()) return run();
    return 1;
  };
}

}  // namespace critlab::cli
