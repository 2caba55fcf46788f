// Experiment: the convergence phase transition in hyperparameter space (Liu & Wang 2025, second claim), and
// the non-equilibrium probability flux of SGD through weight space (landscape/flux.h).
//
// A grid of learning rates eta x batch sizes B x seeds. Every cell trains with plain SGD (momentum optional)
// for `steps` steps and measures, late in training:
//   - converged or not: the final training loss (on the evaluation examples) is finite and at most
//     converged_ratio x the loss at initialisation; a run whose minibatch loss turns non-finite or exceeds
//     divergence_ratio x the initial loss is stopped and counted as diverged;
//   - the final train/test loss and accuracy;
//   - the weight fluctuation over the last `window` steps: the total variance sum_p Var(theta_p), and the
//     trajectory projected on the top `components` principal components of the window (computed in a sketch:
//     every step's parameters projected on `sketch` fixed random unit directions; the PCs are those of the
//     sketched window, after its linear trend in time is taken out unless detrend is off: the flux
//     estimators assume a stationary trajectory, and training still drifts; the trend's share of the window's
//     variance is reported as trend_share);
//   - the sharpness lambda_max of the training loss (Lanczos on a fixed batch) against 2 / eta (the
//     stability threshold of gradient descent; (2 + 2 momentum) / eta with momentum);
//   - the flux quantities of the projected trajectory (dt = 1 step): entropy production (grid estimator and
//     TUR bound, with CIs), the area-enclosing rate of PCs 1-2 (in the summary tables divided by
//     their standard deviations: a dimensionless rotation rate per step), the flux share of the drift.
// The boundary is located per batch size where the converged fraction crosses 1/2 along eta (first crossing
// from below, interpolated in log eta), with a percentile CI from resampling the seeds; eta_c(B) = c B^kappa
// is fitted by least squares in log-log (on batch sizes up to fit_max_batch), kappa with a t interval and a
// seed-bootstrap interval, and the local slopes between consecutive batch sizes are reported beside it.
//
// Tasks: fashion-mnist (an MLP, default 784-256x3-10 ReLU, on a stratified subset; cross-entropy), and
// quadratic: least squares 1/2 mean (x.w - y)^2 on `quadratic_samples` examples in `quadratic_dim` dimensions
// whose Hessian X^T X / n is exactly diag(linspace(1, 0.01)) in a random basis, so lambda_max = 1 and full-
// batch gradient descent converges exactly for eta < 2.
//
// Every cell is OUT/cells/B-<B>/lr-<eta>/seed-<s>/ with result.json (written atomically last: the commit
// point) and trajectory.csv (the projected window, readable by `critlab flux`). Running the same command
// again reuses finished cells; a changed grid or protocol under the same OUT is refused (more seeds are
// allowed, and the analysis options fit_max_batch and boundary_bootstrap may change). Writes OUT/cells.csv,
// OUT/phase.csv (means per eta x B), OUT/boundary.csv, OUT/summary.json, OUT/summary.md and heat maps in
// OUT/plots/.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/progress.h"
#include "critlab/core/status.h"
#include "critlab/landscape/flux.h"

namespace critlab::experiments {
enum class PhaseTask { kFashionMnist, kQuadratic };
}

namespace critlab {
CRITLAB_ENUM_NAMES(experiments::PhaseTask, "task", {experiments::PhaseTask::kFashionMnist, "fashion-mnist"},
                   {experiments::PhaseTask::kQuadratic, "quadratic"})
}

namespace critlab::experiments {

struct PhaseDiagramOptions {
  PhaseTask task = PhaseTask::kFashionMnist;
  std::vector<double> lrs{0.03, 0.1, 0.3, 1, 3, 10};
  std::vector<std::int64_t> batch_sizes{16, 64, 256, 1024};
  std::int64_t seeds = 3;
  std::uint64_t first_seed = 1;
  std::int64_t steps = 2000;   // SGD steps per cell
  std::int64_t window = 1000;  // the late window (the last `window` steps)
  double momentum = 0;
  // Convergence criterion.
  double converged_ratio = 0.5;
  double divergence_ratio = 1000;
  // fashion-mnist
  std::int64_t depth = 3, width = 256;
  Activation activation = Activation::kRelu;
  std::int64_t train_examples = 10000;  // stratified subset the cells train on
  std::int64_t eval_examples = 2000;    // train and test examples for the final losses and accuracies
  // quadratic
  std::int64_t quadratic_dim = 20, quadratic_samples = 200;
  // Measurements.
  std::int64_t sketch = 32;                // random directions every step is projected on
  std::int64_t components = 4;             // top principal components of the window analysed
  bool detrend = true;                     // take the window's linear trend out before the PCs and the flux
  std::int64_t sharpness_examples = 1024;  // fixed batch of the Lanczos sharpness
  int sharpness_iterations = 30;
  landscape::FluxOptions flux = [] {
    landscape::FluxOptions f;
    f.bootstrap = 200;
    f.blocks = 10;
    f.min_box_count = 10;
    return f;
  }();
  std::int64_t boundary_bootstrap = 1000;  // seed resamples for the CIs of eta_c and kappa
  std::int64_t fit_max_batch = 0;          // fit eta_c = c B^kappa on batch sizes up to this (0 = all)
  std::string device = "auto";
  int threads = 0;
  std::string data_dir;
  // Not part of the protocol: progress over cells, and a test hook that stops the run (std::_Exit(137))
  // after this many cells were computed.
  ProgressFn progress;
  std::int64_t kill_after_cells = -1;

  bool IsValid(std::string* error) const;
};
nlohmann::json to_json(const PhaseDiagramOptions& o);

// Where the converged fraction f(eta) first falls from >= 1/2 to < 1/2 along sorted eta, interpolated in
// log eta. Empty with status not-found when every eta converged (eta_c above the grid) or none did (below).
struct Crossing {
  std::optional<double> eta_c;
  std::optional<double> below, above;  // the grid's learning rates on either side of the crossing
  Status status;
};
Crossing locate_crossing(const std::vector<double>& lrs, const std::vector<double>& converged_fraction);

struct BoundaryRow {
  std::int64_t batch_size = 0;
  std::optional<double> eta_c, low, high;  // with the seed-bootstrap percentile interval
  std::optional<double> below, above;      // the grid step holding eta_c (the grid's resolution)
  double bootstrap_found = 0;              // fraction of resamples with a crossing
  Status status;
};
struct ScalingFit {
  std::optional<double> kappa, kappa_low, kappa_high, kappa_boot_low, kappa_boot_high, log_c;
  std::int64_t points = 0;
  std::int64_t max_batch = 0;  // the fit used batch sizes up to this (0: all)
  // d ln eta_c / d ln B between consecutive located batch sizes: linear scaling shows as 1 at small B, and
  // the curvature limit 2 / lambda_max as 0 at large B.
  std::vector<std::pair<std::int64_t, double>> local_kappa;  // (the larger B of the pair, slope)
  Status status;
};

struct PhaseDiagramSummary {
  std::int64_t cells = 0, computed = 0, reused = 0;
  double seconds = 0;
  std::vector<BoundaryRow> boundary;
  ScalingFit fit;
  std::filesystem::path summary_md;
};

// Runs (or resumes) the grid into `out`.
PhaseDiagramSummary run_phase_diagram(const std::filesystem::path& out, const PhaseDiagramOptions& options);

}  // namespace critlab::experiments
