#include "critlab/nn/model.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/nn/blocks.h"

namespace critlab::nn {

std::int64_t ModelSpec::resolved_width() const {
  if (width > 0) return width;
  switch (arch) {
    case Arch::kMlp:
      return 256;
    case Arch::kCnn:
      return 32;
    case Arch::kResNet:
      return 16;
  }
  return 256;
}

bool ModelSpec::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (depth < 1) return fail(fmt::format("depth must be at least 1, got {}", depth));
  if (width < 0) return fail(fmt::format("width must be positive, got {}", width));
  if (resolved_width() > (1 << 16)) return fail(fmt::format("width {} is unreasonably large", width));
  if (depth > 100000) return fail(fmt::format("depth {} is unreasonably large", depth));
  if (!(sigma_w > 0) || !std::isfinite(sigma_w))
    return fail(fmt::format("sigma_w must be positive, got {}", sigma_w));
  if (!(sigma_b >= 0) || !std::isfinite(sigma_b))
    return fail(fmt::format("sigma_b must be >= 0, got {}", sigma_b));
  if (num_classes < 1) return fail("num_classes (the number of outputs) must be at least 1");
  if (input_shape.empty()) return fail("input_shape is empty");
  for (auto d : input_shape)
    if (d < 1) return fail("input_shape has a non-positive dimension");
  if (arch != Arch::kMlp && input_shape.size() != 3)
    return fail("the cnn and resnet architectures need image inputs [C, H, W]");
  if (arch == Arch::kCnn && depth > 4)
    return fail("depth for cnn is at most 4 (each block halves the image)");
  if (arch != Arch::kMlp && residual)
    return fail("residual applies to mlp only (resnet blocks are residual)");
  if (arch != Arch::kMlp && norm == Norm::kLayerNorm) return fail("norm layernorm applies to mlp only");
  return true;
}

ModelSpec mlp_spec(std::int64_t depth, std::int64_t width, Activation activation, double sigma_w,
                   double sigma_b, std::vector<std::int64_t> input_shape) {
  ModelSpec s;
  s.arch = Arch::kMlp;
  s.depth = depth;
  s.width = width;
  s.activation = activation;
  if (sigma_w > 0) {
    s.init = Init::kGaussian;
    s.sigma_w = sigma_w;
    s.sigma_b = sigma_b;
  }
  s.input_shape = std::move(input_shape);
  return s;
}

nlohmann::json to_json(const ModelSpec& s) {
  return {{"arch", to_string(s.arch)},    {"depth", s.depth},
          {"width", s.resolved_width()},  {"activation", to_string(s.activation)},
          {"norm", to_string(s.norm)},    {"residual", s.residual},
          {"init", to_string(s.init)},    {"sigma_w", s.sigma_w},
          {"sigma_b", s.sigma_b},         {"input_shape", s.input_shape},
          {"num_classes", s.num_classes}, {"cnn_hidden", s.cnn_hidden}};
}

ModelSpec model_spec_from_json(const nlohmann::json& j) {
  ModelSpec s;
  try {
    s.arch = from_string<Arch>(j.at("arch").get<std::string>());
    s.depth = j.at("depth").get<std::int64_t>();
    s.width = j.at("width").get<std::int64_t>();
    s.activation = from_string<Activation>(j.at("activation").get<std::string>());
    s.norm = from_string<Norm>(j.at("norm").get<std::string>());
    s.residual = j.at("residual").get<bool>();
    s.init = from_string<Init>(j.at("init").get<std::string>());
    s.sigma_w = j.at("sigma_w").get<double>();
    s.sigma_b = j.at("sigma_b").get<double>();
    s.input_shape = j.at("input_shape").get<std::vector<std::int64_t>>();
    s.num_classes = j.at("num_classes").get<std::int64_t>();
    s.cnn_hidden = j.value("cnn_hidden", std::int64_t{128});
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("model specification is incomplete or malformed: ") + e.what());
  }
  std::string err;
  if (!s.IsValid(&err)) throw Error("model specification: " + err);
  return s;
}

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

Init resolved_init(const ModelSpec& spec) {
  if (spec.init != Init::kAuto) return spec.init;
  return spec.activation == Activation::kRelu ? Init::kHe : Init::kXavier;
}

std::optional<MeanFieldScales> init_scales(const ModelSpec& spec) {
  switch (resolved_init(spec)) {
    case Init::kGaussian:
      return MeanFieldScales{spec.sigma_w, spec.sigma_b};
    case Init::kHe:
      return MeanFieldScales{std::sqrt(2.0), 0.0};
    default:
      return std::nullopt;
  }
}

std::optional<MeanFieldScales> mean_field_scales(const ModelSpec& spec) {
  if (spec.arch != Arch::kMlp || spec.norm != Norm::kNone || spec.residual) return std::nullopt;
  return init_scales(spec);
}

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
