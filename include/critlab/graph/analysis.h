// The `critlab graph` analysis of a recorded run (graph/recording.h): neural correlation graphs over
// training, the connectivity transition, graph structure, critical neurons, critical computational graphs
// with the pruning test, and activity rasters.
//
// analyse_run() computes everything and returns a GraphAnalysis (values, no files); write_graph_report()
// (graph/report.h) writes it into RUN/graph/:
//   summary.json                          to_json(GraphAnalysis): everything below in one object (--json)
//   tables/percolation_steps.csv          per step at the default theta: P_inf, susceptibility, components,
//                                         edges, excluded units; whole network and per layer
//   tables/theta_sweep_step<s>.csv        P_inf, susceptibility, components against theta at one step
//   tables/cluster_sizes_step<s>.csv      finite cluster-size distribution at the default theta
//   tables/structure.csv, degree_step<s>.csv, rich_club_step<s>.csv   igraph measures at chosen steps
//   tables/critical_neurons.csv           per step and layer: critical-set stability, reinforcement,
//                                         redistribution, balance of contributions
//   tables/units_layer<l>.csv             per unit at the last step: strength, selectivity, information
//   tables/pruning.csv                    test accuracy against fraction kept, per pruning rule
//   tables/finite_size.csv                with compared runs: the transition per width
//   ccg/class<c>.graphml, .dot, .png      each class's critical computational graph
//   plots/                                one PNG (plus CSV and gnuplot script) per series
//
// The NCG: nodes are the hidden units (post-activation, zero-variance units excluded), edges join units of
// one layer or of adjacent layers whose |r| >= theta (or signed, per EdgeSign).
//
// Results that may not exist are std::optional (JSON null) with a Status beside them: the transition's
// beta when too few points lie on the ordered side, the rise of P_inf with fewer than 3 steps, the
// pruning test for a network that is not all dense blocks (or when not asked for), reinforcement and
// balance for a layer whose inputs are not the recorded units below it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/progress.h"
#include "critlab/core/status.h"
#include "critlab/graph/correlation.h"
#include "critlab/graph/hebbian.h"
#include "critlab/graph/neurons.h"
#include "critlab/graph/percolation.h"
#include "critlab/graph/scaling.h"
#include "critlab/graph/structure.h"
#include "critlab/stats/avalanche.h"

namespace critlab::graph {

// How the one threshold for graphs over training is chosen (spelled final, initial, null, fixed):
//   final    theta_c of the last recorded network (the susceptibility peak of its full-resolution sweep): the
//            trained graph's own percolation point, and training is watched arriving at it. The default: a
//            trained network's graph has a clear susceptibility peak (chi_max 17-100 on our 784-W-W-W-10 ReLU
//            runs), so theta_c is reproducible across seeds (0.64-0.68 at W = 128 ... 0.73-0.81 at 1024);
//            each width sits at its own percolation point, which is what makes widths comparable (the
//            distribution of |r| hardly depends on the width, so at one fixed theta a wider graph has
//            proportionally more edges per node).
//   initial  theta_c of the first recorded network. At initialisation the graph has hardly any susceptibility
//            peak (chi_max 1.2-3.9 on the same runs: the giant component sheds single units as theta rises),
//            so its "theta_c" is noise: 0.23, 0.66 and 0.67 for three seeds at W = 256.
//   null     the |r| that two independent units exceed with probability null_alpha on the run's probes
//            (Student t with P - 2 df): 0.104 for 1,000 probes, the same for every width; at 0.1
//            the graphs of these runs are one component at their first and last steps.
//   fixed    GraphOptions::theta as given.
// Without a percolation point (a graph that is one component from its strongest edge on) the final and
// initial rules fall back to null, and the analysis says so (GraphAnalysis::theta_note).
enum class ThetaRule { kFinal, kInitial, kNull, kFixed };

struct GraphOptions {
  ThetaRule theta_rule = ThetaRule::kFinal;
  double theta = 0;          // the threshold under the fixed rule (the CLI's --theta selects that rule)
  double null_alpha = 1e-3;  // the null rule's tail probability
  EdgeSign sign = EdgeSign::kAbsolute;
  double theta_min = 0.05, theta_max = 0.95, theta_step = 0.025;  // theta sweeps
  NeuronOptions neurons;
  std::vector<double> prune_fractions{1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01};
  int prune_random_repeats = 3;
  std::int64_t ccg_units = 12;   // per hidden layer in each exported class graph
  std::int64_t ccg_inputs = 24;  // input pixels in each exported class graph
  bool pruning = true;           // needs the run's checkpoint and the test set
  std::string data_dir;          // Fashion-MNIST for pruning (empty: the run's)
  std::string device = "auto";
  int threads = 0;
  std::uint64_t seed = 0;
  std::vector<std::filesystem::path> compare;  // further recorded runs for the finite-size comparison
  bool hebbian = true;                         // the Hebbian and redistribution tests
  HebbianOptions hebbian_options;
  RedistributionOptions redistribution_options;
  double avalanche_threshold = 2.0;  // activity avalanches: a unit is active above mean + this many sd
  stats::AvalancheOptions avalanche_options;
  ProgressFn progress;  // per recorded step and per pruning fraction; not serialised

  // Messages start with the field's name (theta, theta_min, neurons.fraction, ...).
  bool IsValid(std::string* error) const;
};

// The whole network's percolation at the default theta at one recorded step.
struct LayerPercolation {
  std::int64_t layer = 0;  // block index
  double p_inf = 0, susceptibility = 0;
};
struct StepPercolation {
  std::int64_t step = 0;
  double p_inf = 0, susceptibility = 0;
  std::int64_t components = 0, edges = 0, nodes = 0, excluded_units = 0;
  std::vector<LayerPercolation> layers;  // each hidden layer's own graph
};

// How fast and when P_inf changes over training. The direction is that of the larger excursion from the
// first recorded value; the running extreme (max for a rise, min for a fall) makes the crossing steps robust
// to later dips; step_10, step_50 and step_90 are where it first covers 10%, 50% and 90% of the excursion,
// and log10((step_90 + 1) / (step_10 + 1)) measures the sharpness in decades of training.
enum class Direction { kRise, kFall };
struct PInfRise {
  Status status;  // ok; insufficient-data (fewer than 3 steps); not-found (P_inf never moves)
  std::optional<Direction> direction;
  std::optional<double> p_inf_initial, p_inf_extreme, step_extreme, p_inf_final;
  std::optional<double> step_10, step_50, step_90, decades_10_90;
};

struct ClusterCount {
  std::int64_t size = 0, count = 0;
};
// P_inf and susceptibility against theta at one step, the transition in theta, and the finite clusters at
// the default theta.
struct ThetaSweep {
  std::int64_t step = 0;
  std::int64_t nodes = 0, excluded_units = 0;
  std::vector<PercolationPoint> points;     // one per theta of the grid
  Transition transition;                    // x_c is theta_c
  std::vector<ClusterCount> cluster_sizes;  // finite clusters (the largest component left out), by size
};

struct StructureAtStep {
  Status status;  // ok; not-found when no degree has a rich club (rich_club_normalised_max empty)
  std::int64_t step = 0;
  GraphStructure structure;
  std::optional<double> rich_club_normalised_max;  // empty where no degree has a rich club
};

// One row of the critical-neuron table (step, hidden layer). Figures about a layer's incoming weights need
// a dense block whose inputs are the recorded units below (or the input pixels): empty otherwise, as are
// figures that compare with the previous step at the first step.
struct CriticalNeuronRow {
  std::int64_t step = 0, layer = 0;
  std::int64_t critical = 0;               // size of the critical set
  std::optional<double> jaccard_previous;  // with the previous step's critical set
  double jaccard_final = 0;                // with the final step's critical set
  std::optional<double> mean_abs_w_critical, mean_abs_w_other, reinforcement_ratio;
  std::optional<double> dw_var_critical, dw_var_other;  // per step, against the previous recorded step
  std::optional<double> entropy_critical, entropy_other, gini_critical, gini_other;
};
// First-to-last summary of one hidden layer.
struct CriticalLayerSummary {
  Status status;  // ok when every figure below exists; else which are missing and why
  std::int64_t layer = 0;
  std::int64_t critical = 0;
  double jaccard_first_to_final = 0;
  std::optional<double> reinforcement_ratio_initial, reinforcement_ratio_final;
  std::optional<double> entropy_critical_initial, entropy_critical_final, entropy_other_final;
  std::optional<double> gini_critical_final, gini_other_final;
};
struct CriticalNeurons {
  double fraction = 0;
  std::vector<CriticalNeuronRow> rows;        // step-major: rows[k * layers + h]
  std::vector<std::int64_t> layers;           // hidden block indices
  std::vector<NeuronStats> final_stats;       // per hidden layer at the last step
  std::vector<CriticalLayerSummary> summary;  // per hidden layer
};

// Activity of one layer at one step as a [units, probes] z-score matrix (clamped to [-3, 3]), units in
// spectral order (Fiedler vector of the positive-correlation graph), probes grouped by class.
struct Raster {
  std::int64_t step = 0, layer = 0;
  std::int64_t units = 0, probes = 0;
  std::vector<float> z;             // row-major [units, probes]
  std::vector<double> class_edges;  // probe positions between classes (i - 0.5)
};

struct PruningPoint {
  double fraction_kept = 0;
  double critical = 0, random = 0, random_sd = 0, magnitude = 0;  // test accuracy
};
// One class's critical computational graph: node sets per layer (input pixels, critical units of each
// hidden layer, the class's output unit) and the edges weighted by a_i^c |w_ji|.
struct ClassGraph {
  std::int64_t class_index = 0;
  std::vector<std::vector<std::int64_t>> layers;
  ExportGraph graph;
};
struct Pruning {
  Status status;  // ok; not-run (not asked for); not-applicable (not every block is dense)
  std::vector<PruningPoint> curve;
  std::vector<ClassGraph> classes;
  std::int64_t num_classes = 0;  // chance level 1 / num_classes
};

// The graph's own percolation point in theta at one recorded step (full resolution, graph/scaling.h).
struct ThetaCritical {
  std::int64_t step = 0;
  FineSweep sweep;
};

// The Hebbian test of one dense layer between two recorded steps: the weight change from `step_from` to
// `step` against the co-activity at `step_from` of each weight's two units, as Pearson's r ("r") or as the
// mean product <a_j a_i> ("product"). Units (or pixels) without variance are left out.
struct HebbianRow {
  std::int64_t step_from = 0, step = 0, layer = 0;
  std::string coactivity;
  HebbianResult result;
};

// Reinforce and redistribute in one dense layer over the whole recording: the weights joining the final
// critical units of this layer (rows) and of the layer below (columns; every input pixel for the first
// hidden layer) against the rest and against random blocks of the same shape.
struct LayerRedistribution {
  std::int64_t layer = 0;
  Redistribution result;
};

// Activity avalanches of one hidden layer. A unit is active on a probe when its activity exceeds its own
// mean + avalanche_threshold sd at the first recorded step. Two series:
//   within steps  per recorded step, the active-unit count over the probes in recorded order (the probes
//                 are independent images: this is a population-burst statistic, not a dynamics), pooled
//                 over steps for the size distribution;
//   over training the active-unit count summed over probes at each recorded step (one point per step),
//                 with the branching ratio of that series.
struct LayerAvalanches {
  std::int64_t layer = 0;
  Status status;  // ok, or why no avalanche analysis could be made (no avalanche, too few)
  std::int64_t avalanches = 0;
  std::vector<stats::Avalanche> list;  // within steps, pooled
  std::optional<stats::AvalancheAnalysis> within_steps;
  std::vector<double> steps, active_fraction;  // over training: active (unit, probe) pairs / all
  stats::BranchingResult over_training;
};

// One run of a finite-size comparison (this run or a --compare one).
struct FiniteSizeRun {
  std::filesystem::path run;
  double width = 0;        // units of the first hidden layer
  std::int64_t nodes = 0;  // graph nodes at the first step
  double theta = 0;        // the threshold used over training (by the rule)
  std::vector<double> steps, p_inf, chi;
  Transition transition;  // over training at theta
  std::optional<double> p_inf_at_transition;
  std::optional<double> largest_step_jump;  // the largest |change| of P_inf between adjacent recorded
                                            // steps (empty with one step)
  ThetaRule rule = ThetaRule::kFinal;       // the rule that gave theta, and why it is not the one asked for
  std::string note;
  FineSweep initial, final;                                // the theta sweep at the first and last steps
  std::vector<PercolationPoint> initial_grid, final_grid;  // P_inf(theta) on the theta grid
};
// Finite-size scaling over the runs: power laws in the number of graph nodes N.
struct FiniteSize {
  std::vector<FiniteSizeRun> runs;                // this run first
  std::int64_t widths = 0;                        // distinct widths
  ScalingFit chi_theta, p_inf_theta, jump_theta;  // at the first step, in theta: chi_max, P_inf at theta_c,
                                                  // the largest one-level jump
  ScalingFit chi_theta_final, p_inf_theta_final, jump_theta_final;  // the same at the last step
  ScalingFit chi_steps, p_inf_steps, jump_steps;                    // over training at each run's theta
  // P_inf(theta) at the first and at the last step, one curve per width (mean over seeds).
  Collapse collapse_initial, collapse_final;
  // continuous, discontinuous, or undecided, with the reason: from the scaling of the largest one-level jump
  // at the last step and the per-graph test there (the first step's and the step series' exponents are
  // quoted in the reason).
  std::string continuity;
  std::string continuity_reason;
};

struct GraphAnalysis {
  std::filesystem::path run_dir;
  double theta = 0;                          // the threshold used
  ThetaRule theta_rule = ThetaRule::kFinal;  // the rule that gave theta
  std::string theta_note;  // why the rule is not the one asked for (initial, when the first network has no
                           // percolation point, falls back to null); empty otherwise
  double avalanche_threshold = 0;
  EdgeSign sign = EdgeSign::kAbsolute;
  std::int64_t probes = 0;
  std::vector<std::int64_t> hidden_layers;  // block indices
  std::vector<StepPercolation> percolation;
  std::vector<ThetaCritical> theta_c;  // every recorded step
  Transition transition;               // over training steps, at the susceptibility peak
  PInfRise rise;
  std::vector<ThetaSweep> theta_sweeps;    // first step, transition step (if found), last step
  std::vector<StructureAtStep> structure;  // the same steps
  CriticalNeurons critical_neurons;
  std::vector<Raster> rasters;
  Pruning pruning;
  Status hebbian_status;  // not-run when not asked for; not-applicable without a dense layer
  std::vector<HebbianRow> hebbian;
  std::vector<LayerRedistribution> redistribution;
  std::vector<LayerAvalanches> avalanches;
  std::optional<FiniteSize> finite_size;  // with compared runs only
};

// Runs the whole analysis on `run_dir` (a run trained with --record); writes nothing. Throws critlab::Error
// for invalid options or a run without a usable recording.
GraphAnalysis analyse_run(const std::filesystem::path& run_dir, const GraphOptions& options);

}  // namespace critlab::graph

namespace critlab {
CRITLAB_ENUM_NAMES(graph::ThetaRule, "theta rule", {graph::ThetaRule::kFinal, "final"},
                   {graph::ThetaRule::kInitial, "initial"}, {graph::ThetaRule::kNull, "null"},
                   {graph::ThetaRule::kFixed, "fixed"})
CRITLAB_ENUM_NAMES(graph::Direction, "direction", {graph::Direction::kRise, "rise"},
                   {graph::Direction::kFall, "fall"})
}  // namespace critlab
