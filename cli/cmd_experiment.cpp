// critlab experiment <name>: the papers' protocols, each resumable into an output directory.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/experiments/critical_training.h"

namespace critlab::cli {

namespace {

Runner add_critical_training(CLI::App& cmd) {
  struct State {
    experiments::CriticalTrainingOptions o;
    std::string out;
    bool json = false;
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
  cmd.add_option("--device", o.device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  cmd.add_option("--threads", o.threads, "threads (0 = all cores)")->capture_default_str();
  cmd.add_option("--data", o.data_dir, "Fashion-MNIST directory (default: $CRITLAB_DATA, then Debian's)");
  cmd.add_flag("--json", s->json, "print the summary as JSON");
  return [s, &cmd]() {
    auto& o = s->o;
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

}  // namespace

Runner add_experiment(CLI::App& cmd) {
  cmd.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> subs;
  auto* ct = cmd.add_subcommand("critical-training",
                                "criticality-driven training vs baselines: accuracy, noise, FGSM, PGD over a grid");
  subs.emplace_back(ct, add_critical_training(*ct));
  return [subs]() {
    for (const auto& [sub, run] : subs)
      if (sub->parsed()) return run();
    return 1;
  };
}

}  // namespace critlab::cli
