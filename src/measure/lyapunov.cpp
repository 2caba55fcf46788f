#include "critlab/measure/lyapunov.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/core/status.h"
#include "critlab/measure/jacobian.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

bool LyapunovOptions::IsValid(std::string* error) const {
  if (k < 1 || k > 4096) {
    if (error) *error = fmt::format("lyapunov.k must be in [1, 4096], got {}", k);
    return false;
  }
  if (max_inputs < 0 || max_inputs > 100000) {
    if (error) *error = fmt::format("lyapunov max_inputs must be in [0, 100000], got {}", max_inputs);
    return false;
  }
  return true;
}

LyapunovResult lyapunov_spectrum(nn::LayerStack& stack, const at::Tensor& probes,
                                 const LyapunovOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  at::Tensor h = options.max_inputs > 0 ? probes.slice(0, 0, options.max_inputs) : probes;
  const auto batch = h.size(0);
  const auto hidden = stack->hidden_blocks();
  if (hidden.empty()) throw Error("the model has no hidden layers: no Lyapunov spectrum to measure");

  // k cannot exceed the input dimension or any hidden layer's width (rank limit).
  std::int64_t k = options.k;
  k = std::min<std::int64_t>(k, h.numel() / batch);
  {
    at::Tensor t = h.slice(0, 0, 1);
    for (std::size_t l : hidden) {
      t = stack->block(l)->forward(t);
      k = std::min<std::int64_t>(k, t.numel());
    }
  }

  const auto n0 = h.numel() / batch;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  at::Tensor q =
      std::get<0>(torch::linalg_qr(at::randn({batch, n0, k}, gen, torch::kFloat64))).to(h.options());

  LyapunovResult r;
  r.k = static_cast<int>(k);
  r.inputs = batch;
  r.layers = hidden;
  r.per_layer.assign(stack->size(), std::vector<double>(static_cast<std::size_t>(k), std::nan("")));
  at::Tensor sum_logs = torch::zeros({batch, k}, torch::kFloat64);

  for (std::size_t l = 0; l < stack->size(); ++l) {
    auto& block = *stack->block(l);
    if (block.is_readout()) break;  // the readout ends the stack of hidden maps
    // Tangent directions, k per example: row b*k + j is direction j at example b. A dense block forms each
    // example's Jacobian once for its k directions (nn::BlockImpl::jvp_analytic).
    std::vector<std::int64_t> shape = h.sizes().vec();
    shape[0] = batch * k;
    const at::Tensor jv = jvp(block, h, q.transpose(1, 2).reshape(shape));
    at::Tensor y = jv.reshape({batch, k, -1}).transpose(1, 2);  // [B, n_out, k]
    auto [qn, rn] = torch::linalg_qr(y);
    at::Tensor logs = rn.diagonal(0, -2, -1).abs().log().to(torch::kFloat64).cpu();  // [B, k]
    auto mean = logs.mean(0);
    for (std::int64_t i = 0; i < k; ++i) r.per_layer[l][static_cast<std::size_t>(i)] = mean[i].item<double>();
    sum_logs += logs;
    q = qn;
    h = block.forward(h);
  }
  at::Tensor per_input = sum_logs / static_cast<double>(hidden.size());  // [B, k]
  at::Tensor mean = per_input.mean(0);
  at::Tensor se = batch > 1 ? per_input.std(0) / std::sqrt(static_cast<double>(batch)) : torch::zeros({k});
  for (std::int64_t i = 0; i < k; ++i) {
    r.exponents.push_back(mean[i].item<double>());
    r.exponents_se.push_back(se[i].item<double>());
  }
  return r;
}

void put_exponents(nlohmann::json& j, const std::string& key, const std::vector<double>& exponents) {
  j[key] = exponents;  // JSON has no -inf or NaN: those entries are written as null
  const auto missing =
      std::count_if(exponents.begin(), exponents.end(), [](double x) { return !std::isfinite(x); });
  if (missing == 0) return;
  j[key + "_status"] = to_string(StatusCode::kNonFinite);
  j[key + "_message"] = fmt::format(
      "{} of {} exponents are null: perturbations along those directions were annihilated (exponent -inf: "
      "dead units, or fewer active units than exponents asked for)",
      missing, exponents.size());
}

nlohmann::json to_json(const LyapunovResult& r) {
  nlohmann::json per_layer = nlohmann::json::array();
  for (std::size_t l = 0; l < r.per_layer.size(); ++l) {
    if (std::isnan(r.per_layer[l].front())) continue;
    nlohmann::json layer{{"index", l}};
    put_exponents(layer, "exponents", r.per_layer[l]);
    per_layer.push_back(layer);
  }
  nlohmann::json j{{"k", r.k}, {"inputs", r.inputs}, {"layers", r.layers}, {"per_layer", per_layer}};
  put_exponents(j, "exponents", r.exponents);
  put_exponents(j, "exponents_se", r.exponents_se);
  return j;
}

}  // namespace critlab::measure
