#include "critlab/measure/jacobian.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/core/status.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

namespace {
// A dual-number level for the scope; exits even when the forward pass throws.
class DualLevel {
 public:
  DualLevel() : level_(torch::autograd::forward_ad::enter_dual_level()) {}
  ~DualLevel() { torch::autograd::forward_ad::exit_dual_level(level_); }
  std::int64_t level() const { return static_cast<std::int64_t>(level_); }

 private:
  std::uint64_t level_;
};

// The block's output sizes for `rows` examples, from a forward pass of one example only.
std::vector<std::int64_t> output_sizes(nn::BlockImpl& block, const at::Tensor& x, std::int64_t rows) {
  torch::NoGradGuard no_grad;
  auto sizes = block.forward(x.slice(0, 0, 1)).sizes().vec();
  sizes[0] = rows;
  return sizes;
}
}  // namespace

std::int64_t per_example(const at::Tensor& t) { return t.numel() / std::max<std::int64_t>(1, t.size(0)); }

at::Tensor rademacher(at::IntArrayRef sizes, const at::TensorOptions& options, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto r = at::randint(0, 2, sizes, gen, torch::TensorOptions().dtype(options.dtype()));
  return (r * 2 - 1).to(options.device());
}

at::Tensor repeat_examples(const at::Tensor& x, std::int64_t k) {
  std::vector<std::int64_t> expanded{x.size(0), k};
  std::vector<std::int64_t> flat{x.size(0) * k};
  for (int d = 1; d < x.dim(); ++d) {
    expanded.push_back(x.size(d));
    flat.push_back(x.size(d));
  }
  return x.unsqueeze(1).expand(expanded).reshape(flat);
}

at::Tensor jvp_forward_ad(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v) {
  CRITLAB_ASSERT(x.sizes() == v.sizes(), "jvp: v must be shaped like x");
  torch::NoGradGuard no_grad;  // forward-mode AD does not need the reverse graph
  DualLevel level;
  at::Tensor dual = at::_make_dual(x.detach(), v.detach(), level.level());
  at::Tensor out = block.forward(dual);
  auto [primal, tangent] = at::_unpack_dual(out, level.level());
  CRITLAB_ASSERT(tangent.defined(), "jvp: the block's output does not depend on its input");
  return tangent.clone();
}

at::Tensor jvp_double_vjp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v) {
  CRITLAB_ASSERT(x.sizes() == v.sizes(), "jvp: v must be shaped like x");
  torch::AutoGradMode enable(true);
  at::Tensor xi = x.detach().requires_grad_(true);
  at::Tensor out = block.forward(xi);
  // g(u) = u^T J is linear in u, so any u works; zeros keep the graph free of stray values.
  at::Tensor u = torch::zeros_like(out).requires_grad_(true);
  auto g = torch::autograd::grad({out}, {xi}, {u}, /*retain_graph=*/true, /*create_graph=*/true,
                                 /*allow_unused=*/true);
  CRITLAB_ASSERT(g[0].defined(), "jvp: the block's output does not depend on its input");
  auto jv = torch::autograd::grad({g[0]}, {u}, {v.detach()}, /*retain_graph=*/false, /*create_graph=*/false,
                                  /*allow_unused=*/true);
  // Undefined when J v does not depend on u at all, i.e. J = 0 on this batch.
  return jv[0].defined() ? jv[0].detach() : torch::zeros_like(out).detach();
}

at::Tensor jvp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v, bool allow_analytic) {
  CRITLAB_ASSERT(x.dim() == v.dim() && x.sizes().slice(1) == v.sizes().slice(1) && x.size(0) > 0 &&
                     v.size(0) % x.size(0) == 0,
                 "jvp: v must be shaped like x, or hold the same number of directions for every example");
  if (allow_analytic) {
    torch::NoGradGuard no_grad;
    at::Tensor jv = block.jvp_analytic(x, v);
    if (jv.defined()) {
      block.set_jvp_path("analytic");
      return jv;
    }
  }
  // Forward AD and the double VJP take one direction per row: each example repeated for its directions.
  const at::Tensor xs = v.size(0) == x.size(0) ? x : repeat_examples(x, v.size(0) / x.size(0));
  if (block.jvp_path() != "double-vjp") {
    try {
      at::Tensor jv = jvp_forward_ad(block, xs, v);
      block.set_jvp_path("forward-ad");
      return jv;
    } catch (const c10::Error&) {
      // No forward-mode formula for some op of this block: reverse mode from now on.
    }
  }
  block.set_jvp_path("double-vjp");
  return jvp_double_vjp(block, xs, v);
}

at::Tensor vjp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& u) {
  torch::AutoGradMode enable(true);
  at::Tensor xi = x.detach().requires_grad_(true);
  at::Tensor out = block.forward(xi);
  CRITLAB_ASSERT(out.sizes() == u.sizes(), "vjp: u must be shaped like the block's output");
  auto grads = torch::autograd::grad({out}, {xi}, {u}, /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  CRITLAB_ASSERT(grads[0].defined(), "vjp: the block's output does not depend on its input");
  return grads[0];
}

bool GainOptions::IsValid(std::string* error) const {
  if (probes < 1 || probes > 1024) {
    if (error) *error = fmt::format("gain probes must be in [1, 1024], got {}", probes);
    return false;
  }
  if (exact_max_dim < 0 || exact_max_dim > 4096) {
    if (error) *error = fmt::format("exact_max_dim must be in [0, 4096], got {}", exact_max_dim);
    return false;
  }
  return true;
}

at::Tensor jacobian_sq_norm(nn::BlockImpl& block, const at::Tensor& x, GainMethod method, int probes,
                            std::uint64_t seed) {
  const auto batch = x.size(0);
  switch (method) {
    case GainMethod::kAnalytic: {
      torch::NoGradGuard no_grad;
      at::Tensor sq = block.jacobian_sq_norm_analytic(x);
      if (!sq.defined()) throw Error("block '" + block.describe() + "' offers no analytic Jacobian norm");
      return sq;
    }
    case GainMethod::kExact: {
      // The full Jacobian, one basis direction at a time along the smaller side, all directions batched.
      const auto out_one = output_sizes(block, x, 1);
      const auto n_in = per_example(x), n_out = c10::multiply_integers(out_one);
      const bool by_input = n_in <= n_out;
      const auto dirs = by_input ? n_in : n_out;
      const at::Tensor xs = repeat_examples(x, dirs);
      const auto eye = torch::eye(dirs, x.options())
                           .unsqueeze(0)
                           .expand({batch, dirs, dirs})
                           .reshape({batch * dirs, dirs});
      at::Tensor cols;
      if (by_input) {
        cols = jvp(block, xs, eye.reshape(xs.sizes()));
      } else {
        cols = vjp(block, xs, eye.reshape(output_sizes(block, x, batch * dirs)));
      }
      return cols.reshape({batch, -1}).pow(2).sum(1);
    }
    case GainMethod::kHutchinson: {
      const at::Tensor xs = repeat_examples(x, probes);
      const at::Tensor u = rademacher(output_sizes(block, x, batch * probes), x.options(), seed);
      at::Tensor g = vjp(block, xs, u);
      return g.reshape({batch, probes, -1}).pow(2).sum(2).mean(1);
    }
    case GainMethod::kAuto:
      break;
  }
  CRITLAB_ASSERT(false, "jacobian_sq_norm needs a concrete method");
  return {};
}

std::vector<LayerGain> layer_gains(nn::LayerStack& stack, const at::Tensor& probes,
                                   const GainOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  nn::EvalModeGuard eval(*stack);
  std::vector<nn::Tap> taps;
  {
    torch::NoGradGuard no_grad;
    taps = stack->forward_tapped(probes);
  }
  std::vector<LayerGain> out;
  for (std::size_t l = 0; l < stack->size(); ++l) {
    auto& block = *stack->block(l);
    const at::Tensor& x = taps[l].input;
    LayerGain g;
    g.index = l;
    g.description = block.describe();
    g.readout = block.is_readout();
    g.fan_in = per_example(x);
    g.fan_out = per_example(taps[l].output);
    GainMethod method = options.method;
    at::Tensor sq;
    if (method == GainMethod::kAuto || method == GainMethod::kAnalytic) {
      torch::NoGradGuard no_grad;
      sq = block.jacobian_sq_norm_analytic(taps[l]);  // the tapped pre-activations: no second forward
      if (sq.defined())
        method = GainMethod::kAnalytic;
      else if (options.method == GainMethod::kAnalytic)
        throw Error("layer " + std::to_string(l) + " (" + g.description +
                    ") has no analytic Jacobian; use auto");
      else
        method = std::min(g.fan_in, g.fan_out) <= options.exact_max_dim ? GainMethod::kExact
                                                                        : GainMethod::kHutchinson;
    }
    if (!sq.defined()) sq = jacobian_sq_norm(block, x, method, options.probes, options.seed + 7919 * l);
    at::Tensor per_input = (sq / static_cast<double>(g.fan_out)).to(torch::kFloat64).cpu();
    g.gain_sq = per_input.mean().item<double>();
    g.gain_sq_se =
        per_input.size(0) > 1 ? per_input.std().item<double>() / std::sqrt(per_input.size(0)) : 0.0;
    g.gain = std::sqrt(g.gain_sq);
    g.log_gain = 0.5 * std::log(g.gain_sq);
    g.method = critlab::to_string(method);
    out.push_back(g);
  }
  return out;
}

double distance_to_criticality(const std::vector<LayerGain>& gains) {
  double sum = 0;
  int n = 0;
  for (const auto& g : gains) {
    if (g.readout) continue;
    sum += std::abs(g.log_gain);
    ++n;
  }
  return n ? sum / n : std::nan("");
}

nlohmann::json to_json(const LayerGain& g) {
  nlohmann::json j = {{"index", g.index},           {"block", g.description}, {"readout", g.readout},
                      {"fan_in", g.fan_in},         {"fan_out", g.fan_out},   {"gain_sq", g.gain_sq},
                      {"gain_sq_se", g.gain_sq_se}, {"gain", g.gain},         {"log_gain", g.log_gain},
                      {"method", g.method}};
  if (g.jvp.empty()) {
    j["jvp"] = nullptr;  // the gain needed no Jacobian-vector product with this block
    j["jvp_status"] = to_string(StatusCode::kNotRun);
  } else {
    j["jvp"] = g.jvp;
  }
  return j;
}

}  // namespace critlab::measure
