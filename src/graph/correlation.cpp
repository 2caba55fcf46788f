#include "critlab/graph/correlation.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "critlab/core/error.h"

namespace critlab::graph {
namespace {

struct Standardised {
  at::Tensor z;  // [n, kept] float32, scaled so that z^T z is the correlation matrix
  std::vector<std::int64_t> kept;
  std::int64_t excluded = 0;
};

// (x - mean) / (sd sqrt(n)) per column, the statistics and the subtraction in float64 (activity may sit far
// from zero: a float32 subtraction would lose the digits that carry the variance), then rounded to float32
// for the GEMM. One pass for the statistics (var_mean), one for the scaling; the 1/n of the correlation is
// folded into the scale instead of a pass over the n_units^2 result.
// The same on the CPU for float32 activity, without float64 copies of the matrix: per-column sums in double
// over the rows (two passes: mean, then squared deviations), then one pass writing the float32 scores.
Standardised standardise_cpu_float(const at::Tensor& a) {
  Standardised s;
  const auto x = a.contiguous();
  const std::int64_t n = x.size(0), u = x.size(1);
  const float* px = x.data_ptr<float>();
  std::vector<double> mean(static_cast<std::size_t>(u), 0.0), ss(static_cast<std::size_t>(u), 0.0);
  at::parallel_for(0, u, 256, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t c = c0; c < c1; ++c) mean[static_cast<std::size_t>(c)] += px[r * u + c];
    for (std::int64_t c = c0; c < c1; ++c) mean[static_cast<std::size_t>(c)] /= static_cast<double>(n);
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t c = c0; c < c1; ++c) {
        const double d = px[r * u + c] - mean[static_cast<std::size_t>(c)];
        ss[static_cast<std::size_t>(c)] += d * d;
      }
  });
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  const auto mean_t = at::from_blob(mean.data(), {u}, opts).clone();
  const auto sd_t = (at::from_blob(ss.data(), {u}, opts) / static_cast<double>(n)).sqrt();
  const auto keep = has_variance(mean_t, sd_t);
  const auto* k = keep.data_ptr<bool>();
  for (std::int64_t i = 0; i < u; ++i) {
    if (k[i])
      s.kept.push_back(i);
    else
      ++s.excluded;
  }
  if (s.kept.empty()) return s;
  const auto m = static_cast<std::int64_t>(s.kept.size());
  std::vector<double> scale(s.kept.size());
  const double* psd = sd_t.data_ptr<double>();
  for (std::size_t j = 0; j < s.kept.size(); ++j)
    scale[j] = 1.0 / (psd[s.kept[j]] * std::sqrt(static_cast<double>(n)));
  s.z = at::empty({n, m}, at::TensorOptions().dtype(at::kFloat));
  float* pz = s.z.data_ptr<float>();
  at::parallel_for(0, n, 64, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::int64_t j = 0; j < m; ++j) {
        const auto c = s.kept[static_cast<std::size_t>(j)];
        pz[r * m + j] = static_cast<float>((px[r * u + c] - mean[static_cast<std::size_t>(c)]) *
                                           scale[static_cast<std::size_t>(j)]);
      }
  });
  return s;
}

Standardised standardise(const at::Tensor& a) {
  if (a.device().is_cpu() && a.scalar_type() == at::kFloat) return standardise_cpu_float(a);
  Standardised s;
  const auto x = a.to(at::kDouble);
  const auto [var, mean] = at::var_mean(x, 0, /*unbiased=*/false);
  const auto sd = var.sqrt();
  const auto keep = has_variance(mean, sd).to(at::kCPU);
  const auto* k = keep.data_ptr<bool>();
  for (std::int64_t i = 0; i < keep.numel(); ++i) {
    if (k[i])
      s.kept.push_back(i);
    else
      ++s.excluded;
  }
  if (s.kept.empty()) return s;
  const auto scale = (sd * std::sqrt(static_cast<double>(a.size(0)))).reciprocal();
  if (s.excluded == 0) {
    s.z = at::sub(x, mean).mul_(scale).to(at::kFloat);
    return s;
  }
  const auto idx = at::tensor(s.kept, at::TensorOptions().dtype(at::kLong)).to(a.device());
  s.z = at::sub(x.index_select(1, idx), mean.index_select(0, idx))
            .mul_(scale.index_select(0, idx))
            .to(at::kFloat);
  return s;
}

}  // namespace

at::Tensor has_variance(const at::Tensor& mean, const at::Tensor& sd) {
  return sd.gt(1e-6 * (1 + mean.abs()));
}

Correlation correlate(const at::Tensor& a, const at::Tensor& b) {
  if (a.dim() != 2 || (b.defined() && b.dim() != 2))
    throw Error("correlate: activity must be a [samples, units] matrix");
  if (b.defined() && b.size(0) != a.size(0))
    throw Error(
        fmt::format("correlate: the two layers were recorded on different numbers of samples ({} and {})",
                    a.size(0), b.size(0)));
  Correlation c;
  c.within_layer = !b.defined();
  if (a.size(1) == 0 || (b.defined() && b.size(1) == 0)) {
    c.status = make_status(StatusCode::kInsufficientData, "a layer with no units");
    return c;
  }
  if (a.size(0) < 2) {
    c.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("{} samples; a correlation needs at least 2", a.size(0)));
    c.excluded_a = a.size(1);
    c.excluded_b = b.defined() ? b.size(1) : 0;
    return c;
  }
  auto sa = standardise(a);
  c.kept_a = sa.kept, c.excluded_a = sa.excluded;
  if (!b.defined()) {
    c.kept_b = sa.kept;
    if (sa.kept.empty()) {
      c.status =
          make_status(StatusCode::kNotApplicable, "every unit is constant on the samples (no variance)");
      return c;
    }
    c.r = at::mm(sa.z.t(), sa.z).clamp_(-1, 1);
    c.r.fill_diagonal_(1);
    return c;
  }
  auto sb = standardise(b);
  c.kept_b = sb.kept, c.excluded_b = sb.excluded;
  if (sa.kept.empty() || sb.kept.empty()) {
    c.status = make_status(StatusCode::kNotApplicable,
                           "every unit of one layer is constant on the samples (no variance)");
    return c;
  }
  c.r = at::mm(sa.z.t(), sb.z).clamp_(-1, 1);
  return c;
}

std::vector<WeightedEdge> correlation_edges(const Correlation& c, EdgeSign sign, double min_weight,
                                            std::int64_t offset_a, std::int64_t offset_b) {
  std::vector<WeightedEdge> edges;
  if (!c.ok()) return edges;
  auto w = c.r.to(at::kCPU);
  if (sign == EdgeSign::kAbsolute)
    w = w.abs();
  else if (sign == EdgeSign::kNegative)
    w = -w;
  auto mask = w.ge(min_weight);
  const bool within = c.within_layer;
  if (within) mask = mask.triu(1);
  const auto idx = mask.nonzero().contiguous();  // [E, 2]; nonzero() may return it column-major
  const auto vals = w.index({mask}).contiguous();
  const auto* ij = idx.data_ptr<std::int64_t>();
  const auto* v = vals.data_ptr<float>();
  edges.resize(static_cast<std::size_t>(idx.size(0)));
  const std::int64_t off_b = within ? offset_a : offset_b;
  for (std::int64_t e = 0; e < idx.size(0); ++e)
    edges[e] = {static_cast<std::int32_t>(offset_a + ij[2 * e]),
                static_cast<std::int32_t>(off_b + ij[2 * e + 1]), v[e]};
  return edges;
}

}  // namespace critlab::graph
