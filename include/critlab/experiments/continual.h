// Experiment: is the loss of plasticity in continual learning a loss of criticality? (Vock & Meisel 2025,
// on the benchmarks of Dohare et al., "Loss of plasticity in deep continual learning", Nature 2024)
//
// A stream of tasks (data/streams.h) is learned online, one example at a time, by each method; before each
// task the network is measured on that task's first `probe_examples` inputs. Streams:
//   permuted-pixels   Fashion-MNIST, a fresh pixel permutation and a fresh sample of images per task
//   permuted-labels   Fashion-MNIST, a fresh permutation of the labels per task
//   regression        the slowly-changing regression problem (20 bits, 100 LTUs, beta 0.7); a "task" is
//                     `examples_per_task` consecutive examples (one bit flips every `flip_every`)
// Methods (all SGD, or Adam with `adam`, on the fast online path train/online_mlp.h):
//   backprop                 the default initialisation (He for relu)
//   l2                       + weight decay
//   shrink-perturb           + weight decay and N(0, perturb_std^2) noise on every parameter after each step
//   continual-backprop       + unit replacement by contribution utility (train/unit_reset.h)
//   redo                     + ReDo resets of dormant units every redo_period steps
//   homeostasis              critical initialisation + per-unit homeostasis (train/maintainer.h): each unit's
//                            gain contribution pulled to 1 and its activity kept in range through its bias
//   critical-reinit          critical initialisation + silent units re-initialised at the critical scale and
//                            the live units' layer gain pulled to 1 (train/maintainer.h)
//   criticality              the best of the two maintainers by the tuning of the closing note of issue 18
//                            (kCriticalityMaintainer below): the same runs as that maintainer
//   criticality-controller   critical initialisation + the homeostatic layer-gain controller
//                            (criticality_reg.h); kept so that its failure (it inflates the surviving units
//                            of a layer whose units fall silent until SGD diverges) stays reproducible
//   criticality-regularizer  critical initialisation + the log-gain penalty (closed form, local gradient)
//   critical-init            critical initialisation only
//   gauge-critical           the intervention arm: backprop, with every `gauge_every` steps a
//   gauge-away               function-preserving rescaling of the layers (train/maintainer.h) that moves the
//                            hidden gains to 1 (gauge-critical) or to e^{+-gauge_distance} alternating
//                            (gauge-away) while the function, the dead fraction, the effective rank and mean
//                            |W| stay exactly as they were (ReLU or linear learners, SGD)
// The two maintainers never let a run end in non-finite weights: a step whose loss is non-finite, or weights
// found non-finite at a check, are replaced by the last finite snapshot (taken every maintainer window and
// at each task's start), the maintainer backs off (its rate halves, it pauses a window) and the event is
// counted in the task's `backoffs` column.
//
// Tuning (`tune`): for every method with a hyper-parameter, a small grid over it (tuning_grid), each setting
// scored by its online accuracy (regression: minus its squared error) over the second half of a short
// stream (tune_tasks x tune_examples) on `tune_seeds` seeds that are not evaluation seeds (seed + 1000,
// ...); the best setting of each method is carried into the evaluation runs. The grid's runs live in
// OUT/tuning/<method>/<setting>/ and resume like the others; the table is OUT/tuning.json and a section of
// summary.md.
// A "fresh" reference trains a newly initialised backprop network on every task; a method's plasticity on a
// task is its online accuracy there over the fresh network's (for regression: the fresh network's error
// over the method's).
//
// Per task (tasks.csv): online accuracy and loss over the task; before it, on the probes: dead-unit
// fraction, effective rank (mean over hidden layers and per layer), mean |W|, per-layer gains, the distance
// to criticality, the maximal Lyapunov exponent and the dynamic range; units replaced during the task.
// Across methods: Spearman correlations of plasticity with each measure (tasks >= 1), with a Fisher
// interval and a cluster bootstrap over runs, and a scatter plot.
//
// Resumable: each run (method, seed) commits OUT/runs/<method>/seed-<s>/state.json after every task with a
// checkpoint of the network, optimiser and method state; running the same command again continues every
// run from its last completed task and reproduces an uninterrupted run exactly. Runs go in parallel, one
// thread each, so the numbers do not depend on --threads.
//
// Code: the runs (continual_run.cpp) produce one row per task; the analysis (continual_analysis.cpp) turns
// the rows into a ContinualAnalysis of values (continual_analysis.h); the report writer
// (continual_report.cpp) writes tasks.csv, summary.md, correlations.json and the plots from both.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/progress.h"

namespace critlab::experiments {

enum class ContinualMethod {
  kBackprop,
  kL2,
  kShrinkPerturb,
  kContinualBackprop,
  kRedo,
  kCriticality,
  kCriticalityRegularizer,
  kCriticalInit,
  kHomeostasis,
  kCriticalReinit,
  kCriticalityController,
  kGaugeCritical,
  kGaugeAway,
};
// The maintainer the method `criticality` runs.
inline constexpr ContinualMethod kCriticalityMaintainer = ContinualMethod::kHomeostasis;
enum class ContinualStream { kPermutedPixels, kPermutedLabels, kRegression };

}  // namespace critlab::experiments

namespace critlab {
CRITLAB_ENUM_NAMES(experiments::ContinualMethod, "method",
                   {experiments::ContinualMethod::kBackprop, "backprop"},
                   {experiments::ContinualMethod::kL2, "l2"},
                   {experiments::ContinualMethod::kShrinkPerturb, "shrink-perturb"},
                   {experiments::ContinualMethod::kContinualBackprop, "continual-backprop"},
                   {experiments::ContinualMethod::kRedo, "redo"},
                   {experiments::ContinualMethod::kCriticality, "criticality"},
                   {experiments::ContinualMethod::kCriticalityRegularizer, "criticality-regularizer"},
                   {experiments::ContinualMethod::kCriticalInit, "critical-init"},
                   {experiments::ContinualMethod::kHomeostasis, "homeostasis"},
                   {experiments::ContinualMethod::kCriticalReinit, "critical-reinit"},
                   {experiments::ContinualMethod::kCriticalityController, "criticality-controller"},
                   {experiments::ContinualMethod::kGaugeCritical, "gauge-critical"},
                   {experiments::ContinualMethod::kGaugeAway, "gauge-away"})
CRITLAB_ENUM_NAMES(experiments::ContinualStream, "stream",
                   {experiments::ContinualStream::kPermutedPixels, "permuted-pixels"},
                   {experiments::ContinualStream::kPermutedLabels, "permuted-labels"},
                   {experiments::ContinualStream::kRegression, "regression"})
}  // namespace critlab

#include "critlab/experiments/continual_analysis.h"

namespace critlab::experiments {

// Called before every training example of every run with the example's index in its stream
// (task * examples_per_task + i). Runs go in parallel: the hook is called from several threads at once.
using ContinualExampleHook =
    std::function<void(ContinualMethod method, std::uint64_t seed, std::int64_t example)>;

struct ContinualOptions {
  ContinualStream stream = ContinualStream::kPermutedPixels;
  std::int64_t tasks = 100;
  std::int64_t examples_per_task = 10000;
  std::vector<ContinualMethod> methods{
      ContinualMethod::kBackprop,       ContinualMethod::kL2,
      ContinualMethod::kShrinkPerturb,  ContinualMethod::kContinualBackprop,
      ContinualMethod::kRedo,           ContinualMethod::kCriticality,
      ContinualMethod::kCriticalReinit, ContinualMethod::kCriticalityRegularizer};
  std::uint64_t seed = 1;
  std::int64_t seeds = 1;  // seeds seed, seed + 1, ...
  // The full-size protocol: 800 tasks x 60,000 examples, 3 x 2000 units, 3 seeds, for the fields the caller
  // did not set (see with_continual_presets).
  bool full = false;
  // Learner: MLP with `depth` hidden layers of `width` units (the regression stream's preset makes it 20-5-1,
  // Dohare et al.'s, unless depth/width are set).
  std::int64_t depth = 3, width = 100;
  Activation activation = Activation::kRelu;
  double lr = 0.01;
  bool adam = false;
  // Method hyper-parameters (Dohare et al.'s published defaults where they give one).
  double weight_decay = 1e-4;      // l2, shrink-perturb
  double perturb_std = 1e-5;       // shrink-perturb
  double replacement_rate = 1e-4;  // continual-backprop
  double utility_decay = 0.99;
  std::int64_t maturity = 100;
  double redo_tau = 0.1;  // redo
  std::int64_t redo_period = 1000;
  double controller_rate = 0.5;        // criticality-controller: correction rate k
  double tolerance = 0.05;             // criticality-controller: distance tolerance (dead band tolerance / 2)
  std::int64_t controller_every = 10;  // steps between corrections (gain estimate from that step's example)
  double maintainer_rate = 0.1;        // homeostasis, critical-reinit: fraction corrected per round
  double maintainer_tolerance = 0.05;  // their dead band on |ln g| / 2
  std::int64_t maintainer_every = 10;  // steps between correction rounds
  std::int64_t maintainer_window = 100;  // time constant of the unit statistics (steps)
  double homeostasis_band = 0.5;         // homeostasis: activity floor of the gain law (maintainer.h)
  std::int64_t gauge_every = 500;        // gauge arms: steps between rescalings
  double gauge_distance = 1.0;           // gauge-away: |ln gain| of each hidden layer
  double criticality_strength = 0.1;     // criticality-regularizer: lambda (per example)
  double critical_sigma_b = 0.05;        // critical init: sigma_b (sigma_w from the mean-field theory)
  // Regression stream.
  std::int64_t flip_every = 10000;
  // Tuning (see above).
  bool tune = false;
  std::int64_t tune_tasks = 10, tune_examples = 5000, tune_seeds = 2;
  // Measurement.
  std::int64_t probe_examples = 2000;
  bool fresh_baseline = true;
  std::string device = "auto";
  int threads = 0;  // parallel runs (0 = all cores); every run is single-threaded
  std::string data_dir;

  // Not part of the protocol (never written to experiment.json):
  // the fields the caller set on purpose, by their names in experiment.json (e.g. "width"), which the
  // presets leave alone even where they hold the default value (a field that differs from its default is
  // always kept);
  std::set<std::string> given;
  // progress over the training examples of all runs;
  ProgressFn progress;
  // a hook before every training example (tests install an abrupt kill here; empty: none);
  ContinualExampleHook on_example;
  // whether the runs measure the network before each task (off for the tuning runs, which score only).
  bool measures = true;

  bool IsValid(std::string* error) const;
};
nlohmann::json to_json(const ContinualOptions& o);

// The options with the presets applied to every field the caller did not set (see `given`): `full`'s
// protocol size, then, for the regression stream, Dohare et al.'s learner (1 x 5 units), a task of
// `flip_every` examples and 1000 probe inputs. Idempotent; run_continual applies it and records the result.
ContinualOptions with_continual_presets(const ContinualOptions& o);

// One setting of a method's tuning grid: values by their names in experiment.json (e.g. "weight_decay").
struct TuneSetting {
  std::vector<std::pair<std::string, double>> values;
  std::string label() const;  // "weight_decay=0.0001", or "default" for an empty setting
};
// The grid of `method` around the options' values (empty: the method has no hyper-parameter of its own).
std::vector<TuneSetting> tuning_grid(ContinualMethod method);
// `o` with the setting's values.
ContinualOptions with_setting(const ContinualOptions& o, const TuneSetting& setting);

struct ContinualTuning {
  struct Cell {
    TuneSetting setting;
    std::vector<std::optional<double>> scores;  // per tuning seed (empty: diverged)
    std::optional<double> score;                // mean over seeds; empty when a seed diverged
    Status status;
  };
  struct Method {
    ContinualMethod method;
    std::vector<Cell> cells;
    std::optional<std::size_t> chosen;  // the best cell; empty when no cell has a score
    Status status;
  };
  std::vector<Method> methods;  // the options' methods with a grid
  const Method* find(ContinualMethod m) const;
};
nlohmann::json to_json(const ContinualTuning& t);

struct ContinualSummary {
  std::int64_t runs = 0, tasks_computed = 0, tasks_reused = 0;
  double seconds = 0;
  ContinualAnalysis analysis;             // the values summary.md and correlations.json are written from
  std::optional<ContinualTuning> tuning;  // with `tune`
  std::filesystem::path tasks_csv, summary_md, correlations_json;
};
nlohmann::json to_json(const ContinualSummary& s);

// Runs the protocol of with_continual_presets(options) into `out` (resuming what is there), analyses it and
// writes the report.
ContinualSummary run_continual(const std::filesystem::path& out, const ContinualOptions& options);

// For `critlab bench`: examples per second of each method's online training (its per-step work, no
// measures) on `examples` random inputs with the default protocol's learner, on the calling thread's
// settings; the median of `repeats` fresh runs. Also each method's cost relative to backprop (listed first).
// `methods` are names as in ContinualMethod (an unknown one throws critlab::Error).
nlohmann::json benchmark_continual_methods(const std::vector<std::string>& methods, std::int64_t examples,
                                           const c10::Device& device, int repeats);

}  // namespace critlab::experiments
