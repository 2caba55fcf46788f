// Descriptive statistics of a sample of doubles: the mean and standard deviation of its finite values.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

namespace critlab::stats {

struct MeanSd {
  double mean = std::numeric_limits<double>::quiet_NaN();  // NaN when no value is finite
  double sd = std::numeric_limits<double>::quiet_NaN();    // sample sd (n - 1); 0 for one value
  std::int64_t n = 0;                                      // finite values
};
// Non-finite values (NaN: not measured; +-inf) are skipped.
MeanSd mean_sd(const std::vector<double>& x);

// The q-quantile (q in [0, 1]) of values sorted ascending, R's type 7: linear interpolation between the order
// statistics. `sorted` must not be empty.
double quantile_sorted(const std::vector<double>& sorted, double q);

}  // namespace critlab::stats
