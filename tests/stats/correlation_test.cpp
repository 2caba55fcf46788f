// Spearman's rho and its intervals against hand-computed values and simulation from a known population.
#include "critlab/stats/correlation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace critlab;

TEST(Correlation, RanksAverageTies) {
  EXPECT_EQ(stats::ranks({10, 20, 20, 30, 5}), (std::vector<double>{2, 3.5, 3.5, 5, 1}));
}

TEST(Correlation, SpearmanAgainstHandComputedValues) {
  // No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 6 * 4 / 120 = 0.8.
  EXPECT_NEAR(stats::spearman({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5}).rho.value(), 0.8, 1e-12);
  // Invariant under monotone maps; -1 for a decreasing one; NaN pairs dropped.
  std::vector<double> x{0.1, 0.5, 0.2, 3, 7, 1.5}, y, z;
  for (double v : x) y.push_back(std::exp(3 * v)), z.push_back(-v * v * v);
  EXPECT_NEAR(stats::spearman(x, y).rho.value(), 1.0, 1e-12);
  EXPECT_NEAR(stats::spearman(x, z).rho.value(), -1.0, 1e-12);
  x.push_back(NAN), z.push_back(1.0);
  EXPECT_EQ(stats::spearman(x, z).n, 6);
  EXPECT_NEAR(stats::normal_quantile(0.975), 1.959963985, 1e-8);
}

// Bivariate normal with correlation r: the population Spearman is (6 / pi) asin(r / 2). The Fisher
// (Bonett-Wright) interval must cover it about 95% of the time.
TEST(Correlation, FisherIntervalCoversThePopulationValue) {
  const double r = 0.5, population = 6 / M_PI * std::asin(r / 2);  // 0.4826
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01;
  const int sims = 400, n = 80;
  int covered = 0;
  double sum = 0;
  for (int s = 0; s < sims; ++s) {
    std::vector<double> x(n), y(n);
    for (int i = 0; i < n; ++i) {
      x[i] = n01(rng);
      y[i] = r * x[i] + std::sqrt(1 - r * r) * n01(rng);
    }
    const auto c = stats::spearman(x, y);
    covered += *c.low <= population && population <= *c.high;
    sum += *c.rho;
  }
  EXPECT_NEAR(sum / sims, population, 0.015);  // rho-hat's sd ~ 0.085, so 3 standard errors of the mean
  const double coverage = static_cast<double>(covered) / sims;
  EXPECT_GT(coverage, 0.91);
  EXPECT_LT(coverage, 0.985);
}

// Clustered data: 30 independent pairs, each repeated 10 times. The naive interval believes n = 300; the
// cluster bootstrap sees 30 independent units and is as wide as the interval of the 30 pairs themselves.
TEST(Correlation, ClusterBootstrapSeesTheIndependentUnits) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n01;
  std::vector<double> x0, y0, x, y;
  std::vector<int> groups;
  for (int i = 0; i < 30; ++i) {
    x0.push_back(n01(rng));
    y0.push_back(0.4 * x0.back() + n01(rng));
    for (int k = 0; k < 10; ++k) {
      x.push_back(x0.back() + 1e-9 * k), y.push_back(y0.back() + 1e-9 * k);
      groups.push_back(i);
    }
  }
  const auto naive = stats::spearman(x, y);
  const auto small = stats::spearman(x0, y0);
  const auto cluster = stats::spearman_cluster_bootstrap(x, y, groups, 0.95, 2000, 5);
  const double w_naive = *naive.high - *naive.low, w_small = *small.high - *small.low,
               w_cluster = *cluster.high - *cluster.low;
  EXPECT_GT(w_cluster, 2.0 * w_naive);
  EXPECT_NEAR(w_cluster / w_small, 1.0, 0.35);
  EXPECT_LE(*cluster.low, *cluster.rho);
  EXPECT_GE(*cluster.high, *cluster.rho);
}

// x and y both follow z with independent noise: strongly rank-correlated, but not once z is accounted for.
// With a shared second cause the partial correlation stays clearly positive.
TEST(Correlation, PartialSpearmanRemovesACommonCause) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n01;
  const int n = 3000;
  std::vector<double> x(n), y(n), z(n), x2(n), y2(n);
  std::vector<int> groups(n);
  for (int i = 0; i < n; ++i) {
    z[i] = n01(rng);
    const double e = n01(rng);
    x[i] = z[i] + 0.7 * n01(rng);
    y[i] = z[i] + 0.7 * n01(rng);
    x2[i] = z[i] + e + 0.3 * n01(rng);
    y2[i] = z[i] + e + 0.3 * n01(rng);
    groups[i] = i % 50;
  }
  EXPECT_GT(stats::spearman(x, y).rho.value(), 0.6);
  const auto p = stats::partial_spearman(x, y, z);
  EXPECT_LT(std::abs(p.rho.value()), 0.06);
  EXPECT_LT(p.low.value(), 0.0);
  EXPECT_GT(p.high.value(), 0.0);
  // Gaussian partial correlation of x2, y2 given z: 1 / (1 + 0.09) = 0.917; the rank version is close.
  EXPECT_NEAR(stats::partial_spearman(x2, y2, z).rho.value(), 0.917, 0.03);
  const auto b = stats::partial_spearman_cluster_bootstrap(x, y, z, groups, 0.95, 500, 3);
  EXPECT_LT(b.low.value(), 0.0);
  EXPECT_GT(b.high.value(), 0.0);
}

TEST(Correlation, MissingResultsAreEmptyWithTheirStatus) {
  const auto few = stats::spearman({1, 2, 3}, {3, 2, 1});
  EXPECT_FALSE(few.rho.has_value());
  EXPECT_FALSE(few.low.has_value() || few.high.has_value() || few.p_value.has_value());
  EXPECT_EQ(few.status.code, StatusCode::kInsufficientData);
  const auto flat = stats::spearman({1, 2, 3, 4, 5}, {7, 7, 7, 7, 7});
  EXPECT_FALSE(flat.rho.has_value());
  EXPECT_EQ(flat.status.code, StatusCode::kNotFound);
  const auto ok = stats::spearman({1, 2, 3, 4, 5, 6}, {2, 1, 4, 3, 6, 5});
  EXPECT_TRUE(ok.status.ok());
  ASSERT_TRUE(ok.p_value.has_value());
  EXPECT_GT(*ok.p_value, 0.0);
  // One cluster: no bootstrap interval, and the bootstrap never gives a p-value.
  const auto one =
      stats::spearman_cluster_bootstrap({1, 2, 3, 4, 5, 6}, {2, 1, 4, 3, 6, 5}, {0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(one.rho.has_value());
  EXPECT_FALSE(one.low.has_value() || one.p_value.has_value());
  EXPECT_EQ(one.status.code, StatusCode::kInsufficientData);
}
