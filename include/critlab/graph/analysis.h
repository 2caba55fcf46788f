// The `critlab graph` analysis of a recorded run (graph/recording.h): neural correlation graphs over
// training, the connectivity transition, graph structure, critical neurons, critical computational graphs
// with the pruning test, and activity rasters. Writes into RUN/graph/:
//   summary.json                          everything below in one object (what --json prints)
//   tables/percolation_steps.csv          per step at the default theta: P_inf, susceptibility, components,
//                                         edges, excluded units; whole network and per layer
//   tables/theta_sweep_<step>.csv         P_inf, susceptibility, components against theta at one step
//   tables/cluster_sizes_<step>.csv       finite cluster-size distribution at the default theta
//   tables/structure.csv, degree_<step>.csv, rich_club_<step>.csv   igraph measures at chosen steps
//   tables/critical_neurons.csv           per step and layer: critical-set stability, reinforcement,
//                                         redistribution, balance of contributions
//   tables/units_<layer>.csv              per unit at the last step: strength, selectivity, information
//   tables/pruning.csv                    test accuracy against fraction kept, per pruning rule
//   ccg/class<c>.graphml, .dot, .png      each class's critical computational graph
//   plots/                                one PNG (plus CSV and gnuplot script) per series
//
// The NCG: nodes are the hidden units (post-activation, zero-variance units excluded), edges join units of
// one layer or of adjacent layers whose |r| >= theta (or signed, per EdgeSign).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "critlab/graph/correlation.h"
#include "critlab/graph/neurons.h"

namespace critlab::graph {

struct GraphOptions {
  // Threshold for graphs over training; 0 = auto: the first recorded network's own percolation threshold
  // (the susceptibility peak of its theta sweep), so training is seen moving the graph off that point.
  double theta = 0;
  EdgeSign sign = EdgeSign::kAbsolute;
  double theta_min = 0.05, theta_max = 0.95, theta_step = 0.025;  // theta sweeps
  NeuronOptions neurons;
  std::vector<double> prune_fractions{1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01};
  int prune_random_repeats = 3;
  std::int64_t ccg_units = 12;          // per hidden layer in each exported class graph
  std::int64_t ccg_inputs = 24;         // input pixels in each exported class graph
  bool pruning = true;                  // needs the run's checkpoint and the test set
  std::string data_dir;                 // Fashion-MNIST for pruning (empty: the run's)
  std::string device = "auto";
  int threads = 0;
  std::uint64_t seed = 0;
  std::vector<std::filesystem::path> compare;  // further recorded runs for the finite-size comparison

  bool IsValid(std::string* error) const;
};

// Runs the whole analysis on `run_dir` and writes RUN/graph/. Returns summary.json's content:
// theta (the one used), percolation [{step, p_inf, susceptibility, ...}], transition {step, beta, beta_ci,
// ...} at the susceptibility peak over steps, rise {step_10, step_50, step_90, ...}, pruning
// [{fraction_kept, critical, random, magnitude}], theta_sweeps, structure, critical_neurons, finite_size.
nlohmann::json analyse_run(const std::filesystem::path& run_dir, const GraphOptions& options);

}  // namespace critlab::graph
