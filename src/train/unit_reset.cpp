#include "critlab/train/unit_reset.h"

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <fmt/format.h>

#include "critlab/core/error.h"
#include "critlab/nn/blocks.h"

namespace critlab::train {

namespace {

nn::DenseBlockImpl& dense(nn::LayerStack& stack, std::size_t l) {
  auto* d = nn::as_plain_dense(*stack->block(l));
  if (!d)
    throw Error(fmt::format("unit replacement needs plain dense blocks (no norm, no skip); block {} is '{}'", l,
                            stack->block(l)->describe()));
  return *d;
}

// Zeroes the optimiser state that belongs to slice `index` of `param` along `dim`.
void reset_state(torch::optim::Optimizer* opt, const at::Tensor& param, std::int64_t dim, std::int64_t index) {
  if (!opt) return;
  auto& state = opt->state();
  auto it = state.find(c10::guts::to_string(param.unsafeGetTensorImpl()));
  if (it == state.end()) return;
  auto zero = [&](at::Tensor t) {
    if (t.defined()) t.select(dim, index).zero_();
  };
  if (auto* s = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) zero(s->momentum_buffer());
  if (auto* s = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
    zero(s->exp_avg());
    zero(s->exp_avg_sq());
    zero(s->max_exp_avg_sq());
  }
}

}  // namespace

bool UnitResetOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(sigma_w > 0)) return fail("the re-initialisation scale must be positive");
  if (!(replacement_rate >= 0 && replacement_rate <= 1)) return fail("the replacement rate must be in [0, 1]");
  if (!(decay >= 0 && decay < 1)) return fail("the utility decay must be in [0, 1)");
  if (maturity < 0) return fail("the maturity threshold must be >= 0");
  if (!(tau >= 0)) return fail("ReDo's tau must be >= 0");
  if (period < 1) return fail("ReDo's period must be at least 1");
  return true;
}

void replace_unit(nn::LayerStack& stack, std::size_t layer, std::int64_t unit, double mean_activation,
                  double sigma_w, torch::optim::Optimizer* opt, std::uint64_t seed) {
  CRITLAB_ASSERT(layer + 1 < stack->size(), "replace_unit: the layer needs a following dense block");
  auto& in = dense(stack, layer);
  auto& out = dense(stack, layer + 1);
  torch::NoGradGuard no_grad;
  auto& w_in = in.linear->weight;    // [units, fan_in]
  auto& b_in = in.linear->bias;      // [units]
  auto& w_out = out.linear->weight;  // [next, units]
  auto& b_out = out.linear->bias;    // [next]
  const auto fan_in = w_in.size(1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor fresh = at::randn({fan_in}, gen, torch::TensorOptions().dtype(w_in.scalar_type())) *
                           (sigma_w / std::sqrt(static_cast<double>(fan_in)));
  b_out.add_(w_out.select(1, unit) * mean_activation);
  w_out.select(1, unit).zero_();
  w_in.select(0, unit).copy_(fresh.to(w_in.device()));
  b_in.select(0, unit).zero_();
  reset_state(opt, w_in, 0, unit);
  reset_state(opt, b_in, 0, unit);
  reset_state(opt, w_out, 1, unit);
}

ContinualBackprop::ContinualBackprop(nn::LayerStack& stack, const UnitResetOptions& options, std::uint64_t seed)
    : o_(options), seed_(seed) {
  std::string err;
  if (!o_.IsValid(&err)) throw Error(err);
  for (std::size_t l = 0; l + 1 < stack->size(); ++l) {
    const auto units = dense(stack, l).linear->weight.size(0);
    dense(stack, l + 1);
    layers_.push_back(l);
    auto z = torch::zeros({units}, torch::kFloat64);
    utility_.push_back(z.clone());
    mean_.push_back(z.clone());
    age_.push_back(z.clone());
    accumulator_.push_back(0.0);
  }
}

std::int64_t ContinualBackprop::update(nn::LayerStack& stack, const std::vector<nn::Tap>& taps,
                                       torch::optim::Optimizer* opt) {
  torch::NoGradGuard no_grad;
  ++calls_;
  std::int64_t replaced = 0;
  const double eta = o_.decay;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto l = layers_[i];
    const at::Tensor h = taps[l].output.detach().to(torch::kFloat64).cpu();               // [B, units]
    const at::Tensor out_w = dense(stack, l + 1).linear->weight.detach().abs().mean(0);  // [units]
    const at::Tensor contribution = (h.abs() * out_w.to(torch::kFloat64).cpu()).mean(0);
    utility_[i].mul_(eta).add_(contribution, 1 - eta);
    mean_[i].mul_(eta).add_(h.mean(0), 1 - eta);
    age_[i].add_(1);
    const at::Tensor eligible = age_[i] > static_cast<double>(o_.maturity);
    const auto n_eligible = eligible.sum().item<std::int64_t>();
    if (n_eligible == 0) continue;
    accumulator_[i] += o_.replacement_rate * static_cast<double>(n_eligible);
    const auto n = static_cast<std::int64_t>(std::floor(accumulator_[i]));
    if (n == 0) continue;
    accumulator_[i] -= static_cast<double>(n);
    const at::Tensor correction = 1 - torch::pow(eta, age_[i]);
    const at::Tensor score = (utility_[i] / correction).masked_fill(eligible.logical_not(), INFINITY);
    const at::Tensor pick = std::get<1>(at::topk(score, std::min(n, n_eligible), 0, /*largest=*/false));
    const auto* p = pick.data_ptr<std::int64_t>();
    for (std::int64_t k = 0; k < pick.numel(); ++k) {
      const auto u = p[k];
      const double f = (mean_[i][u] / correction[u]).item<double>();
      replace_unit(stack, l, u, f, o_.sigma_w, opt, seed_ * 1000003ULL + calls_ * 131ULL + static_cast<std::uint64_t>(u));
      utility_[i][u] = 0.0, mean_[i][u] = 0.0, age_[i][u] = 0.0;
      ++replaced;
    }
  }
  replaced_total_ += replaced;
  return replaced;
}

std::int64_t redo_reset(nn::LayerStack& stack, const std::vector<nn::Tap>& taps, double tau, double sigma_w,
                        torch::optim::Optimizer* opt, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::int64_t replaced = 0;
  for (std::size_t l = 0; l + 1 < stack->size(); ++l) {
    dense(stack, l);
    const at::Tensor h = taps[l].output.detach().to(torch::kFloat64).cpu();
    const at::Tensor s = h.abs().mean(0);
    const double avg = s.mean().item<double>();
    const at::Tensor normalised = avg > 0 ? s / avg : torch::zeros_like(s);
    const at::Tensor dormant = torch::nonzero(normalised <= tau).flatten().contiguous();
    const at::Tensor mean = h.mean(0);
    for (std::int64_t k = 0; k < dormant.numel(); ++k) {
      const auto u = dormant[k].item<std::int64_t>();
      replace_unit(stack, l, u, mean[u].item<double>(), sigma_w, opt, seed * 1000003ULL + l * 7919ULL + static_cast<std::uint64_t>(u));
      ++replaced;
    }
  }
  return replaced;
}

}  // namespace critlab::train
