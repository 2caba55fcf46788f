// critlab experiment <name>: the papers' protocols, each resumable into an output directory.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine.h"
#include "critlab/core/error.h"
#include "critlab/experiments/continual.h"
#include "critlab/experiments/critical_training.h"

namespace critlab::cli {

namespace {

Runner add_critical_training(CLI::App& cmd) {
  struct State {
    experiments::CriticalTrainingOptions o;
    std::string out;
    bool json = false;
    KillFlags kill;
  };
  auto s = std::make_shared<State>();
  auto& o = s->o;
  cmd.add_option("--out", s->out, "experiment directory (created; run again with the same options to resume)")
      ->required();
  cmd.add_option("--archs", o.archs, "architectures: tanh-mlp, relu-mlp, cnn, resnet")->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--methods", o.methods,
                 "methods: plain, critical-init, regularizer, controller, jacobian-norm, weight-decay")
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--seeds", o.seeds, "seeds per cell")->capture_default_str();
  cmd.add_option("--first-seed", o.first_seed, "first seed")->capture_default_str();
  cmd.add_flag("--full", o.full,
               "the full grid: larger architectures, all 60,000 training images, 10 epochs, 5 seeds (unless given)");
  cmd.add_option("--epochs", o.epochs, "epochs per run")->capture_default_str();
  cmd.add_option("--train-examples", o.train_examples, "training images per run (0 = all)")->capture_default_str();
  cmd.add_option("--batch-size", o.batch_size, "minibatch size")->capture_default_str();
  cmd.add_option("--lr", o.lr, "SGD learning rate (momentum 0.9)")->capture_default_str();
  cmd.add_option("--strength", o.strength, "regularizer: lambda")->capture_default_str();
  cmd.add_option("--controller-rate", o.controller_rate, "controller: correction rate k")->capture_default_str();
  cmd.add_option("--tolerance", o.tolerance, "controller: distance tolerance")->capture_default_str();
  cmd.add_option("--jacobian-reg", o.jacobian_reg, "jacobian-norm: lambda_JR")->capture_default_str();
  cmd.add_option("--weight-decay", o.weight_decay, "weight-decay: L2 coefficient")->capture_default_str();
  cmd.add_option("--critical-sigma-b", o.critical_sigma_b, "critical-init: sigma_b (sigma_w from the theory)")
      ->capture_default_str();
  cmd.add_option("--monitor-every", o.monitor_every, "steps between criticality measurements")->capture_default_str();
  cmd.add_option("--noise", o.robustness.noise_std, "Gaussian noise standard deviations (pixel units)")
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--eps", o.robustness.eps, "FGSM and PGD L-infinity radii (pixel units)")->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--pgd-steps", o.robustness.pgd_steps, "PGD steps (step size 2.5 eps / steps)")
      ->capture_default_str();
  cmd.add_option("--robust-examples", o.robustness.examples, "test images for the robustness evaluation (0 = all)")
      ->capture_default_str();
  add_runtime_flags(cmd, {.device = &o.device, .threads = &o.threads, .data_dir = &o.data_dir});
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  add_kill_flags(cmd, s->kill);
  return [s, &cmd]() {
    auto& o = s->o;
    o.callbacks = kill_callbacks(s->kill);
    o.progress = terminal_progress();
    if (o.full) {
      if (!cmd.count("--epochs")) o.epochs = 10;
      if (!cmd.count("--train-examples")) o.train_examples = 0;
      if (!cmd.count("--seeds")) o.seeds = 5;
      if (!cmd.count("--robust-examples")) o.robustness.examples = 2000;
    }
    const auto r = experiments::run_critical_training(s->out, o);
    if (s->json)
      print(nlohmann::json{{"cells", r.cells}, {"computed", r.computed}, {"reused", r.reused}, {"seconds", r.seconds},
                           {"results", r.results_md.string()}}
                .dump(2));
    else
      print(fmt::format("critical-training: {} cells ({} computed, {} reused) in {:.0f} s; see {}", r.cells, r.computed,
                        r.reused, r.seconds, r.results_md.string()));
    return 0;
  };
}

Runner add_continual(CLI::App& cmd) {
  struct State {
    experiments::ContinualOptions o;
    std::string out, activation = "relu";
    bool json = false, no_fresh = false;
  };
  auto s = std::make_shared<State>();
  auto& o = s->o;
  cmd.add_option("--out", s->out, "experiment directory (created; run again with the same options to resume)")
      ->required();
  cmd.add_option("--stream", o.stream, "permuted-pixels, permuted-labels or regression")->capture_default_str();
  cmd.add_option("--tasks", o.tasks, "tasks in the stream")->capture_default_str();
  cmd.add_option("--examples-per-task", o.examples_per_task, "examples per task, each seen once (batch 1)")
      ->capture_default_str();
  cmd.add_option("--methods", o.methods,
                 "backprop, l2, shrink-perturb, continual-backprop, redo, criticality, criticality-regularizer, "
                 "critical-init")
      ->delimiter(',')
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "first seed (stream and networks)")->capture_default_str();
  cmd.add_option("--seeds", o.seeds, "seeds (runs per method)")->capture_default_str();
  cmd.add_flag("--full", o.full,
               "the full-size protocol: 800 tasks x 60,000 examples, 3 x 2000 units, 3 seeds (unless given)");
  cmd.add_option("--depth", o.depth, "hidden layers")->capture_default_str();
  cmd.add_option("--width", o.width, "hidden units per layer")->capture_default_str();
  cmd.add_option("--activation", s->activation, "hidden activation: " + valid_names<Activation>())->capture_default_str();
  cmd.add_option("--lr", o.lr, "learning rate")->capture_default_str();
  cmd.add_flag("--adam", o.adam, "Adam instead of SGD");
  cmd.add_option("--weight-decay", o.weight_decay, "l2 and shrink-perturb: L2 coefficient")->capture_default_str();
  cmd.add_option("--perturb-std", o.perturb_std, "shrink-perturb: noise std added to every parameter each step")
      ->capture_default_str();
  cmd.add_option("--replacement-rate", o.replacement_rate, "continual-backprop: replacement rate")
      ->capture_default_str();
  cmd.add_option("--utility-decay", o.utility_decay, "continual-backprop: utility decay")->capture_default_str();
  cmd.add_option("--maturity", o.maturity, "continual-backprop: maturity threshold (steps)")->capture_default_str();
  cmd.add_option("--redo-tau", o.redo_tau, "redo: dormancy threshold tau")->capture_default_str();
  cmd.add_option("--redo-period", o.redo_period, "redo: steps between resets")->capture_default_str();
  cmd.add_option("--controller-rate", o.controller_rate, "criticality: controller correction rate k")
      ->capture_default_str();
  cmd.add_option("--tolerance", o.tolerance, "criticality: distance tolerance")->capture_default_str();
  cmd.add_option("--controller-every", o.controller_every, "criticality: steps between corrections")
      ->capture_default_str();
  cmd.add_option("--criticality-strength", o.criticality_strength, "criticality-regularizer: lambda")
      ->capture_default_str();
  cmd.add_option("--critical-sigma-b", o.critical_sigma_b, "critical init: sigma_b (sigma_w from the theory)")
      ->capture_default_str();
  cmd.add_option("--flip-every", o.flip_every, "regression: examples between bit flips")->capture_default_str();
  cmd.add_option("--probe-examples", o.probe_examples, "inputs of each new task the measures use")
      ->capture_default_str();
  cmd.add_flag("--no-fresh", s->no_fresh, "skip the fresh-network reference (no plasticity column)");
  add_runtime_flags(cmd, {.device = &o.device, .threads = &o.threads, .data_dir = &o.data_dir,
                          .threads_help = "runs in parallel, one thread each (0 = all cores)"});
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  return [s, &cmd]() {
    auto& o = s->o;
    o.activation = from_string<Activation>(s->activation);
    o.fresh_baseline = !s->no_fresh;
    if (o.full) {
      if (!cmd.count("--tasks")) o.tasks = 800;
      if (!cmd.count("--examples-per-task")) o.examples_per_task = 60000;
      if (!cmd.count("--width")) o.width = 2000;
      if (!cmd.count("--seeds")) o.seeds = 3;
    }
    if (o.stream == "regression") {  // Dohare et al.'s learner and task length
      if (!cmd.count("--depth")) o.depth = 1;
      if (!cmd.count("--width")) o.width = 5;
      if (!cmd.count("--examples-per-task")) o.examples_per_task = o.flip_every;
      if (!cmd.count("--probe-examples")) o.probe_examples = 1000;
    }
    const auto r = experiments::run_continual(s->out, o);
    if (s->json)
      print(nlohmann::json{{"runs", r.runs},
                           {"tasks_computed", r.tasks_computed},
                           {"tasks_reused", r.tasks_reused},
                           {"seconds", r.seconds},
                           {"tasks_csv", r.tasks_csv.string()},
                           {"summary", r.summary_md.string()}}
                .dump(2));
    else
      print(fmt::format("continual: {} runs, {} tasks computed, {} reused, in {:.0f} s; see {}", r.runs,
                        r.tasks_computed, r.tasks_reused, r.seconds, r.summary_md.string()));
    return 0;
  };
}

}  // namespace

Runner add_experiment(CLI::App& cmd) {
  cmd.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> subs;
  auto* ct = cmd.add_subcommand("critical-training",
                                "criticality-driven training vs baselines: accuracy, noise, FGSM, PGD over a grid");
  subs.emplace_back(ct, add_critical_training(*ct));
  auto* cl = cmd.add_subcommand("continual",
                                "continual learning: loss of plasticity vs loss of criticality, with the standard remedies");
  subs.emplace_back(cl, add_continual(*cl));
  return [subs]() {
    for (const auto& [sub, run] : subs)
      if (sub->parsed()) return run();
    return 1;
  };
}

}  // namespace critlab::cli
