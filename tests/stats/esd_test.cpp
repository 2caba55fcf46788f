// WeightWatcher-compatible power-law fits of empirical spectral densities (stats/esd.h): hand-worked cases,
// the exact WWFit scan as a brute-force reference, Pareto samples of known exponent, and the spectrum of a
// Gaussian random matrix (Marchenko-Pastur), which must not show a heavy tail.
#include "critlab/stats/esd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "critlab/core/error.h"

using namespace critlab;
using namespace critlab::stats;

namespace {

// WeightWatcher's WWFit.fit_power_law, transcribed literally (distinct data): every value but the largest
// is an xmin, alpha = 1 + n / (sum log x - n log xmin), D = max |1 - (x/xmin)^(1-alpha) - arange(n)/n|,
// argmin D (first on ties). O(n^2); the reference the pruned scan must reproduce.
struct Reference {
  double xmin, alpha, ks;
  std::int64_t n_tail;
};
Reference wwfit_reference(std::vector<double> data) {
  std::sort(data.begin(), data.end());
  const std::size_t n_all = data.size();
  Reference best{0, 0, std::numeric_limits<double>::infinity(), 0};
  for (std::size_t i = 0; i + 1 < n_all; ++i) {
    const double xmin = data[i];
    const double n = static_cast<double>(n_all - i);
    double sum_log = 0;
    for (std::size_t j = i; j < n_all; ++j) sum_log += std::log(data[j]);
    const double alpha = 1 + n / (sum_log - n * std::log(xmin));
    double d = 1;
    if (alpha > 1) {
      d = 0;
      for (std::size_t j = i; j < n_all; ++j)
        d = std::max(d, std::abs(1 - std::pow(data[j] / xmin, 1 - alpha) - static_cast<double>(j - i) / n));
    }
    if (d < best.ks) best = {xmin, alpha, d, static_cast<std::int64_t>(n)};
  }
  return best;
}

// Density ~ x^-alpha on [xmin, inf) by inverting the CDF 1 - (x/xmin)^(1-alpha).
std::vector<double> pareto(double alpha, double xmin, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x(n);
  for (auto& v : x) v = xmin * std::pow(1.0 - u(rng), -1.0 / (alpha - 1.0));
  return x;
}

// Eigenvalues of a symmetric matrix (row-major, n x n) by cyclic Jacobi rotations (Numerical Recipes 11.1).
std::vector<double> jacobi_eigenvalues(std::vector<double> a, std::size_t n) {
  auto at = [&](std::size_t i, std::size_t j) -> double& { return a[i * n + j]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) (i == j ? diag : off) += at(i, j) * at(i, j);
    if (off <= 1e-30 * diag) break;
    for (std::size_t p = 0; p + 1 < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = at(p, q);
        if (apq == 0) continue;
        const double theta = (at(q, q) - at(p, p)) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // columns p, q: A P
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // rows p, q: P^T (A P)
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
      }
    }
  }
  std::vector<double> ev(n);
  for (std::size_t i = 0; i < n; ++i) ev[i] = at(i, i);
  return ev;
}

// The eigenvalues of W^T W for W (rows x cols) with entries N(0, 1/rows): Marchenko-Pastur with ratio
// q = cols/rows, support [(1 - sqrt q)^2, (1 + sqrt q)^2]. Also checks the eigen-solver on the invariants
// trace G = sum lambda and ||G||_F^2 = sum lambda^2.
std::vector<double> gaussian_gram_spectrum(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0 / std::sqrt(static_cast<double>(rows)));
  std::vector<double> w(rows * cols);
  for (auto& v : w) v = g(rng);
  std::vector<double> gram(cols * cols, 0.0);
  for (std::size_t i = 0; i < cols; ++i)
    for (std::size_t j = 0; j < cols; ++j) {
      double s = 0;
      for (std::size_t r = 0; r < rows; ++r) s += w[r * cols + i] * w[r * cols + j];
      gram[i * cols + j] = s;
    }
  double trace = 0, frob2 = 0;
  for (std::size_t i = 0; i < cols; ++i) trace += gram[i * cols + i];
  for (double v : gram) frob2 += v * v;
  auto ev = jacobi_eigenvalues(gram, cols);
  double sum = 0, sum2 = 0;
  for (double v : ev) sum += v, sum2 += v * v;
  EXPECT_NEAR(sum, trace, 1e-10 * trace);
  EXPECT_NEAR(sum2, frob2, 1e-10 * frob2);
  return ev;
}

double millis(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST(Esd, HandWorkedThreeValueTail) {
  // {1, 2, 4}. xmin = 1: n = 3, sum ln = 3 ln 2, alpha = 1 + 1/ln 2, so (x/1)^(1-alpha) = e^(-log2 x):
  // D = max(|0 - 0|, |1 - e^-1 - 1/3|, |1 - e^-2 - 2/3|) = 1 - e^-1 - 1/3 = 0.29879.
  // xmin = 2: n = 2, alpha = 1 + 2/ln 2, D = |1 - e^-2 - 1/2| = 0.36466. So xmin = 1 wins.
  EsdFitOptions o;
  o.min_evals = 3;
  o.min_tail = 2;
  const auto fit = fit_esd({4.0, 1.0, 2.0}, o);
  ASSERT_TRUE(fit.ok()) << fit.status.to_string();
  EXPECT_EQ(fit.num_evals, 3);
  EXPECT_EQ(fit.xmin_candidates, 2);
  EXPECT_DOUBLE_EQ(*fit.xmin, 1.0);
  EXPECT_EQ(*fit.n_tail, 3);
  EXPECT_NEAR(*fit.alpha, 1 + 1 / std::log(2.0), 1e-12);
  EXPECT_NEAR(*fit.ks, 1 - std::exp(-1.0) - 1.0 / 3, 1e-12);
  EXPECT_NEAR(*fit.alpha_se, (1 / std::log(2.0)) / std::sqrt(3.0), 1e-12);
}

TEST(Esd, HandWorkedTiesUseTheLeftEmpiricalCdf) {
  // {1, 2, 2, 4}: `powerlaw`'s convention, S(x) = #{tail < x}/n at the distinct values.
  // xmin = 1: n = 4, alpha = 1 + 4/(4 ln 2), D = max(|1 - e^-1 - 1/4|, |1 - e^-2 - 3/4|) = 0.38212.
  // xmin = 2: tail {2, 2, 4}, n = 3, alpha = 1 + 3/ln 2, D = |1 - e^-3 - 2/3| = 0.28355 (WWFit, which
  // also evaluates inside the run of 2s, would give 1/3). xmin = 2 wins.
  EsdFitOptions o;
  o.min_evals = 4;
  o.min_tail = 2;
  const auto fit = fit_esd({2.0, 4.0, 1.0, 2.0}, o);
  ASSERT_TRUE(fit.ok()) << fit.status.to_string();
  EXPECT_EQ(fit.xmin_candidates, 2);
  EXPECT_DOUBLE_EQ(*fit.xmin, 2.0);
  EXPECT_EQ(*fit.n_tail, 3);
  EXPECT_NEAR(*fit.alpha, 1 + 3 / std::log(2.0), 1e-12);
  EXPECT_NEAR(*fit.ks, 1 - std::exp(-3.0) - 2.0 / 3, 1e-12);
}

namespace {
// 2^0 .. 2^9: with xmin = 2^j the tail holds n = 10 - j values 2^(j+m), sum ln = ln 2 n(n-1)/2, so
// alpha_n = 1 + 2/((n-1) ln 2) and D_n = max_m |1 - e^(-2m/(n-1)) - m/n|, m = 0 .. n-1.
std::vector<double> powers_of_two() {
  std::vector<double> x;
  for (int k = 9; k >= 0; --k) x.push_back(std::ldexp(1.0, k));
  return x;
}
}  // namespace

TEST(Esd, PowersOfTwoMatchTheClosedForm) {
  int best_n = 0;
  double best_d = 2;
  for (int n = 10; n >= 2; --n) {  // from xmin = 1 up: argmin keeps the first on a tie
    double d = 0;
    for (int m = 0; m < n; ++m) d = std::max(d, std::abs(1 - std::exp(-2.0 * m / (n - 1)) - double(m) / n));
    if (d < best_d) best_d = d, best_n = n;
  }
  const auto fit = fit_esd(powers_of_two());
  ASSERT_TRUE(fit.ok()) << fit.status.to_string();
  EXPECT_EQ(*fit.n_tail, best_n);
  EXPECT_DOUBLE_EQ(*fit.xmin, std::ldexp(1.0, 10 - best_n));
  const double alpha = 1 + 2 / ((best_n - 1) * std::log(2.0));
  EXPECT_NEAR(*fit.alpha, alpha, 1e-12);
  EXPECT_NEAR(*fit.ks, best_d, 1e-12);
  EXPECT_NEAR(*fit.alpha_weighted, alpha * std::log10(512.0), 1e-12);
  std::cout << "powers of two: n_tail " << best_n << ", alpha " << *fit.alpha << ", D " << *fit.ks << "\n";
}

TEST(Esd, NormMetricsExact) {
  // {1, 2, 3, 4} (+ round-off zeros): sum 10, lambda_max 4.
  EsdFitOptions o;
  o.min_evals = 4;
  o.min_tail = 2;
  const auto fit = fit_esd({3.0, 0.0, 1.0, 4.0, -1e-15, 2.0}, o);
  EXPECT_EQ(fit.num_evals, 4);
  EXPECT_EQ(fit.num_dropped, 2);
  EXPECT_DOUBLE_EQ(*fit.lambda_max, 4.0);
  EXPECT_NEAR(*fit.log_norm, 1.0, 1e-15);
  EXPECT_NEAR(*fit.log_spectral_norm, std::log10(4.0), 1e-15);
  EXPECT_NEAR(*fit.stable_rank, 2.5, 1e-15);
  ASSERT_TRUE(fit.alpha.has_value()) << fit.status.to_string();
  EXPECT_NEAR(*fit.alpha_weighted, *fit.alpha * std::log10(4.0), 1e-14);
}

TEST(Esd, FewerThanMinEvalsIsInsufficientDataWithNullAlpha) {
  const auto fit = fit_esd({1, 2, 3, 4, 5, 6, 7, 8, 9});  // 9 < min_evals = 10
  EXPECT_EQ(fit.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(fit.alpha.has_value());
  EXPECT_FALSE(fit.alpha_unbounded.has_value());
  const auto j = to_json(fit);
  EXPECT_TRUE(j.at("alpha").is_null());
  EXPECT_TRUE(j.at("alpha_weighted").is_null());
  EXPECT_TRUE(j.at("alpha_se").is_null());
  EXPECT_TRUE(j.at("xmin").is_null());
  EXPECT_TRUE(j.at("ks").is_null());
  EXPECT_TRUE(j.at("n_tail").is_null());
  EXPECT_EQ(j.at("status"), "insufficient-data");
  EXPECT_NE(j.at("message").get<std::string>().find("min_evals"), std::string::npos);
  // The norms need no fit.
  EXPECT_EQ(j.at("num_evals"), 9);
  EXPECT_NEAR(j.at("log_norm").get<double>(), std::log10(45.0), 1e-14);
  EXPECT_NEAR(j.at("stable_rank").get<double>(), 5.0, 1e-14);
  EXPECT_NE(j.dump().find("\"alpha\":null"), std::string::npos);
}

TEST(Esd, JsonOfAFitHasEveryKey) {
  const auto j = to_json(fit_esd(powers_of_two()));
  for (const char* key : {"num_evals", "alpha", "alpha_weighted", "alpha_se", "xmin", "ks", "n_tail",
                          "log_norm", "log_spectral_norm", "stable_rank", "lambda_max", "status", "message"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("status"), "ok");
  EXPECT_TRUE(j.at("alpha").is_number());
  EXPECT_EQ(j.at("n_tail").get<std::int64_t>(), j.at("n_tail").get<double>());
  EXPECT_DOUBLE_EQ(j.at("alpha").get<double>(), j.at("alpha_unbounded").get<double>());
}

TEST(Esd, ZerosAndRoundOffNegativesAreDroppedAndCounted) {
  auto x = powers_of_two();
  const auto clean = fit_esd(x);
  x.insert(x.end(), {0.0, -1e-13, 1e-9, -1e-4});  // 1e-9 < 1e-10 * 512; -1e-4 within 1e-6 * 512
  const auto fit = fit_esd(x);
  ASSERT_TRUE(fit.ok()) << fit.status.to_string();
  EXPECT_EQ(fit.num_evals, 10);
  EXPECT_EQ(fit.num_dropped, 4);
  EXPECT_EQ(*fit.alpha, *clean.alpha);
  EXPECT_EQ(*fit.xmin, *clean.xmin);
  EXPECT_EQ(*fit.log_norm, *clean.log_norm);
  // An absolute cutoff (WeightWatcher's is 1e-5) above the smallest value drops it: 9 left < min_evals.
  EsdFitOptions ww;
  ww.absolute_cutoff = 1.5;
  EXPECT_EQ(fit_esd(x, ww).status.code, StatusCode::kInsufficientData);
}

TEST(Esd, NonFiniteAndNegativeInputGiveAStatus) {
  for (double bad :
       {std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    auto x = powers_of_two();
    x.insert(x.begin() + 3, bad);
    const auto fit = fit_esd(x);
    EXPECT_EQ(fit.status.code, StatusCode::kNonFinite) << bad;
    EXPECT_NE(fit.status.message.find("item 4"), std::string::npos) << fit.status.message;
    const auto j = to_json(fit);
    EXPECT_TRUE(j.at("alpha").is_null());
    EXPECT_TRUE(j.at("log_norm").is_null());
    EXPECT_TRUE(j.at("lambda_max").is_null());
    EXPECT_EQ(j.at("status"), "non-finite");
  }
  auto x = powers_of_two();
  x.push_back(-1.0);  // far beyond round-off of lambda_max = 512
  const auto neg = fit_esd(x);
  EXPECT_EQ(neg.status.code, StatusCode::kInvalidInput);
  EXPECT_FALSE(neg.alpha.has_value());
  EXPECT_FALSE(neg.log_norm.has_value());

  const auto empty = fit_esd({});
  EXPECT_EQ(empty.status.code, StatusCode::kInsufficientData);
  EXPECT_TRUE(to_json(empty).at("log_norm").is_null());
  const auto zeros = fit_esd(std::vector<double>(20, 0.0));
  EXPECT_EQ(zeros.status.code, StatusCode::kInsufficientData);
  EXPECT_EQ(zeros.num_dropped, 20);
  const auto equal = fit_esd(std::vector<double>(20, 3.0));
  EXPECT_EQ(equal.status.code, StatusCode::kNotFound);
  EXPECT_NEAR(*equal.stable_rank, 20.0, 1e-12);
}

TEST(Esd, BoundsGiveAStatusNeverAnAlpha) {
  // The powers of two fit alpha = 1.3206 on a tail of 10.
  EsdFitOptions steep;
  steep.alpha_max = 1.2;
  const auto a = fit_esd(powers_of_two(), steep);
  EXPECT_EQ(a.status.code, StatusCode::kNotFound);
  EXPECT_FALSE(a.alpha.has_value());
  EXPECT_FALSE(a.alpha_weighted.has_value());
  EXPECT_FALSE(a.xmin.has_value());
  EXPECT_NEAR(*a.alpha_unbounded, 1 + 2 / (9 * std::log(2.0)), 1e-12);
  EXPECT_NE(a.status.message.find("alpha_max"), std::string::npos);
  EXPECT_TRUE(to_json(a).at("alpha").is_null());

  EsdFitOptions long_tail;
  long_tail.min_tail = 11;
  const auto b = fit_esd(powers_of_two(), long_tail);
  EXPECT_EQ(b.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(b.alpha.has_value());
  EXPECT_NE(b.status.message.find("min_tail"), std::string::npos);

  // A tight cluster of 30 values and two far above it: every tail reaching into the cluster misfits it
  // (D > 0.39) except the last four, {1.028, 1.029, 50, 100}, which win with D = 0.3405 but hold fewer
  // than min_tail = 5 values.
  std::vector<double> x;
  for (int i = 0; i < 30; ++i) x.push_back(1.0 + 1e-3 * i);
  x.push_back(50.0);
  x.push_back(100.0);
  const auto c = fit_esd(x);
  EXPECT_EQ(c.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(c.alpha.has_value());
  const double xmin = x[28];
  const double tail_alpha = 1 + 4 / (std::log(x[29] / xmin) + std::log(50 / xmin) + std::log(100 / xmin));
  EXPECT_NEAR(*c.alpha_unbounded, tail_alpha, 1e-12);
  EXPECT_NE(c.status.message.find("leaves 4 eigenvalues"), std::string::npos) << c.status.message;
}

TEST(Esd, InvalidOptionsThrow) {
  EsdFitOptions o;
  o.alpha_max = 1.0;
  EXPECT_THROW(fit_esd(powers_of_two(), o), Error);
  o = {};
  o.min_evals = 1;
  EXPECT_THROW(fit_esd(powers_of_two(), o), Error);
  o = {};
  o.relative_cutoff = std::nan("");
  std::string err;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_NE(err.find("relative_cutoff"), std::string::npos);
  o = {};
  o.alpha_max = std::numeric_limits<double>::infinity();  // no bound
  EXPECT_TRUE(o.IsValid(nullptr));
}

TEST(Esd, PrunedScanEqualsTheWeightWatcherScan) {
  // The brute-force WWFit scan and fit_esd agree on xmin, alpha and D for distinct data of every shape.
  std::vector<std::vector<double>> spectra;
  spectra.push_back(pareto(2.5, 1.0, 1500, 11));
  spectra.push_back(gaussian_gram_spectrum(240, 120, 12));
  {
    auto bulk = gaussian_gram_spectrum(200, 150, 13);  // a bulk with a heavy tail of spikes above it
    const auto tail = pareto(2.2, 3.0, 60, 14);
    bulk.insert(bulk.end(), tail.begin(), tail.end());
    spectra.push_back(bulk);
  }
  {
    std::mt19937_64 rng(15);
    std::lognormal_distribution<double> ln(0.0, 1.5);
    std::vector<double> x(1200);
    for (auto& v : x) v = ln(rng);
    spectra.push_back(x);
  }
  const std::size_t shown = spectra.size();
  {  // and 40 small random ones of mixed shapes, where ties between candidates' D are likelier
    std::mt19937_64 rng(16);
    std::uniform_int_distribution<int> size(12, 300), shape(0, 3);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int r = 0; r < 40; ++r) {
      const int n = size(rng);
      std::vector<double> x(static_cast<std::size_t>(n));
      const int kind = shape(rng);
      for (auto& v : x) {
        const double uu = unit(rng);
        v = kind == 0   ? std::pow(1 - uu, -1 / (0.5 + 4 * unit(rng)))  // mixed exponents
            : kind == 1 ? std::exp(3 * uu * uu)                         // log-uniform-ish bulk
            : kind == 2 ? 1 + uu                                        // no tail at all
                        : (uu < 0.9 ? 1 + unit(rng) : 10 * std::pow(1 - unit(rng), -0.7));  // bulk + spikes
      }
      spectra.push_back(x);
    }
  }
  for (std::size_t i = 0; i < spectra.size(); ++i) {
    EsdFitOptions o;
    o.alpha_max = std::numeric_limits<double>::infinity();
    o.min_tail = 2;
    const auto fit = fit_esd(spectra[i], o);
    const auto ref = wwfit_reference(spectra[i]);
    ASSERT_TRUE(fit.ok()) << i << ": " << fit.status.to_string();
    EXPECT_EQ(*fit.xmin, ref.xmin) << i;
    EXPECT_EQ(*fit.n_tail, ref.n_tail) << i;
    EXPECT_NEAR(*fit.alpha, ref.alpha, 1e-10 * ref.alpha) << i;
    EXPECT_NEAR(*fit.ks, ref.ks, 1e-12) << i;
    if (i < shown)
      std::cout << "spectrum " << i << ": n " << spectra[i].size() << ", xmin " << ref.xmin << ", n_tail "
                << ref.n_tail << ", alpha " << ref.alpha << ", D " << ref.ks << "\n";
  }
}

TEST(Esd, FiveThousandEigenvaluesAreFast) {
  // Timed in the Release build at a few ms each (see the printout); the bound leaves room for sanitizers.
  std::mt19937_64 rng(21);
  std::gamma_distribution<double> gamma(2.0, 1.0);
  std::lognormal_distribution<double> lognormal(0.0, 1.0);
  std::vector<std::vector<double>> cases{pareto(2.5, 1.0, 5000, 22), pareto(6.0, 1.0, 5000, 23),
                                         std::vector<double>(5000), std::vector<double>(5000)};
  for (auto& v : cases[2]) v = gamma(rng);
  for (auto& v : cases[3]) v = lognormal(rng);
  const char* names[] = {"pareto 2.5", "pareto 6", "gamma(2)", "lognormal(0,1)"};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto fit = fit_esd(cases[i]);
    const double ms = millis(t0);
    std::cout << names[i] << ": " << ms << " ms, " << fit.status.to_string() << ", alpha_unbounded "
              << fit.alpha_unbounded.value_or(-1) << "\n";
    EXPECT_LT(ms, 500.0) << names[i];
  }
}

TEST(EsdValidation, ParetoSamplesRecoverAlpha) {
  // n = 2000 from density ~ x^-alpha on [1, inf): alpha within 3 standard errors, xmin near 1.
  for (double alpha : {2.0, 2.5, 3.5}) {
    const auto x = pareto(alpha, 1.0, 2000, 100 + static_cast<std::uint64_t>(alpha * 10));
    const auto fit = fit_esd(x);
    ASSERT_TRUE(fit.ok()) << alpha << ": " << fit.status.to_string();
    std::cout << "pareto alpha " << alpha << ": fitted " << *fit.alpha << " +- " << *fit.alpha_se << ", xmin "
              << *fit.xmin << ", n_tail " << *fit.n_tail << ", D " << *fit.ks << "\n";
    EXPECT_NEAR(*fit.alpha, alpha, 3 * *fit.alpha_se) << alpha;
    EXPECT_NEAR(*fit.alpha_se, (*fit.alpha - 1) / std::sqrt(static_cast<double>(*fit.n_tail)), 1e-12);
    EXPECT_LT(*fit.xmin, 1.5) << alpha;
    EXPECT_GT(*fit.n_tail, 500) << alpha;
    // The exact WWFit scan agrees.
    const auto ref = wwfit_reference(x);
    EXPECT_EQ(*fit.xmin, ref.xmin);
    EXPECT_NEAR(*fit.alpha, ref.alpha, 1e-10 * ref.alpha);
  }
}

TEST(EsdValidation, MarchenkoPasturSpectrumHasNoHeavyTail) {
  // W 400 x 200 with entries N(0, 1/400): the 200 eigenvalues of W^T W fill MP's [0.086, 2.914]. Either
  // a steep alpha (> 4) or a status; never a heavy tail (alpha < 3).
  for (std::uint64_t seed : {31, 32, 33}) {
    const auto ev = gaussian_gram_spectrum(400, 200, seed);
    const auto [lo, hi] = std::minmax_element(ev.begin(), ev.end());
    EXPECT_GT(*lo, 0.03);
    EXPECT_LT(*hi, 3.3);
    EXPECT_GT(*hi, 2.5);
    const auto fit = fit_esd(ev);
    std::cout << "MP seed " << seed << ": " << fit.status.to_string() << ", alpha "
              << (fit.alpha ? std::to_string(*fit.alpha) : "null") << ", alpha_unbounded "
              << fit.alpha_unbounded.value_or(-1) << "\n";
    if (fit.ok()) {
      EXPECT_GT(*fit.alpha, 4.0) << seed;
    }
    EXPECT_FALSE(fit.alpha && *fit.alpha < 3.0) << seed;
  }
}
