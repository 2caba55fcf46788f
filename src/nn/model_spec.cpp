#include "critlab/nn/model_spec.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/io/json_fields.h"

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
  if (resolved_width() > (1 << 16)) return fail(fmt::format("width must be at most 65536, got {}", width));
  if (depth > 2000) return fail(fmt::format("depth must be at most 2000, got {}", depth));
  // Weight scales beyond 100 only overflow: the mean-field edge of chaos lies near 1 to 2.
  if (!(sigma_w > 0 && sigma_w <= 100))
    return fail(fmt::format("sigma_w must be in (0, 100], got {}", sigma_w));
  if (!(sigma_b >= 0 && sigma_b <= 100))
    return fail(fmt::format("sigma_b must be in [0, 100], got {}", sigma_b));
  if (num_classes > 100000)
    return fail(fmt::format("num_classes must be at most 100000, got {}", num_classes));
  if (cnn_hidden < 1 || cnn_hidden > (1 << 16))
    return fail(fmt::format("cnn_hidden must be in [1, 65536], got {}", cnn_hidden));
  if (input_shape.size() > 4) return fail("input_shape has more than 4 dimensions");
  {
    double inputs = 1;
    for (auto d : input_shape) inputs *= static_cast<double>(d);
    // A dense layer's weights alone: depth x width^2 (and the first layer's inputs x width), as floats.
    const double w = static_cast<double>(resolved_width());
    const double params = static_cast<double>(depth) * w * w + inputs * w;
    if (params > 4e9)
      return fail(fmt::format("the network would have about {:.3g} parameters; at most 4e9", params));
  }
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

ModelSpec model_spec_from_json(const nlohmann::json& j, const std::string& source,
                               const std::string& prefix) {
  const io::JsonFields f(j, source, prefix);
  ModelSpec s;
  s.arch = f.choice<Arch>("arch");
  s.depth = f.integer("depth");
  s.width = f.integer("width");
  s.activation = f.choice<Activation>("activation");
  s.norm = f.choice<Norm>("norm");
  s.residual = f.boolean("residual");
  s.init = f.choice<Init>("init");
  s.sigma_w = f.number("sigma_w");
  s.sigma_b = f.number("sigma_b");
  s.input_shape = f.integers("input_shape");
  s.num_classes = f.integer("num_classes");
  s.cnn_hidden = f.integer_or("cnn_hidden", 128);
  std::string err;
  if (!s.IsValid(&err)) throw Error(fmt::format("'{}': {}", source, err));
  return s;
}

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
}  // namespace critlab::nn
