// Special functions of the statistics module against known values.
#include "critlab/stats/special.h"

#include <gtest/gtest.h>

#include <cmath>

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
