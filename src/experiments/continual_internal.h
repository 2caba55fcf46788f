// Private to the continual experiment (src/experiments/continual*.cpp): the rows the runs produce, the table
// the analysis and the report writer read, and the three steps between them.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "critlab/experiments/continual.h"

namespace critlab::experiments::continual_detail {

// A run's method: empty for the fresh reference.
using RunMethod = std::optional<ContinualMethod>;
std::string method_name(const RunMethod& m);  // the method's name, or "fresh"

// The rows of one run (method, seed), one per completed task: the columns of tasks.csv as written by the
// run (NaN stored as null; infinities as the strings "inf" and "-inf").
struct RunRecord {
  RunMethod method;
  std::uint64_t seed = 0;
  std::vector<nlohmann::json> rows;
};

struct Execution {
  std::vector<RunRecord> records;  // per seed, the options' methods, then the fresh reference
  std::int64_t tasks_computed = 0, tasks_reused = 0;
};

// Runs (or resumes) every run of the resolved options `o` in `out`, each method with its options in
// `per_method` (the fresh reference with `o`).
Execution execute_runs(const std::filesystem::path& out, const ContinualOptions& o,
                       const std::map<ContinualMethod, ContinualOptions>& per_method);

// The tuning grid of every method of `o` with one (tuning_grid), run (or resumed) in out/tuning/ on the
// tuning seeds and scored.
ContinualTuning tune(const std::filesystem::path& out, const ContinualOptions& o);

// A row's value: NaN when absent or null; infinities from their strings.
double get(const nlohmann::json& row, const std::string& key);

// The rows of every run up to o.tasks with the fresh reference's accuracy and loss and the plasticity
// added, and the values per column, method and task over seeds.
struct TaskTable {
  struct Row {
    RunMethod method;
    std::uint64_t seed = 0;
    nlohmann::json values;
  };
  std::vector<Row> rows;
  std::set<std::string> layer_columns;  // per-layer columns, in name order
  std::vector<RunMethod> methods;       // the options' methods, then the fresh reference if run
  // column -> method -> task -> values over seeds (NaN: not measured)
  std::map<std::string, std::map<RunMethod, std::vector<std::vector<double>>>> series;
};
TaskTable build_task_table(const ContinualOptions& o, const std::vector<RunRecord>& records);

// The columns plotted and averaged into the windows.
inline const std::vector<std::string> kSeriesColumns{
    "online_accuracy", "online_loss", "plasticity",       "dead_fraction",   "effective_rank",
    "mean_abs_weight", "lambda_max",  "dynamic_range_db", "branching_sigma", "distance_to_criticality"};

ContinualAnalysis analyse(const ContinualOptions& o, const TaskTable& table);

struct ReportPaths {
  std::filesystem::path tasks_csv, summary_md, correlations_json;
};
ReportPaths write_report(const std::filesystem::path& out, const ContinualOptions& o, const TaskTable& table,
                         const ContinualAnalysis& analysis, const std::optional<ContinualTuning>& tuning);

}  // namespace critlab::experiments::continual_detail
