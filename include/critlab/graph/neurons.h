// Per-unit statistics on recorded activity with class labels, and the critical-neuron set.
//
// For unit j with activity a_j(x) on the probe set (post-activation; |a| is used, so tanh units count
// both signs as activity):
//   strength      mean_x |a_j(x)|;
//   selectivity   (mu_max - mu_rest) / (mu_max + mu_rest), mu_c the mean of |a_j| over class c, mu_max the
//                 largest class mean and mu_rest the mean of the others: 0 for a unit equally active on every
//                 class, 1 for one active on a single class;
//   information   mutual information between the unit's activity, discretised into `bins` equal-count bins
//                 (ties kept together), and the label, in bits, minus the Miller-Madow bias
//                 (B_a - 1)(C - 1) / (2 n ln 2), floored at 0;
//   score         min(percentile rank of strength, percentile rank of information) in the layer, in (0, 1]:
//                 a unit scores high only if it is both strongly activated and task-specific.
// Critical neurons: the top `fraction` of a layer's units by score (at least one). Units with zero variance
// (dead or saturated) are never critical.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace critlab::graph {

struct NeuronOptions {
  double fraction = 0.1;                   // the critical set: this top fraction of a layer's units by score
  int bins = 8;                            // activity bins of the mutual-information estimate
  bool IsValid(std::string* error) const;  // messages name the fields as neurons.<field>
};

struct NeuronStats {
  std::vector<double> strength, selectivity, information, score;
  std::vector<std::int64_t> critical;  // unit indices, ascending
  at::Tensor class_means;              // [classes, units] mean |a| per class, float64
};

// activity [P, units], labels int64 [P] in [0, classes).
NeuronStats neuron_stats(const at::Tensor& activity, const at::Tensor& labels, std::int64_t classes,
                         const NeuronOptions& options = {});

// |A n B| / |A u B| of two ascending index sets (1 when both are empty).
double jaccard(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

// Normalised entropy H(p) / ln(n) and Gini coefficient of a non-negative vector's shares p = v / sum v
// (entropy 1 and Gini 0 when all entries are equal; both 0 for a zero vector of length < 2).
double normalised_entropy(const std::vector<double>& v);
double gini(std::vector<double> v);

}  // namespace critlab::graph
