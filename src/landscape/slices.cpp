#include "critlab/landscape/slices.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/stats/describe.h"

namespace critlab::landscape {

namespace {

void check_like(const std::vector<at::Tensor>& d, const std::vector<at::Tensor>& params, const char* what) {
  if (d.size() != params.size())
    throw Error(fmt::format("{} has {} tensors; the model has {} trainable parameters", what, d.size(),
                            params.size()));
  for (std::size_t i = 0; i < d.size(); ++i)
    if (!d[i].defined() || d[i].sizes() != params[i].sizes())
      throw Error(fmt::format("{}'s tensor {} does not have the shape of the model's parameter", what, i));
}

}  // namespace

void filter_normalize(std::vector<at::Tensor>& direction, const std::vector<at::Tensor>& params,
                      bool include_1d) {
  check_like(direction, params, "the direction");
  torch::NoGradGuard ng;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& w = params[i];
    at::Tensor& d = direction[i];
    if (w.dim() <= 1) {
      if (include_1d)
        d.copy_(w);
      else
        d.zero_();
      continue;
    }
    const at::Tensor wf = w.reshape({w.size(0), -1}), df = d.reshape({d.size(0), -1});
    const at::Tensor scale = wf.norm(2, {1}, true) / (df.norm(2, {1}, true) + 1e-10);
    d.copy_((df * scale).view(d.sizes()));
  }
}

std::vector<at::Tensor> filter_normalized_direction(const std::vector<at::Tensor>& params, bool include_1d,
                                                    std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<at::Tensor> d;
  for (const auto& p : params)
    d.push_back(at::normal(0, 1, p.sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(p.options()));
  filter_normalize(d, params, include_1d);
  return d;
}

LossAccuracy evaluate(nn::LayerStack& model, const at::Tensor& inputs, const at::Tensor& labels,
                      LossKind loss, std::int64_t batch_size) {
  if (inputs.size(0) < 1) throw Error("no examples to evaluate the loss on");
  nn::EvalModeGuard eval(*model);
  torch::NoGradGuard ng;
  const auto n = inputs.size(0);
  double total = 0, correct = 0;
  const auto dtype = trainable_parameters(*model).front().scalar_type();
  for (std::int64_t s = 0; s < n; s += batch_size) {
    const auto len = std::min(batch_size, n - s);
    const at::Tensor x = inputs.narrow(0, s, len).to(dtype), y = labels.narrow(0, s, len);
    const at::Tensor logits = model->forward(x);
    total += batch_loss_from_logits(logits, y, loss).item<double>() * len;
    correct += logits.argmax(1).eq(y).sum().item<double>();
  }
  return {total / n, correct / n};
}

namespace {

// Loss and accuracy of each set at the model's current parameters.
std::vector<LossAccuracy> evaluate_sets(nn::LayerStack& model, const std::vector<EvalSet>& sets,
                                        LossKind loss) {
  std::vector<LossAccuracy> out;
  for (const auto& set : sets) out.push_back(evaluate(model, set.inputs, set.labels, loss));
  return out;
}

// The loss along a line: `place(x)` sets the parameters for each x, then every set is evaluated.
Slice1D line(nn::LayerStack& model, const std::vector<double>& xs, const std::vector<EvalSet>& sets,
             LossKind loss, const std::function<void(double)>& place) {
  Slice1D s;
  s.alpha = xs;
  s.loss.assign(sets.size(), {});
  s.accuracy.assign(sets.size(), {});
  for (const auto& set : sets) s.sets.push_back(set.name);
  for (double x : xs) {
    place(x);
    const auto at = evaluate_sets(model, sets, loss);
    for (std::size_t k = 0; k < sets.size(); ++k) {
      s.loss[k].push_back(at[k].loss);
      s.accuracy[k].push_back(at[k].accuracy);
    }
  }
  return s;
}

}  // namespace

Slice1D slice_1d(nn::LayerStack& model, const std::vector<at::Tensor>& direction,
                 const std::vector<double>& alphas, const std::vector<EvalSet>& sets, LossKind loss) {
  ParameterScope swap(model);
  check_like(direction, swap.original(), "the direction");
  return line(model, alphas, sets, loss, [&](double a) { swap.offset({{a, &direction}}); });
}

Slice2D slice_2d(nn::LayerStack& model, const std::vector<at::Tensor>& d, const std::vector<at::Tensor>& e,
                 const std::vector<double>& alphas, const std::vector<double>& betas,
                 const std::vector<EvalSet>& sets, LossKind loss) {
  ParameterScope swap(model);
  check_like(d, swap.original(), "the first direction");
  check_like(e, swap.original(), "the second direction");
  Slice2D s;
  s.alpha = alphas;
  s.beta = betas;
  for (const auto& set : sets) s.sets.push_back(set.name);
  s.loss.assign(sets.size(),
                std::vector<std::vector<double>>(alphas.size(), std::vector<double>(betas.size())));
  s.accuracy = s.loss;
  for (std::size_t i = 0; i < alphas.size(); ++i)
    for (std::size_t j = 0; j < betas.size(); ++j) {
      swap.offset({{alphas[i], &d}, {betas[j], &e}});
      const auto at = evaluate_sets(model, sets, loss);
      for (std::size_t k = 0; k < sets.size(); ++k) {
        s.loss[k][i][j] = at[k].loss;
        s.accuracy[k][i][j] = at[k].accuracy;
      }
    }
  return s;
}

Slice1D interpolate(nn::LayerStack& model, const std::vector<at::Tensor>& theta_a,
                    const std::vector<at::Tensor>& theta_b, const std::vector<double>& ts,
                    const std::vector<EvalSet>& sets, LossKind loss) {
  ParameterScope swap(model);
  check_like(theta_a, swap.original(), "the first checkpoint");
  check_like(theta_b, swap.original(), "the second checkpoint");
  return line(model, ts, sets, loss, [&](double t) {
    std::vector<at::Tensor> theta;
    for (std::size_t i = 0; i < theta_a.size(); ++i) theta.push_back(theta_a[i] * (1 - t) + theta_b[i] * t);
    swap.set(theta);
  });
}

bool ConcentrationOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (radii.empty()) return fail("concentration radii: give at least one");
  for (double r : radii)
    if (!(r > 0 && r <= 100)) return fail(fmt::format("concentration radii must be in (0, 100], got {}", r));
  if (directions < 2 || directions > 100000)
    return fail(fmt::format("concentration directions must be in [2, 100000], got {}", directions));
  return true;
}

std::vector<ConcentrationRow> concentration(nn::LayerStack& model, const at::Tensor& inputs,
                                            const at::Tensor& labels, LossKind loss,
                                            const std::vector<ParameterSubset>& subsets,
                                            const ConcentrationOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  if (subsets.empty()) throw Error("concentration: no parameter subsets");
  ParameterScope swap(model);
  const auto& theta = swap.original();
  const double base = evaluate(model, inputs, labels, loss).loss;
  // rises[subset][radius][direction], and the even part (L(+r d) + L(-r d)) / 2 - L
  std::vector<std::vector<std::vector<double>>> rises(subsets.size(),
                                                      std::vector<std::vector<double>>(o.radii.size()));
  auto even = rises;
  for (int k = 0; k < o.directions; ++k) {
    const auto d = filter_normalized_direction(theta, o.include_1d, o.seed + static_cast<std::uint64_t>(k));
    for (std::size_t s = 0; s < subsets.size(); ++s) {
      std::vector<at::Tensor> ds = d;
      if (!subsets[s].mask.empty()) {
        check_like(subsets[s].mask, theta, "a subset's mask");
        for (std::size_t i = 0; i < ds.size(); ++i) ds[i] = d[i] * subsets[s].mask[i].to(d[i].options());
      }
      for (std::size_t r = 0; r < o.radii.size(); ++r) {
        swap.offset({{o.radii[r], &ds}});
        const double plus = evaluate(model, inputs, labels, loss).loss - base;
        swap.offset({{-o.radii[r], &ds}});
        const double minus = evaluate(model, inputs, labels, loss).loss - base;
        rises[s][r].push_back(plus);
        even[s][r].push_back(0.5 * (plus + minus));
      }
    }
  }
  std::vector<ConcentrationRow> rows;
  for (std::size_t s = 0; s < subsets.size(); ++s)
    for (std::size_t r = 0; r < o.radii.size(); ++r) {
      std::vector<double> v = rises[s][r];
      ConcentrationRow row;
      row.radius = o.radii[r];
      row.subset = subsets[s].name;
      const auto m = stats::mean_sd(v);  // over the finite rises
      row.directions = static_cast<int>(m.n);
      row.mean = m.mean;
      row.sd = m.sd;
      std::sort(v.begin(), v.end());
      row.q05 = stats::quantile_sorted(v, 0.05);
      row.q50 = stats::quantile_sorted(v, 0.5);
      row.q95 = stats::quantile_sorted(v, 0.95);
      if (row.mean != 0 && std::isfinite(row.mean)) row.sd_over_mean = row.sd / std::abs(row.mean);
      const auto e = stats::mean_sd(even[s][r]);
      row.even_mean = e.mean;
      row.even_sd = e.sd;
      if (e.mean != 0 && std::isfinite(e.mean)) row.even_sd_over_mean = e.sd / std::abs(e.mean);
      rows.push_back(row);
    }
  return rows;
}

ParameterSubset critical_subset(nn::LayerStack& model,
                                const std::vector<std::vector<std::int64_t>>& critical) {
  const auto params = trainable_parameters(*model);
  ParameterSubset sub;
  sub.name = "critical";
  for (const auto& p : params) sub.mask.push_back(at::zeros(p.sizes(), p.options().dtype(at::kFloat)));
  const auto hidden = model->hidden_blocks();
  if (critical.size() != model->size())
    throw Error(fmt::format("critical neurons are given for {} blocks; the model has {}", critical.size(),
                            model->size()));
  std::int64_t previous = -1;  // the previous hidden dense block
  for (std::size_t b : hidden) {
    auto view = model->block(b)->dense_view();
    if (!view) {
      previous = -1;
      continue;
    }
    if (previous >= 0 && !critical[b].empty() && !critical[previous].empty()) {
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (!params[i].is_same(view->weight)) continue;
        const auto rows = torch::tensor(critical[b], at::kLong),
                   cols = torch::tensor(critical[previous], at::kLong);
        if (rows.max().item<std::int64_t>() >= view->weight.size(0) ||
            cols.max().item<std::int64_t>() >= view->weight.size(1))
          throw Error(fmt::format("a critical neuron's index is outside block {}'s weight", b));
        sub.mask[i].index_put_({rows.unsqueeze(1), cols.unsqueeze(0)}, 1.0);
      }
    }
    previous = static_cast<std::int64_t>(b);
  }
  for (const auto& m : sub.mask) sub.size += m.sum().item<std::int64_t>();
  return sub;
}

ParameterSubset random_subset_like(nn::LayerStack& model, const ParameterSubset& like, std::uint64_t seed) {
  const auto params = trainable_parameters(*model);
  check_like(like.mask, params, "the subset's mask");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  ParameterSubset sub;
  sub.name = "random";
  for (std::size_t i = 0; i < params.size(); ++i) {
    at::Tensor m = at::zeros({params[i].numel()}, at::kFloat);
    const auto count = like.mask[i].sum().item<std::int64_t>();
    if (count > 0) {
      const at::Tensor pick =
          at::randperm(params[i].numel(), gen, at::TensorOptions().dtype(at::kLong)).narrow(0, 0, count);
      m.index_fill_(0, pick, 1.0);
    }
    sub.mask.push_back(m.view(params[i].sizes()).to(params[i].device()));
    sub.size += count;
  }
  return sub;
}

namespace {
// j[set] = {loss, accuracy} for each set of a slice (a line's vectors or a plane's matrices).
template <typename Values>
void put_sets(nlohmann::json& j, const std::vector<std::string>& sets, const Values& loss,
              const Values& accuracy) {
  for (std::size_t k = 0; k < sets.size(); ++k) {
    j[sets[k]]["loss"] = loss[k];
    j[sets[k]]["accuracy"] = accuracy[k];
  }
}
}  // namespace

nlohmann::json to_json(const Slice1D& s) {
  nlohmann::json j;
  j["alpha"] = s.alpha;
  put_sets(j, s.sets, s.loss, s.accuracy);
  return j;
}

nlohmann::json to_json(const Slice2D& s) {
  nlohmann::json j;
  j["alpha"] = s.alpha;
  j["beta"] = s.beta;
  put_sets(j, s.sets, s.loss, s.accuracy);
  return j;
}

nlohmann::json to_json(const ConcentrationRow& r) {
  return {{"radius", r.radius},
          {"subset", r.subset},
          {"directions", r.directions},
          {"mean", r.mean},
          {"sd", r.sd},
          {"q05", r.q05},
          {"q50", r.q50},
          {"q95", r.q95},
          {"sd_over_mean", or_null(r.sd_over_mean)},
          {"even_mean", r.even_mean},
          {"even_sd", r.even_sd},
          {"even_sd_over_mean", or_null(r.even_sd_over_mean)}};
}

}  // namespace critlab::landscape
