// Finite-time Lyapunov spectrum of a layer stack, by the Benettin/QR method along the layers
// (Benettin et al. 1980; for products of random matrices see Crisanti, Paladin & Vulpiani 1993).
//
// For each probe input, k orthonormal tangent directions Q_0 (fan_in x k) are pushed through the blocks:
//     Y_l = J_l Q_{l-1},  Y_l = Q_l R_l  (thin QR),   log-stretch s_{l,i} = ln |R_l,ii|.
// per_layer[l][i] = mean over inputs of s_{l,i}; exponents[i] = mean over the hidden layers of
// per_layer[l][i] (the readout is excluded), sorted largest first as QR delivers them. The first exponent
// is the maximal one: < 0 ordered, > 0 chaotic, ~ 0 critical. Units: nats per layer.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "critlab/nn/stack.h"

namespace critlab::measure {

struct LyapunovOptions {
  int k = 8;                     // exponents to compute (capped by the smallest layer width)
  std::int64_t max_inputs = 64;  // probe inputs used (the first ones); 0 = all
  std::uint64_t seed = 0;        // initial tangent directions
  bool IsValid(std::string* error) const;
};

struct LyapunovResult {
  std::vector<double> exponents;               // [k], largest first
  std::vector<double> exponents_se;            // standard error over inputs
  std::vector<std::vector<double>> per_layer;  // [blocks][k] mean log-stretch at each block
  std::vector<std::size_t> layers;             // block indices included in `exponents`
  int k = 0;
  std::int64_t inputs = 0;
};

LyapunovResult lyapunov_spectrum(nn::LayerStack& stack, const at::Tensor& probes,
                                 const LyapunovOptions& options = {});

nlohmann::json to_json(const LyapunovResult& r);
// j[key] = exponents; where some are not finite (-inf: an annihilated direction), those entries are null and
// j[key + "_status"] = "non-finite" with a message says why.
void put_exponents(nlohmann::json& j, const std::string& key, const std::vector<double>& exponents);

}  // namespace critlab::measure
