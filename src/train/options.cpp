#include "critlab/train/options.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/io/json_fields.h"

namespace critlab::train {

bool TrainOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(lr > 0 && lr <= kMaxLearningRate))
    return fail(fmt::format("lr must be in (0, {:g}], got {}", kMaxLearningRate, lr));
  if (!(momentum >= 0 && momentum < 1))
    return fail(fmt::format("momentum must be in [0, 1), got {}", momentum));
  if (!(weight_decay >= 0 && weight_decay <= kMaxLearningRate))
    return fail(fmt::format("weight_decay must be in [0, {:g}], got {}", kMaxLearningRate, weight_decay));
  if (batch_size < 1 || batch_size > kMaxBatch)
    return fail(fmt::format("batch_size must be in [1, {}], got {}", kMaxBatch, batch_size));
  if (epochs < 1 || epochs > kMaxEpochs)
    return fail(fmt::format("epochs must be in [1, {}], got {}", kMaxEpochs, epochs));
  if (train_examples < 0) return fail("train_examples must be >= 0");
  if (log_every < 1) return fail("log_every must be at least 1");
  if (monitor_every < 0) return fail("monitor_every must be >= 0");
  if (monitor_probes < 2 || monitor_probes > kMaxProbes)
    return fail(fmt::format("monitor_probes must be in [2, {}], got {}", kMaxProbes, monitor_probes));
  if (record && (record_points < 2 || record_points > kMaxRecordPoints))
    return fail(fmt::format("record_points must be in [2, {}], got {}", kMaxRecordPoints, record_points));
  if (record && (record_probes < 2 || record_probes > kMaxProbes))
    return fail(fmt::format("record_probes must be in [2, {}], got {}", kMaxProbes, record_probes));
  if (eval_batch_size < 1 || eval_batch_size > kMaxBatch)
    return fail(fmt::format("eval_batch_size must be in [1, {}], got {}", kMaxBatch, eval_batch_size));
  if (warmup_steps < 0) return fail(fmt::format("warmup_steps must be >= 0, got {}", warmup_steps));
  if (step_epochs < 1) return fail(fmt::format("step_epochs must be at least 1, got {}", step_epochs));
  if (!(step_gamma > 0 && step_gamma <= 1e3))
    return fail(fmt::format("step_gamma must be in (0, 1000], got {}", step_gamma));
  if (threads < 0 || threads > kMaxThreads)
    return fail(fmt::format("threads must be in [0, {}], got {}", kMaxThreads, threads));
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

TrainOptions train_options_from_json(const nlohmann::json& j, const std::string& source,
                                     const std::string& prefix) {
  const io::JsonFields f(j, source, prefix);
  TrainOptions o;
  o.optimizer = f.choice<Optimizer>("optimizer");
  o.lr = f.number("lr");
  o.momentum = f.number("momentum");
  o.weight_decay = f.number("weight_decay");
  o.schedule = f.choice<Schedule>("schedule");
  o.warmup_steps = f.integer("warmup_steps");
  o.step_epochs = f.integer("step_epochs");
  o.step_gamma = f.number("step_gamma");
  o.batch_size = f.integer("batch_size");
  o.epochs = f.integer("epochs");
  o.seed = f.unsigned_integer("seed");
  o.train_examples = f.integer("train_examples");
  o.log_every = f.integer("log_every");
  o.monitor_every = f.integer("monitor_every");
  o.monitor_probes = f.integer("monitor_probes");
  o.eval_batch_size = f.integer("eval_batch_size");
  o.device = f.string("device");
  const auto threads = f.integer("threads");
  if (threads < 0 || threads > kMaxThreads)
    f.fail("threads", fmt::format("must be in [0, {}], found {}", kMaxThreads, threads));
  o.threads = static_cast<int>(threads);
  o.data_dir = f.string("data_dir");
  o.record = f.boolean_or("record", false);  // absent in runs made before recording existed
  o.record_points = f.integer_or("record_points", o.record_points);
  o.record_probes = f.integer_or("record_probes", o.record_probes);
  o.record_half = f.boolean_or("record_half", o.record_half);
  // Absent in runs made before criticality-driven training existed: off.
  if (f.has("criticality"))
    o.criticality = criticality_options_from_json(f.raw("criticality"), source, f.path("criticality"));
  o.jacobian_reg = f.number_or("jacobian_reg", 0.0);
  std::string err;
  if (!o.IsValid(&err)) throw Error(fmt::format("'{}': {}", source, err));
  return o;
}

}  // namespace critlab::train
