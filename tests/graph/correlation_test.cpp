// Correlation graphs from planted block-correlated Gaussian activity against sampling theory, community
// recovery through igraph, and the degenerate inputs (dead units, one sample, empty layers).
#include "critlab/graph/correlation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/graph/structure.h"
#include "critlab/measure/theory.h"
#include "critlab/stats/special.h"

namespace critlab::graph {
namespace {

// `groups` groups of `size` units over n samples: unit = sqrt(rho) z_group + sqrt(1 - rho) noise, so the
// population correlation is rho within a group and 0 across groups.
at::Tensor planted_blocks(std::int64_t n, std::int64_t groups, std::int64_t size, double rho,
                          std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto z = at::normal(0, 1, {n, groups}, gen);
  const auto noise = at::normal(0, 1, {n, groups * size}, gen);
  return std::sqrt(rho) * z.repeat_interleave(size, 1) + std::sqrt(1 - rho) * noise;
}

// Percolation theory of one planted group's thresholded correlation graph. A sample correlation's Fisher
// transform is, to first order, atanh(r_ij) = m + u_i + u_j + e_ij: a node-level part u_i (unit i's sample
// covariance with the shared signal and its sample variance) and an independent Gaussian pair part e_ij.
// (In r itself the tail is compressed, and a Gaussian there overestimates the edges near threshold.)
// Thresholding gives an inhomogeneous random graph (Bollobas, Janson & Riordan 2007) with kernel
// k(u, u') = (size - 1) P(e >= atanh(theta) - m - u - u'):
// its giant cluster appears where the kernel operator's spectral radius reaches 1, and its size is
// E_u[S(u)] with S(u) = 1 - exp(-E_u'[k(u, u') S(u')]). The parameters m, var(u), var(e) are estimated
// from the group's correlations; the expectation over u ~ N(0, var u) is a 40-point Gauss-Hermite rule.
struct GroupTheory {
  double m = 0, sd_u = 0, sd_e = 0;
  std::int64_t size = 0;
  std::vector<double> u, w;  // quadrature nodes and weights for u

  GroupTheory(const at::Tensor& r, std::int64_t group_size) : size(group_size) {
    const auto off = 1 - at::eye(size, r.options());
    const double n_pairs = static_cast<double>(size * (size - 1));
    m = (r * off).sum().item<double>() / n_pairs;
    const auto row = ((r - m) * off).sum(1) / (size - 1.0);  // u_i + mean(u) + noise
    const auto resid = (r - m - row.unsqueeze(0) - row.unsqueeze(1)) * off;
    sd_e = std::sqrt((resid.pow(2).sum().item<double>()) / n_pairs);
    sd_u = std::sqrt(std::max(0.0, row.var().item<double>() - sd_e * sd_e / (size - 2.0)));
    const auto gh = measure::gauss_hermite(40);
    for (std::size_t k = 0; k < gh.nodes.size(); ++k) {
      u.push_back(std::sqrt(2.0) * sd_u * gh.nodes[k]);
      w.push_back(gh.weights[k] / std::sqrt(M_PI));
    }
  }
  double kernel(double theta, double a, double b) const {
    return (size - 1) * (1 - stats::normal_cdf((std::atanh(theta) - m - a - b) / sd_e));
  }
  double spectral_radius(double theta) const {  // power iteration on the positive matrix k(u_a, u_b) w_b
    std::vector<double> v(u.size(), 1.0), next(u.size());
    double lambda = 0;
    for (int it = 0; it < 500; ++it) {
      double norm = 0;
      for (std::size_t a = 0; a < u.size(); ++a) {
        next[a] = 0;
        for (std::size_t b = 0; b < u.size(); ++b) next[a] += kernel(theta, u[a], u[b]) * w[b] * v[b];
        norm = std::max(norm, next[a]);
      }
      for (std::size_t a = 0; a < u.size(); ++a) v[a] = next[a] / norm;
      if (std::abs(norm - lambda) < 1e-12 * norm) break;
      lambda = norm;
    }
    return lambda;
  }
  double critical_theta() const {
    return stats::minimize_brent([&](double t) { return std::pow(std::log(spectral_radius(t)), 2); },
                                 std::tanh(m), 0.99);
  }
  double giant_fraction(double theta) const {
    std::vector<double> s(u.size(), 1.0);
    for (int it = 0; it < 2000; ++it) {
      std::vector<double> next(u.size());
      for (std::size_t a = 0; a < u.size(); ++a) {
        double lam = 0;
        for (std::size_t b = 0; b < u.size(); ++b) lam += kernel(theta, u[a], u[b]) * w[b] * s[b];
        next[a] = 1 - std::exp(-lam);
      }
      s = next;
    }
    double mean = 0;
    for (std::size_t a = 0; a < u.size(); ++a) mean += w[a] * s[a];
    return mean;
  }
};

TEST(CorrelationGraph, PlantedGroupsAreRecoveredAndTheSweepTransitionsWhereTheoryPutsIt) {
  const std::int64_t n = 400, groups = 3, size = 800;
  const double rho = 0.3;
  const auto c = correlate(planted_blocks(n, groups, size, rho, 5));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.excluded_a, 0);
  const std::int64_t nodes = groups * size;
  const auto edges = correlation_edges(c, EdgeSign::kAbsolute, 0.0, 0);
  EXPECT_EQ(static_cast<std::int64_t>(edges.size()), nodes * (nodes - 1) / 2);

  // Community detection on the graph thresholded well inside the within-group bulk.
  std::vector<WeightedEdge> kept;
  for (const auto& e : edges)
    if (e.weight >= 0.2f) kept.push_back(e);
  const auto found = detect_communities(nodes, kept, 1);
  std::vector<std::int64_t> planted(static_cast<std::size_t>(nodes));
  for (std::int64_t i = 0; i < nodes; ++i) planted[i] = i / size;
  const double ari = adjusted_rand_index(found, planted);
  EXPECT_GE(ari, 0.9);

  // Transition 1, within each group: the sweep of group 0's subgraph peaks in susceptibility at the
  // kernel theory's theta_c, and its giant cluster follows the theory below it.
  std::vector<WeightedEdge> group0;
  for (const auto& e : edges)
    if (e.u < size && e.v < size) group0.push_back(e);
  const GroupTheory theory(
      c.r.slice(0, 0, size).slice(1, 0, size).to(at::kDouble).clamp(-0.999999, 0.999999).atanh(), size);
  const double theta_c = theory.critical_theta();
  std::vector<double> thetas;
  for (double t = 0.25; t <= 0.6 + 1e-9; t += 0.0025) thetas.push_back(t);
  const auto sweep = percolation_sweep(size, group0, thetas);
  std::vector<double> p, chi;
  for (const auto& s : sweep) p.push_back(s.p_inf), chi.push_back(s.susceptibility);
  const auto t = locate_transition(thetas, p, chi);
  ASSERT_TRUE(t.ordered_side && t.x_c) << t.status.to_string();
  EXPECT_EQ(*t.ordered_side, -1);       // the graph connects as theta falls
  EXPECT_NEAR(*t.x_c, theta_c, 0.015);  // the finite-size peak sits a little on the connected side
  for (double dt : {0.02, 0.04}) {
    const double th = theta_c - dt;
    EXPECT_NEAR(percolation_sweep(size, group0, {th})[0].p_inf, theory.giant_fraction(th), 0.03)
        << "theta " << th;
  }
  // Transition 2, the groups merge: across groups rho = 0, so atanh(r) ~ N(0, 1/(n-3)) and the expected
  // number of cross edges is X(theta) = (G choose 2) size^2 P(r >= theta). While X << 1 the largest cluster
  // is one group (P_inf <= 1/G); once X >> G the groups are one cluster.
  const double sd = 1 / std::sqrt(n - 3.0);
  const auto cross = [&](double th) {
    return groups * (groups - 1) / 2.0 * size * size * 2 * (1 - stats::normal_cdf(std::atanh(th) / sd));
  };
  const double apart =
      stats::minimize_brent([&](double th) { return std::pow(std::log(cross(th) / 0.05), 2); }, 0.05, 0.5);
  const double merged =
      stats::minimize_brent([&](double th) { return std::pow(std::log(cross(th) / 40), 2); }, 0.05, 0.5);
  const auto whole = percolation_sweep(nodes, edges, {apart, merged});
  EXPECT_LE(whole[0].p_inf, 1.0 / groups + 1e-9) << "theta " << apart;
  EXPECT_GE(whole[1].p_inf, 0.99) << "theta " << merged;
  std::printf(
      "ARI %.3f  group theta_c theory %.4f located %.4f  (m %.3f sd_u %.4f sd_e %.4f)  merge between %.3f "
      "and %.3f\n",
      ari, theta_c, *t.x_c, theory.m, theory.sd_u, theory.sd_e, merged, apart);
  for (double dt : {0.02, 0.04})
    std::printf("  P_inf(theta_c - %.2f) = %.3f, theory %.3f\n", dt,
                percolation_sweep(size, group0, {theta_c - dt})[0].p_inf,
                theory.giant_fraction(theta_c - dt));
}

TEST(CorrelationGraph, MatchesPearsonOnSmallExample) {
  auto x = torch::tensor({1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.5, 4.0, 3.0, 2.0, 1.0}, torch::kDouble)
               .reshape({3, 4})
               .t();
  const auto c = correlate(x);
  ASSERT_TRUE(c.ok());
  // Unit 0 and unit 2 are exactly anti-correlated; unit 1 is nearly linear in unit 0.
  EXPECT_NEAR(c.r[0][2].item<double>(), -1.0, 1e-6);
  const auto a = x.select(1, 0), b = x.select(1, 1);
  const double r01 = ((a - a.mean()) * (b - b.mean())).sum().item<double>() /
                     std::sqrt(((a - a.mean()).pow(2).sum() * (b - b.mean()).pow(2).sum()).item<double>());
  EXPECT_NEAR(c.r[0][1].item<double>(), r01, 1e-6);
  EXPECT_EQ(from_string<EdgeSign>("positive"), EdgeSign::kPositive);
  EXPECT_EQ(to_string(EdgeSign::kAbsolute), "abs");
  try {
    from_string<EdgeSign>("both");
    ADD_FAILURE() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("abs, positive, negative"), std::string::npos) << e.what();
  }
  const auto pos = correlation_edges(c, EdgeSign::kPositive, 0.5, 10);
  const auto neg = correlation_edges(c, EdgeSign::kNegative, 0.5, 10);
  EXPECT_EQ(pos.size(), 1u);  // 0-1
  EXPECT_EQ(neg.size(), 2u);  // 0-2, 1-2
  EXPECT_EQ(pos[0].u, 10);
  EXPECT_EQ(pos[0].v, 11);
}

TEST(CorrelationGraph, DeadUnitsOneSampleAndEmptyLayersGiveStatusNeverNaN) {
  auto x = torch::randn({50, 6});
  x.select(1, 2).zero_();        // dead
  x.select(1, 4).fill_(0.9999);  // saturated
  const auto c = correlate(x);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.excluded_a, 2);
  EXPECT_EQ(c.kept_a, (std::vector<std::int64_t>{0, 1, 3, 5}));
  EXPECT_FALSE(c.r.isnan().any().item<bool>());

  const auto across = correlate(x, torch::zeros({50, 3}));
  EXPECT_EQ(across.status.code, StatusCode::kNotApplicable);
  EXPECT_EQ(across.excluded_b, 3);
  EXPECT_TRUE(correlation_edges(across, EdgeSign::kAbsolute, 0.1, 0).empty());

  const auto one = correlate(torch::randn({1, 5}));
  EXPECT_EQ(one.status.code, StatusCode::kInsufficientData);
  EXPECT_EQ(one.excluded_a, 5);
  EXPECT_EQ(correlate(torch::randn({10, 0})).status.code, StatusCode::kInsufficientData);
  EXPECT_EQ(correlate(torch::zeros({10, 4})).status.code, StatusCode::kNotApplicable);
  EXPECT_THROW(correlate(torch::randn({10, 3}), torch::randn({9, 3})), std::exception);

  // Graph structure of an empty graph and of isolated nodes is defined.
  const auto s = analyse_structure(5, {});
  EXPECT_EQ(s.edges, 0);
  EXPECT_EQ(s.communities, 5);
  EXPECT_FALSE(std::isnan(s.modularity));
}

TEST(GraphStructure, KnownGraphs) {
  // Two triangles joined by one edge: transitivity 3*2 / (3*2 + 2*2) = 6/10... computed by igraph.
  std::vector<WeightedEdge> e{{0, 1, 1}, {1, 2, 1}, {0, 2, 1}, {3, 4, 1}, {4, 5, 1}, {3, 5, 1}, {2, 3, 1}};
  const auto s = analyse_structure(6, e, {.rich_club_randomisations = 2});
  EXPECT_EQ(s.edges, 7);
  EXPECT_NEAR(s.mean_degree, 14.0 / 6, 1e-12);
  EXPECT_EQ(s.max_degree, 3);
  EXPECT_EQ(s.degree_histogram, (std::vector<std::int64_t>{0, 0, 4, 2}));
  // Triangles 2, connected triples: four degree-2 nodes give 1 each, two degree-3 nodes give 3 each: 10.
  EXPECT_NEAR(s.transitivity, 3.0 * 2 / 10, 1e-12);
  EXPECT_NEAR(s.mean_local_clustering, (4 * 1.0 + 2 * (1.0 / 3)) / 6, 1e-12);
  EXPECT_EQ(s.communities, 2);
  // Modularity of the two triangles: sum_c [e_c/m - (d_c/2m)^2] = 2 (3/7 - (7/14)^2).
  EXPECT_NEAR(s.modularity, 2 * (3.0 / 7 - 0.25), 1e-12);
  // Rich club at k = 2: nodes 2 and 3 (degree 3) share one edge: phi = 1.
  for (std::size_t i = 0; i < s.rich_club_k.size(); ++i)
    if (s.rich_club_k[i] == 2) {
      EXPECT_DOUBLE_EQ(s.rich_club[i], 1.0);
    }
  EXPECT_DOUBLE_EQ(adjusted_rand_index({0, 0, 1, 1}, {1, 1, 0, 0}), 1.0);
  // Every cell of the contingency table is 1: (0 - 6*3/15) / ((6+3)/2 - 6*3/15) = -4/11.
  EXPECT_NEAR(adjusted_rand_index({0, 0, 0, 1, 1, 1}, {0, 1, 2, 0, 1, 2}), -4.0 / 11, 1e-12);
}

}  // namespace
}  // namespace critlab::graph

// The GEMM runs on float32 scores standardised in float64: against a float64 Pearson matrix the correlations
// agree to 1e-6 (1.7e-7 measured), also for activity far from zero (mean 100, sd 1), where a float32
// subtraction would not.
TEST(CorrelationPrecision, Float32GemmMatchesFloat64PearsonTo1e6) {
  torch::manual_seed(3);
  const auto common = torch::randn({500, 1}, torch::kFloat64);
  const auto x64 = 100 + 0.6 * common + torch::randn({500, 64}, torch::kFloat64);
  const auto c = critlab::graph::correlate(x64.to(torch::kFloat32));
  ASSERT_TRUE(c.ok());
  // The reference from the same float32 inputs, entirely in float64.
  const auto xr = x64.to(torch::kFloat32).to(torch::kFloat64);
  const auto zc = xr - xr.mean(0, true);
  const auto ref = zc.t().mm(zc) / (zc.pow(2).sum(0, true).sqrt().t().mm(zc.pow(2).sum(0, true).sqrt()));
  const double err = (c.r.to(torch::kFloat64) - ref).abs().max().item<double>();
  std::printf("max |r - r_float64| = %.3g\n", err);
  EXPECT_LT(err, 1e-6);
  // The CPU float32 path (no float64 copies) and the generic path (float64 input, any device) agree.
  const auto generic = critlab::graph::correlate(xr);
  EXPECT_LT((generic.r - c.r).abs().max().item<double>(), 1e-6);
}
