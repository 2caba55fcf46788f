#include "critlab/measure/input_response.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/stats/curve.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

bool InputResponseOptions::IsValid(std::string* error) const {
  const auto fail = [&](const char* m) {
    if (error) *error = m;
    return false;
  };
  if (!(log10_min >= -15 && log10_max <= 6 && log10_max - log10_min >= 2))
    return fail("input response: the stimuli must span at least two decades within [1e-15, 1e6]");
  if (points < 3 || points > 1000) return fail("input response: points must be in [3, 1000]");
  if ((log10_max - log10_min) / (points - 1) > 1)
    return fail("input response: at least one point per decade");
  if (!(0 < low && low < high && high < 1)) return fail("input response: needs 0 < low < high < 1");
  if (!(saturation_tolerance > 0 && saturation_tolerance < 1))
    return fail("input response: the saturation tolerance must be in (0, 1)");
  if (max_inputs < 0) return fail("input response: max_inputs must be >= 0");
  return true;
}

InputResponseResult input_response(nn::LayerStack& stack, const at::Tensor& probes,
                                   const InputResponseOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  const auto hidden = stack->hidden_blocks();
  if (hidden.empty()) throw Error("the model has no hidden layers: no input response to measure");
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  DoublePrecisionScope precision(*stack);
  const std::size_t upto = hidden.back() + 1;
  const at::Tensor x =
      (options.max_inputs > 0 ? probes.slice(0, 0, options.max_inputs) : probes).to(at::kDouble);
  // Stimulus directions: Gaussian, one per operating point, each as long as the probes' RMS norm.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  at::Tensor u = at::randn(x.sizes(), gen, torch::TensorOptions().dtype(at::kDouble)).to(x.device());
  const auto flat_u = u.flatten(1);
  double scale = x.flatten(1).pow(2).sum(1).mean().sqrt().item<double>();
  if (!(scale > 0)) scale = 1;
  u = (flat_u / flat_u.norm(2, {1}, true).clamp_min(1e-300) * scale).view(x.sizes());

  const at::Tensor base = stack->forward_until(x, upto).flatten(1);
  const double norm = std::sqrt(static_cast<double>(base.size(1)));
  const auto points = static_cast<std::size_t>(options.points);
  std::vector<double> grid(points), value(points, std::nan(""));
  std::vector<bool> done(points, false);
  for (std::size_t i = 0; i < points; ++i)
    grid[i] =
        std::pow(10.0, options.log10_min + (options.log10_max - options.log10_min) * static_cast<double>(i) /
                                               static_cast<double>(points - 1));
  // F at the grid's stimuli `which` (not yet evaluated), several per forward pass (up to ~4096 rows), so the
  // layers run as a few large products.
  const std::int64_t batch = x.size(0);
  const auto per_pass =
      static_cast<std::size_t>(std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(1, batch)));
  auto evaluate = [&](std::vector<std::size_t> which) {
    std::sort(which.begin(), which.end());
    which.erase(std::unique(which.begin(), which.end()), which.end());
    std::erase_if(which, [&](std::size_t i) { return done[i]; });
    for (std::size_t first = 0; first < which.size(); first += per_pass) {
      const std::size_t count = std::min(per_pass, which.size() - first);
      std::vector<at::Tensor> inputs;
      for (std::size_t k = first; k < first + count; ++k) inputs.push_back(x + grid[which[k]] * u);
      const at::Tensor h = stack->forward_until(at::cat(inputs), upto)
                               .flatten(1)
                               .view({static_cast<std::int64_t>(count), batch, -1});
      const at::Tensor f = ((h - base.unsqueeze(0)).norm(2, {2}).mean(1) / norm).cpu().contiguous();
      for (std::size_t k = 0; k < count; ++k) {
        value[which[first + k]] = f.data_ptr<double>()[k];
        done[which[first + k]] = true;
      }
    }
  };
  // The point a decade below the strongest stimulus.
  std::size_t decade = 0;
  while (decade + 1 < points && grid[decade + 1] <= grid.back() / 10 * (1 + 1e-9)) ++decade;
  InputResponseResult r;
  // The curve as evaluated so far, in ascending s; false, with the status set, where a response is not
  // finite.
  auto collect = [&] {
    r.stimuli.clear();
    r.response.clear();
    for (std::size_t i = 0; i < points; ++i)
      if (done[i]) r.stimuli.push_back(grid[i]), r.response.push_back(value[i]);
    for (double f : r.response)
      if (!std::isfinite(f)) {
        r.status = make_status(StatusCode::kNonFinite, "the response is not finite (a diverged network)");
        return false;
      }
    return true;
  };
  if (options.adaptive) {
    const double per_decade = static_cast<double>(points - 1) / (options.log10_max - options.log10_min);
    const auto stride = static_cast<std::size_t>(std::max(1.0, std::floor(per_decade)));
    std::vector<std::size_t> coarse{points - 1, decade};
    for (std::size_t i = 0; i < points; i += stride) coarse.push_back(i);
    evaluate(coarse);
  } else {
    std::vector<std::size_t> all(points);
    for (std::size_t i = 0; i < points; ++i) all[i] = i;
    evaluate(all);
  }
  if (!collect()) return r;
  const double f_sat = value.back();
  if (!(f_sat > 0)) {
    r.status = make_status(StatusCode::kNotFound,
                           "the response is zero at every stimulus: the last hidden layer does not depend on "
                           "the input");
    return r;
  }
  r.last_decade_growth = value[decade] > 0 ? f_sat / value[decade] : HUGE_VAL;
  if (std::abs(r.last_decade_growth - 1) > options.saturation_tolerance) {
    r.status = make_status(
        StatusCode::kNotApplicable,
        fmt::format(
            "the response does not saturate: it still changes by a factor {:.3g} over the last decade "
            "of stimuli (a linear or positively homogeneous network, such as bias-free ReLU, has no "
            "bounded response and so no dynamic range)",
            r.last_decade_growth));
    return r;
  }
  r.plateau = f_sat;
  if (value.front() / f_sat >= options.low) {
    r.status =
        make_status(StatusCode::kNotFound,
                    fmt::format("the response is already {:.0f}% of its plateau at the weakest stimulus "
                                "s = {:.1e}: the range extends below the scan",
                                100 * value.front() / f_sat, grid.front()));
    return r;
  }
  if (options.adaptive) {
    // Every stimulus between the first evaluated one at or above each fraction and the evaluated one before.
    std::vector<std::size_t> refine;
    for (double level : {options.low, options.high}) {
      std::size_t before = 0;
      for (std::size_t i = 1; i < points; ++i) {
        if (!done[i]) continue;
        if (value[i] / f_sat >= level) {
          for (std::size_t k = before + 1; k < i; ++k) refine.push_back(k);
          break;
        }
        before = i;
      }
    }
    evaluate(refine);
    if (!collect()) return r;
  }
  std::vector<double> f(r.response.size());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = r.response[i] / f_sat;
  // Both crossings exist: f starts below `low` (checked above) and ends at 1 > `high`.
  r.s_low = stats::first_crossing_log_x(r.stimuli, f, options.low);
  r.s_high = stats::first_crossing_log_x(r.stimuli, f, options.high);
  r.delta_db = 10 * std::log10(*r.s_high / *r.s_low);
  return r;
}

nlohmann::json to_json(const InputResponseResult& r) {
  nlohmann::json j{{"delta_db", or_null(r.delta_db)},
                   {"s_low", or_null(r.s_low)},
                   {"s_high", or_null(r.s_high)},
                   {"plateau", or_null(r.plateau)},
                   {"last_decade_growth", finite_or_null(r.last_decade_growth)},
                   {"stimuli", r.stimuli},
                   {"response", r.response}};
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::measure
