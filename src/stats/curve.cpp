#include "critlab/stats/curve.h"

#include <algorithm>
#include <cmath>

namespace critlab::stats {

std::vector<double> log_grid(double lo, double hi, int n) {
  std::vector<double> x(static_cast<std::size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i)
    x[static_cast<std::size_t>(i)] =
        i == n - 1 ? hi : lo * std::pow(hi / lo, static_cast<double>(i) / (n - 1));
  return x;
}

std::optional<double> first_crossing_log_x(const std::vector<double>& x, const std::vector<double>& y,
                                           double level) {
  for (std::size_t i = 0; i < y.size() && i < x.size(); ++i) {
    if (!(y[i] >= level)) continue;
    if (i == 0) return std::nullopt;
    const double w = (level - y[i - 1]) / (y[i] - y[i - 1]);
    return std::exp(std::log(x[i - 1]) + w * (std::log(x[i]) - std::log(x[i - 1])));
  }
  return std::nullopt;
}

}  // namespace critlab::stats
