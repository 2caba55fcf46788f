// Percolation statistics against exact random-graph theory, and the transition / exponent fit against
// series with a known exponent.
#include "critlab/graph/percolation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "graph/random_graph.h"

namespace critlab::graph {
namespace {

using test::random_graph_process;

TEST(Percolation, UnionFindKeepsSizesAndSumOfSquares) {
  UnionFind uf(6);
  EXPECT_EQ(uf.components(), 6);
  EXPECT_TRUE(uf.unite(0, 1));
  EXPECT_TRUE(uf.unite(1, 2));
  EXPECT_FALSE(uf.unite(0, 2));
  EXPECT_TRUE(uf.unite(3, 4));
  EXPECT_EQ(uf.components(), 3);
  EXPECT_EQ(uf.largest(), 3);
  EXPECT_DOUBLE_EQ(uf.sum_sq(), 9 + 4 + 1);
  EXPECT_EQ(uf.component_sizes(), (std::vector<std::int64_t>{3, 2, 1}));
  const auto p = cluster_statistics(uf);
  EXPECT_DOUBLE_EQ(p.p_inf, 0.5);
  EXPECT_DOUBLE_EQ(p.susceptibility, (4.0 + 1.0) / 3.0);  // finite clusters {3,4} and {5}
}

// Mean P_inf and susceptibility over `realisations` graphs G(n, c n / 2) at every c.
struct ErMeans {
  std::vector<double> p_inf, chi;
};
ErMeans erdos_renyi_means(std::int64_t n, const std::vector<double>& cs, int realisations) {
  std::vector<double> thresholds;
  for (double c : cs) thresholds.push_back(1 - std::round(c * n / 2));
  ErMeans m{std::vector<double>(cs.size(), 0), std::vector<double>(cs.size(), 0)};
  for (int r = 0; r < realisations; ++r) {
    const auto sweep = percolation_sweep(n, random_graph_process(n, 3 * n / 2 + 1, 100 + r), thresholds);
    for (std::size_t i = 0; i < cs.size(); ++i) {
      EXPECT_EQ(sweep[i].edges, static_cast<std::int64_t>(std::round(cs[i] * n / 2)));
      m.p_inf[i] += sweep[i].p_inf / realisations;
      m.chi[i] += sweep[i].susceptibility / realisations;
    }
  }
  return m;
}

TEST(Percolation, ErdosRenyiGiantComponentMatchesTheory) {
  const std::vector<double> cs{0.5, 1.5, 2.0, 3.0};
  const auto m = erdos_renyi_means(10000, cs, 4);
  for (std::size_t i = 0; i < cs.size(); ++i)
    EXPECT_NEAR(m.p_inf[i], erdos_renyi_giant_fraction(cs[i]), 0.02) << "c = " << cs[i];
}

TEST(Percolation, ErdosRenyiSusceptibilityMatchesTheoryAndPeaksAtTheTransition) {
  // Mean finite-cluster size: 1/(1-c) below the transition, 1/(1 - c(1-S)) above it. Near c = 1 the
  // largest finite clusters (~ln n / (c - 1 - ln c) nodes) converge slowly, so this uses n = 10^5 (at
  // n = 10^4, c = 1.5 reads 7% high; at 10^6 all four are within 0.5%).
  const std::vector<double> cs{0.5, 1.5, 2.0, 3.0};
  const auto m = erdos_renyi_means(100000, cs, 2);
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const double chi_theory = 1.0 / (1.0 - cs[i] * (1.0 - erdos_renyi_giant_fraction(cs[i])));
    EXPECT_NEAR(m.chi[i] / chi_theory, 1.0, 0.03) << "c = " << cs[i] << " chi " << m.chi[i];
  }
  // The peak, on a fine grid at n = 10^4, both averaged and as located on one graph.
  std::vector<double> grid;
  for (double c = 0.5; c <= 1.6 + 1e-9; c += 0.01) grid.push_back(c);
  const auto g = erdos_renyi_means(10000, grid, 4);
  std::size_t peak = 0;
  for (std::size_t i = 0; i < grid.size(); ++i)
    if (g.chi[i] > g.chi[peak]) peak = i;
  EXPECT_NEAR(grid[peak], 1.0, 0.1) << "susceptibility peak at c = " << grid[peak];
  const auto one = erdos_renyi_means(10000, grid, 1);
  const auto t = locate_transition(grid, one.p_inf, one.chi);
  ASSERT_TRUE(t.status.ok()) << t.status.to_string();
  ASSERT_TRUE(t.ordered_side && t.x_c);
  EXPECT_EQ(*t.ordered_side, +1);
  EXPECT_NEAR(*t.x_c, 1.0, 0.1);
}

TEST(Percolation, GiantFractionSolvesItsEquation) {
  EXPECT_EQ(erdos_renyi_giant_fraction(0.9), 0.0);
  for (double c : {1.2, 2.0, 5.0}) {
    const double s = erdos_renyi_giant_fraction(c);
    EXPECT_NEAR(s, 1 - std::exp(-c * s), 1e-12);
    EXPECT_GT(s, 0.0);
  }
  EXPECT_NEAR(erdos_renyi_giant_fraction(2.0), 0.7968121300200202, 1e-12);
}

TEST(Percolation, OrderParameterExponentRecoveredFromExactPowerLaw) {
  // P = 0.8 (x - 2)^0.5 above x_c = 2 (clipped at 1), a susceptibility peaked at 2, either orientation.
  for (int side : {+1, -1}) {
    std::vector<double> x, p, chi;
    for (int i = -20; i <= 40; ++i) {
      const double xi = 2 + side * 0.01 * i;
      const double d = side * (xi - 2);
      x.push_back(xi);
      p.push_back(d > 0 ? std::min(1.0, 0.8 * std::pow(d, 0.5)) : 0.0);
      chi.push_back(1.0 / (0.01 + std::abs(xi - 2)));
    }
    const auto t = locate_transition(x, p, chi, {.bootstrap = 200, .seed = 3});
    ASSERT_TRUE(t.status.ok()) << t.status.to_string();
    ASSERT_TRUE(t.ordered_side && t.x_c && t.beta && t.beta_lo && t.beta_hi);
    EXPECT_EQ(*t.ordered_side, side);
    EXPECT_NEAR(*t.x_c, 2.0, 1e-12);
    EXPECT_NEAR(*t.beta, 0.5, 1e-9);
    EXPECT_NEAR(*t.beta_lo, 0.5, 1e-6);
    EXPECT_NEAR(*t.beta_hi, 0.5, 1e-6);
  }
}

TEST(Percolation, SortByWeightIsStableDescendingOnBothPaths) {
  // Above 4096 non-negative weights the radix path runs, below (or with a negative weight) std::stable_sort:
  // both give the weights in descending order with equal weights in their original order.
  for (const std::size_t n : {100u, 50000u}) {
    for (const bool negative : {false, true}) {
      std::mt19937_64 rng(n);
      std::vector<WeightedEdge> edges;
      for (std::size_t i = 0; i < n; ++i)
        edges.push_back(
            {static_cast<std::int32_t>(i), 0,
             static_cast<float>(static_cast<int>(rng() % 1000)) / 997.0f - (negative ? 0.5f : 0.0f)});
      if (!negative) edges[n / 2].weight = -0.0f;  // sorts as +0 on the radix path too
      auto expected = edges;
      std::stable_sort(expected.begin(), expected.end(),
                       [](const WeightedEdge& a, const WeightedEdge& b) { return a.weight > b.weight; });
      sort_by_weight_descending(edges);
      ASSERT_EQ(edges.size(), expected.size());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(edges[i].weight, expected[i].weight) << i;
        ASSERT_EQ(edges[i].u, expected[i].u) << i;  // ties in their original order
      }
    }
  }
  // Sweeping a sorted copy gives the same points as sweeping the shuffled list.
  auto process = random_graph_process(5000, 6000, 9);
  for (auto& e : process) e.weight = -e.weight;  // weights 0..5999, non-negative: the radix path
  std::vector<double> t{100.5, 2500.5, 4000.5};
  const auto a = percolation_sweep(5000, process, t);
  sort_by_weight_descending(process);
  const auto b = percolation_sweep(5000, process, t);
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(a[i].edges, b[i].edges);
    EXPECT_EQ(a[i].largest, b[i].largest);
    EXPECT_EQ(a[i].susceptibility, b[i].susceptibility);
  }
}

TEST(Percolation, DegenerateInputsGiveStatusNotNaN) {
  const auto two = locate_transition({1, 2}, {0, 1}, {1, 0});
  EXPECT_EQ(two.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(two.x_c || two.chi_max || two.beta || two.beta_lo || two.beta_hi || two.ordered_side);
  const auto flat = locate_transition({1, 2, 3, 4}, {0, 0, 0, 0}, {1, 1, 1, 1});
  EXPECT_EQ(flat.status.code, StatusCode::kNotFound);
  ASSERT_TRUE(flat.x_c);
  EXPECT_EQ(*flat.x_c, 1.0);  // the peak is found; the exponent is not
  EXPECT_FALSE(flat.beta || flat.beta_lo || flat.beta_hi);
  EXPECT_FALSE(flat.status.message.empty());
  const auto empty = percolation_sweep(0, {}, {0.5});
  EXPECT_EQ(empty[0].p_inf, 0.0);
  EXPECT_EQ(empty[0].susceptibility, 0.0);
  EXPECT_THROW(percolation_sweep(3, {{0, 5, 1.0f}}, {0.5}), std::exception);
}

}  // namespace
}  // namespace critlab::graph
