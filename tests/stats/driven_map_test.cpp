// The driven map's stationary response (stats/driven_map.h) against closed forms: an ordered linear map, a
// critical map with a quadratic loss and a chaotic logistic-like map, each sampled on a grid and read as
// piecewise linear; the range peaks at the critical map, as in Kinouchi & Copelli's mean field.
#include "critlab/stats/driven_map.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "critlab/core/error.h"
#include "critlab/stats/curve.h"

using namespace critlab;

namespace {
std::vector<double> sample(const std::vector<double>& eps, const std::function<double(double)>& g) {
  std::vector<double> out;
  for (double e : eps) out.push_back(g(e));
  return out;
}
// The rate that makes eps a stationary state of a map whose q = (eps - G) / (1 - G) rises with eps.
double rate_at(double e, double g) { return -std::log1p(-(e - g) / (1 - g)); }
}  // namespace

TEST(DrivenMap, OrderedLinearMapIsExact) {
  // G = chi eps is its own interpolant: eps_r = p / (1 - (1 - p) chi), F linear in r for weak drive.
  const auto eps = stats::log_grid(1e-8, 1, 200);
  for (double chi : {0.3, 0.8, 0.95}) {
    const auto r = stats::driven_map_response(eps, sample(eps, [&](double e) { return chi * e; }));
    ASSERT_TRUE(r.status.ok()) << r.status.message;
    EXPECT_NEAR(r.slope, chi, 1e-12);
    EXPECT_EQ(r.baseline, 0);
    const double want = 10 * std::log10(rate_at(0.9, chi * 0.9) / rate_at(0.1, chi * 0.1));
    EXPECT_NEAR(*r.delta_db, want, 1e-9) << chi;
    for (std::size_t i = 0; i < r.rates.size(); i += 8) {
      const double p = -std::expm1(-r.rates[i]);
      EXPECT_NEAR(r.response[i], p / (1 - (1 - p) * chi), 1e-12) << chi;
    }
    EXPECT_NEAR(r.response.front() / r.rates.front(), 1 / (1 - chi), 1e-6 / (1 - chi));
  }
}

TEST(DrivenMap, CriticalMapRespondsAsTheSquareRootOfTheDrive) {
  // G = eps - b eps^2 (slope 1): (1 - p) G + p = eps gives b (1 - p) eps^2 + p eps - p = 0, so F ~ sqrt(r /
  // b) for weak drive, the mean-field Stevens exponent 1/2.
  const double b = 0.5;
  const auto eps = stats::log_grid(1e-9, 1, 4000);
  const auto r = stats::driven_map_response(eps, sample(eps, [&](double e) { return e - b * e * e; }));
  ASSERT_TRUE(r.status.ok()) << r.status.message;
  EXPECT_NEAR(r.slope, 1, 1e-8);
  EXPECT_NEAR(r.baseline, 0, 0);
  const double want = 10 * std::log10(rate_at(0.9, 0.9 - b * 0.81) / rate_at(0.1, 0.1 - b * 0.01));
  EXPECT_NEAR(*r.delta_db, want, 0.01);
  for (std::size_t i = 0; i < r.rates.size(); i += 8) {
    const double p = -std::expm1(-r.rates[i]), a = b * (1 - p);
    const double exact = 2 * p / (p + std::sqrt(p * p + 4 * a * p));  // the positive root, stable at p = 1
    EXPECT_NEAR(r.response[i], exact, 2e-3 * exact) << r.rates[i];
  }
  const double slope =
      std::log(r.response[8] / r.response[0]) / std::log(r.rates[8] / r.rates[0]);  // r = 1e-10 .. 1e-9
  EXPECT_NEAR(slope, 0.5, 0.01);
}

TEST(DrivenMap, ChaoticMapMasksWeakDriveAboveItsBaseline) {
  // G = eps + a eps (e* - eps): slope 1 + a e* > 1, a stable fixed point e*; the response is measured above
  // it and its plateau is 1 - e*.
  const double a = 1, es = 0.4;
  const auto eps = stats::log_grid(1e-9, 1, 4000);
  const auto g = [&](double e) { return e + a * e * (es - e); };
  const auto r = stats::driven_map_response(eps, sample(eps, g));
  ASSERT_TRUE(r.status.ok()) << r.status.message;
  // The interpolant's fixed point: the grid's spacing there (0.5%) puts it within a few 1e-6.
  EXPECT_NEAR(r.baseline, es, 1e-5);
  EXPECT_NEAR(*r.plateau, 1 - es, 1e-5);
  const double lo = es + 0.1 * (1 - es), hi = es + 0.9 * (1 - es);
  EXPECT_NEAR(*r.delta_db, 10 * std::log10(rate_at(hi, g(hi)) / rate_at(lo, g(lo))), 0.01);
  EXPECT_LT(r.response.front(), 1e-9);  // the weakest drive moves the state by about r / (1 - G'(e*))
}

TEST(DrivenMap, RangePeaksWhereTheMapIsCritical) {
  // The family G(eps) = chi eps - c eps^2 with G(1) = 1/2 held fixed (c = chi - 1/2), from ordered (chi < 1)
  // to chaotic (chi > 1, baseline (chi - 1) / c): Delta rises to its maximum at chi = 1 and falls beyond.
  const auto eps = stats::log_grid(1e-9, 1, 3000);
  auto delta = [&](double chi) {
    const double c = chi - 0.5;
    const auto r =
        stats::driven_map_response(eps, sample(eps, [&](double e) { return chi * e - c * e * e; }));
    EXPECT_TRUE(r.status.ok()) << chi << ": " << r.status.message;
    return r.delta_db.value_or(0);
  };
  std::vector<double> chis{0.6, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4};
  std::vector<double> d;
  for (double chi : chis) d.push_back(delta(chi));
  const auto peak = std::max_element(d.begin(), d.end()) - d.begin();
  EXPECT_EQ(chis[static_cast<std::size_t>(peak)], 1.0);
  for (std::size_t i = 1; i < d.size(); ++i)
    if (chis[i] <= 1.0)
      EXPECT_GT(d[i], d[i - 1]) << chis[i];
    else
      EXPECT_LT(d[i], d[i - 1]) << chis[i];
}

TEST(DrivenMap, FullyDecorrelatingMapAndBadGridsAreStatusesOrErrors) {
  const auto eps = stats::log_grid(1e-6, 1, 50);
  // G = min(1, 3 eps): the undriven state is 1, the plateau zero; G = 0.99 + ... : a plateau under 2%.
  for (double top : {1.0, 0.99}) {
    const auto r = stats::driven_map_response(
        eps, sample(eps, [&](double e) { return std::min(top + 0.005 * e, 3 * e); }));
    EXPECT_EQ(r.status.code, StatusCode::kNotFound) << top;
    EXPECT_FALSE(r.delta_db);
    EXPECT_FALSE(r.plateau);
    EXPECT_GT(r.baseline, 0.98);
  }
  EXPECT_THROW(stats::driven_map_response({0.5, 0.9}, {0.4, 0.8}), Error);          // does not end at 1
  EXPECT_THROW(stats::driven_map_response({0.5, 0.5, 1}, {0.4, 0.4, 0.8}), Error);  // not rising
  EXPECT_THROW(stats::driven_map_response({0.5, 1}, {0.4, std::nan("")}), Error);
  EXPECT_THROW(stats::driven_map_response({0.5, 1}, {0.4}), Error);
}

TEST(DrivenMap, MapGridIsLogarithmicBelowATenthAndLinearAbove) {
  const auto g = stats::map_grid(1e-6, 3, 0.05);
  ASSERT_EQ(g.size(), 34u);
  EXPECT_DOUBLE_EQ(g.front(), 1e-6);
  EXPECT_NEAR(g[3], 1e-5, 1e-18);
  EXPECT_DOUBLE_EQ(g[15], 0.1);
  EXPECT_NEAR(g[16], 0.15, 1e-15);
  EXPECT_EQ(g.back(), 1.0);
  for (std::size_t i = 1; i < g.size(); ++i) EXPECT_GT(g[i], g[i - 1]);
  EXPECT_EQ(stats::map_grid(1e-6, 2, 0.075).size(), 23u);
  EXPECT_THROW(stats::map_grid(0.5, 3, 0.05), Error);
  EXPECT_THROW(stats::map_grid(1e-6, 0, 0.05), Error);
}
