// Percolation on weighted graphs (no libtorch: plain C++).
//
// A thresholded graph keeps the edges whose weight is at least theta. Lowering theta only adds edges, so a
// whole sweep over theta costs one sort of the edges plus one union-find pass: edges are added in order of
// decreasing weight and the cluster statistics are read off at each threshold.
//
// Statistics of a graph with N nodes whose components have sizes s_1 >= s_2 >= ...:
//   p_inf           s_1 / N, the relative size of the largest component (the order parameter);
//   susceptibility  sum_{k>1} s_k^2 / sum_{k>1} s_k, the mean size of the finite cluster that holds a node
//                   chosen outside the largest one (Stauffer & Aharony's mean cluster size S; 0 when every
//                   node is in the largest component). For Erdos-Renyi G(N, c/N) it tends to 1/(1-c) below
//                   c = 1 and 1/(1-c(1-P)) above, and peaks at the transition c = 1;
//   components      the number of connected components, isolated nodes included.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::graph {

struct WeightedEdge {
  std::int32_t u = 0, v = 0;
  float weight = 0;
};

// Disjoint sets with union by size and path halving.
class UnionFind {
 public:
  explicit UnionFind(std::int64_t n);
  std::int64_t find(std::int64_t a);
  // Joins the sets of a and b; returns false if they were already one.
  bool unite(std::int64_t a, std::int64_t b);
  std::int64_t size_of(std::int64_t a) { return size_[find(a)]; }
  std::int64_t largest() const { return largest_; }
  std::int64_t components() const { return components_; }
  // sum over components of size^2, kept up to date by unite().
  double sum_sq() const { return sum_sq_; }
  std::int64_t num_nodes() const { return static_cast<std::int64_t>(parent_.size()); }
  // Sizes of all components, largest first.
  std::vector<std::int64_t> component_sizes();
  // Component label (0 .. components-1, in order of first node) for every node.
  std::vector<std::int64_t> labels();

 private:
  std::vector<std::int64_t> parent_, size_;
  std::int64_t largest_ = 0, components_ = 0;
  double sum_sq_ = 0;
};

struct PercolationPoint {
  double threshold = 0;
  double p_inf = 0;
  double susceptibility = 0;
  std::int64_t components = 0;
  std::int64_t largest = 0;
  std::int64_t edges = 0;  // edges with weight >= threshold
};

// Sorts edges by decreasing weight (a no-op when they already are; equal weights keep their order). Every
// sweep below starts with it, so a caller that sweeps one edge list several times sorts it once first.
void sort_by_weight_descending(std::vector<WeightedEdge>& edges);
// `edges` itself when it is already sorted so, else a sorted copy held in `storage`: the sweeps read a sorted
// list without copying one that is.
const std::vector<WeightedEdge>& sorted_by_weight(const std::vector<WeightedEdge>& edges,
                                                  std::vector<WeightedEdge>& storage);

// Cluster statistics of the current state of a union-find (see the header comment for definitions).
PercolationPoint cluster_statistics(const UnionFind& uf);

// The statistics at every threshold (any order; results in the same order), for a graph on `num_nodes`
// nodes whose edge (u, v, w) is present when w >= threshold. One sort plus one union-find pass.
std::vector<PercolationPoint> percolation_sweep(std::int64_t num_nodes,
                                                const std::vector<WeightedEdge>& edges,
                                                const std::vector<double>& thresholds);

// Component sizes (largest first) of the graph thresholded at `threshold`.
std::vector<std::int64_t> cluster_sizes(std::int64_t num_nodes, const std::vector<WeightedEdge>& edges,
                                        double threshold);

// Component label of every node of the thresholded graph.
std::vector<std::int64_t> cluster_labels(std::int64_t num_nodes, const std::vector<WeightedEdge>& edges,
                                         double threshold);

// The giant-component fraction of Erdos-Renyi graphs in the limit N -> infinity: the largest root S of
// S = 1 - exp(-c S) (0 for c <= 1).
double erdos_renyi_giant_fraction(double c);

// A transition located from a series of percolation points along a control parameter x (training step,
// threshold, mean degree), and the order-parameter exponent beta of P_inf ~ |x - x_c|^beta on the ordered
// side (the side where P_inf is larger), fitted by least squares on log-log axes over the points between
// x_c and where P_inf first reaches `saturation` of its maximum, with a percentile bootstrap interval over
// those points.
struct TransitionOptions {
  double saturation = 0.9;  // the ordered side ends where P_inf reaches this fraction of its maximum
  int bootstrap = 1000;     // resamples for beta's interval
  std::uint64_t seed = 0;
  double level = 0.95;  // the interval's confidence level
  bool IsValid(std::string* error) const;
};
struct Transition {
  // ok: x_c, chi_max, the ordered side and beta with its interval; insufficient-data: fewer than 3 points, or
  // fewer than 3 positive P_inf on the ordered side (x_c and chi_max found, beta not); not-found: no point
  // off the peak, or P_inf zero on the whole ordered side.
  Status status;
  std::optional<double> x_c;               // x at the susceptibility peak
  std::optional<double> chi_max;           // the susceptibility there
  std::optional<int> ordered_side;         // +1: P_inf larger for x > x_c; -1: for x < x_c
  std::optional<double> beta;              // the fitted exponent (status ok only)
  std::optional<double> beta_lo, beta_hi;  // its bootstrap interval (the point estimate when fewer than 10
                                           // resamples could be fitted)
  int fit_points = 0;  // positive-P_inf points on the ordered side used (or available) for the fit
};
Transition locate_transition(const std::vector<double>& x, const std::vector<double>& p_inf,
                             const std::vector<double>& susceptibility,
                             const TransitionOptions& options = {});

}  // namespace critlab::graph
