// Curves sampled on a logarithmic grid: the grid itself, and where a rising curve first reaches a level.
// Shared by the response curves of the Kinouchi-Copelli network (stats/kinouchi_copelli.h) and of a deep
// network (measure/dynamic_range.h), whose dynamic ranges both read the 10% and 90% points this way.
#pragma once
#include <optional>
#include <vector>

namespace critlab::stats {

// n >= 2 points from lo to hi (both > 0), evenly spaced in log; the last point is hi exactly.
std::vector<double> log_grid(double lo, double hi, int n);

// The first x at which y (sampled at increasing x > 0) reaches `level`, interpolated linearly in log x
// between the two samples around the crossing; nullopt when the first sample already reaches it (the
// crossing lies below the grid) or no sample does (NaN samples never reach it).
std::optional<double> first_crossing_log_x(const std::vector<double>& x, const std::vector<double>& y,
                                           double level);

}  // namespace critlab::stats
