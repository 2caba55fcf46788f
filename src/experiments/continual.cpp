// The continual experiment (experiments/continual.h): its options, presets and the one entry point that
// runs, analyses and reports. The steps live in continual_run.cpp, continual_analysis.cpp and
// continual_report.cpp.
#include "critlab/experiments/continual.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "continual_internal.h"
#include "critlab/core/error.h"
#include "critlab/experiments/protocol.h"
#include "critlab/io/files.h"

namespace critlab::experiments {

namespace fs = std::filesystem;
using nlohmann::json;

bool ContinualOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (methods.empty()) return fail("methods is empty; name at least one method");
  for (const auto m : methods)
    if (std::count(methods.begin(), methods.end(), m) > 1)
      return fail(fmt::format("methods lists '{}' twice", to_string(m)));
  if (tasks < 1 || tasks > 1000000) return fail(fmt::format("tasks must be in [1, 1000000], got {}", tasks));
  // Classification tasks draw their examples from the 60,000 Fashion-MNIST training images without repeats.
  const std::int64_t max_examples = stream == ContinualStream::kRegression ? 10000000 : 60000;
  if (examples_per_task < 1 || examples_per_task > max_examples)
    return fail(fmt::format("examples_per_task must be in [1, {}] for this stream, got {}", max_examples,
                            examples_per_task));
  if (seeds < 1 || seeds > 1000) return fail(fmt::format("seeds must be in [1, 1000], got {}", seeds));
  if (depth < 1 || depth > 1000) return fail(fmt::format("depth must be in [1, 1000], got {}", depth));
  if (width < 1 || width > 65536) return fail(fmt::format("width must be in [1, 65536], got {}", width));
  if (!(lr > 0 && lr <= 1e3)) return fail(fmt::format("lr must be in (0, 1000], got {}", lr));
  if (!(weight_decay >= 0 && weight_decay <= 1e3))
    return fail(fmt::format("weight_decay must be in [0, 1000], got {}", weight_decay));
  if (!(perturb_std >= 0 && perturb_std <= 1e3))
    return fail(fmt::format("perturb_std must be in [0, 1000], got {}", perturb_std));
  if (!(replacement_rate >= 0 && replacement_rate <= 1))
    return fail(fmt::format("replacement_rate must be in [0, 1], got {}", replacement_rate));
  if (!(utility_decay >= 0 && utility_decay < 1))
    return fail(fmt::format("utility_decay must be in [0, 1), got {}", utility_decay));
  if (maturity < 0) return fail(fmt::format("maturity must be >= 0, got {}", maturity));
  if (!(redo_tau >= 0 && redo_tau <= 1e6))
    return fail(fmt::format("redo_tau must be >= 0, got {}", redo_tau));
  if (redo_period < 1) return fail(fmt::format("redo_period must be at least 1, got {}", redo_period));
  if (!(controller_rate > 0 && controller_rate < 2))
    return fail(fmt::format("controller_rate must be in (0, 2), got {}", controller_rate));
  if (!(tolerance > 0 && tolerance <= 1e3))
    return fail(fmt::format("tolerance must be positive, got {}", tolerance));
  if (controller_every < 1)
    return fail(fmt::format("controller_every must be at least 1, got {}", controller_every));
  if (!(criticality_strength >= 0 && criticality_strength <= 1e6))
    return fail(fmt::format("criticality_strength must be >= 0, got {}", criticality_strength));
  if (criticality_strength > 0 && adam &&
      std::find(methods.begin(), methods.end(), ContinualMethod::kCriticalityRegularizer) != methods.end())
    return fail("adam: criticality-regularizer runs with SGD only; drop adam or the method");
  if (!(critical_sigma_b >= 0 && critical_sigma_b <= 1e3))
    return fail(fmt::format("critical_sigma_b must be >= 0, got {}", critical_sigma_b));
  if (!(maintainer_rate > 0 && maintainer_rate <= 1))
    return fail(fmt::format("maintainer_rate must be in (0, 1], got {}", maintainer_rate));
  if (!(maintainer_tolerance >= 0 && maintainer_tolerance <= 10))
    return fail(fmt::format("maintainer_tolerance must be in [0, 10], got {}", maintainer_tolerance));
  if (maintainer_every < 1)
    return fail(fmt::format("maintainer_every must be at least 1, got {}", maintainer_every));
  if (maintainer_window < 1)
    return fail(fmt::format("maintainer_window must be at least 1, got {}", maintainer_window));
  if (!(homeostasis_band > 0 && homeostasis_band <= 1))
    return fail(fmt::format("homeostasis_band must be in (0, 1], got {}", homeostasis_band));
  if (gauge_every < 1) return fail(fmt::format("gauge_every must be at least 1, got {}", gauge_every));
  if (!(gauge_distance > 0 && gauge_distance <= 10))
    return fail(fmt::format("gauge_distance must be in (0, 10], got {}", gauge_distance));
  for (const auto m : methods)
    if (m == ContinualMethod::kGaugeCritical || m == ContinualMethod::kGaugeAway) {
      if (activation != Activation::kRelu && activation != Activation::kLinear)
        return fail(fmt::format(
            "{} rescales layers without changing the function, which needs relu or linear units, not {}",
            to_string(m), to_string(activation)));
      if (adam)
        return fail(
            fmt::format("adam: {} runs with SGD only (Adam's moments would not rescale)", to_string(m)));
    }
  if (tune_tasks < 2 || tune_tasks > 100000)
    return fail(fmt::format("tune_tasks must be in [2, 100000], got {}", tune_tasks));
  if (tune_examples < 1 || tune_examples > max_examples)
    return fail(
        fmt::format("tune_examples must be in [1, {}] for this stream, got {}", max_examples, tune_examples));
  if (tune_seeds < 1 || tune_seeds > 100)
    return fail(fmt::format("tune_seeds must be in [1, 100], got {}", tune_seeds));
  if (flip_every < 1) return fail(fmt::format("flip_every must be at least 1, got {}", flip_every));
  if (probe_examples < 2 || probe_examples > 10000)
    return fail(fmt::format("probe_examples must be in [2, 10000], got {}", probe_examples));
  if (threads < 0 || threads > 1024)
    return fail(fmt::format("threads must be in [0, 1024], got {}", threads));
  return true;
}

json to_json(const ContinualOptions& o) {
  json methods = json::array();
  for (const auto m : o.methods) methods.push_back(to_string(m));
  return {{"stream", to_string(o.stream)},
          {"tasks", o.tasks},
          {"examples_per_task", o.examples_per_task},
          {"methods", methods},
          {"seed", o.seed},
          {"seeds", o.seeds},
          {"depth", o.depth},
          {"width", o.width},
          {"activation", to_string(o.activation)},
          {"lr", o.lr},
          {"optimizer", o.adam ? "adam" : "sgd"},
          {"weight_decay", o.weight_decay},
          {"perturb_std", o.perturb_std},
          {"replacement_rate", o.replacement_rate},
          {"utility_decay", o.utility_decay},
          {"maturity", o.maturity},
          {"redo_tau", o.redo_tau},
          {"redo_period", o.redo_period},
          {"controller_rate", o.controller_rate},
          {"tolerance", o.tolerance},
          {"controller_every", o.controller_every},
          {"criticality_strength", o.criticality_strength},
          {"critical_sigma_b", o.critical_sigma_b},
          {"maintainer_rate", o.maintainer_rate},
          {"maintainer_tolerance", o.maintainer_tolerance},
          {"maintainer_every", o.maintainer_every},
          {"maintainer_window", o.maintainer_window},
          {"homeostasis_band", o.homeostasis_band},
          {"gauge_every", o.gauge_every},
          {"gauge_distance", o.gauge_distance},
          {"tune", o.tune},
          {"tune_tasks", o.tune_tasks},
          {"tune_examples", o.tune_examples},
          {"tune_seeds", o.tune_seeds},
          {"flip_every", o.flip_every},
          {"probe_examples", o.probe_examples},
          {"fresh_baseline", o.fresh_baseline}};
}

ContinualOptions with_continual_presets(const ContinualOptions& o) {
  const ContinualOptions defaults;
  ContinualOptions r = o;
  // A field is the caller's when named in `given` or changed from its default; the presets fill the others.
  auto set = [&](std::int64_t ContinualOptions::*field, const char* name, std::int64_t value) {
    if (!o.given.count(name) && o.*field == defaults.*field) r.*field = value;
  };
  if (o.full) {
    set(&ContinualOptions::tasks, "tasks", 800);
    set(&ContinualOptions::examples_per_task, "examples_per_task", 60000);
    set(&ContinualOptions::width, "width", 2000);
    set(&ContinualOptions::seeds, "seeds", 3);
  }
  if (o.stream == ContinualStream::kRegression) {  // Dohare et al.'s learner and task length
    set(&ContinualOptions::depth, "depth", 1);
    set(&ContinualOptions::width, "width", 5);
    set(&ContinualOptions::examples_per_task, "examples_per_task", o.flip_every);
    set(&ContinualOptions::probe_examples, "probe_examples", 1000);
  }
  return r;
}

namespace {

// The tunable fields by their names in experiment.json.
double ContinualOptions::*tunable(const std::string& name) {
  static const std::map<std::string, double ContinualOptions::*> fields{
      {"weight_decay", &ContinualOptions::weight_decay},
      {"perturb_std", &ContinualOptions::perturb_std},
      {"replacement_rate", &ContinualOptions::replacement_rate},
      {"redo_tau", &ContinualOptions::redo_tau},
      {"maintainer_rate", &ContinualOptions::maintainer_rate},
      {"homeostasis_band", &ContinualOptions::homeostasis_band},
      {"controller_rate", &ContinualOptions::controller_rate},
      {"criticality_strength", &ContinualOptions::criticality_strength}};
  const auto it = fields.find(name);
  CRITLAB_ASSERT(it != fields.end(), "tuning: unknown field " + name);
  return it->second;
}

}  // namespace

std::string TuneSetting::label() const {
  if (values.empty()) return "default";
  std::vector<std::string> parts;
  for (const auto& [k, v] : values) parts.push_back(fmt::format("{}={}", k, v));
  return fmt::format("{}", fmt::join(parts, ","));
}

std::vector<TuneSetting> tuning_grid(ContinualMethod method) {
  auto grid = [](const char* field, std::initializer_list<double> values) {
    std::vector<TuneSetting> g;
    for (double v : values) g.push_back({{{field, v}}});
    return g;
  };
  switch (method) {
    case ContinualMethod::kL2:
      return grid("weight_decay", {1e-5, 1e-4, 1e-3});
    case ContinualMethod::kShrinkPerturb:
      return grid("perturb_std", {1e-6, 1e-5, 1e-4});
    case ContinualMethod::kContinualBackprop:
      return grid("replacement_rate", {1e-5, 1e-4, 1e-3});
    case ContinualMethod::kRedo:
      return grid("redo_tau", {0.025, 0.1, 0.3});
    case ContinualMethod::kCriticality:
    case ContinualMethod::kHomeostasis: {
      std::vector<TuneSetting> g;
      for (double band : {0.3, 0.5})
        for (double rate : {0.1, 0.3, 1.0})
          g.push_back({{{"homeostasis_band", band}, {"maintainer_rate", rate}}});
      return g;
    }
    case ContinualMethod::kCriticalReinit:
      return grid("maintainer_rate", {0.1, 0.3, 1.0});
    case ContinualMethod::kCriticalityController:
      return grid("controller_rate", {0.1, 0.5, 1.0});
    case ContinualMethod::kCriticalityRegularizer:
      return grid("criticality_strength", {0.01, 0.1, 1.0});
    default:
      return {};  // backprop, critical-init and the gauge arms have no hyper-parameter of their own
  }
}

ContinualOptions with_setting(const ContinualOptions& o, const TuneSetting& setting) {
  ContinualOptions r = o;
  for (const auto& [k, v] : setting.values) r.*tunable(k) = v;
  return r;
}

const ContinualTuning::Method* ContinualTuning::find(ContinualMethod m) const {
  for (const auto& x : methods)
    if (x.method == m) return &x;
  return nullptr;
}

json to_json(const ContinualTuning& t) {
  json methods = json::array();
  for (const auto& m : t.methods) {
    json cells = json::array();
    for (const auto& c : m.cells) {
      json values = json::object(), scores = json::array();
      for (const auto& [k, v] : c.setting.values) values[k] = v;
      for (const auto& s : c.scores) scores.push_back(or_null(s));
      json j{{"setting", c.setting.label()},
             {"values", values},
             {"scores", scores},
             {"score", or_null(c.score)}};
      put_status(j, c.status);
      cells.push_back(std::move(j));
    }
    json j{{"method", to_string(m.method)},
           {"cells", cells},
           {"chosen", m.chosen ? json(m.cells[*m.chosen].setting.label()) : json(nullptr)}};
    put_status(j, m.status);
    methods.push_back(std::move(j));
  }
  return {{"methods", methods}};
}

namespace {
// j["tuning"]: the tuning table, or null with the reason beside it.
void put_tuning(json& j, const std::optional<ContinualTuning>& t) {
  if (t) {
    j["tuning"] = to_json(*t);
    return;
  }
  j["tuning"] = nullptr;
  j["tuning_status"] = "not-run";
  j["tuning_message"] = "no tuning asked for (--tune)";
}
}  // namespace

json to_json(const ContinualSummary& s) {
  json j{{"runs", s.runs},
         {"tasks_computed", s.tasks_computed},
         {"tasks_reused", s.tasks_reused},
         {"seconds", s.seconds},
         {"tasks_csv", s.tasks_csv.string()},
         {"summary", s.summary_md.string()},
         {"correlations", s.correlations_json.string()},
         {"analysis", to_json(s.analysis)}};
  put_tuning(j, s.tuning);
  return j;
}

ContinualSummary run_continual(const fs::path& out, const ContinualOptions& options) {
  const ContinualOptions o = with_continual_presets(options);
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const auto t0 = std::chrono::steady_clock::now();
  // One writer at a time; what a killed writer left half-written goes first.
  io::DirectoryLock lock(out, "an experiment writes there");
  io::remove_stale_temporaries(out, /*recursive=*/true);
  // The protocol must not change under completed tasks; methods, seeds and the task count may.
  open_experiment_dir(out, to_json(o), {"methods", "seeds", "tasks"});
  // Tuning first (its runs resume like the evaluation's), then every method with its chosen setting.
  std::map<ContinualMethod, ContinualOptions> per_method;
  std::optional<ContinualTuning> tuning;
  for (const auto m : o.methods) per_method.emplace(m, o);
  if (o.tune) {
    tuning = continual_detail::tune(out, o);
    io::write_json(out / "tuning.json", to_json(*tuning));
    for (const auto& t : tuning->methods)
      if (t.chosen) per_method[t.method] = with_setting(o, t.cells[*t.chosen].setting);
  }
  auto execution = continual_detail::execute_runs(out, o, per_method);
  const auto table = continual_detail::build_task_table(o, execution.records);

  ContinualSummary summary;
  summary.runs = static_cast<std::int64_t>(execution.records.size());
  summary.tasks_computed = execution.tasks_computed;
  summary.tasks_reused = execution.tasks_reused;
  summary.analysis = continual_detail::analyse(o, table);
  summary.tuning = tuning;
  const auto paths = continual_detail::write_report(out, o, table, summary.analysis, tuning);
  summary.tasks_csv = paths.tasks_csv;
  summary.summary_md = paths.summary_md;
  summary.correlations_json = paths.correlations_json;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // summary.json: the summary without the paths of the files beside it.
  json record = to_json(summary);
  for (const char* path_key : {"tasks_csv", "summary", "correlations"}) record.erase(path_key);
  io::write_json(out / "summary.json", record);
  return summary;
}

}  // namespace critlab::experiments
