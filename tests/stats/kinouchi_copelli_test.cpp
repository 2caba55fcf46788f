// The Kinouchi-Copelli excitable network against its references: the dynamic range peaks at sigma = 1, the
// critical response F ~ r^(1/2), the subcritical linear response F = lambda / (1 - sigma), the exact
// mean-field map, determinism across thread counts and the option checks.
#include "critlab/stats/kinouchi_copelli.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "test_util.h"

using namespace critlab;
using namespace critlab::stats;

namespace {

// Least-squares slope of log y against log x.
double log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = std::log(x[i]), b = std::log(y[i]);
    sx += a, sy += b, sxx += a * a, sxy += a * b;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

}  // namespace

// Must-show 1: N = 10^4, K = 10, n = 5; Delta(sigma) over [0.5, 1.5] peaks within [0.95, 1.1], and the
// simulation agrees with the exact mean field to 1.5 dB.
TEST(KinouchiCopelli, DynamicRangePeaksAtTheCriticalPoint) {
  KinouchiCopelliOptions o;  // N = 10^4, K = 10, n = 5
  o.r_min = 3e-4, o.r_max = 10, o.points = 16;
  o.steps = 400, o.transient = 100, o.seed = 7;
  const std::vector<double> sigmas{0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.5};
  const auto curves = kinouchi_copelli_scan(o, sigmas);
  double best = -1, best_sigma = 0, best_mf = -1, best_mf_sigma = 0;
  for (const auto& c : curves) {
    ASSERT_TRUE(c.range.delta_db) << c.sigma << ": " << c.range.status.to_string();
    ASSERT_TRUE(c.range_mean_field.delta_db) << c.sigma;
    std::printf("sigma %.2f  F0 %.4f  Delta_sim %.2f dB  Delta_mf %.2f dB\n", c.sigma, c.range.f0,
                *c.range.delta_db, *c.range_mean_field.delta_db);
    EXPECT_NEAR(*c.range.delta_db, *c.range_mean_field.delta_db, 1.5) << c.sigma;
    EXPECT_NEAR(c.range.fmax, 1.0 / o.states, 1e-3);  // saturation: one excitation per cycle of n steps
    if (*c.range.delta_db > best) best = *c.range.delta_db, best_sigma = c.sigma;
    if (*c.range_mean_field.delta_db > best_mf)
      best_mf = *c.range_mean_field.delta_db, best_mf_sigma = c.sigma;
  }
  EXPECT_GE(best_sigma, 0.95);
  EXPECT_LE(best_sigma, 1.1);
  EXPECT_EQ(best_mf_sigma, 1.0);
  EXPECT_GT(best, *curves.front().range.delta_db + 5);  // a real peak: 26 dB at sigma = 1 against 19 at 0.5
}

// Must-show 2: at sigma = 1, F ~ r^m with m = 1/2. Window: the rates where at least 20 elements are excited
// per step on average (F >= 20 / N: below it the finite network cuts avalanches off and F falls towards
// the linear, finite-size regime) and F <= Fmax / 10 with Fmax = 1/n (saturation); it must span 1.5 decades.
TEST(KinouchiCopelli, CriticalResponseIsASquareRoot) {
  KinouchiCopelliOptions o;
  o.r_min = 1e-5, o.r_max = 3e-3, o.points = 19;
  o.steps = 20000, o.transient = 1000, o.seed = 3;
  const auto c = kinouchi_copelli_response(o, 1.0);
  std::vector<double> r, f;
  for (std::size_t i = 0; i < c.rates.size(); ++i)
    if (c.response[i] >= 20.0 / o.nodes && c.response[i] <= 0.1 / o.states)
      r.push_back(c.rates[i]), f.push_back(c.response[i]);
  ASSERT_GE(r.size(), 3u);
  const double decades = std::log10(r.back() / r.front());
  const double m = log_log_slope(r, f);
  std::printf("window r in [%.3g, %.3g] (%.2f decades, %zu rates): m = %.4f\n", r.front(), r.back(), decades,
              r.size(), m);
  EXPECT_GE(decades, 1.5);
  EXPECT_NEAR(m, 0.5, 0.1);
}

// Must-show 3: sigma = 0.5, small r: F is linear in r and equals the mean field lambda / (1 - sigma) (10%).
TEST(KinouchiCopelli, SubcriticalResponseIsLinear) {
  KinouchiCopelliOptions o;
  o.r_min = 1e-5, o.r_max = 1e-3, o.points = 5;
  o.steps = 20000, o.transient = 200, o.seed = 5;
  const auto c = kinouchi_copelli_response(o, 0.5);
  for (std::size_t i = 0; i < c.rates.size(); ++i) {
    const double expected = drive_probability(c.rates[i]) / (1 - 0.5);
    EXPECT_NEAR(c.response[i] / expected, 1.0, 0.1) << c.rates[i];
  }
  const double m = log_log_slope(c.rates, c.response);
  std::printf("sigma 0.5: low-r slope %.4f\n", m);
  EXPECT_NEAR(m, 1.0, 0.1);
}

// Must-show 4: the mean-field map. Its stationary state is a fixed point; at sigma = 1 rho ~ lambda^(1/2)
// with the amplitude (n - 1 + (K-1)/2K)^(-1/2); Delta(sigma) peaks at sigma = 1 on a grid of step 0.01.
TEST(KinouchiCopelli, MeanFieldMap) {
  const double K = 10;
  const int n = 5;
  for (double sigma : {0.5, 1.0, 1.3})
    for (double lambda : {1e-6, 1e-3, 0.3}) {
      const double rho = kinouchi_copelli_stationary(lambda, sigma, K, n);
      EXPECT_NEAR(kinouchi_copelli_map(rho, lambda, sigma, K, n), rho, 1e-13 + 1e-12 * rho);
    }
  EXPECT_EQ(kinouchi_copelli_stationary(0, 0.9, K, n), 0.0);
  const double active = kinouchi_copelli_stationary(0, 1.3, K, n);
  EXPECT_GT(active, 0.01);  // self-sustained activity above sigma = 1
  EXPECT_NEAR(kinouchi_copelli_map(active, 0, 1.3, K, n), active, 1e-14);
  const double a = kinouchi_copelli_stationary(1e-9, 1.0, K, n),
               b = kinouchi_copelli_stationary(1e-7, 1.0, K, n);
  const double exponent = std::log(b / a) / std::log(100.0);
  EXPECT_NEAR(exponent, 0.5, 1e-2);
  EXPECT_NEAR(a / std::sqrt(1e-9 / (n - 1 + (K - 1) / (2 * K))), 1.0, 1e-3);
  // Subcritical: rho = lambda / (1 - sigma) to first order.
  EXPECT_NEAR(kinouchi_copelli_stationary(1e-9, 0.5, K, n) / 2e-9, 1.0, 1e-6);
  double best = -1, best_sigma = 0;
  for (int i = 50; i <= 150; ++i) {
    const auto r = kinouchi_copelli_mean_field_range(i / 100.0, K, n, 100);
    ASSERT_TRUE(r.delta_db);
    if (*r.delta_db > best) best = *r.delta_db, best_sigma = i / 100.0;
  }
  EXPECT_DOUBLE_EQ(best_sigma, 1.0);
  // The closed-form r_x gives back its level through the stationary state.
  const auto r = kinouchi_copelli_mean_field_range(0.8, K, n, 100);
  EXPECT_NEAR(kinouchi_copelli_stationary(drive_probability(*r.r_low), 0.8, K, n),
              r.f0 + 0.1 * (r.fmax - r.f0), 1e-12);
}

// Must-show 5: identical numbers for threads 1 and 2 (and again for the same seed); the option checks.
TEST(KinouchiCopelli, DeterministicForAnyThreadCount) {
  KinouchiCopelliOptions o;
  o.nodes = 2000, o.r_min = 1e-3, o.r_max = 1, o.points = 6, o.steps = 300, o.transient = 50, o.seed = 11;
  o.threads = 1;
  const auto one = kinouchi_copelli_scan(o, {0.8, 1.2});
  o.threads = 2;
  const auto two = kinouchi_copelli_scan(o, {0.8, 1.2});
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t s = 0; s < one.size(); ++s) {
    EXPECT_EQ(one[s].response, two[s].response);
    EXPECT_EQ(one[s].range.f0, two[s].range.f0);
  }
  EXPECT_EQ(kinouchi_copelli_simulate(o, 0.8, one[0].rates[2], 3), one[0].response[2]);
  o.seed = 12;
  EXPECT_NE(kinouchi_copelli_scan(o, {0.8})[0].response, one[0].response);
}

TEST(KinouchiCopelli, BadOptionsAreErrors) {
  auto bad = [](auto change, double sigma = 1.0) {
    KinouchiCopelliOptions o;
    change(o);
    return test::error_of([&] { kinouchi_copelli_simulate(o, sigma, 0.01, 0); });
  };
  EXPECT_NE(bad([](auto& o) { o.nodes = 1; }).find("nodes must be in [2"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.degree = 0; }).find("degree must be in (0"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.states = 2; }).find("states must be in [3"), std::string::npos);
  EXPECT_NE(bad([](auto&) {}, 5.5).find("sigma must be in [0, degree/2 = 5]"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.r_max = o.r_min; }).find("r_max must exceed r_min"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.r_min = -1; }).find("r_min must be a positive rate"), std::string::npos);
  EXPECT_NE(bad([](auto& o) { o.steps = 0; }).find("steps must be in [1"), std::string::npos);
  KinouchiCopelliOptions o;
  EXPECT_NE(test::error_of([&] { kinouchi_copelli_simulate(o, 1.0, -0.1, 0); }).find("rate must be in [0"),
            std::string::npos);
  // A curve whose smallest rate is already above the 10% level has no Delta: not-found, never a number.
  const auto r = response_dynamic_range({1, 2, 4}, {0.15, 0.18, 0.2}, 0.0);
  EXPECT_FALSE(r.delta_db);
  EXPECT_EQ(r.status.code, StatusCode::kNotFound);
  const auto flat = response_dynamic_range({1, 2}, {0.1, 0.1}, 0.1);
  EXPECT_FALSE(flat.delta_db);
  EXPECT_EQ(flat.status.code, StatusCode::kNotFound);
}
