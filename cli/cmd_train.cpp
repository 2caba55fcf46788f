#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/graph/recording.h"
#include "critlab/train/trainer.h"
#include "engine.h"

namespace critlab::cli {

Runner add_train(CLI::App& cmd) {
  struct State {
    ModelFlags model;
    train::TrainOptions o;
    std::string optimizer = "sgd", schedule = "constant", out, resume;
    std::string criticality = "off", penalty = "log-gain", estimator = "auto", decay = "none";
    std::int64_t epochs = 1;
    bool json = false;
    KillFlags kill;
  };
  auto s = std::make_shared<State>();
  add_model_flags(cmd, s->model);
  cmd.add_option("--epochs", s->epochs, "epochs (with --resume: the new total)")->capture_default_str();
  cmd.add_option("--batch-size", s->o.batch_size, "minibatch size")->capture_default_str();
  cmd.add_option("--lr", s->o.lr, "learning rate")->capture_default_str();
  cmd.add_option("--optimizer", s->optimizer, "optimizer: " + valid_names<Optimizer>())
      ->capture_default_str();
  cmd.add_option("--momentum", s->o.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--weight-decay", s->o.weight_decay, "weight decay")->capture_default_str();
  cmd.add_option("--schedule", s->schedule, "lr schedule: " + valid_names<Schedule>())->capture_default_str();
  cmd.add_option("--warmup-steps", s->o.warmup_steps, "linear lr warm-up steps")->capture_default_str();
  cmd.add_option("--step-epochs", s->o.step_epochs, "step schedule: epochs between decays")
      ->capture_default_str();
  cmd.add_option("--step-gamma", s->o.step_gamma, "step schedule: decay factor")->capture_default_str();
  cmd.add_option("--seed", s->o.seed, "seed for weights and batch order")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_option("--train-examples", s->o.train_examples, "use the first N training examples (0 = all)")
      ->capture_default_str();
  cmd.add_option("--log-every", s->o.log_every, "steps between metrics rows")->capture_default_str();
  cmd.add_option("--monitor-every", s->o.monitor_every, "steps between criticality measurements (0 = off)")
      ->capture_default_str();
  cmd.add_option("--monitor-probes", s->o.monitor_probes, "test images the monitor probes with")
      ->capture_default_str();
  cmd.add_flag("--record", s->o.record,
               "record activity and weights on probes at log-spaced steps (for critlab graph)");
  cmd.add_option("--record-points", s->o.record_points, "recorded steps")->capture_default_str();
  cmd.add_option("--record-probes", s->o.record_probes, "class-stratified training images recorded")
      ->capture_default_str();
  cmd.add_flag("!--record-float32", s->o.record_half, "record activations as float32 (default float16)");
  add_criticality_flags(cmd, s->o.criticality, s->criticality, s->penalty, s->estimator, s->decay);
  cmd.add_option("--jacobian-reg", s->o.jacobian_reg,
                 "Jacobian-norm baseline (Hoffman et al. 2019): adds jacobian_reg/2 * ||d logits/dx||_F^2")
      ->capture_default_str();
  add_runtime_flags(cmd, {.device = &s->o.device, .threads = &s->o.threads, .data_dir = &s->o.data_dir});
  cmd.add_option("--out", s->out, "run directory to create");
  cmd.add_option("--resume", s->resume, "continue the run in this directory from its last checkpoint");
  cmd.add_flag("--json", s->json, "print summary.json to stdout");
  add_kill_flags(cmd, s->kill);
  // Monitors: the activity recorder when the run records, and the test suite's simulated kills.
  const auto environment = [s](const train::TrainOptions& o) {
    train::TrainEnvironment env{.callbacks = kill_callbacks(s->kill), .progress = terminal_progress()};
    if (o.record)
      env.callbacks.insert(env.callbacks.begin(),
                           std::make_shared<graph::RecordingCallback>(
                               graph::RecordOptions{o.record_points, o.record_probes, o.record_half}));
    return env;
  };
  return [s, &cmd, environment]() {
    train::TrainSummary summary;
    std::string dir;
    if (!s->resume.empty()) {
      if (!s->out.empty()) throw Error("give either --out (new run) or --resume (existing run), not both");
      dir = s->resume;
      std::optional<std::int64_t> epochs;
      if (cmd.count("--epochs")) epochs = s->epochs;
      const auto config = train::read_resumable_run_config(dir);
      summary = train::train_resume(dir, epochs, environment(config.options));
    } else {
      if (s->out.empty()) throw Error("train needs --out DIR (a new run directory) or --resume DIR");
      dir = s->out;
      s->o.epochs = s->epochs;
      s->o.optimizer = from_string<Optimizer>(s->optimizer);
      s->o.schedule = from_string<Schedule>(s->schedule);
      resolve_criticality_flags(s->o.criticality, s->criticality, s->penalty, s->estimator, s->decay);
      const auto spec = resolve_model_flags(s->model);
      summary = train::train_new(dir, spec, s->o, environment(s->o));
    }
    if (s->json)
      print(train::to_json(summary).dump(2));
    else
      print(fmt::format(
          "{}: {} epochs, test accuracy {:.4f}, test loss {:.4f}, distance to criticality {:.4f}, "
          "{}; see {}/summary.json",
          dir, summary.epochs, summary.test_accuracy, summary.test_loss,
          summary.criticality.value("distance_to_criticality", 0.0),
          summary.examples_per_second ? fmt::format("{:.0f} examples/s", *summary.examples_per_second)
                                      : "no steps trained in this invocation",
          dir));
    return 0;
  };
}

}  // namespace critlab::cli
