// The Kinouchi-Copelli excitable network: the reference model for "criticality maximises the dynamic range"
// (Kinouchi & Copelli, Nature Physics 2, 348, 2006), simulated and in its annealed mean-field form.
//
// Model. N elements with n states: 0 quiescent, 1 excited, 2..n-1 refractory; an excited element moves
// deterministically 1 -> 2 -> ... -> n-1 -> 0, one state per step (synchronous updates, dt = 1 ms). The
// network is a directed random graph of N K links, each with a uniformly random source and a uniformly random
// target other than the source (no self-links; a repeated pair, probability about K/N, is kept), so the
// out-degree is about Poisson(K). Link j -> i transmits with probability p_ji = sigma u_ji 2 / K, u_ji ~ U(0,
// 1) drawn once from the seed: the network and the u are quenched and the same for every sigma and r under
// one seed, so sigma = K <p> is the branching ratio and sigma <= K/2 keeps p <= 1. A quiescent element is
// excited at the next step when the external Poisson drive fires (probability lambda = 1 - exp(-r dt), r in
// 1/ms) or when any presynaptic element excited now transmits (each link independently).
//
// Response. F(r) = the mean over `steps` (after `transient`) of the excited fraction rho_t, in excitations
// per element per ms; the run starts from a random `initial_excited` fraction so that self-sustained activity
// (sigma > 1) is found. Annealed mean field (the paper's map), the exact reference:
//   rho_{t+1} = (1 - (n-1) rho_t) [1 - (1 - lambda) (1 - sigma rho_t / K)^K],
// whose stationary state is found by bisection (for sigma > 1 the nonzero root at lambda = 0). At sigma = 1,
// rho ~ (lambda / (n - 1 + (K-1)/2K))^(1/2) for small lambda; for sigma < 1, rho ~ lambda / (1 - sigma).
//
// Dynamic range. F0 = F at r = 0 (the floor: 0 for sigma <= 1 in mean field, about 0 in a simulation),
// Fmax = F at r_max; r_x is where F first reaches F0 + x (Fmax - F0), interpolated linearly in log r between
// grid rates; Delta = 10 log10(r_0.9 / r_0.1) dB. A curve that does not span the range (r_0.1 below r_min, or
// no rise above the floor) has no Delta: a not-found status and JSON null. The mean-field Delta is exact (the
// stationary equation is inverted for lambda in closed form, no grid), with Fmax at r_max as well.
//
// Randomness and threads: the graph comes from (seed, a stream of its own); the dynamics of rate index i
// (0-based) from (seed, i + 1) and the floor run from (seed, 0), the same streams at every sigma (common
// random numbers: curves at neighbouring sigma differ by sigma, not by noise). Points run in parallel on
// `threads` threads; the numbers do not depend on the thread count.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/progress.h"
#include "critlab/core/status.h"

namespace critlab::stats {

struct KinouchiCopelliOptions {
  int nodes = 10000;             // N, elements, in [2, 10^8]
  double degree = 10;            // K, mean out-degree (N K links), in (0, 1000]
  int states = 5;                // n: 0 quiescent, 1 excited, 2..n-1 refractory; in [3, 1000]
  double r_min = 1e-5;           // smallest drive rate of the grid, 1/ms, > 0
  double r_max = 100;            // largest rate (Fmax is F here), 1/ms, > r_min and at most 10^6
  int points = 29;               // rates, log-spaced from r_min to r_max, in [2, 10000]
  std::int64_t steps = 2000;     // averaged steps (ms) per point, in [1, 10^9]
  std::int64_t transient = 500;  // steps discarded before averaging, in [0, 10^9]
  double initial_excited = 0.1;  // fraction excited at t = 0, in [0, 1]
  std::uint64_t seed = 0;        // network and dynamics
  int threads = 0;               // points run in parallel (0 = all cores)
  ProgressFn progress;           // points done; called from one thread at a time
  bool IsValid(std::string* error) const;
  std::vector<double> rates() const;  // the log-spaced grid
};

// Throws critlab::Error unless 0 <= sigma <= degree / 2 and finite.
void check_kinouchi_copelli_sigma(double sigma, double degree);

// The dynamic range of one response curve.
struct ResponseRange {
  double f0 = 0;                   // the floor (F at r = 0)
  double fmax = 0;                 // F at the largest rate
  std::optional<double> r_low;     // r_0.1, 1/ms
  std::optional<double> r_high;    // r_0.9, 1/ms
  std::optional<double> delta_db;  // 10 log10(r_0.9 / r_0.1)
  Status status;                   // not-found: the curve does not span F0 + 0.1 .. 0.9 (Fmax - F0)
};

// From a response on increasing rates and its floor (interpolation as in the header comment).
ResponseRange response_dynamic_range(const std::vector<double>& rates, const std::vector<double>& response,
                                     double f0);

struct KinouchiCopelliCurve {
  double sigma = 0;
  std::vector<double> rates;       // 1/ms
  std::vector<double> response;    // simulated F(r)
  std::vector<double> mean_field;  // stationary mean-field rho at the same r
  ResponseRange range;             // simulated
  ResponseRange range_mean_field;  // exact mean field
};

// The simulated F at one (sigma, r) (r = 0 allowed: the floor); `stream` selects the dynamics' random stream.
double kinouchi_copelli_simulate(const KinouchiCopelliOptions& options, double sigma, double rate,
                                 std::uint64_t stream);

// F(r) over options.rates() at one sigma, with the floor and both dynamic ranges.
KinouchiCopelliCurve kinouchi_copelli_response(const KinouchiCopelliOptions& options, double sigma);

// The same for each sigma (all points of all curves in parallel, on one network).
std::vector<KinouchiCopelliCurve> kinouchi_copelli_scan(const KinouchiCopelliOptions& options,
                                                        const std::vector<double>& sigmas);

// Mean field. lambda: drive probability per step, in [0, 1]; states = n >= 3; 0 <= sigma <= degree / 2.
double kinouchi_copelli_map(double rho, double lambda, double sigma, double degree, int states);
// The stationary rho (the nonzero root when lambda = 0 and sigma > 1), by bisection to 1e-15.
double kinouchi_copelli_stationary(double lambda, double sigma, double degree, int states);
// The exact mean-field dynamic range with Fmax at r_max.
ResponseRange kinouchi_copelli_mean_field_range(double sigma, double degree, int states, double r_max);

// lambda = 1 - exp(-r dt), dt = 1 ms.
double drive_probability(double rate);

nlohmann::json to_json(const ResponseRange& r);
nlohmann::json to_json(const KinouchiCopelliCurve& c);

}  // namespace critlab::stats
