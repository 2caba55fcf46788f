// The ziggurat normal sampler (core/random.h) against the standard normal: moments, the Kolmogorov-Smirnov
// distance to Phi, the tail beyond the base layer, reproducibility from the seed.
#include "critlab/core/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "critlab/stats/special.h"

using namespace critlab;

TEST(NormalSampler, MomentsAndKolmogorovSmirnovDistanceMatchTheStandardNormal) {
  NormalSampler s(12345);
  const std::size_t n = 2'000'000;
  std::vector<float> x(n);
  s.fill(x.data(), static_cast<std::int64_t>(n), 0.0f, 1.0f);
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (float v : x) {
    const double d = v;
    m1 += d, m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
  }
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  // Five standard errors: sd(x) = 1, sd(x^2) = sqrt(2), sd(x^3) = sqrt(15), sd(x^4) = sqrt(96).
  const double se = 5 / std::sqrt(static_cast<double>(n));
  EXPECT_NEAR(m1, 0.0, se);
  EXPECT_NEAR(m2, 1.0, std::sqrt(2.0) * se);
  EXPECT_NEAR(m3, 0.0, std::sqrt(15.0) * se);
  EXPECT_NEAR(m4, 3.0, std::sqrt(96.0) * se);
  // KS distance to Phi below the 1% critical value 1.628 / sqrt(n).
  std::sort(x.begin(), x.end());
  double d = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double p = stats::normal_cdf(x[i]);
    d = std::max({d, std::abs(p - static_cast<double>(i) / n), std::abs(p - static_cast<double>(i + 1) / n)});
  }
  EXPECT_LT(d, 1.628 / std::sqrt(static_cast<double>(n)));
  EXPECT_GT(d, 0.0);
}

TEST(NormalSampler, TailBeyondTheBaseLayerHasItsProbability) {
  // P(|Z| > 3.6541528853610088) = 2.58e-4 and P(|Z| > 4.5) = 6.80e-6: the tail method, not the layers.
  NormalSampler s(7);
  const std::size_t n = 20'000'000;
  std::size_t beyond_r = 0, beyond_45 = 0, positive = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = s.next();
    beyond_r += std::abs(v) > 3.6541528853610088f;
    beyond_45 += std::abs(v) > 4.5f;
    positive += v > 0;
  }
  const auto check = [&](std::size_t count, double z) {
    const double p = 2 * (1 - stats::normal_cdf(z));
    const double expected = p * n, sd = std::sqrt(expected);
    EXPECT_NEAR(static_cast<double>(count), expected, 5 * sd) << "beyond " << z;
  };
  check(beyond_r, 3.6541528853610088);
  check(beyond_45, 4.5);
  EXPECT_NEAR(static_cast<double>(positive), n / 2.0, 5 * std::sqrt(n / 4.0));
}

TEST(NormalSampler, SameSeedSameDrawsAndScaledByMeanAndSd) {
  NormalSampler a(99), b(99), c(100);
  std::vector<float> xa(1000), xb(1000), xc(1000);
  a.fill(xa.data(), 1000, 0.0f, 1.0f);
  b.fill(xb.data(), 1000, 2.0f, 3.0f);
  c.fill(xc.data(), 1000, 0.0f, 1.0f);
  for (std::size_t i = 0; i < xa.size(); ++i) EXPECT_FLOAT_EQ(xb[i], 2.0f + 3.0f * xa[i]);
  EXPECT_NE(xa, xc);
}
