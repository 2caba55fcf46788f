#include "critlab/landscape/sharpness.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/io/npy.h"

namespace critlab::landscape {

SharpnessPoint measure_sharpness(nn::LayerStack& model, const at::Tensor& inputs, const at::Tensor& labels,
                                 const SharpnessOptions& o, at::Tensor* start) {
  auto h = HessianOperator::for_model(model, inputs, labels, o.loss, o.double_precision);
  SharpnessPoint p;
  p.loss = h->loss();
  LanczosOptions lo;
  lo.k = 1;
  lo.max_iterations = o.iterations;
  lo.tol = o.tol;
  lo.seed = o.seed;
  lo.vectors = start != nullptr;
  if (start && start->defined()) lo.start = *start;
  const auto eig = lanczos_extremes(h->as_function(), h->dim(), h->options(), lo);
  p.lambda_max = eig.eigenvalues.at(0);
  p.status = eig.status;
  if (start) *start = eig.eigenvectors[0].detach().clone();
  if (o.trace_probes > 0) {
    TraceOptions to;
    to.max_probes = std::max(2, o.trace_probes);
    to.min_probes = to.max_probes;
    to.seed = o.seed;
    const auto tr = hutchinson_trace(h->as_function(), h->dim(), h->options(), to);
    p.trace = tr.trace;
    p.trace_se = tr.se;
  }
  return p;
}

std::vector<at::Tensor> recorded_parameters(nn::LayerStack& model, const graph::Recording& rec,
                                            std::int64_t step) {
  if (!std::binary_search(rec.steps.begin(), rec.steps.end(), step))
    throw Error(fmt::format("step {} was not recorded in {} ({} recorded steps, from {} to {})", step,
                            rec.dir.string(), rec.steps.size(), rec.steps.empty() ? 0 : rec.steps.front(),
                            rec.steps.empty() ? 0 : rec.steps.back()));
  const auto dir = rec.dir / fmt::format("step-{:08d}", step);
  std::vector<at::Tensor> out;
  for (const auto& p : model->named_parameters(true)) {
    if (!p.value().requires_grad()) continue;
    const auto file = dir / ("param_" + p.key() + ".npy");
    if (!std::filesystem::exists(file))
      throw Error(
          fmt::format("{} has no saved parameter {}: this recording holds no parameters (record the "
                      "run again with this critlab's train --record)",
                      dir.string(), p.key()));
    const at::Tensor v = io::read_npy(file);
    if (v.sizes() != p.value().sizes())
      throw Error(fmt::format("{}: parameter {} has shape {}, the model's is {}", file.string(), p.key(),
                              fmt::join(v.sizes(), "x"), fmt::join(p.value().sizes(), "x")));
    out.push_back(v.to(p.value().options()));
  }
  return out;
}

void load_recorded_parameters(nn::LayerStack& model, const graph::Recording& rec, std::int64_t step) {
  const auto theta = recorded_parameters(model, rec, step);
  const auto params = trainable_parameters(*model);
  torch::NoGradGuard ng;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(theta[i]);
}

std::vector<SharpnessPoint> sharpness_over_recording(nn::LayerStack& model, const graph::Recording& rec,
                                                     const std::vector<std::int64_t>& steps,
                                                     const at::Tensor& inputs, const at::Tensor& labels,
                                                     const SharpnessOptions& o, const ProgressFn& progress) {
  ParameterScope restore(model);  // the model's own parameters come back, whatever happens
  std::vector<SharpnessPoint> out;
  at::Tensor start;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const std::int64_t step = steps[k];
    load_recorded_parameters(model, rec, step);
    SharpnessPoint point = measure_sharpness(model, inputs, labels, o, &start);
    point.step = step;
    out.push_back(point);
    report_progress(progress, "sharpness", static_cast<std::int64_t>(k + 1),
                    static_cast<std::int64_t>(steps.size()));
  }
  return out;
}

bool GdSharpnessOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (!(lr > 0 && lr < 1e3)) return fail(fmt::format("lr must be in (0, 1000), got {}", lr));
  if (steps < 1 || steps > 100000000) return fail(fmt::format("steps must be in [1, 1e8], got {}", steps));
  if (measure_every < 1) return fail(fmt::format("measure_every must be at least 1, got {}", measure_every));
  return true;
}

GdSharpness gradient_descent_sharpness(nn::LayerStack& model, const at::Tensor& inputs,
                                       const at::Tensor& labels, const GdSharpnessOptions& o,
                                       const ProgressFn& progress) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  GdSharpness r;
  r.threshold = 2 / o.lr;
  const auto params = trainable_parameters(*model);
  nn::EvalModeGuard eval(*model);
  at::Tensor start;
  for (std::int64_t step = 0;; ++step) {
    torch::AutoGradMode on(true);
    const at::Tensor loss = batch_loss(model, inputs, labels, o.sharpness.loss);
    if (!std::isfinite(loss.item<double>())) {
      r.diverged = true;
      break;
    }
    if (step % o.measure_every == 0 || step == o.steps) {
      const auto p = measure_sharpness(model, inputs, labels, o.sharpness, &start);
      r.step.push_back(step);
      r.loss.push_back(p.loss);
      r.lambda_max.push_back(p.lambda_max);
    }
    if (step == o.steps) break;
    const auto grads = torch::autograd::grad({loss}, params);
    torch::NoGradGuard ng;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].sub_(grads[i], o.lr);
    report_progress(progress, "gradient descent", step + 1, o.steps);
  }
  return r;
}

nlohmann::json to_json(const SharpnessPoint& p) {
  nlohmann::json j;
  j["step"] = p.step;
  j["loss"] = finite_or_null(p.loss);
  j["lambda_max"] = or_null(p.lambda_max);
  j["trace"] = or_null(p.trace);
  j["trace_se"] = or_null(p.trace_se);
  put_status(j, p.status);
  return j;
}

}  // namespace critlab::landscape
