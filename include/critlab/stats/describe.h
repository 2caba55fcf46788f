// Descriptive statistics of a sample of doubles: the mean and standard deviation of its finite values.
#pragma once
#include <array>
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

// The percentile interval at `level` (e.g. 0.95) of a bootstrap's values: their quantiles 0.5 -+ level / 2.
// `values` must not be empty; it is taken by value and sorted.
std::array<double, 2> percentile_interval(std::vector<double> values, double level);

}  // namespace critlab::stats
