// A model's specification: architecture, sizes and initialisation, as config.json stores it. Torch-free
// (critlab::base): reading a run's configuration needs no libtorch. model.h builds the network.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"

namespace critlab::nn {

struct ModelSpec {
  Arch arch = Arch::kMlp;
  std::int64_t depth = 3;  // MLP: hidden layers; CNN: conv blocks; ResNet: residual blocks per stage
  std::int64_t width = 0;  // MLP: hidden units; CNN/ResNet: first-stage channels; 0 = arch default
  Activation activation = Activation::kRelu;
  Norm norm = Norm::kNone;
  bool residual = false;  // MLP only: skip connections around equal-width layers
  Init init = Init::kAuto;
  double sigma_w = 1.0;                              // weight scale (gaussian, orthogonal)
  double sigma_b = 0.0;                              // bias standard deviation (gaussian, orthogonal)
  std::vector<std::int64_t> input_shape{1, 28, 28};  // per example
  std::int64_t num_classes = 10;
  std::int64_t cnn_hidden = 128;  // CNN: width of the dense layer before the readout

  // Width after applying the arch default (256 for MLP, 32 for CNN, 16 for ResNet).
  std::int64_t resolved_width() const;
  // False with a message naming the bad field.
  bool IsValid(std::string* error) const;
};

// The initialisation a spec resolves to: `auto` is he for relu and xavier otherwise.
Init resolved_init(const ModelSpec& spec);

// An initialisation in the mean-field convention W ~ N(0, sigma_w^2 / fan_in), b ~ N(0, sigma_b^2).
struct MeanFieldScales {
  double sigma_w = 0, sigma_b = 0;
};
// The scales of the spec's initialisation where it has them: gaussian (sigma_w, sigma_b), he (sqrt 2, 0);
// nullopt for xavier and orthogonal, whose variance is not sigma_w^2 / fan_in.
std::optional<MeanFieldScales> init_scales(const ModelSpec& spec);
// The same, only where mean-field theory describes the network at initialisation: a plain MLP (no
// normalisation, no skip connections) with gaussian or he init. The measure command's reference.
std::optional<MeanFieldScales> mean_field_scales(const ModelSpec& spec);

nlohmann::json to_json(const ModelSpec& spec);
// Throws critlab::Error naming `source` (the file) and the field when a field is missing, mistyped or out of
// range.
ModelSpec model_spec_from_json(const nlohmann::json& j, const std::string& source = "model specification",
                               const std::string& prefix = "");

// A plain MLP spec: `depth` hidden layers of `width` units. With sigma_w > 0 the init is Gaussian in the
// mean-field convention (sigma_w, sigma_b); with sigma_w = 0 it stays `auto` (He for relu, else Xavier).
ModelSpec mlp_spec(std::int64_t depth, std::int64_t width, Activation activation, double sigma_w = 0.0,
                   double sigma_b = 0.0, std::vector<std::int64_t> input_shape = {1, 28, 28});

}  // namespace critlab::nn
