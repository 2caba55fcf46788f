#include "critlab/stats/esd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"

namespace critlab::stats {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::size_t kLinearSeeds = 16;   // candidates evaluated in full first, evenly spaced in rank ...
constexpr std::size_t kCoarsePoints = 16;  // ... and each candidate's KS sum first visits this many points

// The kept eigenvalues, sorted, as distinct values: everything the xmin scan needs.
struct Spectrum {
  std::vector<double> log_rel;      // ln(u_k / u_0) over the distinct values u_k, ascending
  std::vector<double> below;        // how many eigenvalues lie below u_k
  std::vector<long double> log_ge;  // sum of ln(x / u_0) over the eigenvalues x >= u_k
  double n = 0;                     // eigenvalues in all
};

Spectrum make_spectrum(const std::vector<double>& sorted) {
  Spectrum s;
  s.n = static_cast<double>(sorted.size());
  const double log_u0 = std::log(sorted.front());
  std::vector<double> count;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    s.log_rel.push_back(std::log(sorted[i]) - log_u0);
    s.below.push_back(static_cast<double>(i));
    count.push_back(static_cast<double>(j - i));
    i = j;
  }
  const std::size_t u = s.log_rel.size();
  s.log_ge.assign(u + 1, 0.0L);
  for (std::size_t k = u; k-- > 0;)
    s.log_ge[k] = s.log_ge[k + 1] + static_cast<long double>(count[k]) * s.log_rel[k];
  s.log_ge.pop_back();
  return s;
}

// The MLE for xmin = u_k: 1 + n / sum ln(x / xmin) over the n eigenvalues >= u_k. Infinite when the tail's
// logarithms do not separate (values equal to rounding).
double candidate_alpha(const Spectrum& s, std::size_t k) {
  const double n = s.n - s.below[k];
  const long double sum = s.log_ge[k] - static_cast<long double>(n) * s.log_rel[k];
  if (!(sum > 0)) return kInf;
  const double alpha = 1.0 + n / static_cast<double>(sum);
  return std::isfinite(alpha) ? alpha : kInf;
}

// The KS distance of the fit at xmin = u_k: max over the tail's distinct values u_j of
// |1 - (u_j / u_k)^(1 - alpha) - (below_j - below_k) / n|. Returns early (with the discrepancy that proved
// it) once a point reaches `bound` (stop_at_equal) or exceeds it: the candidate then cannot win. The point
// that decided the previous candidate (`witness`, updated here) is tried first, since neighbouring
// candidates' discrepancy curves nearly coincide; then a coarse pass over every step-th point, then all.
double candidate_ks(const Spectrum& s, std::size_t k, double alpha, double bound, bool stop_at_equal,
                    std::size_t& witness) {
  if (!std::isfinite(alpha)) return kInf;
  const std::size_t u = s.log_rel.size();
  const double n = s.n - s.below[k];
  const double c = 1.0 - alpha;
  const double base = s.log_rel[k], below = s.below[k];
  const auto loses = [&](double d) { return stop_at_equal ? d >= bound : d > bound; };
  const auto discrepancy = [&](std::size_t j) {
    const double fitted = -std::expm1(c * (s.log_rel[j] - base));  // 1 - (u_j / u_k)^(1 - alpha)
    const double empirical = (s.below[j] - below) / n;             // #{tail < u_j} / n
    return std::abs(fitted - empirical);
  };
  double d = 0;
  std::size_t argmax = k;
  const auto visit = [&](std::size_t j) {
    const double dj = discrepancy(j);
    if (dj > d) d = dj, argmax = j;
    return loses(d);
  };
  if (witness > k && witness < u && visit(witness)) return d;
  const std::size_t step = std::max<std::size_t>(1, (u - k) / kCoarsePoints);
  if (step > 1) {
    for (std::size_t j = k + step; j < u; j += step)
      if (visit(j)) {
        witness = argmax;
        return d;
      }
  }
  for (std::size_t j = k + 1; j < u; ++j)  // j = k contributes |0 - 0|
    if (visit(j)) {
      witness = argmax;
      return d;
    }
  witness = argmax;
  return d;
}

struct Best {
  std::size_t k = 0;
  double alpha = kInf, ks = kInf;
};

// argmin over the candidates k = 0 .. u-2 of the KS distance, the first on a tie (numpy's argmin). Exact:
// a candidate is dropped only when a point shows its distance >= the best's (> for a candidate before it).
Best scan_xmin(const Spectrum& s) {
  const std::size_t candidates = s.log_rel.size() - 1;
  Best best;
  bool have = false;
  std::vector<char> done(candidates, 0);
  std::size_t witness = 0;
  const auto consider = [&](std::size_t k) {
    done[k] = 1;
    const double alpha = candidate_alpha(s, k);
    const bool stop_at_equal = have && k > best.k;
    const double ks = candidate_ks(s, k, alpha, have ? best.ks : kInf, stop_at_equal, witness);
    if (!have || ks < best.ks || (ks == best.ks && k < best.k)) {
      best = {k, alpha, ks};
      have = true;
    }
  };
  // Seeds: evenly spaced in rank, and the 1st, 2nd, 4th, 8th, ... candidate from the top, where a heavy
  // tail's best xmin often sits; a good bound early lets the full pass prune almost everything.
  std::vector<std::size_t> seeds;
  for (std::size_t i = 0; i < kLinearSeeds; ++i) seeds.push_back(i * (candidates - 1) / (kLinearSeeds - 1));
  for (std::size_t tail = 1; tail <= candidates; tail *= 2) seeds.push_back(candidates - tail);
  std::sort(seeds.begin(), seeds.end());
  seeds.erase(std::unique(seeds.begin(), seeds.end()), seeds.end());
  for (std::size_t k : seeds) consider(k);
  for (std::size_t k = 0; k < candidates; ++k)
    if (!done[k]) consider(k);
  return best;
}

}  // namespace

bool EsdFitOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (min_evals < 2) return fail(fmt::format("min_evals must be at least 2, got {}", min_evals));
  if (min_tail < 2) return fail(fmt::format("min_tail must be at least 2, got {}", min_tail));
  if (!(alpha_max > 1))
    return fail(fmt::format("alpha_max must exceed 1 (inf: no bound), got {}", alpha_max));
  if (!(relative_cutoff >= 0 && relative_cutoff < 1))
    return fail(fmt::format("relative_cutoff must be in [0, 1), got {}", relative_cutoff));
  if (!(absolute_cutoff >= 0 && std::isfinite(absolute_cutoff)))
    return fail(fmt::format("absolute_cutoff must be >= 0 and finite, got {}", absolute_cutoff));
  if (!(negative_tolerance >= 0 && std::isfinite(negative_tolerance)))
    return fail(fmt::format("negative_tolerance must be >= 0 and finite, got {}", negative_tolerance));
  return true;
}

EsdFit fit_esd(std::vector<double> ev, const EsdFitOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  EsdFit fit;
  const std::size_t total = ev.size();
  double lmax = -kInf;
  for (std::size_t i = 0; i < total; ++i) {
    if (!std::isfinite(ev[i])) {
      fit.status =
          make_status(StatusCode::kNonFinite,
                      fmt::format("eigenvalue {} (item {} of {}) is not finite: the weights or their "
                                  "spectrum diverged",
                                  ev[i], i + 1, total));
      return fit;
    }
    lmax = std::max(lmax, ev[i]);
  }
  if (!(lmax > 0)) {
    fit.num_dropped = static_cast<std::int64_t>(total);
    fit.status = make_status(
        StatusCode::kInsufficientData,
        total == 0 ? std::string("no eigenvalues")
                   : fmt::format("none of the {} eigenvalues is positive (a zero matrix?)", total));
    return fit;
  }
  const double cutoff = std::max(o.absolute_cutoff, o.relative_cutoff * lmax);
  const double negative_limit = std::max(cutoff, o.negative_tolerance * lmax);
  for (std::size_t i = 0; i < total; ++i) {
    if (ev[i] < -negative_limit) {
      fit.status = make_status(
          StatusCode::kInvalidInput,
          fmt::format("eigenvalue {} (item {} of {}) is negative beyond round-off (tolerance {:.3g} = "
                      "negative_tolerance * lambda_max): the eigenvalues of W^T W are >= 0",
                      ev[i], i + 1, total, negative_limit));
      return fit;
    }
  }
  ev.erase(std::remove_if(ev.begin(), ev.end(), [&](double v) { return !(v > cutoff); }), ev.end());
  std::sort(ev.begin(), ev.end());
  const std::size_t n = ev.size();
  fit.num_evals = static_cast<std::int64_t>(n);
  fit.num_dropped = static_cast<std::int64_t>(total - n);

  long double sum = 0;
  for (double v : ev) sum += v;
  fit.lambda_max = lmax;
  fit.log_norm = std::log10(static_cast<double>(sum));
  fit.log_spectral_norm = std::log10(lmax);
  fit.stable_rank = static_cast<double>(sum / lmax);

  if (fit.num_evals < o.min_evals) {
    fit.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("only {} eigenvalues above the cutoff {:.3g} ({} dropped); the power-law "
                                "fit needs min_evals = {}",
                                n, cutoff, fit.num_dropped, o.min_evals));
    return fit;
  }
  const Spectrum s = make_spectrum(ev);
  fit.xmin_candidates = static_cast<std::int64_t>(s.log_rel.size() - 1);
  if (fit.xmin_candidates == 0) {
    fit.status = make_status(StatusCode::kNotFound,
                             fmt::format("all {} eigenvalues are equal ({}): no tail to fit", n, lmax));
    return fit;
  }
  const Best best = scan_xmin(s);
  if (!std::isfinite(best.ks)) {
    fit.status = make_status(StatusCode::kNotFound, "no candidate xmin gives a finite power-law fit");
    return fit;
  }
  const double x_min = ev[static_cast<std::size_t>(s.below[best.k])];
  const auto n_tail = static_cast<std::int64_t>(s.n - s.below[best.k]);
  fit.alpha_unbounded = best.alpha;
  if (n_tail < o.min_tail) {
    fit.status = make_status(
        StatusCode::kInsufficientData,
        fmt::format("the KS-best xmin {:.6g} leaves {} eigenvalues in the tail (alpha {:.4g}, KS {:.3g}); a "
                    "reported fit needs min_tail = {}",
                    x_min, n_tail, best.alpha, best.ks, o.min_tail));
    return fit;
  }
  if (best.alpha > o.alpha_max) {
    fit.status = make_status(
        StatusCode::kNotFound,
        fmt::format(
            "alpha {:.4g} (xmin {:.6g}, {} tail eigenvalues) exceeds alpha_max = {}: no heavy tail, a "
            "random-like (Marchenko-Pastur) spectrum; WeightWatcher discards alpha > 8 as spurious",
            best.alpha, x_min, n_tail, o.alpha_max));
    return fit;
  }
  fit.alpha = best.alpha;
  fit.alpha_weighted = best.alpha * *fit.log_spectral_norm;
  fit.alpha_se = (best.alpha - 1) / std::sqrt(static_cast<double>(n_tail));
  fit.xmin = x_min;
  fit.ks = best.ks;
  fit.n_tail = n_tail;
  return fit;
}

nlohmann::json to_json(const EsdFit& f) {
  nlohmann::json j{{"num_evals", f.num_evals},
                   {"num_dropped", f.num_dropped},
                   {"alpha", or_null(f.alpha)},
                   {"alpha_unbounded", or_null(f.alpha_unbounded)},
                   {"alpha_weighted", or_null(f.alpha_weighted)},
                   {"alpha_se", or_null(f.alpha_se)},
                   {"xmin", or_null(f.xmin)},
                   {"ks", or_null(f.ks)},
                   {"n_tail", or_null(f.n_tail)},
                   {"log_norm", or_null(f.log_norm)},
                   {"log_spectral_norm", or_null(f.log_spectral_norm)},
                   {"stable_rank", or_null(f.stable_rank)},
                   {"lambda_max", or_null(f.lambda_max)},
                   {"xmin_candidates", f.xmin_candidates}};
  put_status(j, f.status);
  return j;
}

}  // namespace critlab::stats
