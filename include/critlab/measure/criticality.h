// One call that measures everything critlab knows about a network's distance to criticality:
// per-layer Jacobian gains, the distance d = mean_hidden |ln gain_l|, the Lyapunov spectrum and the
// dynamic range and the branching parameter. Also the writer that turns a report into tables and plots in a
// directory.
#pragma once
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/measure/branching.h"
#include "critlab/measure/dynamic_range.h"
#include "critlab/measure/input_response.h"
#include "critlab/measure/jacobian.h"
#include "critlab/measure/lyapunov.h"

namespace critlab::measure {

struct MeasureOptions {
  GainOptions gains;
  LyapunovOptions lyapunov;
  DynamicRangeOptions dynamic_range;
  BranchingOptions branching;
  InputResponseOptions input_response;
  bool with_lyapunov = true;
  bool with_dynamic_range = true;
  bool with_branching = true;
  bool with_input_response = false;  // the finite-depth input-response range (measure/input_response.h)
  bool IsValid(std::string* error) const;
};

struct CriticalityReport {
  std::vector<LayerGain> layers;
  double distance_to_criticality = 0;
  std::optional<LyapunovResult> lyapunov;             // empty when not asked for (with_lyapunov)
  std::optional<DynamicRangeResult> dynamic_range;    // empty when not asked for (with_dynamic_range)
  std::optional<BranchingReport> branching;           // empty when not asked for (with_branching)
  std::optional<InputResponseResult> input_response;  // empty when not asked for (with_input_response)
  std::int64_t probes = 0;
  double seconds = 0;  // wall time of the measurement
};

// The lighter settings of a measurement repeated while a network trains: the trainer's monitor
// (--monitor-every), the continual experiment's measurement before each task and the bench's monitor figure.
// Lyapunov k = 1 on 32 inputs, the dynamic range at 23 perturbation sizes on 16 inputs, branching on 32
// inputs; the gains on every probe.
MeasureOptions monitor_measure_options();

// `probes` are inputs on the model's device ([B, ...input_shape]).
CriticalityReport measure_criticality(nn::LayerStack& stack, const at::Tensor& probes,
                                      const MeasureOptions& options = {});

// JSON with `layers`, `distance_to_criticality`, `lyapunov` (exponents, largest first, per layer),
// `lyapunov_detail`, `dynamic_range`, `branching`, `input_response` (each null with a status when not asked
// for).
nlohmann::json to_json(const CriticalityReport& r);

// Writes tables/gains.csv, tables/lyapunov_per_layer.csv, tables/dynamic_range.csv, tables/layer_map.csv,
// tables/branching.csv, tables/input_response.csv and the matching plots under `dir` (tables/ and plots/
// subfolders), each where its part was measured.
void write_report_files(const std::filesystem::path& dir, const CriticalityReport& r);

// A short human-readable summary (one line per layer plus the headline numbers).
std::string brief_report(const CriticalityReport& r);

}  // namespace critlab::measure
