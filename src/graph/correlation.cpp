#include "critlab/graph/correlation.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "critlab/core/error.h"

namespace critlab::graph {
namespace {

struct Standardised {
  at::Tensor z;  // [n, kept] float32
  std::vector<std::int64_t> kept;
  std::int64_t excluded = 0;
};

Standardised standardise(const at::Tensor& a) {
  Standardised s;
  const auto x = a.to(at::kDouble);
  const auto mean = x.mean(0);
  const auto sd = (x - mean).pow(2).mean(0).sqrt();
  const auto keep = has_variance(mean, sd).to(at::kCPU);
  const auto* k = keep.data_ptr<bool>();
  for (std::int64_t i = 0; i < keep.numel(); ++i) {
    if (k[i])
      s.kept.push_back(i);
    else
      ++s.excluded;
  }
  if (s.kept.empty()) return s;
  const auto idx = at::tensor(s.kept, at::TensorOptions().dtype(at::kLong)).to(a.device());
  s.z = ((x.index_select(1, idx) - mean.index_select(0, idx)) / sd.index_select(0, idx)).to(at::kFloat);
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
  const double n = static_cast<double>(a.size(0));
  auto sa = standardise(a);
  c.kept_a = sa.kept, c.excluded_a = sa.excluded;
  if (!b.defined()) {
    c.kept_b = sa.kept;
    if (sa.kept.empty()) {
      c.status =
          make_status(StatusCode::kNotApplicable, "every unit is constant on the samples (no variance)");
      return c;
    }
    c.r = at::mm(sa.z.t(), sa.z).div_(n).clamp_(-1, 1);
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
  c.r = at::mm(sa.z.t(), sb.z).div_(n).clamp_(-1, 1);
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
