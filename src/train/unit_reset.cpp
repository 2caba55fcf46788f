#include "critlab/train/unit_reset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/nn/blocks.h"

namespace critlab::train {

namespace {

nn::DenseView dense(nn::LayerStack& stack, std::size_t l) {
  auto d = nn::plain_dense_view(*stack->block(l));
  if (!d)
    throw Error(fmt::format("unit replacement needs plain dense blocks (no norm, no skip); block {} is '{}'",
                            l, stack->block(l)->describe()));
  return *d;
}

// mean_k |W_ki| over the rows of `w` ([next, units]), as float64 on the CPU.
std::vector<double> mean_abs_columns(const at::Tensor& w) {
  if (w.is_cpu() && w.scalar_type() == at::kFloat && w.is_contiguous() && w.dim() == 2) {
    // Online learning calls this after every example: a loop, not four dispatched ops and their buffers.
    const float* p = w.data_ptr<float>();
    const auto rows = w.size(0), cols = w.size(1);
    std::vector<double> m(static_cast<std::size_t>(cols), 0.0);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) m[static_cast<std::size_t>(c)] += std::abs(p[r * cols + c]);
    for (auto& v : m) v /= static_cast<double>(rows);
    return m;
  }
  const at::Tensor m = w.detach().abs().mean(0).to(torch::kFloat64).cpu().contiguous();
  return {m.data_ptr<double>(), m.data_ptr<double>() + m.numel()};
}

// Per unit, the sums over the batch of |h| and of h for activity [batch, units]: read directly from
// contiguous float32 CPU activity (online learning calls this after every example), else from a float64
// copy.
struct UnitSums {
  std::vector<double> abs, plain;
  std::int64_t batch = 0;
};
UnitSums unit_sums(const at::Tensor& hidden, std::int64_t units) {
  const at::Tensor h = hidden.detach().reshape({-1, units});
  UnitSums s{std::vector<double>(static_cast<std::size_t>(units), 0.0),
             std::vector<double>(static_cast<std::size_t>(units), 0.0), h.size(0)};
  const auto accumulate = [&](const auto* p) {
    for (std::int64_t u = 0; u < units; ++u) {
      double a = 0, t = 0;
      for (std::int64_t b = 0; b < s.batch; ++b) {
        const double v = p[b * units + u];
        a += std::abs(v), t += v;
      }
      s.abs[static_cast<std::size_t>(u)] = a, s.plain[static_cast<std::size_t>(u)] = t;
    }
  };
  if (h.is_cpu() && h.scalar_type() == at::kFloat && h.is_contiguous()) {
    accumulate(h.data_ptr<float>());
  } else {
    const at::Tensor d = h.to(torch::kFloat64).cpu().contiguous();
    accumulate(d.data_ptr<double>());
  }
  return s;
}

nlohmann::json vectors(const std::vector<std::vector<double>>& v) { return v; }

}  // namespace

bool UnitResetOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(sigma_w > 0)) return fail("the re-initialisation scale must be positive");
  if (!(replacement_rate >= 0 && replacement_rate <= 1))
    return fail("the replacement rate must be in [0, 1]");
  if (!(decay >= 0 && decay < 1)) return fail("the utility decay must be in [0, 1)");
  if (maturity < 0) return fail("the maturity threshold must be >= 0");
  if (!(tau >= 0)) return fail("ReDo's tau must be >= 0");
  if (period < 1) return fail("ReDo's period must be at least 1");
  return true;
}

StateReset optimizer_state_reset(torch::optim::Optimizer* opt) {
  if (!opt) return {};
  return [opt](const at::Tensor& param, std::int64_t dim, std::int64_t index) {
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
  };
}

std::vector<at::Tensor> hidden_outputs(const std::vector<nn::Tap>& taps) {
  std::vector<at::Tensor> h;
  for (std::size_t l = 0; l + 1 < taps.size(); ++l) h.push_back(taps[l].output.detach());
  return h;
}

void replace_unit(nn::LayerStack& stack, std::size_t layer, std::int64_t unit, double mean_activation,
                  double sigma_w, const StateReset& reset, std::uint64_t seed) {
  CRITLAB_ASSERT(layer + 1 < stack->size(), "replace_unit: the layer needs a following dense block");
  auto in = dense(stack, layer);
  auto out = dense(stack, layer + 1);
  torch::NoGradGuard no_grad;
  auto& w_in = in.weight;    // [units, fan_in]
  auto& b_in = in.bias;      // [units]
  auto& w_out = out.weight;  // [next, units]
  auto& b_out = out.bias;    // [next]
  const auto fan_in = w_in.size(1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor fresh = at::randn({fan_in}, gen, torch::TensorOptions().dtype(w_in.scalar_type())) *
                           (sigma_w / std::sqrt(static_cast<double>(fan_in)));
  b_out.add_(w_out.select(1, unit) * mean_activation);
  w_out.select(1, unit).zero_();
  w_in.select(0, unit).copy_(fresh.to(w_in.device()));
  b_in.select(0, unit).zero_();
  if (reset) {
    reset(w_in, 0, unit);
    reset(b_in, 0, unit);
    reset(w_out, 1, unit);
  }
}

ContinualBackprop::ContinualBackprop(nn::LayerStack& stack, const UnitResetOptions& options,
                                     std::uint64_t seed)
    : o_(options), seed_(seed) {
  std::string err;
  if (!o_.IsValid(&err)) throw Error(err);
  for (std::size_t l = 0; l + 1 < stack->size(); ++l) {
    const auto units = static_cast<std::size_t>(dense(stack, l).weight.size(0));
    dense(stack, l + 1);
    layers_.push_back(l);
    utility_.emplace_back(units, 0.0);
    mean_.emplace_back(units, 0.0);
    age_.emplace_back(units, 0.0);
    accumulator_.push_back(0.0);
  }
}

std::int64_t ContinualBackprop::update(nn::LayerStack& stack, const std::vector<at::Tensor>& hidden,
                                       const StateReset& reset) {
  CRITLAB_ASSERT(hidden.size() >= layers_.size(),
                 "continual backprop: one activation tensor per hidden layer");
  torch::NoGradGuard no_grad;
  ++calls_;
  std::int64_t replaced = 0;
  const double eta = o_.decay;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto l = layers_[i];
    const auto units = static_cast<std::int64_t>(utility_[i].size());
    const UnitSums h = unit_sums(hidden[i], units);
    const auto batch = static_cast<double>(h.batch);
    const auto out_w = mean_abs_columns(dense(stack, l + 1).weight);
    auto& util = utility_[i];
    auto& mean = mean_[i];
    auto& age = age_[i];
    std::int64_t eligible = 0;
    for (std::int64_t u = 0; u < units; ++u) {
      const auto k = static_cast<std::size_t>(u);
      util[u] = eta * util[u] + (1 - eta) * (h.abs[k] / batch) * out_w[u];
      mean[u] = eta * mean[u] + (1 - eta) * (h.plain[k] / batch);
      age[u] += 1;
      eligible += age[u] > static_cast<double>(o_.maturity);
    }
    if (eligible == 0) continue;
    accumulator_[i] += o_.replacement_rate * static_cast<double>(eligible);
    const auto n = std::min(static_cast<std::int64_t>(std::floor(accumulator_[i])), eligible);
    if (n == 0) continue;
    accumulator_[i] -= std::floor(accumulator_[i]);
    // The n eligible units of smallest bias-corrected utility (ties: lower index first).
    std::vector<std::pair<double, std::int64_t>> score;
    for (std::int64_t u = 0; u < units; ++u)
      if (age[u] > static_cast<double>(o_.maturity))
        score.emplace_back(util[u] / (1 - std::pow(eta, age[u])), u);
    std::partial_sort(score.begin(), score.begin() + n, score.end());
    for (std::int64_t k = 0; k < n; ++k) {
      const auto u = score[k].second;
      const double f = mean[u] / (1 - std::pow(eta, age[u]));
      replace_unit(stack, l, u, f, o_.sigma_w, reset,
                   seed_ * 1000003ULL + calls_ * 131ULL + static_cast<std::uint64_t>(u));
      util[u] = 0.0, mean[u] = 0.0, age[u] = 0.0;
      ++replaced;
    }
  }
  replaced_total_ += replaced;
  return replaced;
}

nlohmann::json ContinualBackprop::state() const {
  return {{"utility", vectors(utility_)}, {"mean", vectors(mean_)},      {"age", vectors(age_)},
          {"accumulator", accumulator_},  {"replaced", replaced_total_}, {"calls", calls_}};
}

void ContinualBackprop::restore(const nlohmann::json& s) {
  utility_ = s.at("utility").get<std::vector<std::vector<double>>>();
  mean_ = s.at("mean").get<std::vector<std::vector<double>>>();
  age_ = s.at("age").get<std::vector<std::vector<double>>>();
  accumulator_ = s.at("accumulator").get<std::vector<double>>();
  replaced_total_ = s.at("replaced").get<std::int64_t>();
  calls_ = s.at("calls").get<std::uint64_t>();
  CRITLAB_ASSERT(utility_.size() == layers_.size(), "continual backprop state: layer count differs");
}

std::int64_t redo_reset(nn::LayerStack& stack, const std::vector<at::Tensor>& mean_abs,
                        const std::vector<at::Tensor>& mean, double tau, double sigma_w,
                        const StateReset& reset, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::int64_t replaced = 0;
  for (std::size_t l = 0; l + 1 < stack->size() && l < mean_abs.size(); ++l) {
    dense(stack, l);
    const at::Tensor s = mean_abs[l].to(torch::kFloat64).cpu();
    const double avg = s.mean().item<double>();
    const at::Tensor normalised = avg > 0 ? s / avg : torch::zeros_like(s);
    const at::Tensor dormant = torch::nonzero(normalised <= tau).flatten().contiguous();
    const at::Tensor m = mean[l].to(torch::kFloat64).cpu().contiguous();
    for (std::int64_t k = 0; k < dormant.numel(); ++k) {
      const auto u = dormant[k].item<std::int64_t>();
      replace_unit(stack, l, u, m.data_ptr<double>()[u], sigma_w, reset,
                   seed * 1000003ULL + l * 7919ULL + static_cast<std::uint64_t>(u));
      ++replaced;
    }
  }
  return replaced;
}

std::int64_t redo_reset(nn::LayerStack& stack, const std::vector<at::Tensor>& hidden, double tau,
                        double sigma_w, const StateReset& reset, std::uint64_t seed) {
  std::vector<at::Tensor> mean_abs, mean;
  for (const auto& h : hidden) {
    const at::Tensor f = h.detach().reshape({h.size(0), -1}).to(torch::kFloat64);
    mean_abs.push_back(f.abs().mean(0));
    mean.push_back(f.mean(0));
  }
  return redo_reset(stack, mean_abs, mean, tau, sigma_w, reset, seed);
}

Redo::Redo(nn::LayerStack& stack, const UnitResetOptions& options, std::uint64_t seed)
    : o_(options), seed_(seed) {
  std::string err;
  if (!o_.IsValid(&err)) throw Error(err);
  for (std::size_t l = 0; l + 1 < stack->size(); ++l) {
    const auto units = dense(stack, l).weight.size(0);
    sum_abs_.push_back(torch::zeros({units}, torch::kFloat64));
    sum_.push_back(torch::zeros({units}, torch::kFloat64));
  }
}

std::int64_t Redo::update(nn::LayerStack& stack, const std::vector<at::Tensor>& hidden,
                          const StateReset& reset) {
  torch::NoGradGuard no_grad;
  std::int64_t batch = 1;
  for (std::size_t l = 0; l < sum_.size(); ++l) {
    const auto units = sum_[l].size(0);
    const UnitSums h = unit_sums(hidden[l], units);
    batch = h.batch;
    double* sum_abs = sum_abs_[l].data_ptr<double>();
    double* sum = sum_[l].data_ptr<double>();
    for (std::int64_t u = 0; u < units; ++u)
      sum_abs[u] += h.abs[static_cast<std::size_t>(u)], sum[u] += h.plain[static_cast<std::size_t>(u)];
  }
  count_ += batch;
  if (count_ < o_.period) return 0;
  std::vector<at::Tensor> mean_abs, mean;
  for (std::size_t l = 0; l < sum_.size(); ++l) {
    mean_abs.push_back(sum_abs_[l] / static_cast<double>(count_));
    mean.push_back(sum_[l] / static_cast<double>(count_));
  }
  const auto n = redo_reset(stack, mean_abs, mean, o_.tau, o_.sigma_w, reset, seed_ * 7777ULL + ++resets_);
  for (std::size_t l = 0; l < sum_.size(); ++l) sum_abs_[l].zero_(), sum_[l].zero_();
  count_ = 0;
  replaced_total_ += n;
  return n;
}

nlohmann::json Redo::state() const {
  std::vector<std::vector<double>> sa, s;
  for (std::size_t l = 0; l < sum_.size(); ++l) {
    const at::Tensor a = sum_abs_[l].contiguous(), b = sum_[l].contiguous();
    sa.emplace_back(a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
    s.emplace_back(b.data_ptr<double>(), b.data_ptr<double>() + b.numel());
  }
  return {{"sum_abs", sa}, {"sum", s}, {"count", count_}, {"replaced", replaced_total_}, {"resets", resets_}};
}

void Redo::restore(const nlohmann::json& st) {
  const auto sa = st.at("sum_abs").get<std::vector<std::vector<double>>>();
  const auto s = st.at("sum").get<std::vector<std::vector<double>>>();
  CRITLAB_ASSERT(sa.size() == sum_.size(), "ReDo state: layer count differs");
  for (std::size_t l = 0; l < sum_.size(); ++l) {
    sum_abs_[l] = torch::tensor(sa[l], torch::kFloat64);
    sum_[l] = torch::tensor(s[l], torch::kFloat64);
  }
  count_ = st.at("count").get<std::int64_t>();
  replaced_total_ = st.at("replaced").get<std::int64_t>();
  resets_ = st.at("resets").get<std::uint64_t>();
}

}  // namespace critlab::train
