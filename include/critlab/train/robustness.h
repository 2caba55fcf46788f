// Robustness of a trained classifier: clean accuracy, accuracy under Gaussian input noise and under
// L-infinity attacks (FGSM, Goodfellow et al. 2015; PGD, Madry et al. 2018), on a class-stratified test
// subset.
//
// Every size is given in pixel units (raw intensities in [0, 1]) and converted with `pixel_scale` (model
// input units per pixel unit; 1 / stdev for critlab's standardised Fashion-MNIST); perturbed inputs are
// clipped to the valid range [lo, hi] in model units.
//   noise  x + sigma n, n ~ N(0, I), clipped; one draw per example (noise_draws to average more)
//   FGSM   x + eps sign(grad_x CE), clipped
//   PGD    random start x + U(-eps, eps); then `pgd_steps` steps x <- Proj(x + alpha sign(grad_x CE)) with
//          alpha = pgd_step_ratio * eps / pgd_steps (Madry's 2.5 eps / steps by default), Proj the
//          intersection of the eps-ball around x and the valid range
// The model is evaluated in eval mode; randomness comes from one CPU generator seeded with `seed`.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "critlab/data/dataset.h"
#include "critlab/nn/stack.h"

namespace critlab::train {

struct RobustnessOptions {
  std::vector<double> noise_std{0.1, 0.2, 0.3};  // pixel units
  std::vector<double> eps{0.01, 0.03, 0.1};      // L-infinity radii, pixel units, for FGSM and PGD
  int pgd_steps = 10;
  double pgd_step_ratio = 2.5;
  bool pgd_random_start = true;
  int noise_draws = 1;
  std::int64_t examples = 1000;  // class-stratified test examples (0 = the whole test set)
  std::int64_t batch_size = 500;
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};

// The valid input range and the conversion from pixel units.
struct InputDomain {
  double pixel_scale = 1.0;
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};
// critlab's standardised Fashion-MNIST: x = (p - mean) / stdev with p in [0, 1].
InputDomain standardised_pixels(double mean, double stdev);

struct RobustnessResult {
  double clean = 0;
  std::vector<std::pair<double, double>> noise, fgsm, pgd;  // (size in pixel units, accuracy)
  std::int64_t examples = 0;
  double seconds = 0;
};
nlohmann::json to_json(const RobustnessResult& r);

RobustnessResult evaluate_robustness(nn::LayerStack& model, const data::Dataset& test,
                                     const InputDomain& domain, const RobustnessOptions& options = {});

}  // namespace critlab::train
