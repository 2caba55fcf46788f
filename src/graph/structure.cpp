#include "critlab/graph/structure.h"

#include <fmt/format.h>
#include <igraph.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::graph {
namespace {

// igraph's default error handler aborts the process; critlab checks every return code instead. The
// attribute table is needed for GraphML/DOT attributes. Both are process-wide, set once.
void init_igraph() {
  static std::once_flag once;
  std::call_once(once, [] {
    igraph_set_error_handler(igraph_error_handler_ignore);
    igraph_set_warning_handler(igraph_warning_handler_ignore);
    igraph_set_attribute_table(&igraph_cattribute_table);
  });
}

void check(igraph_error_t rc, const char* what) {
  if (rc != IGRAPH_SUCCESS) throw Error(fmt::format("igraph: {} failed: {}", what, igraph_strerror(rc)));
}

// RAII holders for the igraph objects used here.
struct Graph {
  igraph_t g;
  Graph(std::int64_t n, const std::vector<WeightedEdge>& edges, bool simplify) {
    init_igraph();
    igraph_vector_int_t ev;
    check(igraph_vector_int_init(&ev, static_cast<igraph_integer_t>(2 * edges.size())), "vector_int_init");
    for (std::size_t i = 0; i < edges.size(); ++i) {
      VECTOR(ev)[2 * i] = edges[i].u;
      VECTOR(ev)[2 * i + 1] = edges[i].v;
    }
    const auto rc = igraph_create(&g, &ev, n, IGRAPH_UNDIRECTED);
    igraph_vector_int_destroy(&ev);
    check(rc, "create");
    if (simplify) check(igraph_simplify(&g, true, true, nullptr), "simplify");
  }
  ~Graph() { igraph_destroy(&g); }
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  std::int64_t edges() const { return igraph_ecount(&g); }
};

struct IntVec {
  igraph_vector_int_t v;
  explicit IntVec(std::int64_t n = 0) { check(igraph_vector_int_init(&v, n), "vector_int_init"); }
  ~IntVec() { igraph_vector_int_destroy(&v); }
  std::int64_t size() const { return igraph_vector_int_size(&v); }
  std::int64_t operator[](std::int64_t i) const { return VECTOR(v)[i]; }
};
struct RealVec {
  igraph_vector_t v;
  explicit RealVec(std::int64_t n = 0) { check(igraph_vector_init(&v, n), "vector_init"); }
  ~RealVec() { igraph_vector_destroy(&v); }
};

std::vector<std::pair<std::int64_t, std::int64_t>> edge_list(const igraph_t* g) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out(static_cast<std::size_t>(igraph_ecount(g)));
  for (std::int64_t e = 0; e < igraph_ecount(g); ++e) {
    igraph_integer_t from, to;
    check(igraph_edge(g, e, &from, &to), "edge");
    out[e] = {from, to};
  }
  return out;
}

std::vector<double> rich_club_of(const std::vector<std::pair<std::int64_t, std::int64_t>>& edges,
                                 const std::vector<std::int64_t>& degree,
                                 const std::vector<std::int64_t>& ks) {
  std::vector<double> phi;
  for (const auto k : ks) {
    double nk = 0, ek = 0;
    for (const auto d : degree) nk += d > k;
    for (const auto& [a, b] : edges) ek += degree[a] > k && degree[b] > k;
    phi.push_back(nk > 1 ? 2 * ek / (nk * (nk - 1)) : 0.0);
  }
  return phi;
}

}  // namespace

bool StructureOptions::IsValid(std::string* error) const {
  if (rich_club_randomisations >= 1 && rich_club_randomisations <= 1000) return true;
  if (error)
    *error = fmt::format("rich_club_randomisations must be in [1, 1000], got {}", rich_club_randomisations);
  return false;
}

GraphStructure analyse_structure(std::int64_t n, const std::vector<WeightedEdge>& edges,
                                 const StructureOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  GraphStructure s;
  s.nodes = n;
  if (n == 0) return s;
  Graph graph(n, edges, /*simplify=*/true);
  igraph_rng_seed(igraph_rng_default(), o.seed);
  s.edges = graph.edges();
  IntVec deg;
  check(igraph_degree(&graph.g, &deg.v, igraph_vss_all(), IGRAPH_ALL, false), "degree");
  std::vector<std::int64_t> degree(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) degree[i] = deg[i];
  s.max_degree = *std::max_element(degree.begin(), degree.end());
  s.degree_histogram.assign(static_cast<std::size_t>(s.max_degree + 1), 0);
  for (const auto d : degree) ++s.degree_histogram[d];
  s.mean_degree = 2.0 * static_cast<double>(s.edges) / static_cast<double>(n);
  if (s.edges == 0) {
    s.membership.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) s.membership[i] = i;
    s.communities = n;
    return s;
  }
  check(igraph_transitivity_undirected(&graph.g, &s.transitivity, IGRAPH_TRANSITIVITY_ZERO), "transitivity");
  check(igraph_transitivity_avglocal_undirected(&graph.g, &s.mean_local_clustering, IGRAPH_TRANSITIVITY_ZERO),
        "local transitivity");
  IntVec membership;
  RealVec modularity;
  check(igraph_community_multilevel(&graph.g, nullptr, 1.0, &membership.v, nullptr, &modularity.v),
        "multilevel");
  s.membership.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) s.membership[i] = membership[i];
  s.communities = *std::max_element(s.membership.begin(), s.membership.end()) + 1;
  check(igraph_modularity(&graph.g, &membership.v, nullptr, 1.0, false, &s.modularity), "modularity");

  // Rich club at up to 40 degrees spread over [0, max degree).
  std::set<std::int64_t> kset;
  for (int i = 0; i < 40; ++i) kset.insert(static_cast<std::int64_t>(i * s.max_degree / 40));
  s.rich_club_k.assign(kset.begin(), kset.end());
  const auto original = edge_list(&graph.g);
  s.rich_club = rich_club_of(original, degree, s.rich_club_k);
  std::vector<double> random_mean(s.rich_club.size(), 0.0);
  for (int r = 0; r < o.rich_club_randomisations; ++r) {
    igraph_t copy;
    check(igraph_copy(&copy, &graph.g), "copy");
    const auto rc = igraph_rewire(&copy, 10 * s.edges, IGRAPH_REWIRING_SIMPLE);
    const auto rewired = rc == IGRAPH_SUCCESS ? edge_list(&copy) : original;
    igraph_destroy(&copy);
    check(rc, "rewire");
    const auto phi = rich_club_of(rewired, degree, s.rich_club_k);  // rewiring keeps every degree
    for (std::size_t i = 0; i < phi.size(); ++i) random_mean[i] += phi[i] / o.rich_club_randomisations;
  }
  for (std::size_t i = 0; i < s.rich_club.size(); ++i)
    s.rich_club_normalised.push_back(random_mean[i] > 0 ? s.rich_club[i] / random_mean[i] : 0.0);
  return s;
}

std::vector<std::int64_t> detect_communities(std::int64_t n, const std::vector<WeightedEdge>& edges,
                                             std::uint64_t seed) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  if (n == 0) return out;
  Graph graph(n, edges, /*simplify=*/false);
  igraph_rng_seed(igraph_rng_default(), seed);
  RealVec w(static_cast<std::int64_t>(edges.size()));
  for (std::size_t i = 0; i < edges.size(); ++i) VECTOR(w.v)[i] = std::max(edges[i].weight, 0.0f);
  IntVec membership;
  check(igraph_community_multilevel(&graph.g, edges.empty() ? nullptr : &w.v, 1.0, &membership.v, nullptr,
                                    nullptr),
        "multilevel");
  for (std::int64_t i = 0; i < n; ++i) out[i] = membership[i];
  return out;
}

double adjusted_rand_index(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size())
    throw Error("adjusted_rand_index: the partitions cover different numbers of nodes");
  init_igraph();
  IntVec va(static_cast<std::int64_t>(a.size())), vb(static_cast<std::int64_t>(b.size()));
  for (std::size_t i = 0; i < a.size(); ++i) VECTOR(va.v)[i] = a[i], VECTOR(vb.v)[i] = b[i];
  igraph_real_t ari = 0;
  check(igraph_compare_communities(&va.v, &vb.v, &ari, IGRAPH_COMMCMP_ADJUSTED_RAND), "compare_communities");
  return ari;
}

namespace {

void write_with_attributes(const std::filesystem::path& path, const ExportGraph& eg, bool graphml) {
  Graph graph(static_cast<std::int64_t>(eg.nodes.size()), eg.edges, /*simplify=*/false);
  for (std::size_t i = 0; i < eg.nodes.size(); ++i) {
    const auto& n = eg.nodes[i];
    check(igraph_cattribute_VAN_set(&graph.g, "layer", i, static_cast<double>(n.layer)), "set layer");
    check(igraph_cattribute_VAN_set(&graph.g, "unit", i, static_cast<double>(n.unit)), "set unit");
    check(igraph_cattribute_VAN_set(&graph.g, "value", i, n.value), "set value");
    check(igraph_cattribute_VAS_set(&graph.g, "label", i, n.label.c_str()), "set label");
  }
  for (std::size_t e = 0; e < eg.edges.size(); ++e)
    check(igraph_cattribute_EAN_set(&graph.g, "weight", e, eg.edges[e].weight), "set weight");
  io::write_atomic_with(path, [&](const std::filesystem::path& tmp) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "w"), &std::fclose);
    if (!f) throw Error(fmt::format("cannot write '{}'", tmp.string()));
    check(graphml ? igraph_write_graph_graphml(&graph.g, f.get(), false)
                  : igraph_write_graph_dot(&graph.g, f.get()),
          graphml ? "write_graph_graphml" : "write_graph_dot");
  });
}

}  // namespace

void write_graphml(const std::filesystem::path& path, const ExportGraph& g) {
  write_with_attributes(path, g, true);
}
void write_dot(const std::filesystem::path& path, const ExportGraph& g) {
  write_with_attributes(path, g, false);
}

}  // namespace critlab::graph
