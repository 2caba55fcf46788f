#include "critlab/measure/dynamic_range.h"

#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/measure/jacobian.h"

namespace critlab::measure {

bool DynamicRangeOptions::IsValid(std::string* error) const {
  if (!(log10_max > log10_min) || !(log10_min >= -30 && log10_max <= 30) || points < 3 || points > 1000 ||
      !(0 < low && low < high && high < 1) || max_inputs < 0) {
    if (error) *error = "dynamic range needs log10_max > log10_min, points >= 3, 0 < low < high < 1";
    return false;
  }
  return true;
}

namespace {
// Log-linear interpolation of the first crossing of `target` by the response curve.
double crossing(const std::vector<double>& s, const std::vector<double>& f, double target) {
  for (std::size_t i = 1; i < f.size(); ++i) {
    if (f[i] >= target) {
      const double t = (f[i] == f[i - 1]) ? 0.0 : (target - f[i - 1]) / (f[i] - f[i - 1]);
      return std::pow(10.0, std::log10(s[i - 1]) + t * (std::log10(s[i]) - std::log10(s[i - 1])));
    }
  }
  return s.back();
}
}  // namespace

DynamicRangeResult dynamic_range(nn::LayerStack& stack, const at::Tensor& probes,
                                 const DynamicRangeOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  const auto hidden = stack->hidden_blocks();
  if (hidden.empty()) throw Error("the model has no hidden layers: no dynamic range to measure");
  const std::size_t upto = hidden.back() + 1;
  at::Tensor x = options.max_inputs > 0 ? probes.slice(0, 0, options.max_inputs) : probes;
  const at::Tensor base = stack->forward_until(torch::zeros_like(x.slice(0, 0, 1)), upto).flatten(1);
  const double norm = std::sqrt(static_cast<double>(base.size(1)));

  DynamicRangeResult r;
  for (int i = 0; i < options.points; ++i) {
    const double e = options.log10_min + (options.log10_max - options.log10_min) * i / (options.points - 1);
    const double s = std::pow(10.0, e);
    at::Tensor h = stack->forward_until(x * s, upto).flatten(1);
    r.scales.push_back(s);
    r.response.push_back((h - base).norm(2, {1}).mean().item<double>() / norm);
  }
  const double f_low = r.response.front(), f_high = r.response.back();
  if (!(f_high > f_low) || !std::isfinite(f_high)) {
    r.status = make_status(StatusCode::kNotFound,
                           "the response does not grow with the input scale; no dynamic range");
    return r;
  }
  r.s_low = crossing(r.scales, r.response, f_low + options.low * (f_high - f_low));
  r.s_high = crossing(r.scales, r.response, f_low + options.high * (f_high - f_low));
  r.delta_db = 10 * std::log10(r.s_high / r.s_low);
  return r;
}

nlohmann::json to_json(const DynamicRangeResult& r) {
  const auto result = [&](double v) { return r.ok() ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j{{"delta_db", result(r.delta_db)},
                   {"s_low", result(r.s_low)},
                   {"s_high", result(r.s_high)},
                   {"scales", r.scales},
                   {"response", r.response}};
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::measure
