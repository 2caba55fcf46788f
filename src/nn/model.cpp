#include "critlab/nn/model.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/nn/blocks.h"

namespace critlab::nn {

namespace {
std::int64_t product(const std::vector<std::int64_t>& v) {
  std::int64_t p = 1;
  for (auto d : v) p *= d;
  return p;
}

void init_weight(at::Tensor& w, at::Tensor* b, Init init, double sigma_w, double sigma_b) {
  const auto fan_out = w.size(0);
  const auto fan_in = w.numel() / fan_out;
  torch::NoGradGuard guard;
  switch (init) {
    case Init::kGaussian:
      w.normal_(0, sigma_w / std::sqrt(static_cast<double>(fan_in)));
      break;
    // sqrt(2 / fan_in), the (sqrt 2, 0) of init_scales, written as it always was so weights stay
    // bit-identical.
    case Init::kHe:
      w.normal_(0, std::sqrt(2.0 / static_cast<double>(fan_in)));
      break;
    case Init::kXavier:
      w.normal_(0, std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
      break;
    case Init::kOrthogonal:
      torch::nn::init::orthogonal_(w, sigma_w);
      break;
    case Init::kAuto:
      CRITLAB_ASSERT(false, "auto init must be resolved before use");
  }
  if (b && b->defined()) {
    if ((init == Init::kGaussian || init == Init::kOrthogonal) && sigma_b > 0)
      b->normal_(0, sigma_b);
    else
      b->zero_();
  }
}
}  // namespace

void initialise(LayerStack& stack, const ModelSpec& spec) {
  const Init init = resolved_init(spec);
  for (auto& m : stack->modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      init_weight(lin->weight, &lin->bias, init, spec.sigma_w, spec.sigma_b);
    } else if (auto* conv = m->as<torch::nn::Conv2d>()) {
      init_weight(conv->weight, &conv->bias, init, spec.sigma_w, spec.sigma_b);
    }
  }
}

LayerStack build_model(const ModelSpec& spec, std::uint64_t seed) {
  std::string err;
  if (!spec.IsValid(&err)) throw Error(err);
  // The global torch generator is seeded and drawn from here: one build at a time, so concurrent callers
  // (parallel experiment runs) get the same weights as a lone one.
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  torch::manual_seed(seed);
  LayerStack stack;
  const auto w = spec.resolved_width();
  const auto act = spec.activation;
  switch (spec.arch) {
    case Arch::kMlp: {
      std::int64_t in = product(spec.input_shape);
      for (std::int64_t l = 0; l < spec.depth; ++l) {
        stack->append(std::make_shared<DenseBlockImpl>(in, w, act, spec.norm, spec.residual));
        in = w;
      }
      auto readout =
          std::make_shared<DenseBlockImpl>(in, spec.num_classes, Activation::kLinear, Norm::kNone, false);
      readout->set_readout(true);
      stack->append(readout);
      break;
    }
    case Arch::kCnn: {
      std::int64_t c = spec.input_shape[0], h = spec.input_shape[1], wd = spec.input_shape[2];
      for (std::int64_t l = 0; l < spec.depth; ++l) {
        const std::int64_t out = w << l;
        const bool pool = h >= 4 && wd >= 4;
        stack->append(std::make_shared<ConvBlockImpl>(c, out, act, spec.norm, pool));
        c = out;
        if (pool) h /= 2, wd /= 2;
      }
      stack->append(std::make_shared<DenseBlockImpl>(c * h * wd, spec.cnn_hidden, act, Norm::kNone, false));
      auto readout = std::make_shared<DenseBlockImpl>(spec.cnn_hidden, spec.num_classes, Activation::kLinear,
                                                      Norm::kNone, false);
      readout->set_readout(true);
      stack->append(readout);
      break;
    }
    case Arch::kResNet: {
      const Norm norm = spec.norm;
      stack->append(std::make_shared<ConvBlockImpl>(spec.input_shape[0], w, act, norm, false));  // stem
      std::int64_t c = w;
      for (int stage = 0; stage < 3; ++stage) {
        const std::int64_t out = w << stage;
        for (std::int64_t b = 0; b < spec.depth; ++b) {
          const std::int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
          stack->append(std::make_shared<ResidualBlockImpl>(c, out, stride, act, norm));
          c = out;
        }
      }
      auto readout = std::make_shared<PoolLinearBlockImpl>(c, spec.num_classes);
      readout->set_readout(true);
      stack->append(readout);
      break;
    }
  }
  initialise(stack, spec);
  return stack;
}

}  // namespace critlab::nn
