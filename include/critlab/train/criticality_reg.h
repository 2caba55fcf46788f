// Criticality-driven training: a differentiable penalty that pulls layer Jacobian gains toward a target
// (the regulariser), a feedback law that adapts its strength to hold the distance to criticality below a
// tolerance (the controller), and the robust-learning baseline of Hoffman et al. (2019), an input-output
// Jacobian penalty toward zero.
//
// Gains (measure/jacobian.h): gain_sq_l = E_x ||J_l(x)||_F^2 / fan_out_l over the training batch. Penalties,
// summed over the regulated layers with target gain t:
//   log-gain   R = sum_l (ln(gain_sq_l / t^2))^2        (default; symmetric in ordered vs chaotic)
//   gain       R = sum_l (gain_sq_l / t^2 - 1)^2
//   lyapunov   R = (lambda_hat - ln t)^2, lambda_hat = (1/L) sum_l ln(|J_l v_{l-1}| / |v_{l-1}|) for one
//   random
//              tangent vector per example pushed through the hidden layers (v renormalised at every layer):
//              a depth-L estimate of the network's maximal Lyapunov exponent, differentiable through JVPs.
// Estimators of gain_sq (all differentiable with respect to the parameters and the layer inputs):
//   analytic   closed form from the training pass's own taps (dense: sum_ij phi'(z_i)^2 W_ij^2): every
//   example,
//              no extra forward pass
//   hutchinson E_u ||J^T u||^2 with Rademacher u over a sub-batch, one VJP with create_graph per probe, so
//   the
//              penalty's gradient is a double backward
//   auto       analytic where the block offers it, else hutchinson
// Gradient (`local`, default): each layer's gain is differentiated with respect to that layer's own
// parameters, its input held fixed (detached), estimated on a sub-batch. `full`: the exact gradient of R,
// which also flows through every layer's input into all earlier layers; in a chaotic network that
// backward pass is itself amplified layer by layer and a large lambda makes SGD diverge (measured: a
// 20-layer tanh MLP at sigma_w = 2.5 blew up within 60 steps), which is why it is not the default. The
// closed form in `full` mode reuses the training pass's pre-activations on the whole batch.
// Blocks with batch normalisation are evaluated in eval mode for the stochastic estimator (per-example
// Jacobians; running statistics untouched).
//
// Controller (mode "controller"): instead of a penalty with a fixed lambda, a homeostatic gain correction
// applied after every optimiser step, in the spirit of self-organised criticality. Per regulated layer l,
// from the same per-batch gain estimates ghat_l (no gradient needed):
//   m_l <- (1 - a) m_l + a (ln ghat_l^2 - ln t^2)        smoothed log gain error, a = control_smoothing
//   if |m_l| / 2 > s:  W_l <- W_l * exp(-k m_l / 2),  m_l <- (1 - k) m_l       s = tolerance / 2, k =
//   strength
// W_l are the block's weight matrices / kernels (its batch-norm scales instead where it has batch norm, since
// those set the gain there). For a layer whose gain scales with its weights (ReLU, linear; tanh near the
// fixed point) one correction multiplies the log gain error by (1 - k rho), rho = d ln g / d ln W in (0, 1],
// so the loop contracts for 0 < k < 2 and does so monotonically for k <= 1; shifting m_l with the
// correction it applies removes the smoothing lag from the loop. The dead band s keeps the correction off
// while the layer is within half the tolerance, so ordinary training moves it freely there. The measured
// distance is thus held near or below s plus estimator noise, at the cost of one gain estimate per layer and
// step (closed form: a few vector operations).
#pragma once
#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/measure/jacobian.h"
#include "critlab/nn/stack.h"
#include "critlab/train/criticality_options.h"

namespace critlab::train {

// One differentiable estimate of gain_sq for one block at a tapped forward pass: a 0-dim tensor.
// method: auto, analytic or hutchinson; `local` detaches the block's input (see above).
at::Tensor gain_sq_estimate(nn::BlockImpl& block, const nn::Tap& tap, measure::GainMethod method,
                            std::int64_t sub_batch, int probes, std::uint64_t seed, bool local);

// J(x) v for a batch, differentiable with respect to the parameters, x and v: the block's analytic product
// where offered, else the double-VJP construction (u -> J^T u is linear; its VJP with v is J v).
at::Tensor differentiable_jvp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v);

struct PenaltyValue {
  at::Tensor penalty;           // R, differentiable (a 0-dim tensor)
  std::vector<double> gain_sq;  // per regulated layer, this batch (NaN for the Lyapunov penalty)
  double distance = 0;          // mean |ln gain_l| over the regulated layers (|lambda_hat| for lyapunov)
};

class CriticalityRegularizer {
 public:
  CriticalityRegularizer(const CriticalityOptions& options, const nn::LayerStack& stack);

  // R on the taps of one training forward pass (stack->forward_tapped on the batch, with autograd on).
  PenaltyValue penalty(nn::LayerStack& stack, const std::vector<nn::Tap>& taps, std::uint64_t seed) const;
  // Per-layer gain_sq on the same taps without building a graph (for the controller and for logging).
  std::vector<double> gains(nn::LayerStack& stack, const std::vector<nn::Tap>& taps,
                            std::uint64_t seed) const;
  // lambda's schedule factor in [0, 1] at `step` of `total_steps` (warm-up, then decay).
  double schedule(std::int64_t step, std::int64_t total_steps) const;
  const std::vector<std::size_t>& layers() const { return layers_; }

 private:
  CriticalityOptions o_;
  std::vector<std::size_t> layers_;
};

// The controller's state (smoothed log gain errors) is saved in checkpoints so a resumed run continues the
// same trajectory.
class CriticalityController {
 public:
  CriticalityController(const CriticalityOptions& options, std::size_t layers);
  // Feeds the batch's gain estimates (one per regulated layer, in `layers` order) and rescales the layers
  // outside the dead band. Returns the smoothed distance, mean_l |m_l| / 2, after the correction.
  double correct(nn::LayerStack& stack, const std::vector<std::size_t>& layers,
                 const std::vector<double>& gain_sq);
  // Mean |m_l| / 2 (NaN before the first batch).
  double smoothed_distance() const;
  std::int64_t corrections() const { return corrections_; }
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  CriticalityOptions o_;
  std::vector<double> m_;  // NaN until the first batch
  std::int64_t corrections_ = 0;
};

// The criticality work of one training step, in one place for the trainer and the benchmark: which forward
// pass to run, the penalties to add to the loss, and the controller's correction after the optimiser step.
// The regulariser or controller acts on every `every`-th step; the Jacobian-norm penalty on every step.
class CriticalityTraining {
 public:
  CriticalityTraining(const CriticalityOptions& options, double jacobian_reg, const nn::LayerStack& model);

  struct Pass {
    at::Tensor input;  // requires grad when the Jacobian-norm penalty is on
    at::Tensor logits;
    std::vector<nn::Tap> taps;  // filled when the regulariser or controller acts at this step
    bool due = false;
  };
  Pass forward(nn::LayerStack& model, const at::Tensor& x, std::int64_t step) const;

  // What the regulariser or controller did at a step (NaN where it does not apply).
  struct Figures {
    bool due = false;
    double penalty = std::nan(""), lambda = std::nan(""), distance = std::nan("");
  };
  // Adds lambda_t R (lambda_t = strength x every x schedule) and the Jacobian-norm term to `loss`; the
  // controller instead keeps this batch's gains for after_step.
  Figures add_penalties(nn::LayerStack& model, const Pass& pass, at::Tensor& loss, std::int64_t step,
                        std::int64_t total_steps, std::uint64_t seed);
  // After the optimiser step: the controller's correction when due (fills figures->distance).
  void after_step(nn::LayerStack& model, Figures* figures);

  CriticalityController* controller() { return controller_.get(); }

 private:
  CriticalityOptions o_;
  double jacobian_reg_;
  std::unique_ptr<CriticalityRegularizer> regularizer_;
  std::unique_ptr<CriticalityController> controller_;
  std::vector<double> gains_;  // the controller's batch gains between add_penalties and after_step
};

// Hoffman et al. (2019): ||J||_F^2 of logits with respect to inputs, estimated with one random unit
// projection per example: C * mean_b ||v_b^T J(x_b)||^2, v_b uniform on the sphere in R^C. `x` must be the
// (requires-grad) input that produced `logits`. Differentiable (double backward).
at::Tensor input_jacobian_penalty(const at::Tensor& logits, const at::Tensor& x, std::uint64_t seed);

}  // namespace critlab::train
