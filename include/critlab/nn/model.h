// Model specifications and builders: MLP, small CNN, small ResNet, each returned as a LayerStack.
//
// Initialisation (applied to every Linear and Conv2d weight W with fan_in = inputs per output unit):
//   gaussian   W ~ N(0, sigma_w^2 / fan_in), b ~ N(0, sigma_b^2)   (the mean-field convention)
//   he         W ~ N(0, 2 / fan_in), b = 0                           (sigma_w^2 = 2, sigma_b = 0)
//   xavier     W ~ N(0, 2 / (fan_in + fan_out)), b = 0
//   orthogonal W = sigma_w * (orthogonal matrix), b ~ N(0, sigma_b^2)
//   auto       he for relu, xavier otherwise
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/nn/model_spec.h"
#include "critlab/nn/stack.h"

namespace critlab::nn {

// Builds and initialises a model; the same (spec, seed) gives the same weights. Throws critlab::Error if
// the spec is invalid.
LayerStack build_model(const ModelSpec& spec, std::uint64_t seed);

// Re-initialises every Linear/Conv2d in `stack` per the spec's init fields (uses the global torch RNG).
void initialise(LayerStack& stack, const ModelSpec& spec);

}  // namespace critlab::nn
