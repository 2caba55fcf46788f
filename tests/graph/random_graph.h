// The Erdos-Renyi random-graph process for the percolation tests.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "critlab/graph/percolation.h"

namespace critlab::test {

// m_max random pairs on n nodes, edge k carrying weight -k, so a threshold of 1 - m keeps exactly the first m
// edges, G(n, m) with mean degree c = 2m/n; in fine_sweep every edge is its own level.
inline std::vector<graph::WeightedEdge> random_graph_process(std::int64_t n, std::int64_t m_max,
                                                             std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int32_t> node(0, static_cast<std::int32_t>(n - 1));
  std::vector<graph::WeightedEdge> edges;
  while (static_cast<std::int64_t>(edges.size()) < m_max) {
    const auto u = node(rng), v = node(rng);
    if (u != v) edges.push_back({u, v, -static_cast<float>(edges.size())});
  }
  return edges;
}

}  // namespace critlab::test
