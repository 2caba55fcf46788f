// Every choice critlab offers is an enum class with one spelling shared by the CLI, JSON and logs.
//
// The one mechanism: next to an enum's definition, in namespace critlab, CRITLAB_ENUM_NAMES(E, "kind", ...)
// lists each value with its name. Then to_string(e), from_string<E>(name) and valid_names<E>() work for it;
// from_string on an unknown name throws critlab::Error naming the kind and listing the valid names. No
// code compares choice strings: parse once into the enum, switch on the enum.
#pragma once
#include <string>
#include <string_view>
#include <utility>

#include "critlab/core/error.h"

namespace critlab {

// Specialised by CRITLAB_ENUM_NAMES: `kind` (for messages) and `names`, an array of {value, name}.
template <typename E>
struct EnumNames;

#define CRITLAB_ENUM_NAMES(E, KIND, ...)                                     \
  template <>                                                                \
  struct EnumNames<E> {                                                      \
    static constexpr std::string_view kind = KIND;                           \
    static constexpr std::pair<E, std::string_view> names[] = {__VA_ARGS__}; \
  };

template <typename E>
std::string to_string(E value) {
  for (const auto& [e, name] : EnumNames<E>::names)
    if (e == value) return std::string(name);
  return "?";
}

// All valid names of E, joined by ", " (for help texts and error messages).
template <typename E>
std::string valid_names() {
  std::string out;
  for (const auto& [e, name] : EnumNames<E>::names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <typename E>
E from_string(std::string_view name) {
  for (const auto& [e, n] : EnumNames<E>::names)
    if (n == name) return e;
  throw Error("unknown " + std::string(EnumNames<E>::kind) + " '" + std::string(name) +
              "'; valid: " + valid_names<E>());
}

// ------------------------------------------------------------------ the model and training choices
enum class Activation { kTanh, kRelu, kGelu, kSilu, kLinear };
enum class Norm { kNone, kBatchNorm, kLayerNorm };
enum class Init { kAuto, kGaussian, kHe, kXavier, kOrthogonal };
enum class Arch { kMlp, kCnn, kResNet };
enum class Optimizer { kSgd, kAdam, kAdamW };
enum class Schedule { kConstant, kCosine, kStep };
// Criticality-driven training (train/criticality_reg.h).
enum class CriticalityMode { kOff, kRegularizer, kController };
enum class Penalty { kLogGain, kGain, kLyapunov };  // (ln g^2)^2, (g^2 - 1)^2, lambda_max^2
enum class Decay { kNone, kLinear, kCosine };       // strength over training, after warm-up

CRITLAB_ENUM_NAMES(Activation, "activation", {Activation::kTanh, "tanh"}, {Activation::kRelu, "relu"},
                   {Activation::kGelu, "gelu"}, {Activation::kSilu, "silu"}, {Activation::kLinear, "linear"})
CRITLAB_ENUM_NAMES(Norm, "normalisation", {Norm::kNone, "none"}, {Norm::kBatchNorm, "batchnorm"},
                   {Norm::kLayerNorm, "layernorm"})
CRITLAB_ENUM_NAMES(Init, "initialisation", {Init::kAuto, "auto"}, {Init::kGaussian, "gaussian"},
                   {Init::kHe, "he"}, {Init::kXavier, "xavier"}, {Init::kOrthogonal, "orthogonal"})
CRITLAB_ENUM_NAMES(Arch, "architecture", {Arch::kMlp, "mlp"}, {Arch::kCnn, "cnn"}, {Arch::kResNet, "resnet"})
CRITLAB_ENUM_NAMES(Optimizer, "optimizer", {Optimizer::kSgd, "sgd"}, {Optimizer::kAdam, "adam"},
                   {Optimizer::kAdamW, "adamw"})
CRITLAB_ENUM_NAMES(Schedule, "schedule", {Schedule::kConstant, "constant"}, {Schedule::kCosine, "cosine"},
                   {Schedule::kStep, "step"})
CRITLAB_ENUM_NAMES(CriticalityMode, "criticality mode", {CriticalityMode::kOff, "off"},
                   {CriticalityMode::kRegularizer, "regularizer"},
                   {CriticalityMode::kController, "controller"})
CRITLAB_ENUM_NAMES(Penalty, "criticality penalty", {Penalty::kLogGain, "log-gain"}, {Penalty::kGain, "gain"},
                   {Penalty::kLyapunov, "lyapunov"})
CRITLAB_ENUM_NAMES(Decay, "decay", {Decay::kNone, "none"}, {Decay::kLinear, "linear"},
                   {Decay::kCosine, "cosine"})

// ------------------------------------------------------------------ measuring (measure/jacobian.h)
namespace measure {
enum class GainMethod { kAuto, kAnalytic, kExact, kHutchinson };
}  // namespace measure
CRITLAB_ENUM_NAMES(measure::GainMethod, "gain method", {measure::GainMethod::kAuto, "auto"},
                   {measure::GainMethod::kAnalytic, "analytic"}, {measure::GainMethod::kExact, "exact"},
                   {measure::GainMethod::kHutchinson, "hutchinson"})

}  // namespace critlab
