// Layer Jacobians of a LayerStack: products with vectors, and per-layer gains.
//
// For block l with input h_{l-1} (fan_in numbers per example) and output h_l (fan_out numbers), J_l is
// the fan_out x fan_in Jacobian at one example. Its per-unit gain is
//     gain_sq_l = ||J_l||_F^2 / fan_out,
// averaged over probe inputs; gain_l = sqrt(gain_sq_l), log_gain_l = ln gain_l. For an isotropic input
// perturbation v, E|J v|^2 / fan_out = gain_sq |v|^2 / fan_in: gain_sq multiplies the perturbation's variance
// per unit, which is mean-field theory's chi_1 = sigma_w^2 E[phi'(z)^2] for any widths, and for a square
// layer the mean squared singular value. A layer is critical when gain_sq = 1. (Normalising by fan_in
// instead would call a 784 -> 128 layer ordered by a factor 128/784 that says nothing about its dynamics.)
//
// Estimators (GainMethod):
//   analytic   closed form offered by the block (dense: sum_ij phi'(z_i)^2 W_ij^2)
//   exact      the full Jacobian from min(fan_in, fan_out) JVPs or VJPs
//   hutchinson E_u ||J^T u||^2 = ||J||_F^2 for Rademacher u, one VJP per probe vector (Hutchinson 1989)
//   auto       analytic if offered, else exact if min(fan_in, fan_out) <= exact_max_dim, else hutchinson
// The standard error is over probe inputs (per-input means), so it covers input and probe-vector noise.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "critlab/nn/stack.h"

namespace critlab::measure {

// J(x) v for a batch (v shaped like x, or k directions per example as BlockImpl::jvp_analytic takes them: the
// other paths then repeat each example k times): the block's analytic product where it offers one, else
// forward-mode AD, else (an op without a forward-mode formula, common in TorchScript) the double-VJP product
// below. The path taken is recorded in block.jvp_path(); once forward AD has failed on a block it is not
// tried again.
at::Tensor jvp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v, bool allow_analytic = true);
// J(x) v by reverse mode only: g(u) = u^T J is a VJP built with create_graph, and J v = d/du <g(u), v>.
// Twice the cost of a VJP; works on every op with a double-backward formula.
at::Tensor jvp_double_vjp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v);
// J(x) v by forward-mode AD only (throws c10::Error where an op has no forward-mode formula).
at::Tensor jvp_forward_ad(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& v);
// u^T J(x) for a batch (u shaped like the block's output), reverse-mode AD.
at::Tensor vjp(nn::BlockImpl& block, const at::Tensor& x, const at::Tensor& u);

// GainMethod (auto, analytic, exact, hutchinson) is declared in core/enums.h.

struct GainOptions {
  GainMethod method = GainMethod::kAuto;
  int probes = 8;                   // Hutchinson probe vectors per input
  std::int64_t exact_max_dim = 64;  // auto: exact when min(fan_in, fan_out) <= this
  std::uint64_t seed = 0;           // probe vectors
  bool IsValid(std::string* error) const;
};

struct LayerGain {
  std::size_t index = 0;
  std::string description;
  bool readout = false;
  std::int64_t fan_in = 0, fan_out = 0;
  double gain_sq = 0, gain_sq_se = 0;
  double gain = 0, log_gain = 0;
  std::string method;
  // How the block's Jacobian-vector products were computed (nn::BlockImpl::jvp_path); empty (JSON null,
  // with jvp_status not-run) when no product was needed.
  std::string jvp;
};

// Per-layer gains on probe inputs (model put in eval mode for the call).
std::vector<LayerGain> layer_gains(nn::LayerStack& stack, const at::Tensor& probes,
                                   const GainOptions& options = {});

// Per-example ||J(x_b)||_F^2 of one block by the chosen method (no "auto"), shape [B].
at::Tensor jacobian_sq_norm(nn::BlockImpl& block, const at::Tensor& x, GainMethod method, int probes,
                            std::uint64_t seed);

// Distance to criticality: mean over hidden layers of |ln gain_l| (readouts excluded).
double distance_to_criticality(const std::vector<LayerGain>& gains);

nlohmann::json to_json(const LayerGain& g);

}  // namespace critlab::measure
