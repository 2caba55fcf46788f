// Measures a critically initialised tanh MLP through the installed critlab package and checks the result
// against mean-field theory: at the edge of chaos, with inputs at the fixed point q*, the per-layer gain^2 is
// chi_1 = 1, so the distance to criticality of a wide network is small; at 2.5 times that sigma_w it is not.
// Prints one JSON line; exit 0 if it holds.
#include <torch/torch.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "critlab/core/status.h"
#include "critlab/data/dataset.h"
#include "critlab/measure/criticality.h"
#include "critlab/measure/theory.h"
#include "critlab/nn/model.h"

int main() {
  using namespace critlab;
  torch::set_num_threads(1);
  const double sigma_b = 0.05;
  const double sigma_w = measure::edge_of_chaos_sigma_w(Activation::kTanh, sigma_b);
  // Inputs scaled so that the first layer's pre-activations already have the fixed-point variance q*.
  const double q_star = measure::mean_field(Activation::kTanh, sigma_w, sigma_b).q_star;
  const auto probes =
      data::gaussian_probes(64, {128}, 1) * std::sqrt((q_star - sigma_b * sigma_b) / (sigma_w * sigma_w));
  measure::MeasureOptions mo;
  mo.with_dynamic_range = false;
  mo.lyapunov.k = 1;
  double distance[2];
  for (int i = 0; i < 2; ++i) {
    auto model = nn::build_model(
        nn::mlp_spec(6, 512, Activation::kTanh, i == 0 ? sigma_w : 2.5 * sigma_w, sigma_b, {128}), 1);
    distance[i] = measure::measure_criticality(model, probes, mo).distance_to_criticality;
  }
  nlohmann::json out{
      {"sigma_w_critical", sigma_w}, {"distance_critical", distance[0]}, {"distance_chaotic", distance[1]}};
  put_status(out, Status::Ok());
  std::cout << out.dump() << std::endl;
  return distance[0] < 0.05 && distance[1] > 0.2 ? 0 : 1;
}
