#include "critlab/train/criticality_reg.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/data/dataset.h"
#include "measure/tensor_util.h"

namespace critlab::train {

using measure::per_example;

namespace {

// A tensor that autograd can differentiate with respect to: `x` itself when it is part of the graph (so the
// penalty's gradient also reaches earlier layers), else a detached leaf.
at::Tensor differentiable_input(const at::Tensor& x) {
  return x.requires_grad() ? x : x.detach().requires_grad_(true);
}

at::Tensor grad_of(const at::Tensor& out, const at::Tensor& wrt, const at::Tensor& grad_out) {
  auto g = torch::autograd::grad({out}, {wrt}, {grad_out}, /*retain_graph=*/true, /*create_graph=*/true,
                                 /*allow_unused=*/true);
  CRITLAB_ASSERT(g[0].defined(), "the block's output does not depend on its input");
  return g[0];
}

// Euclidean norm of each example (row) of a [B, ...] tensor: shape [B], or broadcastable to t with `keepdim`.
at::Tensor row_norms(const at::Tensor& t, bool keepdim) {
  at::Tensor n = t.flatten(1).norm(2, 1).clamp_min(1e-30);
  if (!keepdim) return n;
  std::vector<std::int64_t> shape(static_cast<std::size_t>(t.dim()), 1);
  shape[0] = t.size(0);
  return n.view(shape);
}

}  // namespace

at::Tensor gain_sq_estimate(nn::BlockImpl& block, const nn::Tap& tap, measure::GainMethod method,
                            std::int64_t sub_batch, int probes, std::uint64_t seed, bool local) {
  const at::Tensor x =
      local ? tap.input.slice(0, 0, std::min(sub_batch, tap.input.size(0))).detach() : tap.input;
  if (method == measure::GainMethod::kAuto || method == measure::GainMethod::kAnalytic) {
    // Full gradient: the training pass's own pre-activations (whole batch, no extra forward pass).
    at::Tensor sq;
    if (!local) {
      sq = block.jacobian_sq_norm_analytic(tap);
    } else {
      // With the input held fixed, phi' of a piecewise-linear unit (ReLU, linear) does not depend on W: the
      // training pass's own pre-activations serve, without a second product on the sub-batch.
      const auto view = block.dense_view();
      const bool flat_derivative =
          view && !view->normalised &&
          (view->activation == Activation::kRelu || view->activation == Activation::kLinear);
      sq = flat_derivative && tap.pre.defined() && tap.pre.dim() == 2
               ? block.jacobian_sq_norm_analytic(nn::Tap{x, tap.pre.slice(0, 0, x.size(0)).detach(), {}})
               : block.jacobian_sq_norm_analytic(x);
    }
    if (sq.defined()) return sq.mean() / static_cast<double>(per_example(tap.output));
    if (method == measure::GainMethod::kAnalytic)
      throw Error("block '" + block.describe() +
                  "' offers no closed-form Jacobian norm; use --criticality-estimator "
                  "auto or hutchinson");
  }
  // Hutchinson with create_graph: the penalty's gradient is a double backward through this VJP.
  const at::Tensor xs =
      differentiable_input(measure::repeat_examples(x.slice(0, 0, std::min(sub_batch, x.size(0))), probes));
  at::Tensor out;
  {
    // Per-example Jacobians: batch normalisation uses its running statistics, which stay untouched.
    nn::EvalModeGuard eval(block);
    out = block.forward(xs);
  }
  const at::Tensor u = measure::rademacher(out.sizes(), out.options(), seed);
  const at::Tensor g = grad_of(out, xs, u);
  return g.pow(2).flatten(1).sum(1).mean() / static_cast<double>(per_example(out));
}

at::Tensor differentiable_jvp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v) {
  at::Tensor jv = block.jvp_analytic(x, v);
  if (jv.defined()) return jv;
  const at::Tensor xg = differentiable_input(x);
  const at::Tensor out = block.forward(xg);
  const at::Tensor u = torch::zeros_like(out).requires_grad_(true);
  const at::Tensor jt_u = grad_of(out, xg, u);  // J^T u, linear in u
  return grad_of(jt_u, u, v);                   // d/du <J^T u, v> = J v
}

CriticalityRegularizer::CriticalityRegularizer(const CriticalityOptions& options, const nn::LayerStack& stack)
    : o_(options) {
  std::string err;
  if (!o_.IsValid(&err)) throw Error(err);
  if (o_.layers.empty() || o_.penalty == Penalty::kLyapunov) {
    layers_ = stack->hidden_blocks();
  } else {
    for (auto l : o_.layers) {
      if (static_cast<std::size_t>(l) >= stack->size())
        throw Error(fmt::format("criticality.layers: block {} does not exist (the model has blocks 0..{})", l,
                                stack->size() - 1));
      layers_.push_back(static_cast<std::size_t>(l));
    }
  }
  if (layers_.empty()) throw Error("the criticality regulariser needs at least one hidden block to regulate");
}

double CriticalityRegularizer::schedule(std::int64_t step, std::int64_t total_steps) const {
  double f = 1.0;
  if (o_.warmup_steps > 0 && step < o_.warmup_steps)
    f = static_cast<double>(step + 1) / static_cast<double>(o_.warmup_steps);
  if (o_.decay != Decay::kNone) {
    const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps - o_.warmup_steps));
    const double p = std::clamp(static_cast<double>(step - o_.warmup_steps) / span, 0.0, 1.0);
    f *= o_.decay == Decay::kLinear ? 1 - p : 0.5 * (1 + std::cos(M_PI * p));
  }
  return f;
}

PenaltyValue CriticalityRegularizer::penalty(nn::LayerStack& stack, const std::vector<nn::Tap>& taps,
                                             std::uint64_t seed) const {
  CRITLAB_ASSERT(taps.size() == stack->size(), "penalty: one tap per block is needed");
  PenaltyValue out;
  const double log_t2 = 2 * std::log(o_.target_gain);
  if (o_.penalty == Penalty::kLyapunov) {
    // One random unit tangent vector per example, pushed through the hidden layers.
    const auto& x0 = taps[layers_.front()].input;
    const auto rows = std::min(o_.sub_batch, x0.size(0));
    at::Tensor v = data::gaussian_probes(rows, x0.sizes().slice(1).vec(), seed).to(x0.options());
    v = v / row_norms(v, true);
    at::Tensor lambda_sum = torch::zeros({}, x0.options());
    std::vector<at::Tensor> per_layer;
    for (auto l : layers_) {
      at::Tensor x = taps[l].input.slice(0, 0, rows);
      if (o_.local_gradient) x = x.detach();
      at::Tensor jv = differentiable_jvp(*stack->block(l), x, v.reshape(x.sizes()));
      const at::Tensor n = row_norms(jv, false);  // |J v| with |v| = 1
      const at::Tensor log_growth = n.log().mean();
      per_layer.push_back(log_growth.detach());
      lambda_sum = lambda_sum + log_growth;
      v = jv / row_norms(jv, true);
    }
    const at::Tensor lambda_hat = lambda_sum / static_cast<double>(layers_.size());
    out.penalty = (lambda_hat - 0.5 * log_t2).pow(2);
    const auto growth = torch::stack(per_layer).to(torch::kFloat64).cpu();
    out.distance = (growth - 0.5 * log_t2).abs().mean().item<double>();
    out.gain_sq.assign(layers_.size(), std::nan(""));
    return out;
  }
  std::vector<at::Tensor> gains;
  at::Tensor total = torch::zeros({}, taps.front().output.options());
  for (auto l : layers_) {
    at::Tensor g2 = gain_sq_estimate(*stack->block(l), taps[l], o_.estimator, o_.sub_batch, o_.probes,
                                     seed + 7919 * static_cast<std::uint64_t>(l), o_.local_gradient);
    gains.push_back(g2.detach());
    const at::Tensor ratio = g2 / (o_.target_gain * o_.target_gain);
    total = total + (o_.penalty == Penalty::kLogGain ? ratio.log().pow(2) : (ratio - 1).pow(2));
  }
  out.penalty = total;
  const auto g = torch::stack(gains).to(torch::kFloat64).cpu().contiguous();
  const double* p = g.data_ptr<double>();
  double d = 0;
  for (std::int64_t i = 0; i < g.numel(); ++i) {
    out.gain_sq.push_back(p[i]);
    d += 0.5 * std::abs(std::log(p[i]) - log_t2);
  }
  out.distance = d / static_cast<double>(g.numel());
  return out;
}

std::vector<double> CriticalityRegularizer::gains(nn::LayerStack& stack, const std::vector<nn::Tap>& taps,
                                                  std::uint64_t seed) const {
  std::vector<at::Tensor> g;
  for (auto l : layers_) {
    auto& block = *stack->block(l);
    const nn::Tap tap{
        taps[l].input.detach(), taps[l].pre.defined() ? taps[l].pre.detach() : at::Tensor(), {}};
    at::Tensor sq;
    if (o_.estimator != measure::GainMethod::kHutchinson) {
      torch::NoGradGuard no_grad;
      sq = block.jacobian_sq_norm_analytic(tap);
    }
    if (!sq.defined()) {
      if (o_.estimator == measure::GainMethod::kAnalytic)
        throw Error("block '" + block.describe() +
                    "' offers no closed-form Jacobian norm; use "
                    "criticality.estimator auto or hutchinson");
      nn::EvalModeGuard eval(block);
      sq = measure::jacobian_sq_norm(block, tap.input.slice(0, 0, std::min(o_.sub_batch, tap.input.size(0))),
                                     measure::GainMethod::kHutchinson, o_.probes,
                                     seed + 7919 * static_cast<std::uint64_t>(l));
    }
    g.push_back(sq.mean() / static_cast<double>(per_example(taps[l].output)));
  }
  const auto t = torch::stack(g).to(torch::kFloat64).cpu().contiguous();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

CriticalityController::CriticalityController(const CriticalityOptions& options, std::size_t layers)
    : o_(options), m_(layers, std::nan("")) {}

double CriticalityController::correct(nn::LayerStack& stack, const std::vector<std::size_t>& layers,
                                      const std::vector<double>& gain_sq) {
  CRITLAB_ASSERT(layers.size() == m_.size() && gain_sq.size() == m_.size(), "controller: one gain per layer");
  const double log_t2 = 2 * std::log(o_.target_gain);
  const double k = o_.strength, a = o_.control_smoothing, dead_band = 0.5 * o_.tolerance;
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < m_.size(); ++i) {
    const double e = std::log(gain_sq[i]) - log_t2;
    if (!std::isfinite(e)) continue;  // a dead or degenerate batch: no information, no action
    m_[i] = std::isnan(m_[i]) ? e : (1 - a) * m_[i] + a * e;
    if (std::abs(m_[i]) / 2 <= dead_band) continue;
    const double scale = std::exp(-k * m_[i] / 2);
    for (auto& p : stack->block(layers[i])->gain_parameters()) p.mul_(scale);
    m_[i] *= 1 - k;
    ++corrections_;
  }
  return smoothed_distance();
}

double CriticalityController::smoothed_distance() const {
  double sum = 0;
  for (double m : m_) {
    if (std::isnan(m)) return std::nan("");
    sum += std::abs(m) / 2;
  }
  return m_.empty() ? std::nan("") : sum / static_cast<double>(m_.size());
}

nlohmann::json CriticalityController::state() const {
  nlohmann::json m = nlohmann::json::array();
  for (double v : m_) m.push_back(std::isnan(v) ? nlohmann::json() : nlohmann::json(v));
  return {{"log_gain_error", m}, {"corrections", corrections_}};
}

void CriticalityController::restore(const nlohmann::json& state) {
  const auto& m = state.at("log_gain_error");
  if (m.size() != m_.size()) throw Error("checkpointed controller state does not match the regulated layers");
  for (std::size_t i = 0; i < m_.size(); ++i) m_[i] = m[i].is_null() ? std::nan("") : m[i].get<double>();
  corrections_ = state.at("corrections");
}

CriticalityTraining::CriticalityTraining(const CriticalityOptions& options, double jacobian_reg,
                                         const nn::LayerStack& model)
    : o_(options), jacobian_reg_(jacobian_reg) {
  if (o_.enabled()) regularizer_ = std::make_unique<CriticalityRegularizer>(o_, model);
  if (o_.mode == CriticalityMode::kController)
    controller_ = std::make_unique<CriticalityController>(o_, regularizer_->layers().size());
}

CriticalityTraining::Pass CriticalityTraining::forward(nn::LayerStack& model, const at::Tensor& x,
                                                       std::int64_t step) const {
  Pass pass;
  pass.input = jacobian_reg_ > 0 ? x.detach().requires_grad_(true) : x;
  pass.due = regularizer_ && step % o_.every == 0;
  if (pass.due) {
    pass.taps = model->forward_tapped(pass.input);
    pass.logits = pass.taps.back().output;
  } else {
    pass.logits = model->forward(pass.input);
  }
  return pass;
}

CriticalityTraining::Figures CriticalityTraining::add_penalties(nn::LayerStack& model, const Pass& pass,
                                                                at::Tensor& loss, std::int64_t step,
                                                                std::int64_t total_steps,
                                                                std::uint64_t seed) {
  Figures f;
  f.due = pass.due;
  if (controller_ && pass.due) {
    gains_ = regularizer_->gains(model, pass.taps, seed);
  } else if (pass.due) {
    f.lambda = o_.strength * static_cast<double>(o_.every) * regularizer_->schedule(step, total_steps);
    const auto pv = regularizer_->penalty(model, pass.taps, seed);
    f.penalty = pv.penalty.item<double>();
    f.distance = pv.distance;
    loss = loss + f.lambda * pv.penalty;
  }
  if (jacobian_reg_ > 0)
    loss = loss + 0.5 * jacobian_reg_ * input_jacobian_penalty(pass.logits, pass.input, seed);
  return f;
}

void CriticalityTraining::after_step(nn::LayerStack& model, Figures* figures) {
  if (!controller_ || !figures->due) return;
  figures->distance = controller_->correct(model, regularizer_->layers(), gains_);
}

at::Tensor input_jacobian_penalty(const at::Tensor& logits, const at::Tensor& x, std::uint64_t seed) {
  CRITLAB_ASSERT(x.requires_grad(), "input_jacobian_penalty: the input must require grad");
  const auto classes = logits.size(1);
  at::Tensor v = data::gaussian_probes(logits.size(0), {logits.size(1)}, seed).to(logits.options());
  v = v / row_norms(v, true);
  const at::Tensor g = grad_of(logits, x, v);
  return static_cast<double>(classes) * g.pow(2).flatten(1).sum(1).mean();
}

}  // namespace critlab::train
