// Special functions of the statistics module against known values.
#include "critlab/stats/special.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace critlab::stats;

TEST(Special, HurwitzZetaMatchesKnownValues) {
  EXPECT_NEAR(hurwitz_zeta(2.0, 1.0), M_PI * M_PI / 6, 1e-14);
  EXPECT_NEAR(hurwitz_zeta(4.0, 1.0), std::pow(M_PI, 4) / 90, 1e-14);
  EXPECT_NEAR(hurwitz_zeta(2.0, 3.0), M_PI * M_PI / 6 - 1 - 0.25, 1e-14);
  double direct = 0;  // zeta(1.5, 7.5) by brute force plus the integral tail
  for (int k = 0; k < 2'000'000; ++k) direct += std::pow(7.5 + k, -1.5);
  direct += 2 / std::sqrt(7.5 + 2'000'000 - 0.5);
  EXPECT_NEAR(hurwitz_zeta(1.5, 7.5), direct, 1e-9);
}

TEST(Special, PowerSumMatchesTheDirectSumForAnyExponent) {
  for (double s : {0.01, 0.5, 1.0, 1.5, 2.5, 7.0})
    for (double a : {1.0, 5.0, 100.0})
      for (double b : {a + 10, a + 200, a + 100'000}) {
        double direct = 0;
        for (double k = a; k <= b; ++k) direct += std::pow(k, -s);
        EXPECT_NEAR(power_sum(s, a, b), direct, 1e-12 * direct) << s << " " << a << " " << b;
      }
  EXPECT_NEAR(power_sum(2.0, 3.0, 1e300), hurwitz_zeta(2.0, 3.0), 1e-14);
  EXPECT_DOUBLE_EQ(power_sum(2.0, 3.0, std::numeric_limits<double>::infinity()), hurwitz_zeta(2.0, 3.0));
  // A range of 1e12 integers costs no more than a short one: the sum is Euler-Maclaurin, not a loop.
  EXPECT_NEAR(power_sum(0.5, 1, 1e12), 2 * std::sqrt(1e12) + -1.4603545088095868 + 0.5e-6, 1e-6);
  // Beyond 2^53 a range still ends (k + 1 rounds back to k there).
  const double big = 9007199254740992.0;
  EXPECT_GT(power_sum(1.5, big, big + 2), 0.0);
}

TEST(Special, LogHurwitzZetaStaysFiniteWhereZetaUnderflows) {
  for (double s : {1.1, 2.0, 5.0})
    for (double q : {1.0, 7.5, 1e6})
      EXPECT_NEAR(log_hurwitz_zeta(s, q), std::log(hurwitz_zeta(s, q)), 1e-12) << s << " " << q;
  EXPECT_EQ(hurwitz_zeta(2.0, 1e300), 0.0);
  // zeta(2, q) ~ 1/q for large q: ln = -ln q.
  EXPECT_NEAR(log_hurwitz_zeta(2.0, 1e300), -std::log(1e300), 1e-9);
}
