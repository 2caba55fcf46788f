#include "critlab/stats/kinouchi_copelli.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/core/resources.h"
#include "critlab/stats/curve.h"

namespace critlab::stats {

namespace {

constexpr std::uint64_t kGraphStream = ~std::uint64_t{0};
// Below this drive probability the drive is sampled by geometric skipping (cost lambda N per step); above
// it, element by element over the quiescent ones.
constexpr double kSkipBelow = 0.05;

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256** seeded from (seed, stream) through splitmix64: a split seed, so every point's numbers depend
// only on the seed and the point, never on which thread runs it.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed;
    const std::uint64_t a = splitmix64(x);
    x = stream ^ 0xD1B54A32D192ED03ULL;
    std::uint64_t y = a ^ splitmix64(x);
    for (auto& w : s_) w = splitmix64(y);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0], s_[3] ^= s_[1], s_[1] ^= s_[2], s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::uint32_t below(std::uint32_t n) {  // [0, n), multiply-shift (bias < n / 2^64)
    return static_cast<std::uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  static std::uint64_t rotl(std::uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }
  std::uint64_t s_[4];
};

// The quenched network in compressed rows by source: links of j are [first[j], first[j + 1]).
struct Network {
  std::vector<std::int64_t> first;
  std::vector<std::int32_t> target;
  std::vector<float> u;  // U(0, 1); p = sigma u 2 / K
};

Network build_network(const KinouchiCopelliOptions& o) {
  const auto n = static_cast<std::uint32_t>(o.nodes);
  const auto links = static_cast<std::int64_t>(std::llround(static_cast<double>(o.nodes) * o.degree));
  Rng rng(o.seed, kGraphStream);
  std::vector<std::int32_t> src(static_cast<std::size_t>(links)), dst(src.size());
  std::vector<float> u(src.size());
  Network net;
  net.first.assign(n + 1, 0);
  for (std::size_t e = 0; e < src.size(); ++e) {
    const std::uint32_t j = rng.below(n);
    std::uint32_t i = rng.below(n - 1);
    if (i >= j) ++i;  // a target other than the source
    src[e] = static_cast<std::int32_t>(j), dst[e] = static_cast<std::int32_t>(i);
    u[e] = static_cast<float>(rng.uniform());
    ++net.first[j + 1];
  }
  for (std::uint32_t j = 0; j < n; ++j) net.first[j + 1] += net.first[j];
  net.target.resize(src.size());
  net.u.resize(src.size());
  std::vector<std::int64_t> fill(net.first.begin(), net.first.end() - 1);
  for (std::size_t e = 0; e < src.size(); ++e) {
    const auto k = static_cast<std::size_t>(fill[static_cast<std::size_t>(src[e])]++);
    net.target[k] = dst[e], net.u[k] = u[e];
  }
  return net;
}

double simulate_on(const Network& net, const KinouchiCopelliOptions& o, double sigma, double rate,
                   std::uint64_t stream) {
  const std::int64_t n = o.nodes;
  const std::int32_t refractory = o.states - 1;  // i is quiescent at t when t - last[i] >= n - 1
  const double lambda = drive_probability(rate);
  const double scale = sigma * 2 / o.degree;  // p = scale u
  Rng rng(o.seed, stream);
  // last[i]: the step i was last excited; "long ago" for the quiescent start.
  // int32 halves the memory walked at random (steps + transient <= 2 10^9 keeps t - last in range).
  std::vector<std::int32_t> last(static_cast<std::size_t>(n), std::numeric_limits<std::int32_t>::min() / 2);
  std::vector<std::int32_t> excited, next;
  for (std::int64_t i = 0; i < n; ++i)
    if (rng.uniform() < o.initial_excited)
      last[static_cast<std::size_t>(i)] = 0, excited.push_back(static_cast<std::int32_t>(i));
  const double log_keep = lambda > 0 && lambda < 1 ? std::log1p(-lambda) : 0;
  const auto end = static_cast<std::int32_t>(o.transient + o.steps);
  double total = 0;
  for (std::int32_t t = 0; t < end; ++t) {
    if (t >= o.transient) total += static_cast<double>(excited.size());
    if (excited.empty() && lambda == 0) break;  // absorbing: nothing is ever excited again
    next.clear();
    auto excite = [&](std::int64_t i) {
      auto& l = last[static_cast<std::size_t>(i)];
      if (t - l >= refractory) l = t + 1, next.push_back(static_cast<std::int32_t>(i));
    };
    if (lambda >= kSkipBelow) {
      for (std::int64_t i = 0; i < n; ++i)
        if (t - last[static_cast<std::size_t>(i)] >= refractory && (lambda >= 1 || rng.uniform() < lambda))
          excite(i);
    } else if (lambda > 0) {
      // The gaps between drive events are geometric: P(gap = g) = (1 - lambda)^g lambda.
      double i = -1;
      while (true) {
        i += 1 + std::floor(std::log(1 - rng.uniform()) / log_keep);
        if (i >= static_cast<double>(n)) break;
        excite(static_cast<std::int64_t>(i));
      }
    }
    for (const std::int32_t j : excited) {
      const auto b = net.first[static_cast<std::size_t>(j)], e = net.first[static_cast<std::size_t>(j) + 1];
      for (auto k = b; k < e; ++k) {
        const std::int32_t i = net.target[static_cast<std::size_t>(k)];
        if (t - last[static_cast<std::size_t>(i)] >= refractory &&
            rng.uniform() < scale * net.u[static_cast<std::size_t>(k)])
          last[static_cast<std::size_t>(i)] = t + 1, next.push_back(i);
      }
    }
    excited.swap(next);
  }
  return total / (static_cast<double>(o.steps) * static_cast<double>(n));
}

// Runs job(k) for k in [0, count) on up to `threads` threads (parallel_for), reporting progress.
template <typename Job>
void run_points(int count, int threads_requested, const ProgressFn& progress, const char* task, Job job) {
  const int cores = hardware_cores();
  const int threads =
      std::max(1, std::min({threads_requested > 0 ? threads_requested : cores, cores, count}));
  int done = 0;
  parallel_for(count, threads, job, [&](int) { report_progress(progress, task, ++done, count); });
}

void check_options(const KinouchiCopelliOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
}

}  // namespace

bool KinouchiCopelliOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (nodes < 2 || nodes > 100'000'000) return fail(fmt::format("nodes must be in [2, 10^8], got {}", nodes));
  if (!(degree > 0 && degree <= 1000))
    return fail(fmt::format("degree must be in (0, 1000], got {}", degree));
  if (static_cast<double>(nodes) * degree >= 2e9)
    return fail(fmt::format("nodes x degree must be below 2e9 links, got {:.3g}", nodes * degree));
  if (std::llround(static_cast<double>(nodes) * degree) < 1)
    return fail("nodes x degree must be at least 1 link");
  if (states < 3 || states > 1000) return fail(fmt::format("states must be in [3, 1000], got {}", states));
  if (!(r_min > 0 && std::isfinite(r_min)))
    return fail(fmt::format("r_min must be a positive rate (1/ms), got {}", r_min));
  if (!(r_max > r_min && r_max <= 1e6))
    return fail(fmt::format("r_max must exceed r_min = {} and be at most 1e6, got {}", r_min, r_max));
  if (points < 2 || points > 10000) return fail(fmt::format("points must be in [2, 10000], got {}", points));
  if (steps < 1 || steps > 1'000'000'000)
    return fail(fmt::format("steps must be in [1, 10^9], got {}", steps));
  if (transient < 0 || transient > 1'000'000'000)
    return fail(fmt::format("transient must be in [0, 10^9], got {}", transient));
  if (transient + steps > 1'000'000'000)
    return fail(fmt::format("transient + steps must be at most 10^9, got {}", transient + steps));
  if (!(initial_excited >= 0 && initial_excited <= 1))
    return fail(fmt::format("initial_excited must be in [0, 1], got {}", initial_excited));
  if (threads < 0 || threads > 1024)
    return fail(fmt::format("threads must be in [0, 1024], got {}", threads));
  return true;
}

std::vector<double> KinouchiCopelliOptions::rates() const { return log_grid(r_min, r_max, points); }

void check_kinouchi_copelli_sigma(double sigma, double degree) {
  if (!(sigma >= 0 && sigma <= degree / 2))
    throw Error(fmt::format("sigma must be in [0, degree/2 = {}] (p = 2 sigma u / K must stay <= 1), got {}",
                            degree / 2, sigma));
}

double drive_probability(double rate) { return -std::expm1(-rate); }

ResponseRange response_dynamic_range(const std::vector<double>& rates, const std::vector<double>& response,
                                     double f0) {
  if (rates.size() != response.size() || rates.size() < 2)
    throw Error("response_dynamic_range needs at least two rates, one response per rate");
  ResponseRange r;
  r.f0 = f0;
  r.fmax = response.back();
  if (!(r.fmax > f0)) {
    r.status = make_status(
        StatusCode::kNotFound,
        fmt::format("the response does not rise above its floor F0 = {:.4g} (Fmax = {:.4g})", f0, r.fmax));
    return r;
  }
  const auto crossing = [&](double x) {
    return first_crossing_log_x(rates, response, f0 + x * (r.fmax - f0));
  };
  r.r_low = crossing(0.1);
  r.r_high = crossing(0.9);
  if (!r.r_low || !r.r_high) {
    r.status =
        make_status(StatusCode::kNotFound,
                    fmt::format("the response is already above F0 + 0.1 (Fmax - F0) at the smallest rate "
                                "{:.3g}/ms; lower r_min",
                                rates.front()));
    r.r_low.reset(), r.r_high.reset();
    return r;
  }
  r.delta_db = 10 * std::log10(*r.r_high / *r.r_low);
  return r;
}

double kinouchi_copelli_simulate(const KinouchiCopelliOptions& o, double sigma, double rate,
                                 std::uint64_t stream) {
  check_options(o);
  check_kinouchi_copelli_sigma(sigma, o.degree);
  if (!(rate >= 0 && rate <= 1e6)) throw Error(fmt::format("rate must be in [0, 1e6] per ms, got {}", rate));
  return simulate_on(build_network(o), o, sigma, rate, stream);
}

std::vector<KinouchiCopelliCurve> kinouchi_copelli_scan(const KinouchiCopelliOptions& o,
                                                        const std::vector<double>& sigmas) {
  check_options(o);
  for (double s : sigmas) check_kinouchi_copelli_sigma(s, o.degree);
  check_memory(static_cast<double>(o.nodes) * o.degree * 20, "the network", "lower nodes or degree");
  const Network net = build_network(o);
  const auto rates = o.rates();
  const int per = o.points + 1;  // the floor (stream 0), then rate i (stream i + 1)
  std::vector<std::vector<double>> f(sigmas.size(), std::vector<double>(static_cast<std::size_t>(per)));
  run_points(
      static_cast<int>(sigmas.size()) * per, o.threads, o.progress, "Kinouchi-Copelli points", [&](int k) {
        const int s = k / per, i = k % per;
        const double rate = i == 0 ? 0.0 : rates[static_cast<std::size_t>(i - 1)];
        f[static_cast<std::size_t>(s)][static_cast<std::size_t>(i)] =
            simulate_on(net, o, sigmas[static_cast<std::size_t>(s)], rate, static_cast<std::uint64_t>(i));
      });
  std::vector<KinouchiCopelliCurve> curves;
  for (std::size_t s = 0; s < sigmas.size(); ++s) {
    KinouchiCopelliCurve c;
    c.sigma = sigmas[s];
    c.rates = rates;
    c.response.assign(f[s].begin() + 1, f[s].end());
    for (double r : rates)
      c.mean_field.push_back(kinouchi_copelli_stationary(drive_probability(r), c.sigma, o.degree, o.states));
    c.range = response_dynamic_range(rates, c.response, f[s][0]);
    c.range_mean_field = kinouchi_copelli_mean_field_range(c.sigma, o.degree, o.states, o.r_max);
    curves.push_back(std::move(c));
  }
  return curves;
}

KinouchiCopelliCurve kinouchi_copelli_response(const KinouchiCopelliOptions& o, double sigma) {
  return kinouchi_copelli_scan(o, {sigma}).front();
}

double kinouchi_copelli_map(double rho, double lambda, double sigma, double degree, int states) {
  // 1 - (1 - lambda)(1 - sigma rho / K)^K, accurate for tiny rho and lambda.
  const double log_none = std::log1p(-lambda) + degree * std::log1p(-sigma * rho / degree);
  return (1 - (states - 1) * rho) * -std::expm1(log_none);
}

double kinouchi_copelli_stationary(double lambda, double sigma, double degree, int states) {
  auto g = [&](double rho) { return kinouchi_copelli_map(rho, lambda, sigma, degree, states) - rho; };
  if (lambda >= 1) return 1.0 / states;
  double lo = 0, hi = 1.0 / (states - 1);  // g(hi) = -hi < 0
  if (lambda <= 0) {
    // rho = 0 is a root; for sigma > 1 there is another above it (g > 0 just above 0).
    if (sigma <= 1) return 0;
    lo = 1e-300;
    if (!(g(lo) > 0)) return 0;
  }
  for (int it = 0; it < 2000 && hi - lo > 1e-15 * std::max(hi, 1e-300); ++it) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (g(mid) > 0 ? lo : hi) = mid;
  }
  return lo + (hi - lo) / 2;
}

ResponseRange kinouchi_copelli_mean_field_range(double sigma, double degree, int states, double r_max) {
  ResponseRange r;
  r.f0 = kinouchi_copelli_stationary(0, sigma, degree, states);
  r.fmax = kinouchi_copelli_stationary(drive_probability(r_max), sigma, degree, states);
  if (!(r.fmax > r.f0)) {
    r.status = make_status(StatusCode::kNotFound, "the mean-field response does not rise above its floor");
    return r;
  }
  // The stationary equation solved for the drive: 1 - lambda = (1 - rho / (1 - (n-1) rho)) / (1 - sigma
  // rho / K)^K, so r = -ln(1 - lambda).
  auto rate_at = [&](double rho) {
    const double log_keep =
        std::log1p(-rho / (1 - (states - 1) * rho)) - degree * std::log1p(-sigma * rho / degree);
    return -log_keep;
  };
  r.r_low = rate_at(r.f0 + 0.1 * (r.fmax - r.f0));
  r.r_high = rate_at(r.f0 + 0.9 * (r.fmax - r.f0));
  r.delta_db = 10 * std::log10(*r.r_high / *r.r_low);
  return r;
}

nlohmann::json to_json(const ResponseRange& r) {
  nlohmann::json j{{"f0", r.f0}, {"fmax", r.fmax}};
  j["r_low"] = or_null(r.r_low);
  j["r_high"] = or_null(r.r_high);
  j["delta_db"] = or_null(r.delta_db);
  put_status(j, r.status);
  return j;
}

nlohmann::json to_json(const KinouchiCopelliCurve& c) {
  return {{"sigma", c.sigma},
          {"rates", c.rates},
          {"response", c.response},
          {"mean_field", c.mean_field},
          {"dynamic_range", to_json(c.range)},
          {"dynamic_range_mean_field", to_json(c.range_mean_field)}};
}

}  // namespace critlab::stats
