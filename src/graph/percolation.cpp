#include "critlab/graph/percolation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "critlab/core/error.h"

namespace critlab::graph {

UnionFind::UnionFind(std::int64_t n)
    : parent_(static_cast<std::size_t>(n)), size_(static_cast<std::size_t>(n), 1) {
  std::iota(parent_.begin(), parent_.end(), 0);
  largest_ = n > 0 ? 1 : 0;
  components_ = n;
  sum_sq_ = static_cast<double>(n);
}

std::int64_t UnionFind::find(std::int64_t a) {
  while (parent_[a] != a) {
    parent_[a] = parent_[parent_[a]];
    a = parent_[a];
  }
  return a;
}

bool UnionFind::unite(std::int64_t a, std::int64_t b) {
  a = find(a), b = find(b);
  if (a == b) return false;
  if (size_[a] < size_[b]) std::swap(a, b);
  sum_sq_ += 2.0 * static_cast<double>(size_[a]) * static_cast<double>(size_[b]);
  parent_[b] = a;
  size_[a] += size_[b];
  largest_ = std::max(largest_, size_[a]);
  --components_;
  return true;
}

std::vector<std::int64_t> UnionFind::component_sizes() {
  std::vector<std::int64_t> sizes;
  for (std::int64_t i = 0; i < num_nodes(); ++i)
    if (find(i) == i) sizes.push_back(size_[i]);
  std::sort(sizes.begin(), sizes.end(), std::greater<>());
  return sizes;
}

std::vector<std::int64_t> UnionFind::labels() {
  std::vector<std::int64_t> label(static_cast<std::size_t>(num_nodes()), -1), root_label(label.size(), -1);
  std::int64_t next = 0;
  for (std::int64_t i = 0; i < num_nodes(); ++i) {
    auto& l = root_label[find(i)];
    if (l < 0) l = next++;
    label[i] = l;
  }
  return label;
}

PercolationPoint cluster_statistics(const UnionFind& uf) {
  PercolationPoint p;
  const double n = static_cast<double>(uf.num_nodes());
  if (n == 0) return p;
  const double s1 = static_cast<double>(uf.largest());
  p.largest = uf.largest();
  p.components = uf.components();
  p.p_inf = s1 / n;
  const double finite_nodes = n - s1;
  p.susceptibility = finite_nodes > 0 ? (uf.sum_sq() - s1 * s1) / finite_nodes : 0.0;
  return p;
}

void sort_by_weight_descending(std::vector<WeightedEdge>& edges) {
  const auto descending = [](const WeightedEdge& a, const WeightedEdge& b) { return a.weight > b.weight; };
  if (std::is_sorted(edges.begin(), edges.end(), descending)) return;
  // Non-negative finite weights (|r| graphs): a stable LSD radix sort on the float's bits, whose unsigned
  // order is the float order for x >= 0, in three passes of 11 bits; ~10x std::sort on millions of edges.
  const bool radix =
      edges.size() > 4096 && std::all_of(edges.begin(), edges.end(), [](const WeightedEdge& e) {
        return e.weight >= 0 && std::isfinite(e.weight);
      });
  if (!radix) {
    std::stable_sort(edges.begin(), edges.end(), descending);
    return;
  }
  const auto key = [](const WeightedEdge& e) {
    std::uint32_t bits;
    std::memcpy(&bits, &e.weight, sizeof bits);
    return ~(bits & 0x7fffffffu);  // descending; -0 sorts as +0
  };
  std::vector<WeightedEdge> buffer(edges.size());
  auto* from = &edges;
  auto* to = &buffer;
  for (const int shift : {0, 11, 22}) {
    std::vector<std::size_t> count((1u << 11) + 1, 0);
    for (const auto& e : *from) ++count[((key(e) >> shift) & 0x7ffu) + 1];
    for (std::size_t b = 1; b < count.size(); ++b) count[b] += count[b - 1];
    for (const auto& e : *from) (*to)[count[(key(e) >> shift) & 0x7ffu]++] = e;
    std::swap(from, to);
  }
  if (from != &edges) edges.swap(buffer);
}

const std::vector<WeightedEdge>& sorted_by_weight(const std::vector<WeightedEdge>& edges,
                                                  std::vector<WeightedEdge>& storage) {
  if (std::is_sorted(edges.begin(), edges.end(),
                     [](const WeightedEdge& a, const WeightedEdge& b) { return a.weight > b.weight; }))
    return edges;
  storage = edges;
  sort_by_weight_descending(storage);
  return storage;
}

namespace {

void check_nodes(std::int64_t n, const std::vector<WeightedEdge>& edges) {
  if (n < 0) throw Error("percolation: the number of nodes must be >= 0");
  for (const auto& e : edges)
    if (e.u < 0 || e.v < 0 || e.u >= n || e.v >= n)
      throw Error("percolation: an edge names a node outside [0, number of nodes)");
}

UnionFind thresholded(std::int64_t n, const std::vector<WeightedEdge>& edges, double threshold) {
  check_nodes(n, edges);
  UnionFind uf(n);
  for (const auto& e : edges)
    if (e.weight >= threshold) uf.unite(e.u, e.v);
  return uf;
}

}  // namespace

std::vector<PercolationPoint> percolation_sweep(std::int64_t n, const std::vector<WeightedEdge>& unsorted,
                                                const std::vector<double>& thresholds) {
  check_nodes(n, unsorted);
  std::vector<WeightedEdge> storage;
  const auto& edges = sorted_by_weight(unsorted, storage);
  std::vector<std::size_t> order(thresholds.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return thresholds[a] > thresholds[b]; });
  std::vector<PercolationPoint> out(thresholds.size());
  UnionFind uf(n);
  std::size_t next = 0;
  for (const auto i : order) {
    const double t = thresholds[i];
    while (next < edges.size() && edges[next].weight >= t) {
      uf.unite(edges[next].u, edges[next].v);
      ++next;
    }
    out[i] = cluster_statistics(uf);
    out[i].threshold = t;
    out[i].edges = static_cast<std::int64_t>(next);
  }
  return out;
}

std::vector<std::int64_t> cluster_sizes(std::int64_t n, const std::vector<WeightedEdge>& edges,
                                        double threshold) {
  return thresholded(n, edges, threshold).component_sizes();
}

std::vector<std::int64_t> cluster_labels(std::int64_t n, const std::vector<WeightedEdge>& edges,
                                         double threshold) {
  return thresholded(n, edges, threshold).labels();
}

double erdos_renyi_giant_fraction(double c) {
  if (c <= 1) return 0;
  double s = 1;  // the iteration S <- 1 - exp(-cS) from 1 converges monotonically to the largest root
  for (int i = 0; i < 100000; ++i) {
    const double next = 1 - std::exp(-c * s);
    if (std::abs(next - s) < 1e-15) return next;
    s = next;
  }
  return s;
}

bool TransitionOptions::IsValid(std::string* error) const {
  std::string e;
  if (!(saturation > 0 && saturation <= 1))
    e = fmt::format("saturation must be in (0, 1], got {}", saturation);
  else if (bootstrap < 0 || bootstrap > 1000000)
    e = fmt::format("bootstrap must be in [0, 10^6], got {}", bootstrap);
  else if (!(level > 0 && level < 1))
    e = fmt::format("level must be in (0, 1), got {}", level);
  if (e.empty()) return true;
  if (error) *error = e;
  return false;
}

Transition locate_transition(const std::vector<double>& x, const std::vector<double>& p,
                             const std::vector<double>& chi, const TransitionOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  CRITLAB_ASSERT(x.size() == p.size() && x.size() == chi.size(),
                 "locate_transition: series of different lengths");
  Transition t;
  if (x.size() < 3) {
    t.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("{} points; locating a transition needs at least 3", x.size()));
    return t;
  }
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::size_t peak = order.front();
  for (const auto i : order)
    if (chi[i] > chi[peak]) peak = i;
  const double x_c = x[peak];
  t.x_c = x_c;
  t.chi_max = chi[peak];
  // The ordered side is where P_inf is larger on average.
  double above = 0, below = 0;
  int n_above = 0, n_below = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] > x_c) above += p[i], ++n_above;
    if (x[i] < x_c) below += p[i], ++n_below;
  }
  if (n_above == 0 && n_below == 0) {
    t.status =
        make_status(StatusCode::kNotFound, "every point lies at the susceptibility peak; no side to fit");
    return t;
  }
  const double mean_above = n_above ? above / n_above : -1, mean_below = n_below ? below / n_below : -1;
  const int side_sign = mean_above >= mean_below ? +1 : -1;
  t.ordered_side = side_sign;
  // Points on the ordered side, walking away from x_c, up to saturation.
  std::vector<std::size_t> side;
  for (const auto i : order)
    if (side_sign * (x[i] - x_c) > 0) side.push_back(i);
  if (side_sign < 0) std::reverse(side.begin(), side.end());
  double pmax = 0;
  for (const auto i : side) pmax = std::max(pmax, p[i]);
  std::vector<double> lx, ly;
  for (const auto i : side) {
    if (p[i] > 0) {
      lx.push_back(std::log(std::abs(x[i] - x_c)));
      ly.push_back(std::log(p[i]));
    }
    if (p[i] >= o.saturation * pmax) break;
  }
  t.fit_points = static_cast<int>(lx.size());
  if (lx.size() < 3) {
    t.status =
        pmax > 0 ? make_status(StatusCode::kInsufficientData,
                               fmt::format("{} points with P_inf > 0 on the ordered side before saturation; "
                                           "fitting beta needs at least 3",
                                           lx.size()))
                 : make_status(StatusCode::kNotFound, "P_inf is zero on the whole ordered side");
    return t;
  }
  const auto slope = [](const std::vector<double>& a, const std::vector<double>& b,
                        const std::vector<std::size_t>& idx, bool* ok) {
    double ma = 0, mb = 0;
    for (const auto i : idx) ma += a[i], mb += b[i];
    ma /= static_cast<double>(idx.size()), mb /= static_cast<double>(idx.size());
    double sab = 0, saa = 0;
    for (const auto i : idx) sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma);
    *ok = saa > 1e-12;
    return *ok ? sab / saa : 0.0;
  };
  std::vector<std::size_t> all(lx.size());
  std::iota(all.begin(), all.end(), 0);
  bool ok = false;
  const double beta = slope(lx, ly, all, &ok);
  if (!ok) {
    t.status = make_status(StatusCode::kInsufficientData, "the fit points share one distance from x_c");
    return t;
  }
  t.beta = beta;
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<std::size_t> pick(0, lx.size() - 1);
  std::vector<double> boots;
  std::vector<std::size_t> idx(lx.size());
  for (int b = 0; b < o.bootstrap; ++b) {
    for (auto& i : idx) i = pick(rng);
    const double s = slope(lx, ly, idx, &ok);
    if (ok) boots.push_back(s);
  }
  if (boots.size() >= 10) {
    std::sort(boots.begin(), boots.end());
    const auto q = [&](double f) {
      return boots[static_cast<std::size_t>(
          std::clamp(f * static_cast<double>(boots.size() - 1), 0.0, static_cast<double>(boots.size() - 1)))];
    };
    t.beta_lo = q((1 - o.level) / 2);
    t.beta_hi = q(1 - (1 - o.level) / 2);
  } else {
    t.beta_lo = t.beta_hi = beta;
  }
  return t;
}

}  // namespace critlab::graph
