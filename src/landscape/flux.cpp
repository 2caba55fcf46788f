#include "critlab/landscape/flux.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/stats/describe.h"

namespace critlab::landscape {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// The TUR's linear basis has d(d+1) currents and costs K m^2 memory and m^3 per resample: beyond this many
// coordinates it is not computed. Trajectories with more coordinates than kMaxCoordinates are refused.
constexpr std::int64_t kMaxTurCoordinates = 10, kMaxCoordinates = 64;
// Per-block grid sums held at most (blocks x boxes).
constexpr std::int64_t kMaxBlockBoxes = 4'000'000;

// A symmetric positive-definite solve by Cholesky, with a ridge of `ridge` * mean diagonal. Returns false
// when the matrix is not positive definite even so.
bool cholesky_solve(std::vector<double> a, std::size_t m, std::vector<double>* x, double ridge) {
  double diag = 0;
  for (std::size_t i = 0; i < m; ++i) diag += a[i * m + i];
  diag /= static_cast<double>(m);
  if (!(diag > 0) || !std::isfinite(diag)) return false;
  for (std::size_t i = 0; i < m; ++i) a[i * m + i] += ridge * diag;
  for (std::size_t j = 0; j < m; ++j) {
    double s = a[j * m + j];
    for (std::size_t k = 0; k < j; ++k) s -= a[j * m + k] * a[j * m + k];
    if (!(s > 0)) return false;
    const double l = std::sqrt(s);
    a[j * m + j] = l;
    for (std::size_t i = j + 1; i < m; ++i) {
      double t = a[i * m + j];
      for (std::size_t k = 0; k < j; ++k) t -= a[i * m + k] * a[j * m + k];
      a[i * m + j] = t / l;
    }
  }
  auto& y = *x;
  for (std::size_t i = 0; i < m; ++i) {  // L z = b
    double t = y[i];
    for (std::size_t k = 0; k < i; ++k) t -= a[i * m + k] * y[k];
    y[i] = t / a[i * m + i];
  }
  for (std::size_t i = m; i-- > 0;) {  // L^T x = z
    double t = y[i];
    for (std::size_t k = i + 1; k < m; ++k) t -= a[k * m + i] * y[k];
    y[i] = t / a[i * m + i];
  }
  return true;
}

// Per-block sums that every estimate is built from, so a bootstrap resample of the blocks only re-weights
// them. Block k holds the steps t with k = floor(t * K / steps) and the points t of those steps (the last
// point goes with the last block).
struct BlockSums {
  std::int64_t K = 0, d = 0, boxes = 0, m = 0;  // blocks, coordinates, grid boxes, TUR currents
  std::vector<double> duration;                 // K: steps * dt
  std::vector<double> points;                   // K
  std::vector<double> area;                     // K x d x d: sum of m_i dx_j - m_j dx_i
  std::vector<double> box_count;                // K x boxes: points in the box
  std::vector<double> box_current;              // K x boxes x 2: Battle's displacement sums
  std::vector<double> box_steps;                // K x boxes: steps that start in the box
  std::vector<double> box_increment;            // K x boxes x 2: their increments
  std::vector<double> tur_windows;              // K
  std::vector<double> tur_sum;                  // K x m
  std::vector<double> tur_outer;                // K x m x m
};

// sum_{k != l} w_k w_l a_k . M b_l over blocks, for 2-vectors a, b (M symmetric 2 x 2), and the same for the
// scalar weights: the cross-block square of a mean, free of the noise's own square.
struct Cross {
  double num = 0, den = 0;
};
Cross cross_square(const std::vector<double>& mult, const double* vec, std::size_t vec_stride,
                   const double* weight, std::size_t weight_stride, const std::array<double, 4>& M) {
  double sx = 0, sy = 0, sq = 0, sw = 0, sw2 = 0;
  for (std::size_t k = 0; k < mult.size(); ++k) {
    const double mk = mult[k];
    if (mk == 0) continue;
    const double x = vec[k * vec_stride], y = vec[k * vec_stride + 1], w = weight[k * weight_stride];
    sx += mk * x;
    sy += mk * y;
    sq += mk * mk * (M[0] * x * x + 2 * M[1] * x * y + M[3] * y * y);
    sw += mk * w;
    sw2 += mk * mk * w * w;
  }
  return {M[0] * sx * sx + 2 * M[1] * sx * sy + M[3] * sy * sy - sq, sw * sw - sw2};
}

struct Estimates {
  double ep_grid = kNaN, drift_power = kNaN, tur = kNaN;
  std::vector<double> area;  // d x d
  Status tur_status;
};

// Every block-based estimate under block multiplicities `mult` (all ones = the data as they are).
Estimates estimate(const BlockSums& b, const std::vector<double>& mult, const std::vector<char>& used,
                   const std::array<double, 4>& Minv, double dt, std::int64_t tur_steps) {
  Estimates e;
  const auto K = static_cast<std::size_t>(b.K), d = static_cast<std::size_t>(b.d),
             boxes = static_cast<std::size_t>(b.boxes), m = static_cast<std::size_t>(b.m);
  double T = 0, n = 0;
  for (std::size_t k = 0; k < K; ++k) {
    T += mult[k] * b.duration[k];
    n += mult[k] * b.points[k];
  }
  e.area.assign(d * d, 0.0);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < d * d; ++i) e.area[i] += mult[k] * b.area[k * d * d + i];
  for (auto& v : e.area) v /= 2 * T;

  // Grid: e_p = sum_b n / count_b * cross(J sums) / cross(durations); drift power = sum_b count_b / n *
  // cross(increments) / cross(step counts * dt).
  double ep = 0, drift = 0;
  for (std::size_t box = 0; box < boxes; ++box) {
    if (!used[box]) continue;
    double count = 0;
    for (std::size_t k = 0; k < K; ++k) count += mult[k] * b.box_count[k * boxes + box];
    if (count <= 0) continue;
    const auto j = cross_square(mult, b.box_current.data() + 2 * box, 2 * boxes, b.duration.data(), 1, Minv);
    if (j.den > 0) ep += n / count * j.num / j.den;
    const auto f = cross_square(mult, b.box_increment.data() + 2 * box, 2 * boxes, b.box_steps.data() + box,
                                boxes, Minv);
    if (f.den > 0) drift += count / n * f.num / (f.den * dt * dt);
  }
  e.ep_grid = ep;
  e.drift_power = drift;

  // TUR: 2 mu^T S^-1 mu / (tau dt), with the Hotelling bias correction.
  if (m == 0) {
    e.tur_status =
        make_status(StatusCode::kNotApplicable,
                    fmt::format("more than {} coordinates: the TUR's linear basis would hold d(d+1) = "
                                "{} currents; choose fewer columns",
                                kMaxTurCoordinates, b.d * (b.d + 1)));
    return e;
  }
  double N = 0;
  std::vector<double> mu(m, 0.0), S(m * m, 0.0);
  for (std::size_t k = 0; k < K; ++k) {
    N += mult[k] * b.tur_windows[k];
    for (std::size_t i = 0; i < m; ++i) mu[i] += mult[k] * b.tur_sum[k * m + i];
    for (std::size_t i = 0; i < m * m; ++i) S[i] += mult[k] * b.tur_outer[k * m * m + i];
  }
  if (N < static_cast<double>(m) + 3) {
    e.tur_status = make_status(
        StatusCode::kInsufficientData,
        fmt::format("{} windows of {} steps for {} currents; need at least {}", N, tur_steps, m, m + 3));
    return e;
  }
  for (auto& v : mu) v /= N;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < m; ++j) S[i * m + j] = (S[i * m + j] - N * mu[i] * mu[j]) / (N - 1);
  std::vector<double> y = mu;
  if (!cholesky_solve(S, m, &y, 1e-12)) {
    e.tur_status = make_status(StatusCode::kInvalidInput, "the currents' covariance is singular");
    return e;
  }
  double t2 = 0;
  for (std::size_t i = 0; i < m; ++i) t2 += mu[i] * y[i];
  const double md = static_cast<double>(m);
  const double corrected = (N - md - 2) / (N - 1) * t2 - md / N;
  e.tur = 2 * corrected / (static_cast<double>(tur_steps) * dt);
  return e;
}

nlohmann::json matrix_json(const std::vector<double>& a, std::int64_t d) {
  auto j = nlohmann::json::array();
  for (std::int64_t i = 0; i < d; ++i) {
    auto row = nlohmann::json::array();
    for (std::int64_t k = 0; k < d; ++k)
      row.push_back(finite_or_null(a[static_cast<std::size_t>(i * d + k)]));
    j.push_back(row);
  }
  return j;
}

nlohmann::json interval_json(const std::optional<Interval>& v) {
  return v ? nlohmann::json::array({finite_or_null((*v)[0]), finite_or_null((*v)[1])})
           : nlohmann::json(nullptr);
}

}  // namespace

bool FluxOptions::IsValid(std::string* error) const {
  auto fail = [&](std::string m) {
    *error = std::move(m);
    return false;
  };
  if (!(dt > 0) || !std::isfinite(dt)) return fail(fmt::format("dt must be a positive number, got {}", dt));
  if (pair[0] < 0 || pair[1] < 0 || pair[0] == pair[1])
    return fail(fmt::format("the grid's pair must be two different coordinates (0-based), got {},{}", pair[0],
                            pair[1]));
  if (bins != 0 && (bins < 2 || bins > 200))
    return fail(fmt::format("bins must be 0 (automatic) or in [2, 200], got {}", bins));
  if (min_box_count < 1) return fail("min_box_count must be at least 1");
  if (blocks < 2 || blocks > 1000) return fail(fmt::format("blocks must be in [2, 1000], got {}", blocks));
  if (bootstrap < 0 || bootstrap > 100000) return fail("bootstrap must be in [0, 100000]");
  if (tur_steps < 1) return fail("tur_steps must be at least 1");
  if (!(confidence > 0 && confidence < 1)) return fail("confidence must be in (0, 1)");
  if (min_points < 10) return fail("min_points must be at least 10");
  return true;
}

nlohmann::json to_json(const FluxOptions& o) {
  return {{"dt", o.dt},
          {"pair", o.pair},
          {"bins", o.bins},
          {"min_box_count", o.min_box_count},
          {"blocks", o.blocks},
          {"bootstrap", o.bootstrap},
          {"tur_steps", o.tur_steps},
          {"confidence", o.confidence},
          {"seed", o.seed}};
}

FluxResult analyze_flux(const std::vector<std::vector<double>>& coords, const FluxOptions& o,
                        std::vector<std::string> names) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  FluxResult r;
  r.options = o;
  r.dt = o.dt;
  r.d = static_cast<std::int64_t>(coords.size());
  r.n = coords.empty() ? 0 : static_cast<std::int64_t>(coords[0].size());
  for (std::size_t k = names.size(); k < coords.size(); ++k) names.push_back(std::to_string(k));
  r.columns = names;
  r.ep_grid_status = r.tur_status = make_status(StatusCode::kNotRun, "the trajectory was not usable");
  auto refuse = [&](std::string m) {
    r.status = make_status(StatusCode::kInvalidInput, std::move(m));
    return r;
  };
  if (r.d < 2) return refuse(fmt::format("a trajectory needs at least 2 coordinates, got {}", r.d));
  if (r.d > kMaxCoordinates)
    return refuse(
        fmt::format("{} coordinates; the estimators take at most {} (choose columns)", r.d, kMaxCoordinates));
  if (o.pair[0] >= r.d || o.pair[1] >= r.d)
    return refuse(
        fmt::format("the grid's pair ({}, {}) is outside the {} coordinates", o.pair[0], o.pair[1], r.d));
  for (const auto& c : coords)
    if (static_cast<std::int64_t>(c.size()) != r.n) return refuse("the coordinates have different lengths");
  if (r.n < o.min_points)
    return refuse(fmt::format("only {} points; the estimators need at least {}", r.n, o.min_points));
  const auto n = static_cast<std::size_t>(r.n), d = static_cast<std::size_t>(r.d);
  std::vector<double> lo(d), hi(d);
  for (std::size_t k = 0; k < d; ++k) {
    double s = 0;
    lo[k] = hi[k] = coords[k][0];
    for (std::size_t t = 0; t < n; ++t) {
      const double v = coords[k][t];
      if (!std::isfinite(v))
        return refuse(fmt::format("coordinate '{}' is not finite at point {}", names[k], t));
      s += v;
      lo[k] = std::min(lo[k], v);
      hi[k] = std::max(hi[k], v);
    }
    r.mean.push_back(s / static_cast<double>(n));
    if (!(hi[k] > lo[k])) return refuse(fmt::format("coordinate '{}' is constant ({})", names[k], lo[k]));
  }

  // Diffusion from the increments.
  const std::size_t steps = n - 1;
  const double dt = o.dt;
  r.diffusion.assign(d * d, 0.0);
  {
    std::vector<double> mean_inc(d, 0.0);
    for (std::size_t k = 0; k < d; ++k)
      mean_inc[k] = (coords[k][n - 1] - coords[k][0]) / static_cast<double>(steps);
    for (std::size_t t = 0; t < steps; ++t)
      for (std::size_t i = 0; i < d; ++i) {
        const double di = coords[i][t + 1] - coords[i][t] - mean_inc[i];
        for (std::size_t j = i; j < d; ++j)
          r.diffusion[i * d + j] += di * (coords[j][t + 1] - coords[j][t] - mean_inc[j]);
      }
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = i; j < d; ++j) {
        r.diffusion[i * d + j] /= 2 * dt * static_cast<double>(steps - 1);
        r.diffusion[j * d + i] = r.diffusion[i * d + j];
      }
    std::vector<double> probe(d, 1.0);
    if (!cholesky_solve(r.diffusion, d, &probe, 0))
      return refuse(
          "the increments' covariance is singular: some coordinates move only together (drop one of them)");
  }

  // The grid.
  const auto pi = static_cast<std::size_t>(o.pair[0]), pj = static_cast<std::size_t>(o.pair[1]);
  const std::int64_t bins =
      o.bins > 0 ? o.bins
                 : std::clamp<std::int64_t>(std::llround(std::pow(static_cast<double>(n), 0.25)), 4, 40);
  const auto nb = static_cast<std::size_t>(bins), boxes = nb * nb;
  const double hx = (hi[pi] - lo[pi]) / static_cast<double>(bins),
               hy = (hi[pj] - lo[pj]) / static_cast<double>(bins), box_area = hx * hy;
  auto& g = r.grid;
  g.pair = o.pair;
  g.bins = bins;
  for (std::size_t e = 0; e <= nb; ++e) {
    g.x_edges.push_back(lo[pi] + hx * static_cast<double>(e));
    g.y_edges.push_back(lo[pj] + hy * static_cast<double>(e));
  }
  auto cell = [&](double u) {  // u in box units
    return static_cast<std::int64_t>(std::clamp(std::floor(u), 0.0, static_cast<double>(bins - 1)));
  };

  BlockSums b;
  b.K = std::min<std::int64_t>(o.blocks, static_cast<std::int64_t>(steps) / 2);
  b.d = r.d;
  b.boxes = static_cast<std::int64_t>(boxes);
  b.m = r.d <= kMaxTurCoordinates ? r.d * (r.d + 1) : 0;
  if (b.K * b.boxes > kMaxBlockBoxes)
    throw Error(fmt::format("{} blocks x {} grid boxes is more than {} block sums; use fewer bins or blocks",
                            b.K, b.boxes, kMaxBlockBoxes));
  const auto K = static_cast<std::size_t>(b.K), m = static_cast<std::size_t>(b.m);
  b.duration.assign(K, 0.0);
  b.points.assign(K, 0.0);
  b.area.assign(K * d * d, 0.0);
  b.box_count.assign(K * boxes, 0.0);
  b.box_current.assign(K * boxes * 2, 0.0);
  b.box_steps.assign(K * boxes, 0.0);
  b.box_increment.assign(K * boxes * 2, 0.0);
  b.tur_windows.assign(K, 0.0);
  b.tur_sum.assign(K * m, 0.0);
  b.tur_outer.assign(K * m * m, 0.0);
  auto block_of = [&](std::size_t t) { return std::min(K - 1, t * K / steps); };

  std::vector<double> mid(d), inc(d), window(m, 0.0);
  std::size_t in_window = 0;
  for (std::size_t t = 0; t < n; ++t) {
    const std::size_t k = block_of(std::min(t, steps - 1));
    const double u0 = (coords[pi][t] - lo[pi]) / hx, v0 = (coords[pj][t] - lo[pj]) / hy;
    std::int64_t ix = cell(u0), iy = cell(v0);
    b.points[k] += 1;
    b.box_count[k * boxes + static_cast<std::size_t>(iy * bins + ix)] += 1;
    if (t == steps) break;
    b.duration[k] += dt;
    for (std::size_t i = 0; i < d; ++i) {
      inc[i] = coords[i][t + 1] - coords[i][t];
      mid[i] = 0.5 * (coords[i][t + 1] + coords[i][t]) - r.mean[i];
    }
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = i + 1; j < d; ++j) {
        const double a = mid[i] * inc[j] - mid[j] * inc[i];
        b.area[k * d * d + i * d + j] += a;
        b.area[k * d * d + j * d + i] -= a;
      }
    const auto start = static_cast<std::size_t>(iy * bins + ix);
    b.box_steps[k * boxes + start] += 1;
    b.box_increment[(k * boxes + start) * 2] += inc[pi];
    b.box_increment[(k * boxes + start) * 2 + 1] += inc[pj];
    // Battle's current: follow the straight step through the boxes; every face crossed adds half the box
    // width (signed) to the boxes on both sides.
    const double u1 = (coords[pi][t + 1] - lo[pi]) / hx, v1 = (coords[pj][t + 1] - lo[pj]) / hy;
    const std::int64_t ex = cell(u1), ey = cell(v1);
    const double du = u1 - u0, dv = v1 - v0;
    const std::int64_t sx = du > 0 ? 1 : -1, sy = dv > 0 ? 1 : -1;
    double tx = du != 0 ? ((sx > 0 ? static_cast<double>(ix + 1) : static_cast<double>(ix)) - u0) / du
                        : std::numeric_limits<double>::infinity();
    double ty = dv != 0 ? ((sy > 0 ? static_cast<double>(iy + 1) : static_cast<double>(iy)) - v0) / dv
                        : std::numeric_limits<double>::infinity();
    const double tdx = du != 0 ? std::abs(1 / du) : 0, tdy = dv != 0 ? std::abs(1 / dv) : 0;
    auto add = [&](std::int64_t x, std::int64_t y, std::size_t axis, double v) {
      b.box_current[(k * boxes + static_cast<std::size_t>(y * bins + x)) * 2 + axis] += v;
    };
    while (ix != ex || iy != ey) {
      const bool move_x = iy == ey || (ix != ex && tx <= ty);
      if (move_x) {
        add(ix, iy, 0, 0.5 * static_cast<double>(sx) * hx);
        ix += sx;
        add(ix, iy, 0, 0.5 * static_cast<double>(sx) * hx);
        tx += tdx;
      } else {
        add(ix, iy, 1, 0.5 * static_cast<double>(sy) * hy);
        iy += sy;
        add(ix, iy, 1, 0.5 * static_cast<double>(sy) * hy);
        ty += tdy;
      }
    }
    // TUR currents over windows of tur_steps steps, assigned to the block of their first step.
    if (m > 0) {
      std::size_t c = 0;
      for (std::size_t j = 0; j < d; ++j) window[c++] += inc[j];
      for (std::size_t i = 0; i < d; ++i)
        for (std::size_t j = 0; j < d; ++j) window[c++] += mid[i] * inc[j];
      if (++in_window == static_cast<std::size_t>(o.tur_steps)) {
        const std::size_t kw = block_of(t + 1 - in_window);
        b.tur_windows[kw] += 1;
        for (std::size_t a = 0; a < m; ++a) {
          b.tur_sum[kw * m + a] += window[a];
          for (std::size_t c2 = 0; c2 < m; ++c2) b.tur_outer[(kw * m + a) * m + c2] += window[a] * window[c2];
        }
        std::fill(window.begin(), window.end(), 0.0);
        in_window = 0;
      }
    }
  }

  // The pair's diffusion and its inverse (the metric of e_p and the powers).
  const double d00 = r.diffusion[pi * d + pi], d01 = r.diffusion[pi * d + pj], d11 = r.diffusion[pj * d + pj];
  const double det = d00 * d11 - d01 * d01;
  const std::array<double, 4> Minv{d11 / det, -d01 / det, -d01 / det, d00 / det};

  // Fields on the grid.
  const double T = static_cast<double>(steps) * dt;
  std::vector<char> used(boxes, 0);
  g.count.assign(boxes, 0.0);
  for (auto* f : {&g.density, &g.jx, &g.jy, &g.curl, &g.drift_x, &g.drift_y, &g.gradient_x, &g.gradient_y,
                  &g.flux_x, &g.flux_y})
    f->assign(boxes, kNaN);
  std::vector<double> nsteps(boxes, 0.0), incx(boxes, 0.0), incy(boxes, 0.0), jx(boxes, 0.0), jy(boxes, 0.0);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t box = 0; box < boxes; ++box) {
      g.count[box] += b.box_count[k * boxes + box];
      nsteps[box] += b.box_steps[k * boxes + box];
      incx[box] += b.box_increment[(k * boxes + box) * 2];
      incy[box] += b.box_increment[(k * boxes + box) * 2 + 1];
      jx[box] += b.box_current[(k * boxes + box) * 2];
      jy[box] += b.box_current[(k * boxes + box) * 2 + 1];
    }
  double covered = 0;
  for (std::size_t box = 0; box < boxes; ++box) {
    g.density[box] = g.count[box] / (static_cast<double>(n) * box_area);
    g.jx[box] = jx[box] / (T * box_area);
    g.jy[box] = jy[box] / (T * box_area);
    if (g.count[box] >= static_cast<double>(o.min_box_count)) {
      used[box] = 1;
      ++g.boxes_used;
      covered += g.count[box];
      if (nsteps[box] > 0) {
        g.drift_x[box] = incx[box] / (nsteps[box] * dt);
        g.drift_y[box] = incy[box] / (nsteps[box] * dt);
      }
      g.flux_x[box] = g.jx[box] / g.density[box];
      g.flux_y[box] = g.jy[box] / g.density[box];
    }
  }
  g.coverage = covered / static_cast<double>(n);
  auto at = [&](std::int64_t x, std::int64_t y) { return static_cast<std::size_t>(y * bins + x); };
  double grad_power = 0, grad_mass = 0;
  for (std::int64_t y = 0; y < bins; ++y)
    for (std::int64_t x = 0; x < bins; ++x) {
      const auto box = at(x, y);
      if (x > 0 && x < bins - 1 && y > 0 && y < bins - 1)
        g.curl[box] = (g.jy[at(x + 1, y)] - g.jy[at(x - 1, y)]) / (2 * hx) -
                      (g.jx[at(x, y + 1)] - g.jx[at(x, y - 1)]) / (2 * hy);
      if (!used[box]) continue;
      // grad ln P by differences over the used neighbours (central where both are used, else one-sided).
      auto derivative = [&](std::int64_t dx, std::int64_t dy, double h) {
        const bool back = x - dx >= 0 && y - dy >= 0 && used[at(x - dx, y - dy)];
        const bool fwd = x + dx < bins && y + dy < bins && used[at(x + dx, y + dy)];
        const double c = std::log(g.density[box]);
        if (back && fwd)
          return (std::log(g.density[at(x + dx, y + dy)]) - std::log(g.density[at(x - dx, y - dy)])) /
                 (2 * h);
        if (fwd) return (std::log(g.density[at(x + dx, y + dy)]) - c) / h;
        if (back) return (c - std::log(g.density[at(x - dx, y - dy)])) / h;
        return kNaN;
      };
      const double gx = derivative(1, 0, hx), gy = derivative(0, 1, hy);
      if (std::isnan(gx) || std::isnan(gy)) continue;
      g.gradient_x[box] = d00 * gx + d01 * gy;
      g.gradient_y[box] = d01 * gx + d11 * gy;
      const double p = g.count[box] / static_cast<double>(n);
      grad_power += p * (gx * (d00 * gx + d01 * gy) + gy * (d01 * gx + d11 * gy));  // |D g|^2_{D^-1} = g.Dg
      grad_mass += p;
    }

  // The estimates, then the bootstrap over blocks.
  const std::vector<double> ones(K, 1.0);
  const auto e = estimate(b, ones, used, Minv, dt, o.tur_steps);
  r.area_rate = e.area;
  r.tur_windows = static_cast<std::int64_t>(std::accumulate(b.tur_windows.begin(), b.tur_windows.end(), 0.0));
  r.tur_currents = b.m;
  if (g.boxes_used == 0) {
    r.ep_grid_status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("no box of the {0} x {0} grid holds {1} samples; use fewer --bins", bins,
                                o.min_box_count));
  } else {
    r.ep_grid = e.ep_grid;
    r.ep_grid_status = Status::Ok();
    r.flux_power = e.ep_grid;
    r.drift_power = e.drift_power;
    if (grad_mass > 0) r.gradient_power = grad_power / grad_mass * g.coverage;
    if (g.coverage < 0.9)
      r.ep_grid_status.message = fmt::format(
          "the used boxes hold only {:.0f}% of the samples; the estimate misses the rest (use fewer --bins)",
          100 * g.coverage);
  }
  r.tur_status = e.tur_status;
  if (std::isfinite(e.tur)) r.tur_bound = e.tur;

  if (o.bootstrap > 0) {
    std::mt19937_64 rng(o.seed);
    std::vector<double> ep, tur, mult(K);
    std::vector<std::vector<double>> area(d * d);
    for (std::int64_t s = 0; s < o.bootstrap; ++s) {
      std::fill(mult.begin(), mult.end(), 0.0);
      for (std::size_t k = 0; k < K; ++k) mult[rng() % K] += 1;
      const auto eb = estimate(b, mult, used, Minv, dt, o.tur_steps);
      if (std::isfinite(eb.ep_grid)) ep.push_back(eb.ep_grid);
      if (std::isfinite(eb.tur)) tur.push_back(eb.tur);
      for (std::size_t i = 0; i < d * d; ++i) area[i].push_back(eb.area[i]);
    }
    if (r.ep_grid && ep.size() >= 10) r.ep_grid_ci = stats::percentile_interval(ep, o.confidence);
    // The TUR bound's bootstrap distribution sits above it (a resample repeats blocks, which shrinks the
    // currents' covariance), so its percentile interval is moved by the bootstrap's median bias.
    if (r.tur_bound && tur.size() >= 10) {
      const auto q = stats::percentile_interval(tur, o.confidence);
      std::sort(tur.begin(), tur.end());
      const double bias = stats::quantile_sorted(tur, 0.5) - *r.tur_bound;
      r.tur_ci = Interval{q[0] - bias, q[1] - bias};
    }
    for (std::size_t i = 0; i < d * d; ++i) {
      const auto ci = stats::percentile_interval(area[i], o.confidence);
      r.area_rate_lo.push_back(ci[0]);
      r.area_rate_hi.push_back(ci[1]);
    }
  }
  return r;
}

nlohmann::json to_json(const FluxResult& r) {
  nlohmann::json j;
  j["n"] = r.n;
  j["d"] = r.d;
  j["dt"] = r.dt;
  j["columns"] = r.columns;
  put_status(j, r.status);
  nlohmann::json ep;
  put_result(ep, "grid", r.ep_grid, r.ep_grid_status);
  if (r.ep_grid && !r.ep_grid_status.message.empty()) ep["grid_message"] = r.ep_grid_status.message;
  ep["grid_ci"] = interval_json(r.ep_grid_ci);
  put_result(ep, "tur_bound", r.tur_bound, r.tur_status);
  ep["tur_ci"] = interval_json(r.tur_ci);
  ep["tur_currents"] = r.tur_currents;
  ep["tur_windows"] = r.tur_windows;
  ep["confidence"] = r.options.confidence;
  j["entropy_production"] = ep;
  if (!r.ok()) {
    j["area_rate"] = nullptr;
    j["diffusion"] = nullptr;
    j["options"] = to_json(r.options);
    return j;
  }
  j["mean"] = r.mean;
  j["area_rate"] = matrix_json(r.area_rate, r.d);
  j["area_rate_ci"] = r.area_rate_lo.empty() ? nlohmann::json(nullptr)
                                             : nlohmann::json{{"lower", matrix_json(r.area_rate_lo, r.d)},
                                                              {"upper", matrix_json(r.area_rate_hi, r.d)}};
  j["diffusion"] = matrix_json(r.diffusion, r.d);
  j["grid"] = {{"pair", r.grid.pair},
               {"columns",
                {r.columns[static_cast<std::size_t>(r.grid.pair[0])],
                 r.columns[static_cast<std::size_t>(r.grid.pair[1])]}},
               {"bins", r.grid.bins},
               {"boxes_used", r.grid.boxes_used},
               {"coverage", r.grid.coverage}};
  j["drift_decomposition"] = {{"drift_power", or_null(r.drift_power)},
                              {"gradient_power", or_null(r.gradient_power)},
                              {"flux_power", or_null(r.flux_power)},
                              {"flux_share", r.flux_power && r.drift_power && *r.drift_power > 0
                                                 ? nlohmann::json(*r.flux_power / *r.drift_power)
                                                 : nlohmann::json(nullptr)},
                              {"meaning",
                               "P-weighted mean of |.|^2 in the metric D^-1 of the drift F, its gradient "
                               "part D grad ln P and its flux "
                               "part J/P on the grid (flux_power = e_p)"}};
  j["options"] = to_json(r.options);
  return j;
}

std::string grid_csv(const FluxResult& r) {
  io::Table t;
  t.columns = {"x",       "y",       "count",      "density",    "jx",     "jy",    "curl",
               "drift_x", "drift_y", "gradient_x", "gradient_y", "flux_x", "flux_y"};
  const auto& g = r.grid;
  for (std::int64_t y = 0; y < g.bins; ++y)
    for (std::int64_t x = 0; x < g.bins; ++x) {
      const auto b = static_cast<std::size_t>(y * g.bins + x);
      const auto xi = static_cast<std::size_t>(x), yi = static_cast<std::size_t>(y);
      t.add_row({0.5 * (g.x_edges[xi] + g.x_edges[xi + 1]), 0.5 * (g.y_edges[yi] + g.y_edges[yi + 1]),
                 g.count[b], g.density[b], g.jx[b], g.jy[b], g.curl[b], g.drift_x[b], g.drift_y[b],
                 g.gradient_x[b], g.gradient_y[b], g.flux_x[b], g.flux_y[b]});
    }
  return t.to_csv();
}

bool plot_flux(const std::string& dir, const std::string& stem, const FluxResult& r) {
  if (!r.ok()) return false;
  const auto& g = r.grid;
  std::filesystem::create_directories(dir);
  const auto nb = static_cast<std::size_t>(g.bins);
  const double hx = g.x_edges[1] - g.x_edges[0], hy = g.y_edges[1] - g.y_edges[0];
  double jmax = 0;
  for (std::size_t b = 0; b < nb * nb; ++b)
    if (g.count[b] > 0) jmax = std::max(jmax, std::hypot(g.jx[b] / hx, g.jy[b] / hy));
  std::string data;
  for (std::size_t y = 0; y < nb; ++y)
    for (std::size_t x = 0; x < nb; ++x)
      data += fmt::format("{:.6g} {:.6g} {:.6g}\n", 0.5 * (g.x_edges[x] + g.x_edges[x + 1]),
                          0.5 * (g.y_edges[y] + g.y_edges[y + 1]), g.density[y * nb + x]);
  data += "\n\n";
  // Arrows scaled so the longest is 0.9 box; boxes with no samples have no arrow.
  for (std::size_t y = 0; y < nb; ++y)
    for (std::size_t x = 0; x < nb; ++x) {
      const auto b = y * nb + x;
      if (g.count[b] <= 0 || jmax <= 0) continue;
      data +=
          fmt::format("{:.6g} {:.6g} {:.6g} {:.6g}\n", 0.5 * (g.x_edges[x] + g.x_edges[x + 1]),
                      0.5 * (g.y_edges[y] + g.y_edges[y + 1]), 0.9 * g.jx[b] / jmax, 0.9 * g.jy[b] / jmax);
    }
  io::write_atomic(std::filesystem::path(dir) / (stem + ".dat"), data);
  const auto name = [&](std::size_t k) { return r.columns[static_cast<std::size_t>(g.pair[k])]; };
  std::string gp;
  gp += "set title " +
        io::gnuplot_quote(fmt::format("Probability current over the density (e_p grid = {})",
                                      r.ep_grid ? fmt::format("{:.4g}", *r.ep_grid) : "n/a")) +
        " noenhanced\n";
  gp += "set xlabel " + io::gnuplot_quote(name(0)) + " noenhanced\nset ylabel " + io::gnuplot_quote(name(1)) +
        " noenhanced\nset cblabel 'density'\n";
  gp += fmt::format("set xrange [{}:{}]\nset yrange [{}:{}]\n", g.x_edges.front(), g.x_edges.back(),
                    g.y_edges.front(), g.y_edges.back());
  gp += "set palette defined (0 'white', 1 '#4a90d9')\n";
  const std::string dat = io::gnuplot_quote(stem + ".dat");
  gp += "plot " + dat + " index 0 using 1:2:3 with image notitle, " + dat +
        " index 1 using 1:2:3:4 with vectors head size screen 0.008,20 lc rgb 'black' notitle\n";
  return io::render_gnuplot(dir, stem, gp, 800, 700);
}

}  // namespace critlab::landscape
