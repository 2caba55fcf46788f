// The continual experiment (experiments/continual.h): its options, presets and the one entry point that
// runs, analyses and reports. The steps live in continual_run.cpp, continual_analysis.cpp and
// continual_report.cpp.
#include "critlab/experiments/continual.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
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

json to_json(const ContinualSummary& s) {
  return {{"runs", s.runs},
          {"tasks_computed", s.tasks_computed},
          {"tasks_reused", s.tasks_reused},
          {"seconds", s.seconds},
          {"tasks_csv", s.tasks_csv.string()},
          {"summary", s.summary_md.string()},
          {"correlations", s.correlations_json.string()},
          {"analysis", to_json(s.analysis)}};
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
  auto execution = continual_detail::execute_runs(out, o);
  const auto table = continual_detail::build_task_table(o, execution.records);

  ContinualSummary summary;
  summary.runs = static_cast<std::int64_t>(execution.records.size());
  summary.tasks_computed = execution.tasks_computed;
  summary.tasks_reused = execution.tasks_reused;
  summary.analysis = continual_detail::analyse(o, table);
  const auto paths = continual_detail::write_report(out, o, table, summary.analysis);
  summary.tasks_csv = paths.tasks_csv;
  summary.summary_md = paths.summary_md;
  summary.correlations_json = paths.correlations_json;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  io::write_json(out / "summary.json", {{"runs", summary.runs},
                                        {"tasks_computed", summary.tasks_computed},
                                        {"tasks_reused", summary.tasks_reused},
                                        {"seconds", summary.seconds},
                                        {"analysis", to_json(summary.analysis)}});
  return summary;
}

}  // namespace critlab::experiments
