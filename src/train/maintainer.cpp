#include "critlab/train/maintainer.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/data/streams.h"

namespace critlab::train {

namespace {

nn::DenseView dense(nn::LayerStack& stack, std::size_t l) {
  auto d = nn::plain_dense_view(*stack->block(l));
  if (!d)
    throw Error(
        fmt::format("criticality maintenance needs plain dense blocks (no norm, no skip); block {} is '{}'",
                    l, stack->block(l)->describe()));
  return *d;
}

// |W_i|^2 per row of `w`, as float64 on the CPU.
std::vector<double> row_sq_norms(const at::Tensor& w) {
  const at::Tensor n = w.detach().square().sum(1).to(torch::kFloat64).cpu().contiguous();
  return {n.data_ptr<double>(), n.data_ptr<double>() + n.numel()};
}

// Multiplies row i of `w` and entry i of `b` by scale[i] (on w's device).
void apply_rows(at::Tensor& w, at::Tensor& b, const std::vector<double>& scale) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const at::Tensor s =
      torch::from_blob(const_cast<double*>(scale.data()), {static_cast<std::int64_t>(scale.size())}, opts)
          .to(w.device(), w.scalar_type());
  w.mul_(s.unsqueeze(1));
  if (b.defined()) b.mul_(s);
}

double clip(double x, double bound) { return std::clamp(x, -bound, bound); }

nlohmann::json vectors(const std::vector<std::vector<double>>& v) { return v; }

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// UnitStats

UnitStats::UnitStats(nn::LayerStack& stack, std::int64_t window) : window_(window) {
  CRITLAB_ASSERT(window >= 1, "unit statistics: the window must be at least 1 step");
  for (std::size_t l = 0; l + 1 < stack->size(); ++l) {
    const auto d = dense(stack, l);
    const auto units = static_cast<std::size_t>(d.weight.size(0));
    acts_.push_back(d.activation);
    for (auto* v : {&z_, &z2_, &c_, &h_, &age_}) v->emplace_back(units, 0.0);
  }
}

void UnitStats::observe(const std::vector<at::Tensor>& pre) {
  CRITLAB_ASSERT(pre.size() >= acts_.size(), "unit statistics: one pre-activation tensor per hidden layer");
  const double beta = 1.0 / static_cast<double>(window_);
  std::vector<at::Tensor> zs;
  for (std::size_t l = 0; l < acts_.size(); ++l) {
    at::Tensor z = pre[l];
    if (!(z.is_cpu() && z.scalar_type() == at::kFloat && z.is_contiguous()))
      z = z.to(torch::kCPU, torch::kFloat).contiguous();
    CRITLAB_ASSERT(static_cast<std::size_t>(z.numel()) == age_[l].size(),
                   "unit statistics: one example's pre-activations");
    const float* zp = z.data_ptr<float>();
    // A step with a non-finite pre-activation (a run about to back off) carries no information.
    for (std::int64_t i = 0; i < z.numel(); ++i)
      if (!std::isfinite(zp[i])) return;
    zs.push_back(std::move(z));
  }
  for (std::size_t l = 0; l < acts_.size(); ++l) {
    const auto units = age_[l].size();
    const float* zp = zs[l].data_ptr<float>();
    const Activation act = acts_[l];
    for (std::size_t i = 0; i < units; ++i) {
      const double x = zp[i];
      double d, h;
      switch (act) {
        case Activation::kRelu:
          d = x > 0 ? 1.0 : 0.0, h = x > 0 ? x : 0.0;
          break;
        case Activation::kTanh:
          h = std::tanh(x), d = 1 - h * h;
          break;
        case Activation::kLinear:
          d = 1.0, h = x;
          break;
        default:
          throw Error(fmt::format("criticality maintenance supports relu, tanh and linear layers, not {}",
                                  to_string(act)));
      }
      z_[l][i] += beta * (x - z_[l][i]);
      z2_[l][i] += beta * (x * x - z2_[l][i]);
      c_[l][i] += beta * (d * d - c_[l][i]);
      h_[l][i] += beta * (h - h_[l][i]);
      age_[l][i] += 1;
    }
  }
}

UnitStats::Unit UnitStats::unit(std::size_t l, std::int64_t i) const {
  const auto k = static_cast<std::size_t>(i);
  Unit u;
  u.age = age_[l][k];
  if (u.age <= 0) return u;
  const double norm = 1 - std::pow(1 - 1.0 / static_cast<double>(window_), u.age);
  u.mean = z_[l][k] / norm;
  u.sd = std::sqrt(std::max(z2_[l][k] / norm - u.mean * u.mean, 0.0));
  u.c = c_[l][k] / norm;
  u.f = h_[l][k] / norm;
  return u;
}

void UnitStats::rescale(std::size_t l, std::int64_t i, double r) {
  const auto k = static_cast<std::size_t>(i);
  z_[l][k] *= r, z2_[l][k] *= r * r;
  if (acts_[l] != Activation::kTanh) h_[l][k] *= r;
}

void UnitStats::reset(std::size_t l, std::int64_t i) {
  const auto k = static_cast<std::size_t>(i);
  z_[l][k] = z2_[l][k] = c_[l][k] = h_[l][k] = age_[l][k] = 0;
}

nlohmann::json UnitStats::state() const {
  return {{"z", vectors(z_)},
          {"z2", vectors(z2_)},
          {"c", vectors(c_)},
          {"h", vectors(h_)},
          {"age", vectors(age_)}};
}

void UnitStats::restore(const nlohmann::json& s) {
  auto get = [&](const char* key, std::vector<std::vector<double>>& v) {
    auto r = s.at(key).get<std::vector<std::vector<double>>>();
    if (r.size() != v.size()) throw Error("checkpointed unit statistics do not match the network's layers");
    for (std::size_t l = 0; l < v.size(); ++l)
      if (r[l].size() != v[l].size())
        throw Error("checkpointed unit statistics do not match the layer widths");
    v = std::move(r);
  };
  get("z", z_), get("z2", z2_), get("c", c_), get("h", h_), get("age", age_);
}

// ---------------------------------------------------------------------------------------------------------
// Maintainers

bool MaintainerOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(rate > 0 && rate <= 1))
    return fail(fmt::format("the maintainer's rate must be in (0, 1], got {}", rate));
  if (!(max_step > 0 && max_step <= 1))
    return fail(fmt::format("the maintainer's max step must be in (0, 1], got {}", max_step));
  if (!(tolerance >= 0 && tolerance <= 10))
    return fail(fmt::format("the maintainer's tolerance must be in [0, 10], got {}", tolerance));
  if (!(band > 0 && band <= 1))
    return fail(fmt::format("the activity floor must be in (0, 1], got {}", band));
  if (!(silent > 0 && silent < 1))
    return fail(fmt::format("the silent threshold must be in (0, 1), got {}", silent));
  if (every < 1)
    return fail(fmt::format("the maintainer must correct at least every step, got every {}", every));
  if (window < 1) return fail(fmt::format("the statistics window must be at least 1 step, got {}", window));
  if (!(sigma_w > 0 && std::isfinite(sigma_w))) return fail("the re-initialisation scale must be positive");
  return true;
}

nlohmann::json to_json(const MaintainerCounts& c) {
  return {{"corrections", c.corrections},
          {"units_rescaled", c.units_rescaled},
          {"units_reinitialised", c.units_reinitialised},
          {"backoffs", c.backoffs}};
}

CriticalityMaintainer::CriticalityMaintainer(nn::LayerStack& stack, const MaintainerOptions& options,
                                             std::uint64_t seed)
    : o_(options), stats_(stack, options.window), rate_(options.rate), seed_(seed) {
  std::string err;
  if (!o_.IsValid(&err)) throw Error(err);
}

bool CriticalityMaintainer::step(nn::LayerStack& stack, const std::vector<at::Tensor>& pre,
                                 const StateReset& reset) {
  stats_.observe(pre);
  ++steps_;
  if (steps_ % o_.every != 0 || steps_ < paused_until_) return false;
  correct(stack, reset);
  return true;
}

void CriticalityMaintainer::correct(nn::LayerStack& stack, const StateReset& reset) {
  torch::NoGradGuard no_grad;
  ++counts_.corrections;
  if (o_.kind == MaintainerKind::kHomeostasis)
    homeostasis(stack);
  else
    critical_reinit(stack, reset);
}

void CriticalityMaintainer::homeostasis(nn::LayerStack& stack) {
  const double window = static_cast<double>(o_.window);
  for (std::size_t l = 0; l < stats_.layers(); ++l) {
    auto d = dense(stack, l);
    const auto n = row_sq_norms(d.weight);
    const auto units = stats_.units(l);
    std::vector<double> scale(static_cast<std::size_t>(units), 1.0);
    bool any = false;
    for (std::int64_t i = 0; i < units; ++i) {
      const auto u = stats_.unit(l, i);
      if (u.age < window) continue;
      const auto k = static_cast<std::size_t>(i);
      if (u.c < o_.silent) continue;  // silent: no gradient reaches it, and it is not scaled either
      // Gain: n_i toward 1 / max(c_i, band): g_i = 1 for a unit active at least `band` of the time, and
      // no more than the norm 1 / band for a quieter one (never an inflated rarely active unit).
      const double log_g = std::log(std::max(u.c, o_.band) * n[k]);
      if (!std::isfinite(log_g) || std::abs(log_g) / 2 <= o_.tolerance) continue;
      const double log_r = clip(-rate_ * log_g / 2, o_.max_step);
      scale[k] = std::exp(log_r);
      stats_.rescale(l, i, scale[k]);
      ++counts_.units_rescaled;
      any = true;
    }
    if (!any) continue;
    apply_rows(d.weight, d.bias, scale);
  }
}

void CriticalityMaintainer::critical_reinit(nn::LayerStack& stack, const StateReset& reset) {
  const double window = static_cast<double>(o_.window);
  for (std::size_t l = 0; l < stats_.layers(); ++l) {
    const auto units = stats_.units(l);
    std::vector<std::int64_t> live;
    for (std::int64_t i = 0; i < units; ++i) {
      const auto u = stats_.unit(l, i);
      if (u.age < window) continue;
      if (u.c >= o_.silent) {
        live.push_back(i);
        continue;
      }
      replace_unit(stack, l, i, u.f, o_.sigma_w, reset,
                   data::mix(seed_, static_cast<std::uint64_t>(counts_.corrections),
                             l * 65537ULL + static_cast<std::uint64_t>(i)));
      stats_.reset(l, i);
      ++counts_.units_reinitialised;
    }
    if (live.empty()) continue;
    auto d = dense(stack, l);
    const auto n = row_sq_norms(d.weight);
    double g = 0;
    for (const auto i : live) g += stats_.unit(l, i).c * n[static_cast<std::size_t>(i)];
    const double log_g = std::log(g / static_cast<double>(live.size()));
    if (!std::isfinite(log_g) || std::abs(log_g) / 2 <= o_.tolerance) continue;
    const double r = std::exp(clip(-rate_ * log_g / 2, o_.max_step));
    std::vector<double> scale(static_cast<std::size_t>(units), 1.0);
    for (const auto i : live) {
      scale[static_cast<std::size_t>(i)] = r;
      stats_.rescale(l, i, r);
    }
    apply_rows(d.weight, d.bias, scale);
    counts_.units_rescaled += static_cast<std::int64_t>(live.size());
  }
}

void CriticalityMaintainer::back_off() {
  ++counts_.backoffs;
  rate_ = std::max(rate_ / 2, o_.rate / 16);
  paused_until_ = steps_ + o_.window;
}

nlohmann::json CriticalityMaintainer::state() const {
  return {{"stats", stats_.state()},
          {"rate", rate_},
          {"steps", steps_},
          {"paused_until", paused_until_},
          {"counts", to_json(counts_)}};
}

void CriticalityMaintainer::restore(const nlohmann::json& s) {
  stats_.restore(s.at("stats"));
  rate_ = s.at("rate").get<double>();
  steps_ = s.at("steps").get<std::int64_t>();
  paused_until_ = s.at("paused_until").get<std::int64_t>();
  const auto& c = s.at("counts");
  counts_.corrections = c.at("corrections").get<std::int64_t>();
  counts_.units_rescaled = c.at("units_rescaled").get<std::int64_t>();
  counts_.units_reinitialised = c.at("units_reinitialised").get<std::int64_t>();
  counts_.backoffs = c.at("backoffs").get<std::int64_t>();
}

// ---------------------------------------------------------------------------------------------------------
// Gauge intervention

std::optional<std::vector<double>> log_gains(nn::LayerStack& stack, const UnitStats& stats) {
  std::vector<double> out;
  for (std::size_t l = 0; l < stats.layers(); ++l) {
    const auto n = row_sq_norms(dense(stack, l).weight);
    double g = 0;
    for (std::int64_t i = 0; i < stats.units(l); ++i) {
      const auto u = stats.unit(l, i);
      if (u.age < static_cast<double>(stats.window())) return std::nullopt;
      g += u.c * n[static_cast<std::size_t>(i)];
    }
    g /= static_cast<double>(stats.units(l));
    if (!(g > 0) || !std::isfinite(g)) return std::nullopt;
    out.push_back(std::log(g));
  }
  return out;
}

GaugeResult gauge_rescale(nn::LayerStack& stack, const std::vector<double>& log_gain_sq,
                          const std::vector<double>& final_targets, const GaugeOptions& options) {
  const std::size_t L = stack->size();
  CRITLAB_ASSERT(L >= 2 && log_gain_sq.size() == L - 1 && final_targets.size() == L - 1,
                 "gauge: one log gain and one target per hidden layer");
  // This application's targets: at most max_step away from where each layer is; a layer whose gain is
  // below min_gain_sq (mostly silent units, which a rescaling cannot revive) stays where it is.
  std::vector<double> targets(final_targets);
  for (std::size_t l = 0; l + 1 < L; ++l)
    targets[l] = log_gain_sq[l] < std::log(options.min_gain_sq)
                     ? log_gain_sq[l]
                     : log_gain_sq[l] + clip(final_targets[l] - log_gain_sq[l], 2 * options.max_step);
  std::vector<nn::DenseView> layers;
  std::vector<double> S;
  for (std::size_t l = 0; l < L; ++l) {
    layers.push_back(dense(stack, l));
    const auto act = layers.back().activation;
    if (l + 1 < L && act != Activation::kRelu && act != Activation::kLinear)
      throw Error(fmt::format(
          "the gauge intervention needs positively homogeneous hidden layers (relu, linear), not {}",
          to_string(act)));
    S.push_back(layers.back().weight.detach().abs().sum().to(torch::kFloat64).item<double>());
  }
  double total = 0, count = 0;
  for (std::size_t l = 0; l < L; ++l) total += S[l], count += static_cast<double>(layers[l].weight.numel());
  GaugeResult r;
  r.log_gain_before = log_gain_sq;
  r.mean_abs_weight_before = total / count;
  // Projected gradient on the constraint surface. The hidden layers' log scales v are free, the readout's is
  // -sum v (the function is unchanged), and F(v) = sum_hidden S_l e^{v_l} + S_L e^{-sum v} - sum S = 0 holds
  // mean |W|. F is convex, so Newton steps along its gradient return to the surface; the objective's
  // gradient is taken along the surface's tangent plane. (An SQP on the full KKT system was tried first: it
  // converged to a stationary point far from the least-squares solution.)
  const std::size_t n = L, h = L - 1;
  auto F = [&](const std::vector<double>& v) {
    double f = -total, sum = 0;
    for (std::size_t l = 0; l < h; ++l) f += S[l] * std::exp(v[l]), sum += v[l];
    return f + S[h] * std::exp(-sum);
  };
  auto dF = [&](const std::vector<double>& v) {
    double sum = 0;
    for (std::size_t l = 0; l < h; ++l) sum += v[l];
    std::vector<double> g(h);
    for (std::size_t l = 0; l < h; ++l) g[l] = S[l] * std::exp(v[l]) - S[h] * std::exp(-sum);
    return g;
  };
  auto dot = [](const std::vector<double>& x, const std::vector<double>& y) {
    double d = 0;
    for (std::size_t i = 0; i < x.size(); ++i) d += x[i] * y[i];
    return d;
  };
  // No hidden layer's ln gain moves by more than twice the step (the constraints may carry it past its
  // bounded target, never further).
  const double box = std::min(5.0, 2 * options.max_step);
  auto project = [&](std::vector<double> v) {
    for (int it = 0; it < 100; ++it) {
      const double f = F(v);
      if (std::abs(f) <= 1e-13 * total) break;
      const auto g = dF(v);
      const double gg = dot(g, g);
      if (!(gg > 0)) break;
      for (std::size_t l = 0; l < h; ++l) v[l] = std::clamp(v[l] - f / gg * g[l], -box, box);
    }
    return v;
  };
  std::vector<double> v(h);
  for (std::size_t l = 0; l < h; ++l)  // the unconstrained optimum
    v[l] = std::clamp(-(log_gain_sq[l] - targets[l]) / 2, -box, box);
  v = project(v);
  for (int it = 0; it < 5000; ++it) {
    std::vector<double> g(h);
    for (std::size_t l = 0; l < h; ++l) g[l] = 4 * (log_gain_sq[l] - targets[l] + 2 * v[l]);
    const auto nf = dF(v);
    const double nn = dot(nf, nf), gn = dot(g, nf);
    double largest = 0;
    for (std::size_t l = 0; l < h; ++l) {
      g[l] -= nn > 0 ? gn / nn * nf[l] : 0.0;
      largest = std::max(largest, std::abs(g[l]));
    }
    if (largest < 1e-10) break;
    for (std::size_t l = 0; l < h; ++l) v[l] = std::clamp(v[l] - 0.05 * g[l], -box, box);
    v = project(v);
  }
  std::vector<double> u(v);
  double sum_v = 0;
  for (const double x : v) sum_v += x;
  u.push_back(-sum_v);
  const double hn = F(v);
  if (!(std::abs(hn) <= 1e-6 * total)) {
    r.message = fmt::format("the gauge could not hold mean |W| fixed (relative residual {:.2g})", hn / total);
    return r;
  }
  torch::NoGradGuard no_grad;
  double P = 0, after = 0;
  for (std::size_t l = 0; l < n; ++l) {
    P += u[l];
    layers[l].weight.mul_(std::exp(u[l]));
    if (layers[l].bias.defined()) layers[l].bias.mul_(std::exp(P));
    after += layers[l].weight.detach().abs().sum().to(torch::kFloat64).item<double>();
    if (l + 1 < n) r.log_gain_after.push_back(log_gain_sq[l] + 2 * u[l]);
  }
  r.applied = true;
  r.log_scale = u;
  r.mean_abs_weight_after = after / count;
  return r;
}

}  // namespace critlab::train
