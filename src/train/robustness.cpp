#include "critlab/train/robustness.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/measure/jacobian.h"

namespace critlab::train {

namespace {

at::Tensor clip(const at::Tensor& x, const InputDomain& d) {
  if (std::isinf(d.lo) && std::isinf(d.hi)) return x;
  return x.clamp(std::isinf(d.lo) ? c10::optional<at::Scalar>() : c10::optional<at::Scalar>(d.lo),
                 std::isinf(d.hi) ? c10::optional<at::Scalar>() : c10::optional<at::Scalar>(d.hi));
}

double correct(nn::LayerStack& model, const at::Tensor& x, const at::Tensor& y) {
  torch::NoGradGuard no_grad;
  return model->forward(x).argmax(1).eq(y).sum().item<double>();
}

// sign(grad_x CE(model(x), y)), summed loss so each example's gradient is its own.
at::Tensor loss_gradient_sign(nn::LayerStack& model, const at::Tensor& x, const at::Tensor& y) {
  torch::AutoGradMode enable(true);
  at::Tensor xg = x.detach().requires_grad_(true);
  at::Tensor loss = torch::nn::functional::cross_entropy(
      model->forward(xg), y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  return torch::autograd::grad({loss}, {xg})[0].sign();
}

}  // namespace

bool RobustnessOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  for (double s : noise_std)
    if (!(s >= 0) || !std::isfinite(s))
      return fail(fmt::format("noise standard deviations must be >= 0, got {}", s));
  for (double e : eps)
    if (!(e >= 0) || !std::isfinite(e)) return fail(fmt::format("attack radii must be >= 0, got {}", e));
  if (pgd_steps < 1) return fail("PGD needs at least one step");
  if (!(pgd_step_ratio > 0)) return fail("the PGD step ratio must be positive");
  if (noise_draws < 1) return fail("noise draws must be at least 1");
  if (examples < 0) return fail("robustness examples must be >= 0 (0 = all)");
  if (batch_size < 1) return fail("robustness batch size must be positive");
  return true;
}

InputDomain standardised_pixels(double mean, double stdev) {
  return {1.0 / stdev, (0.0 - mean) / stdev, (1.0 - mean) / stdev};
}

nlohmann::json to_json(const RobustnessResult& r) {
  auto curve = [](const std::vector<std::pair<double, double>>& c, const char* size) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [s, a] : c) out.push_back({{size, s}, {"accuracy", a}});
    return out;
  };
  return {{"clean_accuracy", r.clean},  {"noise", curve(r.noise, "std")}, {"fgsm", curve(r.fgsm, "eps")},
          {"pgd", curve(r.pgd, "eps")}, {"examples", r.examples},         {"seconds", r.seconds}};
}

RobustnessResult evaluate_robustness(nn::LayerStack& model, const data::Dataset& test,
                                     const InputDomain& domain, const RobustnessOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const auto t0 = std::chrono::steady_clock::now();
  const data::Dataset d =
      o.examples > 0 && o.examples < test.size() ? data::stratified_subset(test, o.examples) : test;
  nn::EvalModeGuard eval(*model);
  // Gradients only with respect to inputs; the parameters' flags come back however this function exits.
  struct FrozenParameters {
    std::vector<at::Tensor> params;
    std::vector<bool> flags;
    explicit FrozenParameters(std::vector<at::Tensor> p) : params(std::move(p)) {
      for (auto& t : params) flags.push_back(t.requires_grad()), t.requires_grad_(false);
    }
    ~FrozenParameters() {
      for (std::size_t i = 0; i < params.size(); ++i) params[i].requires_grad_(flags[i]);
    }
  } frozen(model->parameters());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  auto cpu_float = torch::TensorOptions().dtype(d.images.scalar_type());

  RobustnessResult r;
  r.examples = d.size();
  std::vector<double> noise(o.noise_std.size(), 0.0), fgsm(o.eps.size(), 0.0), pgd(o.eps.size(), 0.0);
  for (std::int64_t start = 0; start < d.size(); start += o.batch_size) {
    const auto end = std::min(start + o.batch_size, d.size());
    const at::Tensor x = d.images.slice(0, start, end), y = d.labels.slice(0, start, end);
    r.clean += correct(model, x, y);
    for (std::size_t i = 0; i < o.noise_std.size(); ++i)
      for (int k = 0; k < o.noise_draws; ++k) {
        const at::Tensor n = at::randn(x.sizes(), gen, cpu_float).to(x.device());
        noise[i] +=
            correct(model, clip(x + o.noise_std[i] * domain.pixel_scale * n, domain), y) / o.noise_draws;
      }
    const at::Tensor g0 = o.eps.empty() ? at::Tensor() : loss_gradient_sign(model, x, y);
    for (std::size_t i = 0; i < o.eps.size(); ++i) {
      const double eps = o.eps[i] * domain.pixel_scale;
      fgsm[i] += correct(model, clip(x + eps * g0, domain), y);
      const double alpha = o.pgd_step_ratio * eps / o.pgd_steps;
      at::Tensor lo = clip(x - eps, domain), hi = clip(x + eps, domain);
      at::Tensor xa = x;
      if (o.pgd_random_start)
        xa = clip(x + eps * (2 * at::rand(x.sizes(), gen, cpu_float).to(x.device()) - 1), domain);
      for (int s = 0; s < o.pgd_steps; ++s)
        xa = torch::max(torch::min(xa + alpha * loss_gradient_sign(model, xa, y), hi), lo);
      pgd[i] += correct(model, xa, y);
    }
  }
  const double n = static_cast<double>(d.size());
  r.clean /= n;
  for (std::size_t i = 0; i < o.noise_std.size(); ++i) r.noise.emplace_back(o.noise_std[i], noise[i] / n);
  for (std::size_t i = 0; i < o.eps.size(); ++i) {
    r.fgsm.emplace_back(o.eps[i], fgsm[i] / n);
    r.pgd.emplace_back(o.eps[i], pgd[i] / n);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace critlab::train
