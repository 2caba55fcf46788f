#include "critlab/measure/branching.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

bool BranchingOptions::IsValid(std::string* error) const {
  if (!(epsilon >= 1e-12 && epsilon <= 1e-2) || !(threshold > 0 && threshold <= 10) || max_inputs < 0) {
    if (error) *error = "branching: needs epsilon in [1e-12, 1e-2], threshold in (0, 10], max_inputs >= 0";
    return false;
  }
  return true;
}

namespace {
double rms(const at::Tensor& t) { return t.pow(2).mean().sqrt().item<double>(); }
// The layer's activity scale: the RMS of h_l over probes and units (sqrt(q_l) in mean-field terms). Not the
// spread across probes: in the ordered phase every input converges to one output, so that spread collapses
// together with the perturbation and would hide the damping.
double activity_scale(const at::Tensor& h) { return rms(h); }
double fraction_above(const at::Tensor& d, double threshold) {
  return (d.abs() > threshold).to(at::kDouble).mean().item<double>();
}
}  // namespace

BranchingReport branching_parameter(nn::LayerStack& stack, const at::Tensor& probes,
                                    const BranchingOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  if (stack->hidden_blocks().empty()) throw Error("the model has no hidden layers: no branching parameter");
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  DoublePrecisionScope precision(*stack);
  const at::Tensor x =
      (options.max_inputs > 0 ? probes.slice(0, 0, options.max_inputs) : probes).to(at::kDouble);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const at::Tensor g = at::randn(x.sizes(), gen, torch::TensorOptions().dtype(at::kDouble)).to(x.device());
  double sd0 = activity_scale(x.flatten(1));
  if (!(sd0 > 0)) sd0 = 1;
  const auto clean = stack->forward_tapped(x);
  const auto perturbed = stack->forward_tapped(x + options.epsilon * sd0 * g);

  BranchingReport r;
  at::Tensor prev_delta = (perturbed.front().input - clean.front().input).flatten(1);
  double prev_sd = sd0;
  double log_sum = 0, log_sum_bin = 0;
  int hidden = 0, hidden_bin = 0;
  bool binary_undefined = false;
  std::optional<std::size_t> vanished_at;
  for (std::size_t l = 0; l < clean.size(); ++l) {
    const at::Tensor h = clean[l].output.flatten(1);
    const at::Tensor delta = (perturbed[l].output - clean[l].output).flatten(1);
    LayerBranching lb;
    lb.index = l;
    lb.readout = stack->block(l)->is_readout();
    const double rms_in = rms(prev_delta), rms_out = rms(delta), sd = activity_scale(h);
    if (!std::isfinite(rms_in) || !std::isfinite(rms_out) || !std::isfinite(sd)) {
      r.status =
          make_status(StatusCode::kNonFinite, fmt::format("layer {} is not finite (a diverged network)", l));
      r.layers.push_back(lb);
      return r;
    }
    if (rms_in > 0) {
      lb.sigma = rms_out / rms_in;
      // Ancestors: units of the layer's input beyond threshold * rms of the perturbation there; descendants:
      // units of its output beyond threshold * eps_l * sd_l, eps_l = rms_in / sd_in.
      const double ancestors = fraction_above(prev_delta, options.threshold * rms_in);
      const double eps_l = prev_sd > 0 ? rms_in / prev_sd : 0;
      lb.changed_fraction = fraction_above(delta, options.threshold * eps_l * sd);
      if (ancestors > 0) lb.sigma_binary = lb.changed_fraction / ancestors;
    }
    if (!lb.readout) {
      if (!vanished_at && lb.sigma) {
        if (*lb.sigma > 0) {
          log_sum += std::log(*lb.sigma);
          ++hidden;
        } else {
          vanished_at = l;
        }
      }
      if (lb.sigma_binary && *lb.sigma_binary > 0) {
        log_sum_bin += std::log(*lb.sigma_binary);
        ++hidden_bin;
      } else {
        binary_undefined = true;
      }
    }
    r.layers.push_back(lb);
    prev_delta = delta;
    prev_sd = sd;
  }
  if (vanished_at) {
    r.sigma = 0.0;
    r.status = make_status(StatusCode::kOk, fmt::format("the perturbation vanished at layer {}: nothing "
                                                        "propagates past it (sigma = 0)",
                                                        *vanished_at));
  } else {
    r.sigma = std::exp(log_sum / hidden);
  }
  if (!binary_undefined && hidden_bin > 0) r.sigma_binary = std::exp(log_sum_bin / hidden_bin);
  return r;
}

nlohmann::json to_json(const BranchingReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"layer", l.index},
                      {"readout", l.readout},
                      {"sigma", or_null(l.sigma)},
                      {"sigma_binary", or_null(l.sigma_binary)},
                      {"changed_fraction", l.changed_fraction}});
  nlohmann::json j{{"per_layer", layers}};
  const bool finite = r.status.code != StatusCode::kNonFinite;
  put_result(j, "sigma", r.sigma, r.status);
  put_result(j, "sigma_binary", r.sigma_binary,
             finite ? make_status(StatusCode::kNotFound,
                                  "no unit changed at some hidden layer's input (the perturbation vanished)")
                    : r.status);
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::measure
