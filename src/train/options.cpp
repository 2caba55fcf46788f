#include "critlab/train/options.h"

#include <fmt/format.h>

#include <cmath>

#include "critlab/core/error.h"

namespace critlab::train {

bool TrainOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(lr > 0) || !std::isfinite(lr)) return fail(fmt::format("lr must be positive, got {}", lr));
  if (!(momentum >= 0 && momentum < 1))
    return fail(fmt::format("momentum must be in [0, 1), got {}", momentum));
  if (!(weight_decay >= 0)) return fail(fmt::format("weight_decay must be >= 0, got {}", weight_decay));
  if (batch_size < 1) return fail(fmt::format("batch_size must be positive, got {}", batch_size));
  if (epochs < 1) return fail(fmt::format("epochs must be at least 1, got {}", epochs));
  if (train_examples < 0) return fail("train_examples must be >= 0");
  if (log_every < 1) return fail("log_every must be at least 1");
  if (monitor_every < 0) return fail("monitor_every must be >= 0");
  if (monitor_probes < 2) return fail("monitor_probes must be at least 2");
  if (record && record_points < 2)
    return fail(fmt::format("record_points must be at least 2, got {}", record_points));
  if (record && record_probes < 2)
    return fail(fmt::format("record_probes must be at least 2, got {}", record_probes));
  if (eval_batch_size < 1) return fail("eval batch size must be positive");
  if (warmup_steps < 0 || step_epochs < 1 || !(step_gamma > 0))
    return fail("bad learning-rate schedule settings");
  if (threads < 0) return fail("threads must be >= 0");
  if (!(jacobian_reg >= 0) || !std::isfinite(jacobian_reg))
    return fail(fmt::format("jacobian_reg must be >= 0, got {}", jacobian_reg));
  return criticality.IsValid(error);
}

nlohmann::json to_json(const TrainOptions& o) {
  return {{"optimizer", to_string(o.optimizer)},
          {"lr", o.lr},
          {"momentum", o.momentum},
          {"weight_decay", o.weight_decay},
          {"schedule", to_string(o.schedule)},
          {"warmup_steps", o.warmup_steps},
          {"step_epochs", o.step_epochs},
          {"step_gamma", o.step_gamma},
          {"batch_size", o.batch_size},
          {"epochs", o.epochs},
          {"seed", o.seed},
          {"train_examples", o.train_examples},
          {"log_every", o.log_every},
          {"monitor_every", o.monitor_every},
          {"monitor_probes", o.monitor_probes},
          {"eval_batch_size", o.eval_batch_size},
          {"device", o.device},
          {"threads", o.threads},
          {"data_dir", o.data_dir},
          {"record", o.record},
          {"record_points", o.record_points},
          {"record_probes", o.record_probes},
          {"record_half", o.record_half},
          {"criticality", to_json(o.criticality)},
          {"jacobian_reg", o.jacobian_reg}};
}

TrainOptions train_options_from_json(const nlohmann::json& j) {
  TrainOptions o;
  try {
    o.optimizer = from_string<Optimizer>(j.at("optimizer").get<std::string>());
    o.lr = j.at("lr");
    o.momentum = j.at("momentum");
    o.weight_decay = j.at("weight_decay");
    o.schedule = from_string<Schedule>(j.at("schedule").get<std::string>());
    o.warmup_steps = j.at("warmup_steps");
    o.step_epochs = j.at("step_epochs");
    o.step_gamma = j.at("step_gamma");
    o.batch_size = j.at("batch_size");
    o.epochs = j.at("epochs");
    o.seed = j.at("seed");
    o.train_examples = j.at("train_examples");
    o.log_every = j.at("log_every");
    o.monitor_every = j.at("monitor_every");
    o.monitor_probes = j.at("monitor_probes");
    o.eval_batch_size = j.at("eval_batch_size");
    o.device = j.at("device");
    o.threads = j.at("threads");
    o.data_dir = j.at("data_dir");
    o.record = j.value("record", false);  // absent in runs made before recording existed
    o.record_points = j.value("record_points", o.record_points);
    o.record_probes = j.value("record_probes", o.record_probes);
    o.record_half = j.value("record_half", o.record_half);
    // Absent in runs made before criticality-driven training existed: off.
    if (j.contains("criticality")) o.criticality = criticality_options_from_json(j.at("criticality"));
    o.jacobian_reg = j.value("jacobian_reg", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("training options are incomplete or malformed: ") + e.what());
  }
  std::string err;
  if (!o.IsValid(&err)) throw Error("training options: " + err);
  return o;
}

}  // namespace critlab::train
