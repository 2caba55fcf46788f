#include "critlab/measure/avalanches.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/measure/jacobian.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

bool NetworkAvalancheOptions::IsValid(std::string* error) const {
  if (!(perturbation != 0 && std::abs(perturbation) <= 1e6) || !(threshold > 0 && threshold <= 1e6) ||
      repeats < 1 || repeats > 10000) {
    if (error)
      *error = fmt::format(
          "perturbation must be non-zero and at most 1e6 in size, threshold in (0, 1e6] and repeats in "
          "[1, 10000]; got {}, {} and {}",
          perturbation, threshold, repeats);
    return false;
  }
  return true;
}

NetworkAvalanches network_avalanches(nn::LayerStack& stack, const at::Tensor& probes,
                                     const NetworkAvalancheOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  const auto hidden = stack->hidden_blocks();
  if (hidden.empty()) throw Error("the model has no hidden layers: no avalanches to measure");
  const auto batch = probes.size(0);
  NetworkAvalanches r;

  // Activity statistics per hidden layer (also the z-scores of the activity avalanches).
  std::vector<at::Tensor> active;  // [B, N_l] booleans
  {
    at::Tensor h = probes;
    for (std::size_t l = 0; l < stack->size(); ++l) {
      h = stack->block(l)->forward(h);
      if (stack->block(l)->is_readout()) break;
      const at::Tensor flat = h.reshape({batch, -1});
      const at::Tensor z = (flat - flat.mean(0)) / (flat.std(0) + 1e-12);
      const at::Tensor a = z > o.activity_z;
      const at::Tensor rho = a.to(torch::kFloat64).mean(1).cpu();
      LayerActivity la;
      la.index = l;
      la.units = flat.size(1);
      la.mean_active = rho.mean().item<double>();
      la.fluctuation = rho.std().item<double>();
      la.susceptibility = static_cast<double>(la.units) * la.fluctuation * la.fluctuation;
      r.layers.push_back(la);
      active.push_back(a.cpu());
    }
  }

  if (o.kind == AvalancheKind::kActivity) {
    for (std::int64_t b = 0; b < batch; ++b) {
      stats::Avalanche cur;
      auto flush = [&] {
        if (cur.duration > 0) r.avalanches.push_back(cur);
        cur = {};
      };
      for (const auto& a : active) {
        const auto n = a[b].sum().item<std::int64_t>();
        if (n == 0) {
          flush();
          continue;
        }
        cur.size += n;
        ++cur.duration;
        cur.shape.push_back(static_cast<double>(n));
      }
      flush();
    }
    return r;
  }

  // Perturbation cascades: each input repeated, one random input unit perturbed per copy.
  const at::Tensor xs = repeat_examples(probes, o.repeats);
  const auto copies = xs.size(0);
  const auto in_units = xs.numel() / copies;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const at::Tensor which = at::randint(0, in_units, {copies}, gen, torch::kInt64);
  at::Tensor delta = torch::zeros({copies, in_units}, torch::kFloat32);
  delta.scatter_(1, which.unsqueeze(1), static_cast<float>(o.perturbation));
  at::Tensor h0 = xs, h1 = xs + delta.reshape(xs.sizes()).to(xs.device(), xs.scalar_type());
  std::vector<std::vector<double>> counts(static_cast<std::size_t>(copies));
  double scale = 0;  // sd of the first hidden layer: the one threshold scale for the whole stack
  for (std::size_t l = 0; l < stack->size(); ++l) {
    if (stack->block(l)->is_readout()) break;
    h0 = stack->block(l)->forward(h0);
    h1 = stack->block(l)->forward(h1);
    const at::Tensor f0 = h0.reshape({copies, -1}), f1 = h1.reshape({copies, -1});
    if (scale == 0) {
      scale = f0.std().item<double>();
      if (!(scale > 0)) scale = 1.0;
    }
    const at::Tensor changed = ((f1 - f0).abs() > o.threshold * scale).sum(1).cpu();
    for (std::int64_t c = 0; c < copies; ++c)
      counts[static_cast<std::size_t>(c)].push_back(changed[c].item<double>());
  }
  for (const auto& seq : counts) {
    stats::Avalanche a;
    for (double n : seq) {
      if (n <= 0) break;
      a.size += static_cast<std::int64_t>(n);
      ++a.duration;
      a.shape.push_back(n);
    }
    if (a.duration == 0) {
      ++r.died_at_input;
      continue;
    }
    if (a.duration == static_cast<std::int64_t>(seq.size())) ++r.reached_output;
    r.avalanches.push_back(std::move(a));
  }
  return r;
}

nlohmann::json to_json(const LayerActivity& l) {
  return {{"index", l.index},
          {"units", l.units},
          {"mean_active", l.mean_active},
          {"fluctuation", l.fluctuation},
          {"susceptibility", l.susceptibility}};
}

}  // namespace critlab::measure
