// Writing a GraphAnalysis (graph/analysis.h): the tables, plots, class-graph exports and summary.json of
// RUN/graph/ (the layout is listed in analysis.h), and the summary as JSON. Computation lives in
// analysis.cpp; this file only formats.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>

#include "critlab/graph/analysis.h"

namespace critlab::graph {

// The summary: theta (the one used), percolation [{step, p_inf, susceptibility, ...}], transition {step,
// beta, beta_ci, ..., status, message} at the susceptibility peak over steps, rise {step_10, step_50,
// step_90, ..., status, message}, pruning {status, message, curve [{fraction_kept, critical, random,
// magnitude}] or null, ccg [...] or null}, theta_sweeps, structure, critical_neurons, rasters, finite_size.
// Every figure not obtained is null, with "status" and "message" in the object that holds it.
nlohmann::json to_json(const GraphAnalysis& analysis);
nlohmann::json to_json(const Transition& transition);

// Writes tables/, plots/, ccg/ and summary.json under `out` (RUN/graph for the CLI); creates folders.
void write_graph_report(const GraphAnalysis& analysis, const std::filesystem::path& out);

}  // namespace critlab::graph
