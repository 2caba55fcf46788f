// Graph structure through igraph (Debian's libigraph-dev): degrees, clustering, communities and modularity,
// the rich-club coefficient, community comparison, and GraphML/DOT export. igraph stays inside the .cpp.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "critlab/graph/percolation.h"

namespace critlab::graph {

struct StructureOptions {
  int rich_club_randomisations = 5;  // degree-preserving rewired copies for the normalised rich-club
  std::uint64_t seed = 0;            // igraph's generator (Louvain's node order, rewiring)
  bool IsValid(std::string* error) const;
};

struct GraphStructure {
  std::int64_t nodes = 0, edges = 0;
  double mean_degree = 0;
  std::int64_t max_degree = 0;
  std::vector<std::int64_t> degree_histogram;  // [k] = number of nodes of degree k
  double transitivity = 0;                     // global clustering: 3 x triangles / connected triples
  double mean_local_clustering = 0;            // average local clustering (nodes of degree < 2 count as 0)
  std::vector<std::int64_t> membership;        // Louvain (igraph multilevel) community of every node
  std::int64_t communities = 0;
  double modularity = 0;
  // Rich club at degree k: phi(k) = 2 E_k / (N_k (N_k - 1)) over the N_k nodes of degree > k, and phi(k)
  // divided by its mean over degree-preserving randomisations (> 1: the hubs connect more than chance).
  std::vector<std::int64_t> rich_club_k;
  std::vector<double> rich_club, rich_club_normalised;
};

// Structure of the unweighted graph on `num_nodes` nodes with the given edges (weights ignored; duplicate
// edges and self loops removed first).
GraphStructure analyse_structure(std::int64_t num_nodes, const std::vector<WeightedEdge>& edges,
                                 const StructureOptions& options = {});

// Louvain communities of a weighted graph (edge weights used), one label per node.
std::vector<std::int64_t> detect_communities(std::int64_t num_nodes, const std::vector<WeightedEdge>& edges,
                                             std::uint64_t seed = 0);

// Hubert & Arabie's adjusted Rand index of two partitions of the same nodes (1: identical).
double adjusted_rand_index(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

// A graph to export: nodes with a layer, a unit index and a label; weighted edges.
struct ExportNode {
  std::int64_t layer = 0, unit = 0;
  std::string label;
  double value = 0;  // e.g. class-conditional activation
};
struct ExportGraph {
  std::vector<ExportNode> nodes;
  std::vector<WeightedEdge> edges;  // u, v index `nodes`
};
// GraphML (for Gephi, Cytoscape, networkx) and Graphviz DOT, both atomic.
void write_graphml(const std::filesystem::path& path, const ExportGraph& g);
void write_dot(const std::filesystem::path& path, const ExportGraph& g);

}  // namespace critlab::graph
