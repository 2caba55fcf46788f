// Every choice critlab offers is an enum class with one spelling shared by the CLI, JSON and logs.
// from_string on an unknown name throws critlab::Error listing the valid names.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "critlab/core/error.h"

namespace critlab {

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

namespace detail {
template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

inline constexpr NameTable<Activation, 5> kActivationNames{{{Activation::kTanh, "tanh"},
                                                             {Activation::kRelu, "relu"},
                                                             {Activation::kGelu, "gelu"},
                                                             {Activation::kSilu, "silu"},
                                                             {Activation::kLinear, "linear"}}};
inline constexpr NameTable<Norm, 3> kNormNames{
    {{Norm::kNone, "none"}, {Norm::kBatchNorm, "batchnorm"}, {Norm::kLayerNorm, "layernorm"}}};
inline constexpr NameTable<Init, 5> kInitNames{{{Init::kAuto, "auto"},
                                                 {Init::kGaussian, "gaussian"},
                                                 {Init::kHe, "he"},
                                                 {Init::kXavier, "xavier"},
                                                 {Init::kOrthogonal, "orthogonal"}}};
inline constexpr NameTable<Arch, 3> kArchNames{
    {{Arch::kMlp, "mlp"}, {Arch::kCnn, "cnn"}, {Arch::kResNet, "resnet"}}};
inline constexpr NameTable<Optimizer, 3> kOptimizerNames{
    {{Optimizer::kSgd, "sgd"}, {Optimizer::kAdam, "adam"}, {Optimizer::kAdamW, "adamw"}}};
inline constexpr NameTable<Schedule, 3> kScheduleNames{
    {{Schedule::kConstant, "constant"}, {Schedule::kCosine, "cosine"}, {Schedule::kStep, "step"}}};
inline constexpr NameTable<CriticalityMode, 3> kCriticalityModeNames{{{CriticalityMode::kOff, "off"},
                                                                       {CriticalityMode::kRegularizer, "regularizer"},
                                                                       {CriticalityMode::kController, "controller"}}};
inline constexpr NameTable<Penalty, 3> kPenaltyNames{
    {{Penalty::kLogGain, "log-gain"}, {Penalty::kGain, "gain"}, {Penalty::kLyapunov, "lyapunov"}}};
inline constexpr NameTable<Decay, 3> kDecayNames{
    {{Decay::kNone, "none"}, {Decay::kLinear, "linear"}, {Decay::kCosine, "cosine"}}};

template <typename E>
constexpr const auto& names_of() {
  if constexpr (std::is_same_v<E, Activation>) return kActivationNames;
  else if constexpr (std::is_same_v<E, Norm>) return kNormNames;
  else if constexpr (std::is_same_v<E, Init>) return kInitNames;
  else if constexpr (std::is_same_v<E, Arch>) return kArchNames;
  else if constexpr (std::is_same_v<E, Optimizer>) return kOptimizerNames;
  else if constexpr (std::is_same_v<E, Schedule>) return kScheduleNames;
  else if constexpr (std::is_same_v<E, CriticalityMode>) return kCriticalityModeNames;
  else if constexpr (std::is_same_v<E, Penalty>) return kPenaltyNames;
  else return kDecayNames;
}
template <typename E>
constexpr std::string_view kind_of() {
  if constexpr (std::is_same_v<E, Activation>) return "activation";
  else if constexpr (std::is_same_v<E, Norm>) return "normalisation";
  else if constexpr (std::is_same_v<E, Init>) return "initialisation";
  else if constexpr (std::is_same_v<E, Arch>) return "architecture";
  else if constexpr (std::is_same_v<E, Optimizer>) return "optimizer";
  else if constexpr (std::is_same_v<E, Schedule>) return "schedule";
  else if constexpr (std::is_same_v<E, CriticalityMode>) return "criticality mode";
  else if constexpr (std::is_same_v<E, Penalty>) return "criticality penalty";
  else return "decay";
}
}  // namespace detail

template <typename E>
std::string to_string(E value) {
  for (const auto& [e, name] : detail::names_of<E>())
    if (e == value) return std::string(name);
  return "?";
}

// All valid names of E, joined by ", " (for help texts and error messages).
template <typename E>
std::string valid_names() {
  std::string out;
  for (const auto& [e, name] : detail::names_of<E>()) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <typename E>
E from_string(std::string_view name) {
  for (const auto& [e, n] : detail::names_of<E>())
    if (n == name) return e;
  throw Error("unknown " + std::string(detail::kind_of<E>()) + " '" + std::string(name) +
              "'; valid: " + valid_names<E>());
}

}  // namespace critlab
