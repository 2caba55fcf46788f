#include "critlab/stats/describe.h"

#include <algorithm>
#include <cmath>

namespace critlab::stats {

MeanSd mean_sd(const std::vector<double>& x) {
  MeanSd m;
  double s = 0, s2 = 0;
  for (double v : x)
    if (std::isfinite(v)) s += v, s2 += v * v, ++m.n;
  if (m.n == 0) return m;
  m.mean = s / m.n;
  m.sd = m.n > 1 ? std::sqrt(std::max(0.0, (s2 - m.n * m.mean * m.mean) / (m.n - 1))) : 0.0;
  return m;
}

double quantile_sorted(const std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::array<double, 2> percentile_interval(std::vector<double> values, double level) {
  std::sort(values.begin(), values.end());
  return {quantile_sorted(values, 0.5 - level / 2), quantile_sorted(values, 0.5 + level / 2)};
}

}  // namespace critlab::stats
