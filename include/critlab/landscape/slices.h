// The loss around a network's parameters along chosen directions: Li et al.'s filter-normalised random
// directions and slices, interpolation between two checkpoints, and "local concentration" (Liu & Wang).
//
// Filter normalisation (Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018). A direction d has one tensor per
// parameter tensor w, drawn N(0, 1) with a seed. Every tensor of two or more dimensions is split into
// filters, its dim-0 slices (a dense layer's rows, a convolution's output channels), and each filter is
// rescaled to the norm of the corresponding filter of w: d_i <- d_i ||w_i|| / ||d_i||. Tensors of one
// dimension (biases, normalisation scales) are zero in the direction by default; with `include_1d` they
// are set to w itself, as in Li et al.'s code (ignore='biasbn' off). A loss seen along such directions is
// unchanged when a ReLU layer's weights are scaled by c and the next one's by 1/c, which is why slices of
// different networks can be compared.
//
// Local concentration. Liu & Wang write that the balanced contributions among critical neurons "induce a
// local concentration within the random loss landscape". critlab makes that phrase a number: at radius r,
// the distribution over K random filter-normalised directions d of
//     dL(r, d) = L(theta + r d) - L(theta)
// on a fixed batch: its mean, SD, 5/50/95% quantiles and the relative spread SD / mean; and the same for its
// even part (dL(r, d) + dL(-r, d)) / 2, which removes the first-order term r g.d. Away from a minimum that
// term dominates small r and makes SD / mean of the raw rise grow without bound as r -> 0; the even part is
// r^2 d^T H d / 2 at small r, so its SD / mean measures how evenly curvature is spread over directions.
// Concentration in the sense of concentration of measure means that the loss rise at a given distance hardly
// depends on the direction (a small SD / mean); a "local" concentration means that this holds at small r,
// near theta, and breaks down further out. The subsets compare where that comes from: directions restricted
// to the weights among critical neurons (both ends critical, graph/neurons.h) against directions restricted
// to the same number of weights drawn at random from the same matrices.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/landscape/hessian.h"
#include "critlab/nn/stack.h"

namespace critlab::landscape {

// A random direction shaped like `params`, filter-normalised against them (see above).
std::vector<at::Tensor> filter_normalized_direction(const std::vector<at::Tensor>& params, bool include_1d,
                                                    std::uint64_t seed);
// Rescales `direction` in place, filter by filter, to the norms of `params`' filters (1-D tensors: zeroed, or
// set to the parameter with include_1d).
void filter_normalize(std::vector<at::Tensor>& direction, const std::vector<at::Tensor>& params,
                      bool include_1d);

// Loss and accuracy of a model on labelled examples, in eval mode without autograd, in batches.
struct LossAccuracy {
  double loss = 0, accuracy = 0;
};
LossAccuracy evaluate(nn::LayerStack& model, const at::Tensor& inputs, const at::Tensor& labels,
                      LossKind loss, std::int64_t batch_size = 1000);

// Labelled examples a slice is evaluated on ("train", "test").
struct EvalSet {
  std::string name;
  at::Tensor inputs, labels;
};

// L(theta + alpha d) for alpha on a grid, on each set.
struct Slice1D {
  std::vector<double> alpha;
  std::vector<std::string> sets;
  std::vector<std::vector<double>> loss, accuracy;  // [set][alpha]
};
Slice1D slice_1d(nn::LayerStack& model, const std::vector<at::Tensor>& direction,
                 const std::vector<double>& alphas, const std::vector<EvalSet>& sets, LossKind loss);

// L(theta + alpha d + beta e) on a grid.
struct Slice2D {
  std::vector<double> alpha, beta;
  std::vector<std::string> sets;
  std::vector<std::vector<std::vector<double>>> loss, accuracy;  // [set][alpha][beta]
};
Slice2D slice_2d(nn::LayerStack& model, const std::vector<at::Tensor>& d, const std::vector<at::Tensor>& e,
                 const std::vector<double>& alphas, const std::vector<double>& betas,
                 const std::vector<EvalSet>& sets, LossKind loss);

// L((1 - t) theta_a + t theta_b) for t on a grid; the model's own parameters are restored afterwards.
// `theta_a` and `theta_b` are shaped like trainable_parameters(model). Reported as a Slice1D with alpha = t.
Slice1D interpolate(nn::LayerStack& model, const std::vector<at::Tensor>& theta_a,
                    const std::vector<at::Tensor>& theta_b, const std::vector<double>& ts,
                    const std::vector<EvalSet>& sets, LossKind loss);

// A subset of the parameters: a 0/1 mask per parameter tensor (undefined: the whole tensor).
struct ParameterSubset {
  std::string name;  // "all", "critical", "random"
  std::vector<at::Tensor> mask;
  std::int64_t size = 0;  // entries kept
};

struct ConcentrationOptions {
  std::vector<double> radii{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
  int directions = 20;
  bool include_1d = false;
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};
struct ConcentrationRow {
  double radius = 0;
  std::string subset;
  int directions = 0;  // directions whose rise was finite (the statistics are over these)
  double mean = 0, sd = 0, q05 = 0, q50 = 0, q95 = 0;
  std::optional<double> sd_over_mean;  // null when the mean rise is 0
  // The even part of the rise, (dL(r, d) + dL(-r, d)) / 2 = r^2 d^T H d / 2 + O(r^4): the curvature seen
  // along d with the gradient's first-order term (which dominates small r away from a minimum) taken out.
  double even_mean = 0, even_sd = 0;
  std::optional<double> even_sd_over_mean;
};
// For every subset and radius, dL over the same K directions (each subset's direction is the full
// direction masked to the subset), on (inputs, labels).
std::vector<ConcentrationRow> concentration(nn::LayerStack& model, const at::Tensor& inputs,
                                            const at::Tensor& labels, LossKind loss,
                                            const std::vector<ParameterSubset>& subsets,
                                            const ConcentrationOptions& options = {});

// The weights among critical neurons: W_l[i, j] for every hidden dense layer l >= 2 with unit i critical in
// layer l and j critical in layer l - 1 (critical[l]: the ascending unit indices of hidden block l, empty
// for blocks that are not dense). And the same number of entries per matrix drawn at random (seeded).
ParameterSubset critical_subset(nn::LayerStack& model,
                                const std::vector<std::vector<std::int64_t>>& critical);
ParameterSubset random_subset_like(nn::LayerStack& model, const ParameterSubset& like, std::uint64_t seed);

nlohmann::json to_json(const Slice1D& s);
nlohmann::json to_json(const Slice2D& s);
nlohmann::json to_json(const ConcentrationRow& r);

}  // namespace critlab::landscape
