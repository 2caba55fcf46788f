#include "critlab/graph/analysis.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/graph/recording.h"
#include "critlab/nn/stack.h"
#include "critlab/train/run.h"

namespace critlab::graph {
namespace fs = std::filesystem;

bool GraphOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (!(theta == 0 || (theta > 0 && theta < 1)))
    return fail(fmt::format("theta must be in (0, 1), or 0 for auto, got {}", theta));
  if (!(theta_min > 0 && theta_min < 1))
    return fail(fmt::format("theta_min must be in (0, 1), got {}", theta_min));
  if (!(theta_max > theta_min && theta_max < 1))
    return fail(fmt::format("theta_max must be in (theta_min, 1) = ({}, 1), got {}", theta_min, theta_max));
  if (!(theta_step > 0)) return fail(fmt::format("theta_step must be positive, got {}", theta_step));
  // Each sweep point builds a graph per layer and step; 1,000 points already resolve 0.001 in theta.
  if ((theta_max - theta_min) / theta_step > 1000)
    return fail(fmt::format("theta_step {} gives {:.3g} sweep points; at most 1000 (theta_step >= {:.3g})",
                            theta_step, (theta_max - theta_min) / theta_step,
                            (theta_max - theta_min) / 1000));
  if (std::string e; !neurons.IsValid(&e)) return fail(e);
  if (prune_fractions.empty()) return fail("prune_fractions must not be empty");
  for (const double f : prune_fractions)
    if (!(f > 0 && f <= 1)) return fail(fmt::format("prune_fractions must each be in (0, 1], got {}", f));
  if (prune_fractions.size() > 100)
    return fail(fmt::format("prune_fractions has {} entries; at most 100", prune_fractions.size()));
  if (prune_random_repeats < 1 || prune_random_repeats > 1000)
    return fail(fmt::format("prune_random_repeats must be in [1, 1000], got {}", prune_random_repeats));
  if (ccg_units < 1 || ccg_units > 10000)
    return fail(fmt::format("ccg_units must be in [1, 10000], got {}", ccg_units));
  if (ccg_inputs < 1 || ccg_inputs > 100000)
    return fail(fmt::format("ccg_inputs must be in [1, 100000], got {}", ccg_inputs));
  if (threads < 0 || threads > 1024)
    return fail(fmt::format("threads must be in [0, 1024], got {}", threads));
  if (compare.size() > 100) return fail(fmt::format("compare names {} runs; at most 100", compare.size()));
  return true;
}

namespace {

std::vector<std::size_t> hidden_of(const Recording& rec) {
  std::vector<std::size_t> h;
  for (std::size_t l = 0; l < rec.blocks.size(); ++l)
    if (!rec.blocks[l].readout) h.push_back(l);
  return h;
}

// A figure computed as a double that is NaN where it does not exist (an empty set, a first step).
std::optional<double> unless_nan(double v) { return std::isnan(v) ? std::nullopt : std::optional<double>(v); }

// The whole network's NCG at one step: hidden layers' units as nodes (zero-variance units excluded), edges
// within layers and between adjacent layers with weight >= min_weight.
struct NetworkGraph {
  std::int64_t nodes = 0, excluded = 0;
  std::vector<WeightedEdge> edges;
  std::vector<Correlation> within;      // per hidden layer
  std::vector<std::int64_t> offset;     // first node of each hidden layer
  std::vector<std::size_t> within_end;  // layer i's own edges are edges[within_end[i-1] .. within_end[i])
};

NetworkGraph build_ncg(const RecordedStep& s, const std::vector<std::size_t>& hidden, EdgeSign sign,
                       double min_weight) {
  NetworkGraph g;
  for (const auto l : hidden) {
    g.within.push_back(correlate(s.post[l]));
    const auto& c = g.within.back();
    g.offset.push_back(g.nodes);
    g.nodes += static_cast<std::int64_t>(c.ok() ? c.kept_a.size() : 0);
    g.excluded += c.ok() ? c.excluded_a : s.post[l].size(1);
    auto e = correlation_edges(c, sign, min_weight, g.offset.back());
    g.edges.insert(g.edges.end(), e.begin(), e.end());
    g.within_end.push_back(g.edges.size());
  }
  for (std::size_t i = 0; i + 1 < hidden.size(); ++i) {
    if (!g.within[i].ok() || !g.within[i + 1].ok()) continue;
    const auto across = correlate(s.post[hidden[i]], s.post[hidden[i + 1]]);
    auto e = correlation_edges(across, sign, min_weight, g.offset[i], g.offset[i + 1]);
    g.edges.insert(g.edges.end(), e.begin(), e.end());
  }
  return g;
}

std::vector<double> theta_grid(const GraphOptions& o) {
  std::vector<double> t;
  for (double x = o.theta_min; x <= o.theta_max + 1e-9; x += o.theta_step) t.push_back(x);
  return t;
}

// ------------------------------------------------------------------ percolation over training
std::vector<StepPercolation> percolation_over_steps(const Recording& rec, const GraphOptions& o,
                                                    const std::string& label) {
  const auto hidden = hidden_of(rec);
  std::vector<StepPercolation> rows;
  const std::string task = "graph " + label;
  const auto total = static_cast<std::int64_t>(rec.steps.size());
  for (std::size_t k = 0; k < rec.steps.size(); ++k) {
    const auto step = load_step(rec, rec.steps[k]);
    const auto g = build_ncg(step, hidden, o.sign, o.theta);
    const auto p = percolation_sweep(g.nodes, g.edges, {o.theta})[0];
    StepPercolation row{.step = rec.steps[k],
                        .p_inf = p.p_inf,
                        .susceptibility = p.susceptibility,
                        .components = p.components,
                        .edges = p.edges,
                        .nodes = g.nodes,
                        .excluded_units = g.excluded};
    for (std::size_t i = 0; i < g.within.size(); ++i) {
      // The layer's own graph: its slice of the network's edges, renumbered from 0.
      std::vector<WeightedEdge> e(g.edges.begin() + static_cast<std::ptrdiff_t>(i ? g.within_end[i - 1] : 0),
                                  g.edges.begin() + static_cast<std::ptrdiff_t>(g.within_end[i]));
      for (auto& x : e)
        x.u -= static_cast<std::int32_t>(g.offset[i]), x.v -= static_cast<std::int32_t>(g.offset[i]);
      const auto& c = g.within[i];
      const auto q =
          percolation_sweep(c.ok() ? static_cast<std::int64_t>(c.kept_a.size()) : 0, e, {o.theta})[0];
      row.layers.push_back({static_cast<std::int64_t>(hidden[i]), q.p_inf, q.susceptibility});
    }
    rows.push_back(std::move(row));
    report_progress(o.progress, task, static_cast<std::int64_t>(k + 1), total,
                    fmt::format("step {}", rec.steps[k]));
  }
  return rows;
}

struct Series {
  std::vector<double> steps, p_inf, chi;
};
Series series_of(const std::vector<StepPercolation>& rows) {
  Series s;
  for (const auto& r : rows)
    s.steps.push_back(static_cast<double>(r.step)), s.p_inf.push_back(r.p_inf),
        s.chi.push_back(r.susceptibility);
  return s;
}

PInfRise rise_of(const Series& s) {
  PInfRise r;
  if (s.steps.size() < 3) {
    r.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("{} recorded steps; the rise of P_inf needs at least 3", s.steps.size()));
    return r;
  }
  const double p0 = s.p_inf.front();
  const auto [lo, hi] = std::minmax_element(s.p_inf.begin(), s.p_inf.end());
  const bool rising = *hi - p0 >= p0 - *lo;
  const double p1 = rising ? *hi : *lo;
  r.p_inf_initial = p0;
  if (p1 == p0) {
    r.status = make_status(StatusCode::kNotFound, "P_inf does not change over the recorded steps");
    return r;
  }
  double run = p0;
  double at[3] = {std::nan(""), std::nan(""), std::nan("")};
  const double levels[3] = {0.1, 0.5, 0.9};
  for (std::size_t k = 0; k < s.steps.size(); ++k) {
    run = rising ? std::max(run, s.p_inf[k]) : std::min(run, s.p_inf[k]);
    for (int i = 0; i < 3; ++i)
      if (std::isnan(at[i]) && (run - p0) / (p1 - p0) >= levels[i]) at[i] = s.steps[k];
  }
  r.direction = rising ? Direction::kRise : Direction::kFall;
  r.p_inf_extreme = p1;
  r.step_extreme = s.steps[static_cast<std::size_t>((rising ? hi : lo) - s.p_inf.begin())];
  r.p_inf_final = s.p_inf.back();
  r.step_10 = at[0], r.step_50 = at[1], r.step_90 = at[2];
  r.decades_10_90 = std::log10((at[2] + 1) / (at[0] + 1));
  return r;
}

// ------------------------------------------------------------------ theta sweeps and structure at one step
ThetaSweep theta_sweep(const Recording& rec, std::int64_t step, const GraphOptions& o) {
  const auto hidden = hidden_of(rec);
  const auto s = load_step(rec, step);
  const auto grid = theta_grid(o);
  const auto g = build_ncg(s, hidden, o.sign, std::min(o.theta_min, o.theta));
  ThetaSweep t{.step = step, .nodes = g.nodes, .excluded_units = g.excluded};
  t.points = percolation_sweep(g.nodes, g.edges, grid);
  std::vector<double> p, chi;
  for (const auto& x : t.points) p.push_back(x.p_inf), chi.push_back(x.susceptibility);
  t.transition = locate_transition(grid, p, chi, {.seed = o.seed});
  // Cluster sizes at the default theta; the largest component is not a finite cluster.
  auto sizes = cluster_sizes(g.nodes, g.edges, o.theta);
  if (!sizes.empty()) sizes.erase(sizes.begin());
  std::map<std::int64_t, std::int64_t> hist;
  for (const auto x : sizes) ++hist[x];
  for (const auto& [size, count] : hist) t.cluster_sizes.push_back({size, count});
  return t;
}

StructureAtStep structure_at(const Recording& rec, std::int64_t step, const GraphOptions& o) {
  const auto g = build_ncg(load_step(rec, step), hidden_of(rec), o.sign, o.theta);
  StructureAtStep s{.step = step, .structure = analyse_structure(g.nodes, g.edges, {.seed = o.seed})};
  if (!s.structure.rich_club_normalised.empty()) {
    double rc_max = 0;
    for (const double v : s.structure.rich_club_normalised) rc_max = std::max(rc_max, v);
    s.rich_club_normalised_max = rc_max;
  } else {
    s.status = make_status(StatusCode::kNotFound, "no degree has a rich club (too few edges)");
  }
  return s;
}

// ------------------------------------------------------------------ critical neurons over training
struct Masks {
  at::Tensor crit, other;  // bool [out, in]
};
Masks crit_masks(const std::vector<std::int64_t>& out_crit, const std::vector<std::int64_t>& in_crit,
                 std::int64_t out, std::int64_t in) {
  auto ro = at::zeros({out}, at::kBool), ri = at::zeros({in}, at::kBool);
  for (const auto j : out_crit) ro[j] = true;
  for (const auto i : in_crit) ri[i] = true;
  auto m = ro.unsqueeze(1).logical_and(ri.unsqueeze(0));
  return {m, m.logical_not()};
}
double masked_mean(const at::Tensor& v, const at::Tensor& m) {
  const auto n = m.sum().item<double>();
  return n > 0 ? v.masked_select(m).mean().item<double>() : std::nan("");
}
double masked_var(const at::Tensor& v, const at::Tensor& m) {
  const auto n = m.sum().item<double>();
  return n > 1 ? v.masked_select(m).var(false).item<double>() : std::nan("");
}

CriticalNeurons critical_neurons(const Recording& rec, const GraphOptions& o) {
  const auto hidden = hidden_of(rec);
  std::vector<std::vector<NeuronStats>> stats;  // [step][hidden layer]
  std::vector<RecordedStep> weights;            // weights only (activity dropped) per step
  for (const auto step : rec.steps) {
    auto s = load_step(rec, step);
    std::vector<NeuronStats> per;
    for (const auto l : hidden)
      per.push_back(neuron_stats(s.post[l], rec.probe_labels, rec.num_classes, o.neurons));
    stats.push_back(std::move(per));
    s.post.clear(), s.pre.clear();
    weights.push_back(std::move(s));
  }
  const auto input_strength =
      rec.probe_images.reshape({rec.probe_images.size(0), -1}).abs().mean(0).to(at::kDouble);
  CriticalNeurons cn;
  cn.fraction = o.neurons.fraction;
  for (const auto l : hidden) cn.layers.push_back(static_cast<std::int64_t>(l));
  const std::size_t last = rec.steps.size() - 1;
  // Whether block l's weights are a dense map from the recorded units below (the input pixels for the first
  // hidden layer): a conv block has no dense weight, and a dense block after conv blocks reads the flattened
  // feature maps, not the per-channel units the recording keeps.
  std::vector<bool> weights_apply;
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    const auto& w = weights.front().weight[hidden[h]];
    const auto fan_in =
        h > 0 ? static_cast<std::int64_t>(stats.front()[h - 1].strength.size()) : input_strength.numel();
    weights_apply.push_back(w.defined() && w.dim() == 2 && w.size(1) == fan_in);
  }
  for (std::size_t k = 0; k < rec.steps.size(); ++k) {
    for (std::size_t h = 0; h < hidden.size(); ++h) {
      const auto l = hidden[h];
      const auto& st = stats[k][h];
      CriticalNeuronRow row{.step = rec.steps[k],
                            .layer = static_cast<std::int64_t>(l),
                            .critical = static_cast<std::int64_t>(st.critical.size())};
      if (k > 0) row.jaccard_previous = jaccard(stats[k - 1][h].critical, st.critical);
      row.jaccard_final = jaccard(stats[last][h].critical, st.critical);
      if (!weights_apply[h]) {
        cn.rows.push_back(std::move(row));
        continue;
      }
      const auto& w = weights[k].weight[l];
      // Incoming weights of layer l from layer l-1 (the input pixels for the first layer):
      // critical-to-critical entries use the final step's critical sets, so the same weights are followed
      // through training.
      const std::vector<std::int64_t> in_crit =
          h > 0 ? stats[last][h - 1].critical : std::vector<std::int64_t>{};
      const auto m = crit_masks(stats[last][h].critical, in_crit, w.size(0), w.size(1));
      const auto aw = w.abs().to(at::kDouble);
      const double wc = masked_mean(aw, m.crit), wo = masked_mean(aw, m.other);
      row.mean_abs_w_critical = unless_nan(wc);
      row.mean_abs_w_other = unless_nan(wo);
      row.reinforcement_ratio = unless_nan(wc / wo);
      if (k > 0) {
        const double dstep = static_cast<double>(rec.steps[k] - rec.steps[k - 1]);
        const auto dw = (w - weights[k - 1].weight[l]).to(at::kDouble);
        row.dw_var_critical = unless_nan(masked_var(dw, m.crit) / dstep);
        row.dw_var_other = unless_nan(masked_var(dw, m.other) / dstep);
      }
      // Balance of contributions |a_i w_ji| into each unit j.
      const auto a_in = h > 0 ? at::tensor(stats[k][h - 1].strength, at::kDouble) : input_strength;
      const auto contrib = (aw * a_in.unsqueeze(0)).contiguous();
      std::vector<bool> is_crit(static_cast<std::size_t>(w.size(0)), false);
      for (const auto j : st.critical) is_crit[j] = true;
      double ec = 0, eo = 0, gc = 0, go = 0, nc = 0, no = 0;
      const auto* cp = contrib.data_ptr<double>();
      for (std::int64_t j = 0; j < w.size(0); ++j) {
        std::vector<double> v(cp + j * w.size(1), cp + (j + 1) * w.size(1));
        const double e = normalised_entropy(v), gi = gini(v);
        if (is_crit[j])
          ec += e, gc += gi, ++nc;
        else
          eo += e, go += gi, ++no;
      }
      if (nc) row.entropy_critical = ec / nc, row.gini_critical = gc / nc;
      if (no) row.entropy_other = eo / no, row.gini_other = go / no;
      cn.rows.push_back(std::move(row));
    }
  }
  cn.final_stats = stats[last];
  // First-to-last summary per layer.
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    const auto& row = cn.rows[last * hidden.size() + h];
    const auto& first = cn.rows[h];
    CriticalLayerSummary s{.layer = row.layer,
                           .critical = row.critical,
                           .jaccard_first_to_final = first.jaccard_final,
                           .reinforcement_ratio_initial = first.reinforcement_ratio,
                           .reinforcement_ratio_final = row.reinforcement_ratio,
                           .entropy_critical_initial = first.entropy_critical,
                           .entropy_critical_final = row.entropy_critical,
                           .entropy_other_final = row.entropy_other,
                           .gini_critical_final = row.gini_critical,
                           .gini_other_final = row.gini_other};
    if (!weights_apply[h])
      s.status = make_status(StatusCode::kNotApplicable,
                             fmt::format("block {} is not a dense layer over the recorded units below it; "
                                         "reinforcement and balance need its incoming weights",
                                         row.layer));
    else if (!s.reinforcement_ratio_initial || !s.reinforcement_ratio_final)
      s.status =
          make_status(StatusCode::kNotApplicable,
                      h == 0 ? "reinforcement_ratio compares weights between critical units of adjacent "
                               "hidden layers; the first hidden layer's inputs are pixels"
                             : "reinforcement_ratio: no weight joins two critical units, or every one does");
    else if (!s.entropy_critical_initial || !s.entropy_critical_final || !s.entropy_other_final ||
             !s.gini_critical_final || !s.gini_other_final)
      s.status = make_status(StatusCode::kInsufficientData,
                             "entropy and gini need units in both the critical "
                             "and the other set");
    cn.summary.push_back(std::move(s));
  }
  return cn;
}

// ------------------------------------------------------------------ rasters
// Units ordered by the Fiedler vector of the positive-correlation graph's random-walk Laplacian (spectral
// ordering: strongly correlated units end up side by side); excluded units go last.
std::vector<std::int64_t> spectral_order(const Correlation& c, std::int64_t units) {
  std::vector<std::int64_t> order;
  if (c.ok() && c.kept_a.size() >= 3) {
    auto a = c.r.to(at::kDouble).clamp_min(0);
    a.fill_diagonal_(0);
    const auto d = a.sum(1).clamp_min(1e-12);
    const auto dis = d.rsqrt();
    const auto lsym = at::eye(a.size(0), a.options()) - dis.unsqueeze(1) * a * dis.unsqueeze(0);
    const auto [evals, evecs] = at::linalg_eigh(lsym);
    const auto f = (evecs.select(1, 1) * dis).contiguous();
    const auto idx = f.argsort().contiguous();
    const auto* ip = idx.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < idx.numel(); ++i) order.push_back(c.kept_a[ip[i]]);
  } else if (c.ok()) {
    order = c.kept_a;
  }
  std::vector<bool> seen(static_cast<std::size_t>(units), false);
  for (const auto u : order) seen[u] = true;
  for (std::int64_t u = 0; u < units; ++u)
    if (!seen[u]) order.push_back(u);
  return order;
}

Raster raster(const Recording& rec, std::int64_t step, std::size_t layer) {
  const auto s = load_step(rec, step);
  const auto a = s.post[layer];
  const auto c = correlate(a);
  const auto order = spectral_order(c, a.size(1));
  const auto by_label = rec.probe_labels.argsort(/*stable=*/true);
  const auto sd = a.std(0, false);
  auto z = ((a - a.mean(0)) / sd.clamp_min(1e-6)).clamp(-3, 3);
  z = z.index_select(0, by_label)
          .index_select(1, at::tensor(order, at::kLong))
          .t()
          .contiguous();  // [units, probes]
  Raster r{.step = step, .layer = static_cast<std::int64_t>(layer), .units = z.size(0), .probes = z.size(1)};
  r.z.assign(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
  const auto labels = rec.probe_labels.index_select(0, by_label).contiguous();
  for (std::int64_t i = 1; i < labels.numel(); ++i)
    if (labels[i].item<std::int64_t>() != labels[i - 1].item<std::int64_t>())
      r.class_edges.push_back(i - 0.5);
  return r;
}

// ------------------------------------------------------------------ critical computational graphs, pruning
// Every block's dense view; empty if one block is not dense.
std::vector<nn::DenseView> dense_blocks(nn::LayerStack& model) {
  std::vector<nn::DenseView> d;
  for (std::size_t l = 0; l < model->size(); ++l) {
    auto v = model->block(l)->dense_view();
    if (!v) return {};
    d.push_back(std::move(*v));
  }
  return d;
}

// Mean |input| of every block per class on the probes: [classes, fan_in] per block.
std::vector<at::Tensor> class_input_means(nn::LayerStack& model, const at::Tensor& images,
                                          const at::Tensor& labels, std::int64_t classes) {
  nn::EvalModeGuard eval(*model);
  torch::NoGradGuard no_grad;
  const auto taps = model->forward_tapped(images);
  const auto onehot = at::one_hot(labels, classes).to(at::kFloat).to(images.device());
  const auto counts = onehot.sum(0).clamp_min(1).unsqueeze(1);
  std::vector<at::Tensor> means;
  for (const auto& t : taps)
    means.push_back(onehot.t().mm(t.input.reshape({t.input.size(0), -1}).abs()) / counts);
  return means;
}

// Score of weight (j <- i) for the union of class graphs: max over classes of its share of the class's
// total contribution in that layer, a_i^c |w_ji| / sum_{j,i} a_i^c |w_ji|. Keeping the top fraction of a
// layer by this score keeps, for every class, its edges above a common relative threshold.
at::Tensor ccg_scores(const at::Tensor& w, const at::Tensor& class_means) {
  const auto aw = w.abs();
  at::Tensor best;
  for (std::int64_t c = 0; c < class_means.size(0); ++c) {
    auto s = aw * class_means[c].unsqueeze(0);
    s = s / s.sum().clamp_min(1e-30);
    best = best.defined() ? at::maximum(best, s) : s;
  }
  return best;
}

at::Tensor top_fraction_mask(const at::Tensor& score, double f) {
  const auto flat = score.reshape(-1);
  const auto k =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(f * static_cast<double>(flat.numel()))));
  auto mask = at::zeros_like(flat);
  mask.index_fill_(0, std::get<1>(flat.topk(std::min(k, flat.numel()))), 1);
  return mask.view_as(score);
}

Pruning prune_and_export(const fs::path& run_dir, const Recording& rec, const GraphOptions& o) {
  Pruning result;
  result.num_classes = rec.num_classes;
  const c10::Device device = resolve_device(o.device);
  auto run = train::load_run(run_dir, device);
  auto blocks = dense_blocks(run.model);
  if (blocks.empty()) {
    result.status = make_status(StatusCode::kNotApplicable,
                                "pruning and class graphs need a network of dense blocks (an MLP)");
    return result;
  }
  auto fm = data::load_fashion_mnist(
      data::resolve_data_dir(o.data_dir.empty() ? run.options.data_dir : o.data_dir));
  fm.test = {fm.test.images.to(device), fm.test.labels.to(device)};
  const auto images = rec.probe_images.to(device), labels = rec.probe_labels.to(device);
  const auto means = class_input_means(run.model, images, labels, rec.num_classes);

  std::vector<at::Tensor> original, critical_score;
  for (std::size_t l = 0; l < blocks.size(); ++l) {
    original.push_back(blocks[l].weight.detach().clone());
    critical_score.push_back(ccg_scores(original[l], means[l]));
  }
  const auto accuracy_with = [&](const std::function<at::Tensor(std::size_t)>& mask) {
    {
      torch::NoGradGuard no_grad;
      for (std::size_t l = 0; l < blocks.size(); ++l) blocks[l].weight.copy_(original[l] * mask(l));
    }
    const double acc = train::evaluate(run.model, fm.test).accuracy;
    torch::NoGradGuard no_grad;
    for (std::size_t l = 0; l < blocks.size(); ++l) blocks[l].weight.copy_(original[l]);
    return acc;
  };
  const auto total = static_cast<std::int64_t>(o.prune_fractions.size());
  for (std::size_t fi = 0; fi < o.prune_fractions.size(); ++fi) {
    const double f = o.prune_fractions[fi];
    const double crit = accuracy_with([&](std::size_t l) { return top_fraction_mask(critical_score[l], f); });
    const double mag = accuracy_with([&](std::size_t l) { return top_fraction_mask(original[l].abs(), f); });
    std::vector<double> rnd;
    for (int r = 0; r < o.prune_random_repeats; ++r) {
      auto gen =
          at::make_generator<at::CPUGeneratorImpl>(o.seed * 1000 + static_cast<std::uint64_t>(r) * 7919 + fi);
      rnd.push_back(accuracy_with([&](std::size_t l) {
        return top_fraction_mask(at::rand(original[l].sizes(), gen).to(device), f);
      }));
    }
    const double mean = std::accumulate(rnd.begin(), rnd.end(), 0.0) / static_cast<double>(rnd.size());
    double var = 0;
    for (const double x : rnd) var += (x - mean) * (x - mean);
    const double sd = rnd.size() > 1 ? std::sqrt(var / static_cast<double>(rnd.size() - 1)) : 0.0;
    result.curve.push_back(
        {.fraction_kept = f, .critical = crit, .random = mean, .random_sd = sd, .magnitude = mag});
    report_progress(o.progress, "graph pruning", static_cast<std::int64_t>(fi + 1), total);
  }

  // Each class's graph: per hidden layer the class's units among the critical set with the largest class
  // preference (class mean |a| minus the mean over other classes), the input pixels contributing most to
  // them, the class's output unit; edges weighted by a_i^c |w_ji|, those below 5% of the strongest dropped.
  const auto hidden = hidden_of(rec);
  const auto final_step = load_step(rec, rec.steps.back());
  std::vector<NeuronStats> stats;
  for (const auto l : hidden)
    stats.push_back(neuron_stats(final_step.post[l], rec.probe_labels, rec.num_classes, o.neurons));
  for (std::int64_t c = 0; c < rec.num_classes; ++c) {
    std::vector<std::vector<std::int64_t>> layers;  // node sets: inputs, hidden..., output
    for (std::size_t h = 0; h < hidden.size(); ++h) {
      const auto& cm = stats[h].class_means;
      const auto pref =
          (cm[c] - (cm.sum(0) - cm[c]) / std::max<std::int64_t>(1, rec.num_classes - 1)).contiguous();
      std::vector<std::int64_t> cand = stats[h].critical;
      std::sort(cand.begin(), cand.end(), [&](std::int64_t a, std::int64_t b) {
        return pref[a].item<double>() > pref[b].item<double>();
      });
      cand.resize(std::min<std::size_t>(cand.size(), static_cast<std::size_t>(o.ccg_units)));
      layers.push_back(cand);
    }
    // Inputs: pixels with the largest total contribution into the first hidden layer's chosen units.
    const auto w0 =
        original[hidden.front()].abs().index_select(0, at::tensor(layers.front(), at::kLong).to(device));
    const auto pix = (w0 * means[hidden.front()][c].unsqueeze(0)).sum(0);
    const auto top =
        std::get<1>(pix.topk(std::min<std::int64_t>(o.ccg_inputs, pix.numel()))).to(at::kCPU).contiguous();
    std::vector<std::int64_t> inputs(top.data_ptr<std::int64_t>(),
                                     top.data_ptr<std::int64_t>() + top.numel());
    layers.insert(layers.begin(), inputs);
    layers.push_back({c});
    ClassGraph cg{.class_index = c, .layers = layers};
    auto& g = cg.graph;
    std::vector<std::int64_t> first;
    for (std::size_t L = 0; L < layers.size(); ++L) {
      first.push_back(static_cast<std::int64_t>(g.nodes.size()));
      for (const auto u : layers[L]) {
        const std::string kind = L == 0 ? "pixel" : L + 1 == layers.size() ? "output" : "unit";
        g.nodes.push_back({static_cast<std::int64_t>(L), u, fmt::format("{} {}", kind, u), 0.0});
      }
    }
    for (std::size_t L = 0; L + 1 < layers.size(); ++L) {
      const auto l = L == 0 ? hidden.front() : (L < hidden.size() ? hidden[L] : blocks.size() - 1);
      const auto w = original[l].to(at::kCPU), a = means[l][c].to(at::kCPU);
      std::vector<WeightedEdge> local;
      float wmax = 0;
      for (std::size_t i = 0; i < layers[L].size(); ++i)
        for (std::size_t j = 0; j < layers[L + 1].size(); ++j) {
          const float v =
              a[layers[L][i]].item<float>() * std::abs(w[layers[L + 1][j]][layers[L][i]].item<float>());
          local.push_back(
              {static_cast<std::int32_t>(first[L] + i), static_cast<std::int32_t>(first[L + 1] + j), v});
          wmax = std::max(wmax, v);
        }
      for (const auto& e : local)
        if (e.weight >= 0.05f * wmax && wmax > 0) g.edges.push_back(e);
    }
    result.classes.push_back(std::move(cg));
  }
  return result;
}

GraphAnalysis analyse_resolved(const fs::path& run_dir, const Recording& rec, const GraphOptions& o,
                               bool auto_theta) {
  GraphAnalysis a;
  a.run_dir = run_dir;
  a.theta = o.theta;
  a.theta_auto = auto_theta;
  a.sign = o.sign;
  a.probes = rec.probe_labels.numel();
  const auto hidden = hidden_of(rec);
  for (const auto l : hidden) a.hidden_layers.push_back(static_cast<std::int64_t>(l));

  // 1. Percolation over training at the default theta, and the transition.
  a.percolation = percolation_over_steps(rec, o, run_dir.filename().string());
  auto series = series_of(a.percolation);
  a.transition = locate_transition(series.steps, series.p_inf, series.chi, {.seed = o.seed});
  a.rise = rise_of(series);

  // 2. Theta sweeps, cluster sizes and structure at the first step, the transition and the last step.
  std::vector<std::int64_t> chosen{rec.steps.front()};
  if (a.transition.status.ok()) {
    const auto at_transition = static_cast<std::int64_t>(*a.transition.x_c);
    if (std::find(chosen.begin(), chosen.end(), at_transition) == chosen.end())
      chosen.push_back(at_transition);
  }
  if (std::find(chosen.begin(), chosen.end(), rec.steps.back()) == chosen.end())
    chosen.push_back(rec.steps.back());
  for (const auto s : chosen) {
    a.theta_sweeps.push_back(theta_sweep(rec, s, o));
    a.structure.push_back(structure_at(rec, s, o));
  }

  // 3. Critical neurons over training.
  a.critical_neurons = critical_neurons(rec, o);

  // 4. Rasters: every hidden layer at the last step; the first hidden layer at the first step and transition.
  for (const auto l : hidden) a.rasters.push_back(raster(rec, rec.steps.back(), l));
  for (const auto s : chosen)
    if (s != rec.steps.back()) a.rasters.push_back(raster(rec, s, hidden.front()));

  // 5. Critical computational graphs and the pruning test.
  if (o.pruning) {
    a.pruning = prune_and_export(run_dir, rec, o);
  } else {
    a.pruning.num_classes = rec.num_classes;
    a.pruning.status = make_status(StatusCode::kNotRun, "pruning was not asked for");
  }

  // 6. Finite-size comparison with other recorded runs.
  if (!o.compare.empty()) {
    const auto add = [&](double width, const Series& s) {
      a.finite_size.push_back({.width = width,
                               .steps = s.steps,
                               .p_inf = s.p_inf,
                               .transition = locate_transition(s.steps, s.p_inf, s.chi, {.seed = o.seed})});
    };
    add(static_cast<double>(rec.blocks[hidden.front()].units), series);
    for (const auto& other : o.compare) {
      const auto r2 = open_recording(other);
      if (r2.steps.empty() || hidden_of(r2).empty())
        throw Error(fmt::format("'{}' has no usable recording", other.string()));
      add(static_cast<double>(r2.blocks[hidden_of(r2).front()].units),
          series_of(percolation_over_steps(r2, o, other.filename().string())));
    }
  }
  return a;
}

}  // namespace

GraphAnalysis analyse_run(const fs::path& run_dir, const GraphOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  configure_threads(o.threads);
  const auto rec = open_recording(run_dir);
  if (rec.steps.empty())
    throw Error(fmt::format("'{}' has a recording plan but no recorded step yet; train the run first",
                            run_dir.string()));
  if (hidden_of(rec).empty()) throw Error("the recorded network has no hidden layer to build a graph from");
  GraphOptions resolved = o;
  if (o.theta == 0) {
    // Auto: the first recorded network's own percolation threshold (its theta-sweep susceptibility peak),
    // so training is watched moving the graph away from the point where it starts critical.
    const auto s0 = load_step(rec, rec.steps.front());
    const auto g0 = build_ncg(s0, hidden_of(rec), o.sign, o.theta_min);
    const auto grid = theta_grid(o);
    const auto sweep0 = percolation_sweep(g0.nodes, g0.edges, grid);
    std::vector<double> p0, c0;
    for (const auto& x : sweep0) p0.push_back(x.p_inf), c0.push_back(x.susceptibility);
    resolved.theta = locate_transition(grid, p0, c0, {.bootstrap = 0}).x_c.value_or(0.5);
    if (!(resolved.theta > 0 && resolved.theta < 1)) resolved.theta = 0.5;
  }
  return analyse_resolved(run_dir, rec, resolved, o.theta == 0);
}

}  // namespace critlab::graph
