// Pearson correlations between units from recorded activity, and the neural correlation graph (NCG).
//
// Activity is a [samples, units] matrix. Each unit is standardised (mean 0, population variance 1) in
// double precision and the correlation matrix is one GEMM, Z_a^T Z_b / n, in float32. A unit whose standard
// deviation is below 1e-6 (1 + |mean|) -- dead, or saturated on every probe -- has no defined correlation:
// it is excluded and counted, so no NaN ever reaches a graph.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/status.h"
#include "critlab/graph/percolation.h"

namespace critlab::graph {

struct Correlation {
  // ok; insufficient-data: a layer with no units, or fewer than 2 samples; not-applicable: every unit of a
  // layer excluded (no variance). Only ok carries a matrix.
  Status status;
  at::Tensor r;                              // [kept_a, kept_b] float32, entries in [-1, 1]
  std::vector<std::int64_t> kept_a, kept_b;  // original indices of the kept units
  std::int64_t excluded_a = 0, excluded_b = 0;
  bool within_layer = false;  // a with itself: symmetric, edges from the upper triangle
  bool ok() const { return status.ok(); }
};

// The one zero-variance rule, shared by correlations and critical neurons: per unit, true where the
// population standard deviation `sd` exceeds 1e-6 (1 + |mean|). Both tensors [units]; returns bool [units].
at::Tensor has_variance(const at::Tensor& mean, const at::Tensor& sd);

// Within one layer (b undefined: r is kept_a x kept_a with unit diagonal) or across two layers recorded on
// the same samples.
Correlation correlate(const at::Tensor& a, const at::Tensor& b = {});

// Which correlations become edges: |r| (default), r (positive only) or -r (anticorrelations only).
// Spelled abs, positive, negative (critlab::to_string / from_string<EdgeSign>).
enum class EdgeSign { kAbsolute, kPositive, kNegative };

// The edges of a correlation with weight >= min_weight (weight per `sign`), nodes numbered offset_a + i and
// offset_b + j over the kept units (for a within-layer correlation only i < j is taken and offset_b is
// ignored).
std::vector<WeightedEdge> correlation_edges(const Correlation& c, EdgeSign sign, double min_weight,
                                            std::int64_t offset_a, std::int64_t offset_b = 0);

}  // namespace critlab::graph

namespace critlab {
CRITLAB_ENUM_NAMES(graph::EdgeSign, "edge sign", {graph::EdgeSign::kAbsolute, "abs"},
                   {graph::EdgeSign::kPositive, "positive"}, {graph::EdgeSign::kNegative, "negative"})
}  // namespace critlab
