// Avalanches and their scaling exponents (e.g. Friedman et al., PRL 108, 208102, 2012; Sethna et al.,
// Nature 410, 242, 2001).
//
// From a binned event series an avalanche is a run of non-empty bins between empty ones: size S = events in
// the run, duration T = bins in the run, shape = events per bin. For scale-free avalanches
//     P(S) ~ S^-tau,  P(T) ~ T^-tau_t,  <S>(T) ~ T^gamma,
// and the crackling-noise relation predicts gamma = (tau_t - 1) / (tau - 1). tau and tau_t come from CSN fits
// (discrete); gamma from a least-squares line on log <S>(T) against log T weighted by the number of
// avalanches of each duration; the shape-collapse exponent is the gamma for which T^{1 - gamma} s_T(t / T) of
// all durations in a window fall on one curve (least relative spread on 20 points of t/T).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/stats/branching.h"
#include "critlab/stats/powerlaw.h"

namespace critlab::stats {

// Avalanches of a binned series. A run still open at either end of the series is dropped, since its size
// and duration are unknown. Counts must be integers from 0 to 2^53 (NaN, inf, negative or fractional
// counts, and an avalanche of more than 2^53 events, throw critlab::Error naming the 1-based item and the
// value).
std::vector<Avalanche> avalanches_from_series(const std::vector<double>& counts);

struct ShapeCollapse {
  double exponent = 0;                             // gamma from the collapse
  double spread = 0;                               // relative spread at the optimum (0 = perfect collapse)
  std::vector<std::int64_t> durations;             // durations used
  std::vector<std::vector<double>> scaled_shapes;  // T^{1-gamma} s_T on the 20-point grid, per duration
  Status
      status;  // insufficient-data when fewer than three durations qualify; exponent and spread only when ok
  bool ok() const { return status.ok(); }
};
ShapeCollapse shape_collapse(const std::vector<Avalanche>& avalanches, std::int64_t min_duration,
                             std::int64_t max_duration, std::int64_t min_count = 10);

struct AvalancheOptions {
  std::int64_t collapse_min_duration = 4;
  std::int64_t collapse_max_duration = 40;
  std::int64_t gamma_min_duration = 2;  // window of the <S>(T) fit
  std::int64_t gamma_max_duration = 0;  // 0 = up to the largest duration with >= 2 avalanches
  int bootstrap = 0;                    // CSN goodness-of-fit simulations for both fits
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};

struct AvalancheAnalysis {
  std::int64_t count = 0;
  PowerLawFit size_fit, duration_fit;
  std::optional<double> gamma, gamma_se;  // <S>(T) ~ T^gamma; empty with fewer than two durations to fit
  std::optional<double> gamma_predicted;  // (tau_t - 1) / (tau - 1); empty unless both fits are ok
  ShapeCollapse collapse;
  std::vector<double> mean_size_durations, mean_size;  // the <S>(T) table
  std::vector<double> counts_per_duration;
};
AvalancheAnalysis analyse_avalanches(const std::vector<Avalanche>& avalanches,
                                     const AvalancheOptions& options = {});

nlohmann::json to_json(const AvalancheAnalysis& a);

// Writes tables/avalanches.csv (size, duration), tables/mean_size.csv, and plots/size_ccdf (with the fitted
// tail), plots/duration_ccdf, plots/mean_size (<S>(T) on log-log with the fitted slope) and plots/collapse
// (the rescaled mean shapes) under `dir`.
void write_avalanche_files(const std::filesystem::path& dir, const std::vector<Avalanche>& avalanches,
                           const AvalancheAnalysis& analysis);

}  // namespace critlab::stats
