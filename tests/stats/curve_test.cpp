// Log grids and first crossings (stats/curve.h) on cases worked by hand.
#include "critlab/stats/curve.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace critlab::stats;

TEST(Curve, LogGridEndsExactlyAtItsBounds) {
  const auto x = log_grid(1e-3, 1e3, 7);
  ASSERT_EQ(x.size(), 7u);
  EXPECT_EQ(x.front(), 1e-3);
  EXPECT_EQ(x.back(), 1e3);
  for (int i = 0; i < 7; ++i) EXPECT_NEAR(std::log10(x[i]), -3.0 + i, 1e-12);
}

TEST(Curve, FirstCrossingInterpolatesInLogX) {
  const std::vector<double> x{1, 10, 100}, y{1, 10, 100};
  // Between (1, 1) and (10, 10): w = (5 - 1) / 9, x = 10^w.
  EXPECT_NEAR(*first_crossing_log_x(x, y, 5.0), std::pow(10.0, 4.0 / 9.0), 1e-12);
  EXPECT_NEAR(*first_crossing_log_x(x, y, 10.0), 10.0, 1e-12);
  EXPECT_FALSE(first_crossing_log_x(x, y, 0.5));    // already reached at the first sample
  EXPECT_FALSE(first_crossing_log_x(x, y, 200.0));  // never reached
  EXPECT_FALSE(first_crossing_log_x(x, {NAN, NAN, NAN}, 1.0));
}
