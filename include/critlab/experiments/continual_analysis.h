// The continual experiment's results as values (experiments/continual.h): what summary.md and
// correlations.json are written from, and what a caller (the CLI, a test, a Python module) reads.
//
// Per method (and the fresh reference), the early and late windows of the stream: early = the first tenth
// of the tasks, late = the last tenth of the completed ones (at least one task each); a window's value is
// the mean over its tasks of the mean over seeds, and for the late performance and plasticity also the
// spread over seeds (mean and sd of the seeds' window means). Across methods, Spearman's rho of plasticity
// with each measure over all method tasks >= 1, with the Fisher interval and p-value (tasks independent) and
// the cluster bootstrap over runs (method x seed; the honest interval), and partial correlations of
// plasticity with the distance to criticality given each classical measure. Two claims are judged from the
// cluster-bootstrap intervals.
//
// A figure that could not be obtained (no finite value, too few pairs) is empty, and the struct holding it
// carries a Status saying why.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/status.h"
#include "critlab/stats/paired.h"

namespace critlab::experiments {

enum class ContinualMethod;

// A spread over seeds: mean and sample sd of the seeds' values (sd only with two or more finite ones).
struct SeedSpread {
  std::optional<double> mean, sd;
  std::int64_t n = 0;  // seeds with a finite value
};

struct ContinualMethodWindows {
  std::optional<ContinualMethod> method;  // empty: the fresh reference
  std::string name;                       // the method's name, or "fresh"
  // Online accuracy (classification) or mean squared error (regression).
  std::optional<double> performance_early;
  SeedSpread performance_late, plasticity_late;
  std::optional<double> dead_fraction_early, dead_fraction_late;
  std::optional<double> effective_rank_early, effective_rank_late;
  std::optional<double> mean_abs_weight_late;
  std::optional<double> distance_early, distance_late;
  std::optional<double> lambda_max_late;
  std::optional<double> units_replaced;       // per run (mean over seeds); empty for the fresh reference
  std::optional<double> backoffs;             // maintainers: back-offs per run (mean over seeds)
  std::optional<double> gauge_weight_change;  // gauge arms: the largest relative change of mean |W| by a
                                              // rescaling, over all runs and tasks
  // ok, or why a window above is empty (a diverged run, no fresh reference, no measures).
  Status status;
};

// Spearman's rho of plasticity with `measure` (given `control`, for a partial correlation).
struct ContinualCorrelation {
  std::string measure;
  std::optional<std::string> control;
  std::optional<double> rho;
  std::optional<double> fisher_low, fisher_high, p_value;  // Fisher interval and two-sided p (rho = 0)
  std::optional<double> bootstrap_low, bootstrap_high;     // cluster bootstrap over runs
  std::int64_t n = 0;                                      // pairs with both values finite
  Status status;

  // "measure", or "measure given control (partial)": the row's name in summary.md and correlations.json.
  std::string label() const;
};

enum class ClaimVerdict {
  kSupported,     // the cluster-bootstrap interval lies on the claimed side of zero
  kOpposite,      // it lies on the other side
  kNotSupported,  // it includes zero
};

// A claim judged from a cluster-bootstrap interval (rho, low, high); the verdict is empty, with a Status,
// when the interval could not be computed.
struct ContinualClaim {
  std::optional<ClaimVerdict> verdict;
  std::optional<double> rho, low, high;
  Status status;
};

// One method against another on late plasticity, paired by seed (stats/paired.h).
struct ContinualPairedTest {
  std::string method, baseline;
  stats::PairedComparison result;
};

struct ContinualAnalysis {
  std::vector<ContinualMethodWindows> methods;  // in the options' order, then the fresh reference
  std::vector<ContinualCorrelation> correlations;
  // The measures first, then the partial correlations.
  // "Closer to criticality, more plastic": rho(distance, plasticity) < 0.
  ContinualClaim distance_predicts_plasticity;
  // "The distance tells about plasticity what the effective rank does not": partial rho given the effective
  // rank differs from zero (kOpposite is not used).
  ContinualClaim distance_beyond_effective_rank;
  struct Divergence {
    std::string method;
    std::uint64_t seed = 0;
    std::int64_t task = 0;  // the first task whose row reports it
  };
  std::vector<Divergence> diverged;  // runs with non-finite loss or weights, by method name and seed
  // Each criticality method (the maintainers, the controller, the regulariser, critical-init, the gauge arms)
  // against each baseline (backprop, l2, shrink-perturb, continual-backprop, redo) that ran, on the seeds'
  // late plasticity; and the gauge arms against each other.
  std::vector<ContinualPairedTest> paired;
  // All methods ranked by late plasticity per seed (names in the ranking's column order).
  std::vector<std::string> ranked_names;
  stats::Ranking ranking;

  const ContinualMethodWindows* find(const std::string& name) const;
  const ContinualCorrelation* find_correlation(const std::string& label) const;
};

nlohmann::json to_json(const ContinualCorrelation& c);
nlohmann::json to_json(const ContinualClaim& c);
nlohmann::json to_json(const ContinualAnalysis& a);

}  // namespace critlab::experiments

namespace critlab {
CRITLAB_ENUM_NAMES(experiments::ClaimVerdict, "verdict", {experiments::ClaimVerdict::kSupported, "supported"},
                   {experiments::ClaimVerdict::kOpposite, "opposite"},
                   {experiments::ClaimVerdict::kNotSupported, "not-supported"})
}  // namespace critlab
