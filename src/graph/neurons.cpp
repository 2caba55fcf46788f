#include "critlab/graph/neurons.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "critlab/core/error.h"
#include "critlab/graph/correlation.h"

namespace critlab::graph {
namespace {

// Percentile ranks in (0, 1] (ties get their mean rank).
std::vector<double> percentile_ranks(const std::vector<double>& v) {
  const std::size_t n = v.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = (static_cast<double>(i + j) / 2 + 1) / static_cast<double>(n);
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = r;
    i = j + 1;
  }
  return rank;
}

double mutual_information_bits(const double* a, std::int64_t stride, const std::int64_t* label,
                               std::int64_t n, std::int64_t classes, int bins) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::int64_t x, std::int64_t y) { return a[x * stride] < a[y * stride]; });
  std::vector<int> bin(static_cast<std::size_t>(n));
  int b = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    // Advance the bin at the quantile edges, but never split equal values.
    const int target = static_cast<int>(std::min<std::int64_t>(bins - 1, i * bins / n));
    if (target > b && a[order[i] * stride] != a[order[i - 1] * stride]) b = target;
    bin[order[i]] = b;
  }
  const int used_bins = b + 1;  // bin indices used; the bias counts only occupied bins (below)
  std::vector<double> joint(static_cast<std::size_t>(used_bins * classes), 0), pb(used_bins, 0),
      pc(classes, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    joint[bin[i] * classes + label[i]] += 1;
    pb[bin[i]] += 1;
    pc[label[i]] += 1;
  }
  double mi = 0;
  for (int x = 0; x < used_bins; ++x)
    for (std::int64_t c = 0; c < classes; ++c) {
      const double j = joint[x * classes + c];
      if (j > 0) mi += j / n * std::log2(j * n / (pb[x] * pc[c]));
    }
  std::int64_t present = 0, occupied = 0;
  for (const double c : pc) present += c > 0;
  for (const double x : pb) occupied += x > 0;
  mi -= (occupied - 1.0) * (present - 1.0) / (2.0 * static_cast<double>(n) * std::log(2.0));
  return std::max(0.0, mi);
}

}  // namespace

bool NeuronOptions::IsValid(std::string* error) const {
  std::string e;
  if (!(fraction > 0 && fraction <= 1))
    e = fmt::format("neurons.fraction must be in (0, 1], got {}", fraction);
  else if (bins < 2 || bins > 1000)
    e = fmt::format("neurons.bins must be in [2, 1000], got {}", bins);
  if (e.empty()) return true;
  if (error) *error = e;
  return false;
}

NeuronStats neuron_stats(const at::Tensor& activity, const at::Tensor& labels, std::int64_t classes,
                         const NeuronOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  if (activity.dim() != 2 || labels.dim() != 1 || activity.size(0) != labels.size(0))
    throw Error("neuron_stats: activity must be [samples, units] with one label per sample");
  if (!(o.fraction > 0 && o.fraction <= 1)) throw Error("the critical fraction must be in (0, 1]");
  NeuronStats s;
  const std::int64_t n = activity.size(0), units = activity.size(1);
  if (units == 0 || n == 0) return s;
  const auto a = activity.to(at::kCPU).to(at::kDouble).abs().contiguous();
  const auto y = labels.to(at::kCPU).to(at::kLong).contiguous();
  const auto onehot = at::one_hot(y, classes).to(at::kDouble);  // [n, classes]
  const auto counts = onehot.sum(0).clamp_min(1);
  s.class_means = onehot.t().mm(a) / counts.unsqueeze(1);  // [classes, units]
  const auto strength = a.mean(0);
  const auto raw = activity.to(at::kCPU).to(at::kDouble).contiguous();
  const auto alive_t = has_variance(raw.mean(0), raw.std(0, /*unbiased=*/false)).contiguous();
  const auto* alive = alive_t.data_ptr<bool>();
  const auto* str = strength.data_ptr<double>();
  const auto cm = s.class_means.contiguous();
  const auto* cmp = cm.data_ptr<double>();
  const auto* ap = a.data_ptr<double>();
  const auto* yp = y.data_ptr<std::int64_t>();
  for (std::int64_t j = 0; j < units; ++j) {
    s.strength.push_back(str[j]);
    double mx = 0, total = 0;
    for (std::int64_t c = 0; c < classes; ++c)
      mx = std::max(mx, cmp[c * units + j]), total += cmp[c * units + j];
    const double rest = classes > 1 ? (total - mx) / (classes - 1) : 0;
    s.selectivity.push_back(mx + rest > 0 ? (mx - rest) / (mx + rest) : 0.0);
    s.information.push_back(alive[j] ? mutual_information_bits(ap + j, units, yp, n, classes, o.bins) : 0.0);
  }
  const auto rs = percentile_ranks(s.strength), ri = percentile_ranks(s.information);
  std::vector<std::int64_t> order;
  for (std::int64_t j = 0; j < units; ++j) {
    s.score.push_back(alive[j] ? std::min(rs[j], ri[j]) : 0.0);
    if (alive[j]) order.push_back(j);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t x, std::int64_t y2) { return s.score[x] > s.score[y2]; });
  const auto k = std::min<std::size_t>(
      order.size(), std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(o.fraction * units))));
  s.critical.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
  std::sort(s.critical.begin(), s.critical.end());
  return s;
}

double jaccard(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  std::vector<std::int64_t> inter;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(inter));
  return static_cast<double>(inter.size()) / static_cast<double>(a.size() + b.size() - inter.size());
}

double normalised_entropy(const std::vector<double>& v) {
  const double total = std::accumulate(v.begin(), v.end(), 0.0);
  if (v.size() < 2 || total <= 0) return 0.0;
  double h = 0;
  for (const double x : v)
    if (x > 0) h -= x / total * std::log(x / total);
  return h / std::log(static_cast<double>(v.size()));
}

double gini(std::vector<double> v) {
  const double total = std::accumulate(v.begin(), v.end(), 0.0);
  if (v.size() < 2 || total <= 0) return 0.0;
  std::sort(v.begin(), v.end());
  double weighted = 0;
  const double n = static_cast<double>(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) weighted += (2.0 * static_cast<double>(i + 1) - n - 1) * v[i];
  return weighted / (n * total);
}

}  // namespace critlab::graph
