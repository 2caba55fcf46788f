// Probability flux and entropy production (landscape/flux.h) against two-dimensional Ornstein-Uhlenbeck
// processes dx = -A x dt + sqrt(2D) dW, whose stationary covariance C solves A C + C A^T = 2 D and whose
// exact entropy production and area-enclosing rate are e_p = tr(A^T D^-1 A C) - tr A and L = (A C - C A^T)/2.
#include "critlab/landscape/flux.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "critlab/core/error.h"

using namespace critlab;
using landscape::analyze_flux;
using landscape::FluxOptions;

namespace {

using M2 = std::array<double, 4>;  // row-major 2 x 2

struct Exact {
  M2 C;
  double ep, area12;
};

// C from the Lyapunov equation (three unknowns, Cramer's rule), then e_p and L_12.
Exact exact_ou(const M2& A, const M2& D) {
  const double a = A[0], b = A[1], c = A[2], d = A[3];
  // Unknowns (c11, c12, c22):
  //   2a c11 + 2b c12            = 2 D11
  //   c c11 + (a + d) c12 + b c22 = 2 D12
  //            2c c12 + 2d c22   = 2 D22
  const double m[3][3] = {{2 * a, 2 * b, 0}, {c, a + d, b}, {0, 2 * c, 2 * d}};
  const double rhs[3] = {2 * D[0], 2 * D[1], 2 * D[3]};
  auto det3 = [](const double x[3][3]) {
    return x[0][0] * (x[1][1] * x[2][2] - x[1][2] * x[2][1]) -
           x[0][1] * (x[1][0] * x[2][2] - x[1][2] * x[2][0]) +
           x[0][2] * (x[1][0] * x[2][1] - x[1][1] * x[2][0]);
  };
  const double det = det3(m);
  double sol[3];
  for (int k = 0; k < 3; ++k) {
    double mk[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) mk[i][j] = j == k ? rhs[i] : m[i][j];
    sol[k] = det3(mk) / det;
  }
  Exact e;
  e.C = {sol[0], sol[1], sol[1], sol[2]};
  auto mul = [](const M2& x, const M2& y) {
    return M2{x[0] * y[0] + x[1] * y[2], x[0] * y[1] + x[1] * y[3], x[2] * y[0] + x[3] * y[2],
              x[2] * y[1] + x[3] * y[3]};
  };
  const double dd = D[0] * D[3] - D[1] * D[2];
  const M2 Dinv{D[3] / dd, -D[1] / dd, -D[2] / dd, D[0] / dd};
  const M2 At{A[0], A[2], A[1], A[3]};
  const M2 t = mul(mul(mul(At, Dinv), A), e.C);
  e.ep = t[0] + t[3] - (A[0] + A[3]);
  const M2 AC = mul(A, e.C), CAt = mul(e.C, At);
  e.area12 = (AC[1] - CAt[1]) / 2;
  return e;
}

// Euler-Maruyama from the stationary start, every step recorded.
std::vector<std::vector<double>> simulate_ou(const M2& A, const M2& D, double dt, std::size_t n,
                                             std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  // sqrt(2 D dt) by Cholesky.
  const double l11 = std::sqrt(2 * D[0] * dt), l21 = 2 * D[1] * dt / l11,
               l22 = std::sqrt(2 * D[3] * dt - l21 * l21);
  std::vector<std::vector<double>> x(2, std::vector<double>(n));
  double x1 = 0, x2 = 0;
  for (int burn = 0; burn < 20000; ++burn) {
    const double z1 = z(rng), z2 = z(rng);
    const double f1 = -(A[0] * x1 + A[1] * x2), f2 = -(A[2] * x1 + A[3] * x2);
    x1 += f1 * dt + l11 * z1;
    x2 += f2 * dt + l21 * z1 + l22 * z2;
  }
  for (std::size_t t = 0; t < n; ++t) {
    x[0][t] = x1;
    x[1][t] = x2;
    const double z1 = z(rng), z2 = z(rng);
    const double f1 = -(A[0] * x1 + A[1] * x2), f2 = -(A[2] * x1 + A[3] * x2);
    x1 += f1 * dt + l11 * z1;
    x2 += f2 * dt + l21 * z1 + l22 * z2;
  }
  return x;
}

void expect_matches_ou(const M2& A, const M2& D, std::uint64_t seed) {
  // T = 10^4 relaxation times; the TUR currents over tau = 0.075 (30 steps), where the bound is strict (at
  // one step it is nearly tight, and its noise could carry it above the exact value).
  const double dt = 2.5e-3;
  const auto x = simulate_ou(A, D, dt, 4'000'000, seed);
  FluxOptions o;
  o.dt = dt;
  o.tur_steps = 30;
  const auto r = analyze_flux(x, o, {"x1", "x2"});
  ASSERT_TRUE(r.ok()) << r.status.to_string();
  const auto e = exact_ou(A, D);
  ASSERT_TRUE(r.ep_grid && r.tur_bound && r.ep_grid_ci && r.tur_ci);
  std::printf(
      "exact e_p %.4f, grid %.4f [%.4f, %.4f], TUR %.4f [%.4f, %.4f]; area exact %.4f, est %.4f "
      "[%.4f, %.4f]; D %.4f %.4f %.4f; %lld boxes of %lld^2, coverage %.4f\n",
      e.ep, *r.ep_grid, (*r.ep_grid_ci)[0], (*r.ep_grid_ci)[1], *r.tur_bound, (*r.tur_ci)[0], (*r.tur_ci)[1],
      e.area12, r.area_rate[1], r.area_rate_lo[1], r.area_rate_hi[1], r.diffusion[0], r.diffusion[1],
      r.diffusion[3], static_cast<long long>(r.grid.boxes_used), static_cast<long long>(r.grid.bins),
      r.grid.coverage);
  EXPECT_NEAR(*r.ep_grid, e.ep, 0.1 * e.ep);
  EXPECT_NEAR(r.area_rate[1], e.area12, 0.1 * std::abs(e.area12));
  EXPECT_NEAR(r.area_rate[2], -r.area_rate[1], 1e-12);
  EXPECT_LT(*r.tur_bound, e.ep);
  EXPECT_GT(*r.tur_bound, 0.7 * e.ep);
  // D recovered from the increments.
  EXPECT_NEAR(r.diffusion[0], D[0], 0.02 * D[0]);
  EXPECT_NEAR(r.diffusion[3], D[3], 0.02 * D[3]);
  EXPECT_NEAR(r.diffusion[1], D[1], 0.02 * std::sqrt(D[0] * D[3]));
  // The intervals hold their estimate.
  EXPECT_LE((*r.ep_grid_ci)[0], *r.ep_grid);
  EXPECT_GE((*r.ep_grid_ci)[1], *r.ep_grid);
  EXPECT_LE((*r.tur_ci)[0], *r.tur_bound);
  EXPECT_GE((*r.tur_ci)[1], *r.tur_bound);
  // The drift splits into its gradient and flux parts: their powers add up to the drift's where the two
  // parts are orthogonal in P-weighted D^-1 (they are for any steady state: integral J . grad P / P = 0).
  ASSERT_TRUE(r.drift_power && r.gradient_power && r.flux_power);
  EXPECT_NEAR(*r.drift_power, *r.gradient_power + *r.flux_power, 0.1 * *r.drift_power);
}

}  // namespace

// A = [[a, -w], [w, a]], D = d I: C = (d/a) I, e_p = 2 w^2 / a = 8, L_12 = -d w / a = -1.
TEST(FluxOu, RotationalProcessMatchesExactValues) {
  const M2 A{1, -2, 2, 1}, D{0.5, 0, 0, 0.5};
  const auto e = exact_ou(A, D);
  EXPECT_NEAR(e.ep, 8, 1e-12);
  EXPECT_NEAR(e.area12, -1, 1e-12);
  EXPECT_NEAR(e.C[0], 0.5, 1e-12);
  expect_matches_ou(A, D, 11);
}

// A general stable A with an anisotropic, correlated D.
TEST(FluxOu, GeneralProcessMatchesExactValues) {
  expect_matches_ou({1.0, 0.6, -1.4, 2.0}, {0.8, 0.2, 0.2, 0.3}, 12);
}

// Symmetric A with isotropic D obeys detailed balance: the flux, the area rate and e_p vanish within their
// CIs.
TEST(FluxOu, DetailedBalanceGivesZeroWithinTheIntervals) {
  const M2 A{1, 0.4, 0.4, 2}, D{0.5, 0, 0, 0.5};
  EXPECT_NEAR(exact_ou(A, D).ep, 0, 1e-12);
  FluxOptions o;
  o.dt = 2.5e-3;
  const auto r = analyze_flux(simulate_ou(A, D, o.dt, 4'000'000, 13), o);
  ASSERT_TRUE(r.ok() && r.ep_grid_ci && r.tur_ci);
  std::printf("detailed balance: grid %.4f [%.4f, %.4f], TUR %.4f [%.4f, %.4f], area %.4f [%.4f, %.4f]\n",
              *r.ep_grid, (*r.ep_grid_ci)[0], (*r.ep_grid_ci)[1], *r.tur_bound, (*r.tur_ci)[0],
              (*r.tur_ci)[1], r.area_rate[1], r.area_rate_lo[1], r.area_rate_hi[1]);
  EXPECT_LE((*r.ep_grid_ci)[0], 0);
  EXPECT_GE((*r.ep_grid_ci)[1], 0);
  EXPECT_LE(r.area_rate_lo[1], 0);
  EXPECT_GE(r.area_rate_hi[1], 0);
  EXPECT_LE((*r.tur_ci)[0], 0);
  EXPECT_GE((*r.tur_ci)[1], 0);
  EXPECT_LT(std::abs(*r.ep_grid), 0.2);  // against 8 for the rotational process of the same size
}

TEST(Flux, RefusesDataItCannotUse) {
  FluxOptions o;
  std::vector<std::vector<double>> x(2, std::vector<double>(50, 0.0));
  for (std::size_t t = 0; t < 50; ++t) x[0][t] = x[1][t] = std::sin(static_cast<double>(t));
  auto r = analyze_flux(x, o);
  EXPECT_EQ(r.status.code, StatusCode::kInvalidInput);
  EXPECT_NE(r.status.message.find("only 50 points"), std::string::npos) << r.status.message;
  x.assign(2, std::vector<double>(500, 1.0));
  for (std::size_t t = 0; t < 500; ++t) x[0][t] = std::sin(static_cast<double>(t));
  r = analyze_flux(x, o, {"a", "b"});
  EXPECT_EQ(r.status.code, StatusCode::kInvalidInput);
  EXPECT_NE(r.status.message.find("'b' is constant"), std::string::npos) << r.status.message;
  x[1] = x[0];  // two coordinates that only move together
  r = analyze_flux(x, o);
  EXPECT_NE(r.status.message.find("singular"), std::string::npos) << r.status.message;
  const auto j = landscape::to_json(r);
  EXPECT_TRUE(j["entropy_production"]["grid"].is_null());
  EXPECT_EQ(j["status"], "invalid-input");
  o.dt = 0;
  std::string err;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_NE(err.find("dt must be a positive number"), std::string::npos);
}

// The same seed gives the same intervals; the JSON keeps its stable keys.
TEST(Flux, DeterministicAndStableJson) {
  FluxOptions o;
  o.dt = 0.01;
  const auto x = simulate_ou({1, -1, 1, 1}, {1, 0, 0, 1}, o.dt, 20000, 5);
  const auto a = landscape::to_json(analyze_flux(x, o)), b = landscape::to_json(analyze_flux(x, o));
  EXPECT_EQ(a.dump(), b.dump());
  for (const char* k : {"grid", "grid_ci", "tur_bound", "tur_ci"})
    EXPECT_TRUE(a["entropy_production"].contains(k));
  for (const char* k : {"area_rate", "diffusion", "n", "dt", "status"}) EXPECT_TRUE(a.contains(k));
  EXPECT_EQ(a["area_rate"].size(), 2u);
  EXPECT_EQ(a["n"], 20000);
}

// Wide trajectories: the TUR's d(d+1) currents are not computed beyond 10 coordinates (a status says so), the
// grid and area rates still are; beyond 64 coordinates the trajectory is refused; block sums are bounded.
TEST(Flux, WideTrajectoriesAreBounded) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> z;
  std::vector<std::vector<double>> x(11, std::vector<double>(2000));
  for (auto& c : x) {
    double v = 0;
    for (auto& e : c) e = v = 0.9 * v + z(rng);
  }
  FluxOptions o;
  auto r = analyze_flux(x, o);
  ASSERT_TRUE(r.ok()) << r.status.to_string();
  EXPECT_FALSE(r.tur_bound);
  EXPECT_EQ(r.tur_status.code, StatusCode::kNotApplicable);
  EXPECT_TRUE(r.ep_grid);
  EXPECT_EQ(r.area_rate.size(), 121u);
  x.resize(65, x[0]);
  r = analyze_flux(x, o);
  EXPECT_EQ(r.status.code, StatusCode::kInvalidInput);
  EXPECT_NE(r.status.message.find("at most 64"), std::string::npos) << r.status.message;
  x.assign(2, std::vector<double>(30000));
  for (auto& c : x)
    for (auto& e : c) e = z(rng);
  o.bins = 200;
  o.blocks = 1000;
  std::string message;
  try {
    analyze_flux(x, o);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("block sums"), std::string::npos) << message;
}
