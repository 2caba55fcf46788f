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
#include "critlab/stats/branching.h"
#include "critlab/stats/inference.h"
#include "critlab/train/run.h"

namespace critlab::graph {
namespace fs = std::filesystem;

bool GraphOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (theta_rule == ThetaRule::kFixed && !(theta > 0 && theta < 1))
    return fail(fmt::format("theta must be in (0, 1), got {}", theta));
  if (!(null_alpha > 0 && null_alpha < 1))
    return fail(fmt::format("null_alpha must be in (0, 1), got {}", null_alpha));
  if (!(std::isfinite(avalanche_threshold) && avalanche_threshold >= 0 && avalanche_threshold <= 100))
    return fail(fmt::format("avalanche_threshold must be in [0, 100], got {}", avalanche_threshold));
  if (std::string e; !hebbian_options.IsValid(&e)) return fail("hebbian_options." + e);
  if (std::string e; !redistribution_options.IsValid(&e)) return fail("redistribution_options." + e);
  if (std::string e; !avalanche_options.IsValid(&e)) return fail("avalanche_options." + e);
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
  std::vector<Correlation> within;   // per hidden layer
  std::vector<std::int64_t> offset;  // first node of each hidden layer
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

// ------------------------------------------------------------------ one step's graphs
// `g.edges` sorted by decreasing weight and `whole` the whole network's point at theta (read off the step's
// sweep): each layer's own graph is the part of the prefix at theta with both ends among its nodes.
StepPercolation percolation_at(const NetworkGraph& g, const std::vector<std::size_t>& hidden,
                               std::int64_t step, double theta, const PercolationPoint& whole) {
  const auto end = std::partition_point(g.edges.begin(), g.edges.end(),
                                        [&](const WeightedEdge& e) { return e.weight >= theta; });
  StepPercolation row{.step = step,
                      .p_inf = whole.p_inf,
                      .susceptibility = whole.susceptibility,
                      .components = whole.components,
                      .edges = whole.edges,
                      .nodes = g.nodes,
                      .excluded_units = g.excluded};
  for (std::size_t i = 0; i < g.within.size(); ++i) {
    const auto& c = g.within[i];
    const auto n = c.ok() ? static_cast<std::int64_t>(c.kept_a.size()) : 0;
    const auto lo = static_cast<std::int32_t>(g.offset[i]), hi = static_cast<std::int32_t>(g.offset[i] + n);
    std::vector<WeightedEdge> e;
    for (auto x = g.edges.begin(); x != end; ++x)
      if (x->u >= lo && x->u < hi && x->v >= lo && x->v < hi) e.push_back({x->u - lo, x->v - lo, x->weight});
    const auto q = percolation_sweep(n, e, {theta})[0];
    row.layers.push_back({static_cast<std::int64_t>(hidden[i]), q.p_inf, q.susceptibility});
  }
  return row;
}

// The threshold under the null rule: the |r| two independent units exceed with probability alpha on
// `probes` samples, from r sqrt((P - 2) / (1 - r^2)) ~ Student t with P - 2 df.
double null_theta(std::int64_t probes, double alpha) {
  const double df = static_cast<double>(probes - 2);
  const double t = stats::student_t_quantile(1 - alpha / 2, df);
  return t / std::sqrt(df + t * t);
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
  std::optional<double> at[3];
  const double levels[3] = {0.1, 0.5, 0.9};
  for (std::size_t k = 0; k < s.steps.size(); ++k) {
    run = rising ? std::max(run, s.p_inf[k]) : std::min(run, s.p_inf[k]);
    for (int i = 0; i < 3; ++i)
      if (!at[i] && (run - p0) / (p1 - p0) >= levels[i]) at[i] = s.steps[k];
  }
  r.direction = rising ? Direction::kRise : Direction::kFall;
  r.p_inf_extreme = p1;
  r.step_extreme = s.steps[static_cast<std::size_t>((rising ? hi : lo) - s.p_inf.begin())];
  r.p_inf_final = s.p_inf.back();
  r.step_10 = at[0], r.step_50 = at[1], r.step_90 = at[2];
  r.decades_10_90 = std::log10((*at[2] + 1) / (*at[0] + 1));
  return r;
}

// ------------------------------------------------------------------ theta sweeps and structure at one step
ThetaSweep theta_sweep(const NetworkGraph& g, std::int64_t step,
                       const std::vector<PercolationPoint>& grid_points, const GraphOptions& o) {
  const auto grid = theta_grid(o);
  ThetaSweep t{.step = step, .nodes = g.nodes, .excluded_units = g.excluded, .points = grid_points};
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

StructureAtStep structure_at(const NetworkGraph& g, std::int64_t step, const GraphOptions& o) {
  std::vector<WeightedEdge> kept;
  for (const auto& e : g.edges)
    if (e.weight >= o.theta) kept.push_back(e);
  StructureAtStep s{.step = step, .structure = analyse_structure(g.nodes, kept, {.seed = o.seed})};
  if (!s.structure.rich_club_normalised.empty()) {
    double rc_max = 0;
    for (const double v : s.structure.rich_club_normalised) rc_max = std::max(rc_max, v);
    s.rich_club_normalised_max = rc_max;
  } else {
    s.status = make_status(StatusCode::kNotFound, "no degree has a rich club (too few edges)");
  }
  return s;
}

// Everything read from the recording in one pass over its steps (each step is loaded once; the last step
// also first under the final rule, and the transition step, found only at the end, a second time for its
// sweep table, structure and raster).
struct Pass {
  double theta = 0;
  ThetaRule rule = ThetaRule::kFinal;  // the rule that gave theta
  std::string note;                    // why it is not the one asked for
  std::vector<StepPercolation> percolation;
  std::vector<ThetaCritical> theta_c;
  std::vector<std::vector<PercolationPoint>> grids;  // the theta grid per step
  // Full pass only:
  std::vector<std::vector<NeuronStats>> stats;  // [step][hidden layer]
  std::vector<RecordedStep> weights;            // weights only, per step
  std::vector<bool> dense;                      // per hidden layer: weights over the recorded units below
  std::vector<ThetaSweep> sweeps;               // first and last steps
  std::vector<StructureAtStep> structure;
  std::vector<Raster> rasters;
  std::vector<HebbianRow> hebbian;
  std::vector<std::vector<stats::Avalanche>> avalanches;  // per hidden layer, pooled over steps
  std::vector<std::vector<double>> active;                // per hidden layer, per step: active fraction
};

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

CriticalNeurons critical_neurons(const Recording& rec, const Pass& pass, const GraphOptions& o) {
  const auto hidden = hidden_of(rec);
  const auto& stats = pass.stats;      // [step][hidden layer]
  const auto& weights = pass.weights;  // weights only, per step
  const auto& weights_apply = pass.dense;
  const auto input_strength =
      rec.probe_images.reshape({rec.probe_images.size(0), -1}).abs().mean(0).to(at::kDouble);
  CriticalNeurons cn;
  cn.fraction = o.neurons.fraction;
  for (const auto l : hidden) cn.layers.push_back(static_cast<std::int64_t>(l));
  const std::size_t last = rec.steps.size() - 1;
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

Raster raster(const Recording& rec, const RecordedStep& s, std::size_t layer) {
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
  Raster r{
      .step = s.step, .layer = static_cast<std::int64_t>(layer), .units = z.size(0), .probes = z.size(1)};
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

Pruning prune_and_export(const fs::path& run_dir, const Recording& rec, const std::vector<NeuronStats>& stats,
                         const GraphOptions& o) {
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

// Whether block l's weights are a dense map from the recorded units below (the input pixels for the first
// hidden layer): a conv block has no dense weight, and a dense block after conv blocks reads the flattened
// feature maps, not the per-channel units the recording keeps.
std::vector<bool> dense_over_recorded(const Recording& rec, const std::vector<std::size_t>& hidden,
                                      const RecordedStep& s) {
  std::vector<bool> apply;
  const auto pixels = rec.probe_images.numel() / std::max<std::int64_t>(1, rec.probe_images.size(0));
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    const auto& w = s.weight[hidden[h]];
    const auto fan_in = h > 0 ? rec.blocks[hidden[h - 1]].units : pixels;
    apply.push_back(w.defined() && w.dim() == 2 && w.size(1) == fan_in);
  }
  return apply;
}

// The co-activity of a dense layer's units (a [P, out]) with its inputs (x [P, in]) on the probes, over the
// units and inputs with variance: Pearson's r and the mean product <a_j a_i>, both [kept_out, kept_in].
struct CoActivity {
  std::vector<std::int64_t> kept_out, kept_in;
  at::Tensor r, product;
};
std::optional<CoActivity> co_activity(const at::Tensor& a, const at::Tensor& x) {
  const auto c = correlate(a, x);
  if (!c.ok()) return std::nullopt;
  CoActivity co{.kept_out = c.kept_a, .kept_in = c.kept_b, .r = c.r.contiguous()};
  const auto ia = at::tensor(c.kept_a, at::kLong), ix = at::tensor(c.kept_b, at::kLong);
  co.product = (a.index_select(1, ia).t().mm(x.index_select(1, ix)) / static_cast<double>(a.size(0)))
                   .to(at::kFloat)
                   .contiguous();
  return co;
}

std::vector<HebbianRow> hebbian_rows(std::int64_t step_from, std::int64_t step, std::int64_t layer,
                                     const CoActivity& co, const at::Tensor& w_from, const at::Tensor& w,
                                     const HebbianOptions& options) {
  const auto dw = (w - w_from)
                      .index_select(0, at::tensor(co.kept_out, at::kLong))
                      .index_select(1, at::tensor(co.kept_in, at::kLong))
                      .to(at::kFloat)
                      .contiguous();
  std::vector<HebbianRow> rows;
  for (const auto& [name, c] :
       {std::pair<std::string, const at::Tensor*>{"r", &co.r}, {"product", &co.product}})
    rows.push_back({.step_from = step_from,
                    .step = step,
                    .layer = layer,
                    .coactivity = name,
                    .result = hebbian_test(dw.data_ptr<float>(), c->data_ptr<float>(), dw.size(0), dw.size(1),
                                           options)});
  return rows;
}

Pass read_recording(const Recording& rec, const GraphOptions& o, bool full, const std::string& label) {
  const auto hidden = hidden_of(rec);
  const auto grid = theta_grid(o);
  Pass pass;
  pass.rule = o.theta_rule;
  const auto fallback_theta = [&] {
    if (rec.probe_labels.numel() < 3)
      throw Error(fmt::format("the null rule needs at least 3 probes; the recording has {} (use --theta)",
                              rec.probe_labels.numel()));
    return null_theta(rec.probe_labels.numel(), o.null_alpha);
  };
  pass.theta = o.theta_rule == ThetaRule::kFixed  ? o.theta
               : o.theta_rule == ThetaRule::kNull ? fallback_theta()
                                                  : 0;
  // The rules that take theta from a network's own percolation point; without one, the null rule.
  const auto take_theta_c = [&](const FineSweep& f, const char* which) {
    if (f.theta_c) {
      pass.theta = *f.theta_c;
      return;
    }
    pass.theta = fallback_theta();
    pass.rule = ThetaRule::kNull;
    pass.note = fmt::format("the {} recorded network has no percolation point ({}); theta from the null rule",
                            which, f.status.to_string());
  };
  if (o.theta_rule == ThetaRule::kFinal) {  // the last step is read first (its one second read)
    auto g = build_ncg(load_step(rec, rec.steps.back()), hidden, o.sign, o.theta_min);
    take_theta_c(fine_sweep(g.nodes, std::move(g.edges)), "last");
  }
  const auto pixels = rec.probe_images.reshape({rec.probe_images.size(0), -1}).to(at::kFloat);
  std::vector<std::optional<CoActivity>> previous_co(hidden.size());
  std::vector<at::Tensor> thresholds(hidden.size());  // avalanche thresholds per unit, from the first step
  pass.avalanches.resize(hidden.size());
  pass.active.resize(hidden.size());
  const std::string task = "graph " + label;
  const auto total = static_cast<std::int64_t>(rec.steps.size());
  for (std::size_t k = 0; k < rec.steps.size(); ++k) {
    const auto step = rec.steps[k];
    auto s = load_step(rec, step);
    // Built down to theta_min (and to theta, or to the null rule's theta the initial rule may fall back
    // to); theta_c is always swept over the edges >= theta_min, so it does not depend on the rule.
    const double floor =
        std::min({o.theta_min, pass.theta > 0 ? pass.theta : o.theta_min,
                  o.theta_rule == ThetaRule::kInitial && k == 0 ? fallback_theta() : o.theta_min});
    auto g = build_ncg(s, hidden, o.sign, floor);
    sort_by_weight_descending(g.edges);  // once; every sweep below finds it sorted
    const auto swept = std::partition_point(g.edges.begin(), g.edges.end(),
                                            [&](const WeightedEdge& e) { return e.weight >= o.theta_min; });
    // (the prefix is copied only when the graph was built below theta_min)
    pass.theta_c.push_back({.step = step,
                            .sweep = swept == g.edges.end() ? fine_sweep(g.nodes, g.edges)
                                                            : fine_sweep(g.nodes, {g.edges.begin(), swept})});
    if (k == 0 && o.theta_rule == ThetaRule::kInitial) take_theta_c(pass.theta_c.front().sweep, "first");
    auto thresholds_here = grid;
    thresholds_here.push_back(pass.theta);
    auto points = percolation_sweep(g.nodes, g.edges, thresholds_here);
    pass.percolation.push_back(percolation_at(g, hidden, step, pass.theta, points.back()));
    points.pop_back();
    pass.grids.push_back(points);
    if (full) {
      GraphOptions at_theta = o;
      at_theta.theta = pass.theta;
      std::vector<NeuronStats> per;
      for (const auto l : hidden)
        per.push_back(neuron_stats(s.post[l], rec.probe_labels, rec.num_classes, o.neurons));
      pass.stats.push_back(std::move(per));
      if (k == 0) pass.dense = dense_over_recorded(rec, hidden, s);
      const bool first = k == 0, last = k + 1 == rec.steps.size();
      if (first || last) {
        pass.sweeps.push_back(theta_sweep(g, step, points, at_theta));
        pass.structure.push_back(structure_at(g, step, at_theta));
      }
      if (last)
        for (const auto l : hidden) pass.rasters.push_back(raster(rec, s, l));
      else if (first)
        pass.rasters.push_back(raster(rec, s, hidden.front()));
      for (std::size_t h = 0; h < hidden.size(); ++h) {
        const auto& a = s.post[hidden[h]];
        // Activity avalanches: units above their own first-step mean + threshold sd.
        if (first) thresholds[h] = a.mean(0) + o.avalanche_threshold * a.std(0, false);
        const auto active = a.gt(thresholds[h].unsqueeze(0));
        pass.active[h].push_back(active.to(at::kDouble).mean().item<double>());
        const auto counts = active.sum(1).to(at::kDouble).contiguous();
        const auto series =
            std::vector<double>(counts.data_ptr<double>(), counts.data_ptr<double>() + counts.numel());
        auto found = stats::avalanches_from_series(series);
        pass.avalanches[h].insert(pass.avalanches[h].end(), found.begin(), found.end());
        // The Hebbian test: this step's weight change against the previous step's co-activity.
        if (!o.hebbian || !pass.dense[h]) continue;
        const auto l = hidden[h];
        if (k > 0 && previous_co[h]) {
          auto rows = hebbian_rows(rec.steps[k - 1], step, static_cast<std::int64_t>(l), *previous_co[h],
                                   pass.weights.back().weight[l], s.weight[l], o.hebbian_options);
          pass.hebbian.insert(pass.hebbian.end(), rows.begin(), rows.end());
        }
        previous_co[h] = co_activity(a, h > 0 ? s.post[hidden[h - 1]] : pixels);
      }
      s.post.clear(), s.pre.clear();
      pass.weights.push_back(std::move(s));
    }
    report_progress(o.progress, task, static_cast<std::int64_t>(k + 1), total, fmt::format("step {}", step));
  }
  return pass;
}

// Reinforce and redistribute per dense hidden layer over the whole recording.
std::vector<LayerRedistribution> redistribution_of(const Recording& rec, const Pass& pass,
                                                   const GraphOptions& o) {
  const auto hidden = hidden_of(rec);
  std::vector<double> times;
  for (const auto s : rec.steps) times.push_back(static_cast<double>(s));
  std::vector<LayerRedistribution> out;
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    if (!pass.dense[h]) continue;
    const auto l = hidden[h];
    std::vector<at::Tensor> keep;  // contiguous float32 copies where needed
    std::vector<const float*> snapshots;
    for (const auto& s : pass.weights) {
      keep.push_back(s.weight[l].to(at::kFloat).contiguous());
      snapshots.push_back(keep.back().data_ptr<float>());
    }
    const auto& w = keep.front();
    // The first layer's block takes every pixel (an empty column list); a layer whose layer below has no
    // critical unit (all dead) has no critical block.
    const std::vector<std::int64_t> cols =
        h > 0 ? pass.stats.back()[h - 1].critical : std::vector<std::int64_t>{};
    if (h > 0 && cols.empty()) {
      Redistribution none;
      none.status = make_status(StatusCode::kInsufficientData, "the layer below has no critical unit");
      out.push_back({.layer = static_cast<std::int64_t>(l), .result = none});
      continue;
    }
    out.push_back(
        {.layer = static_cast<std::int64_t>(l),
         .result = redistribution_test(times, snapshots, w.size(0), w.size(1), pass.stats.back()[h].critical,
                                       cols, o.redistribution_options)});
  }
  return out;
}

std::vector<LayerAvalanches> avalanches_of(const Recording& rec, const Pass& pass, const GraphOptions& o) {
  const auto hidden = hidden_of(rec);
  std::vector<LayerAvalanches> out;
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    LayerAvalanches a{.layer = static_cast<std::int64_t>(hidden[h]),
                      .avalanches = static_cast<std::int64_t>(pass.avalanches[h].size())};
    for (const auto s : rec.steps) a.steps.push_back(static_cast<double>(s));
    a.active_fraction = pass.active[h];
    a.list = pass.avalanches[h];
    if (a.avalanches >= 10) {
      a.within_steps = stats::analyse_avalanches(pass.avalanches[h], o.avalanche_options);
    } else {
      a.status =
          make_status(StatusCode::kInsufficientData,
                      fmt::format("{} avalanches over the probes of all recorded steps; at least 10 are "
                                  "needed (lower --avalanche-threshold)",
                                  a.avalanches));
    }
    // The branching ratio of the active count over training: one point per recorded step, unevenly spaced
    // in steps (log schedule); the lag is in recorded points.
    a.over_training = stats::estimate_branching_ratio(
        {a.active_fraction}, {.kmax = std::max(1, static_cast<int>(a.active_fraction.size()) / 5)});
    out.push_back(std::move(a));
  }
  return out;
}

FiniteSizeRun finite_size_run(const fs::path& dir, const Recording& rec, const Pass& pass,
                              std::uint64_t seed) {
  const auto hidden = hidden_of(rec);
  FiniteSizeRun r{.run = dir,
                  .width = static_cast<double>(rec.blocks[hidden.front()].units),
                  .nodes = pass.theta_c.front().sweep.nodes,
                  .theta = pass.theta};
  const auto s = series_of(pass.percolation);
  r.steps = s.steps, r.p_inf = s.p_inf, r.chi = s.chi;
  r.transition = locate_transition(s.steps, s.p_inf, s.chi, {.seed = seed});
  if (r.transition.x_c)
    for (std::size_t k = 0; k < s.steps.size(); ++k)
      if (s.steps[k] == *r.transition.x_c) r.p_inf_at_transition = s.p_inf[k];
  for (std::size_t k = 1; k < s.p_inf.size(); ++k)
    r.largest_step_jump = std::max(r.largest_step_jump.value_or(0), std::abs(s.p_inf[k] - s.p_inf[k - 1]));
  r.rule = pass.rule;
  r.note = pass.note;
  r.initial = pass.theta_c.front().sweep;
  r.final = pass.theta_c.back().sweep;
  r.initial_grid = pass.grids.front();
  r.final_grid = pass.grids.back();
  return r;
}

FiniteSize finite_size_of(std::vector<FiniteSizeRun> runs, const GraphOptions& o) {
  FiniteSize f;
  f.runs = std::move(runs);
  std::vector<double> n, chi_t, p_t, jump_t, chi_s, p_s, jump_s, n_s, n_ps, n_f, chi_f, p_f, jump_f;
  std::map<double, std::vector<const FiniteSizeRun*>> by_width;
  for (const auto& r : f.runs) {
    const auto N = static_cast<double>(r.nodes);
    by_width[r.width].push_back(&r);
    if (r.initial.chi_max && r.initial.p_inf_at && r.initial.largest_jump) {
      n.push_back(N), chi_t.push_back(*r.initial.chi_max), p_t.push_back(*r.initial.p_inf_at),
          jump_t.push_back(*r.initial.largest_jump);
    }
    if (r.final.chi_max && r.final.p_inf_at && r.final.largest_jump) {
      n_f.push_back(static_cast<double>(r.final.nodes)), chi_f.push_back(*r.final.chi_max),
          p_f.push_back(*r.final.p_inf_at), jump_f.push_back(*r.final.largest_jump);
    }
    if (r.transition.chi_max && r.largest_step_jump)
      n_s.push_back(N), chi_s.push_back(*r.transition.chi_max), jump_s.push_back(*r.largest_step_jump);
    if (r.p_inf_at_transition) n_ps.push_back(N), p_s.push_back(*r.p_inf_at_transition);
  }
  f.widths = static_cast<std::int64_t>(by_width.size());
  f.chi_theta = fit_scaling(n, chi_t);
  f.p_inf_theta = fit_scaling(n, p_t);
  f.jump_theta = fit_scaling(n, jump_t);
  f.chi_theta_final = fit_scaling(n_f, chi_f);
  f.p_inf_theta_final = fit_scaling(n_f, p_f);
  f.jump_theta_final = fit_scaling(n_f, jump_f);
  f.chi_steps = fit_scaling(n_s, chi_s);
  f.p_inf_steps = fit_scaling(n_ps, p_s);
  f.jump_steps = fit_scaling(n_s, jump_s);
  if (f.widths < 2) {
    // Seeds of one width differ in N only by their dead units: no power law in the width to fit.
    const auto one = make_status(StatusCode::kInsufficientData,
                                 "the compared runs have one width; scaling needs at least 2 (and 3 runs)");
    for (auto* fit : {&f.chi_theta, &f.p_inf_theta, &f.jump_theta, &f.chi_theta_final, &f.p_inf_theta_final,
                      &f.jump_theta_final, &f.chi_steps, &f.p_inf_steps, &f.jump_steps})
      *fit = ScalingFit{.status = one};
  }
  // The collapse of P_inf(theta) at the first and at the last step: one curve per width, the mean over its
  // runs (standard errors from the spread between runs where there are several).
  const auto curves_of = [&](bool last) {
    std::vector<CollapseCurve> curves;
    for (const auto& [width, all_rs] : by_width) {
      std::vector<const FiniteSizeRun*> rs;  // runs whose graph has nodes at that step
      for (const auto* r : all_rs)
        if ((last ? r->final.nodes : r->nodes) > 0) rs.push_back(r);
      if (rs.empty()) continue;
      const auto grid_of = [&](const FiniteSizeRun* r) -> const std::vector<PercolationPoint>& {
        return last ? r->final_grid : r->initial_grid;
      };
      CollapseCurve c{.size = static_cast<double>(last ? rs.front()->final.nodes : rs.front()->nodes)};
      const auto& grid = grid_of(rs.front());
      for (std::size_t i = 0; i < grid.size(); ++i) {
        double sum = 0, sq = 0;
        for (const auto* r : rs) sum += grid_of(r)[i].p_inf, sq += grid_of(r)[i].p_inf * grid_of(r)[i].p_inf;
        const double m = sum / static_cast<double>(rs.size());
        c.x.push_back(grid[i].threshold), c.y.push_back(m);
        if (rs.size() > 1) {
          const double var = std::max(0.0, (sq - sum * m) / static_cast<double>(rs.size() - 1));
          c.y_err.push_back(std::max(std::sqrt(var / static_cast<double>(rs.size())), 1e-3));
        }
      }
      curves.push_back(std::move(c));
    }
    return curves;
  };
  f.collapse_initial = collapse(curves_of(false), {.x_c_min = o.theta_min, .x_c_max = o.theta_max});
  f.collapse_final = collapse(curves_of(true), {.x_c_min = o.theta_min, .x_c_max = o.theta_max});
  // Continuity: the largest one-level jump in theta at the last step (the trained graph, where the default
  // rule sits) against N, and the per-graph test there; the first step's and the step series' exponents are
  // given in the reason.
  int discontinuous = 0, tested = 0;
  for (const auto& r : f.runs)
    if (r.final.discontinuous) ++tested, discontinuous += *r.final.discontinuous ? 1 : 0;
  const auto exponent_text = [](const ScalingFit& x) {
    return x.status.ok() && x.exponent_lo && x.exponent_hi
               ? fmt::format("N^{:.3f} [{:.3f}, {:.3f}]", *x.exponent, *x.exponent_lo, *x.exponent_hi)
               : std::string("not fitted");
  };
  const auto& j = f.jump_theta_final;
  const auto others = fmt::format("; at the first step it goes as {}, between adjacent recorded steps as {}",
                                  exponent_text(f.jump_theta), exponent_text(f.jump_steps));
  if (j.status.ok() && j.exponent_hi && *j.exponent_hi < 0 && discontinuous == 0) {
    f.continuity = "continuous";
    f.continuity_reason = fmt::format(
        "the largest one-level jump of P_inf in theta at the last step falls with N as {} and none of {} "
        "graphs "
        "exceeds the mean-field limit{}",
        exponent_text(j), tested, others);
  } else if (tested > 0 && discontinuous == tested &&
             (!j.status.ok() || (j.exponent_lo && *j.exponent_lo > -0.1))) {
    f.continuity = "discontinuous";
    f.continuity_reason = fmt::format(
        "every graph's largest one-level jump at the last step exceeds the mean-field limit and it does not "
        "fall "
        "with N ({}){}",
        exponent_text(j), others);
  } else {
    f.continuity = "undecided";
    f.continuity_reason = fmt::format(
        "at the last step the largest jump goes as {} and {} of {} graphs exceed the mean-field limit{}",
        exponent_text(j), discontinuous, tested, others);
  }
  return f;
}

GraphAnalysis analyse_recording(const fs::path& run_dir, const Recording& rec, const GraphOptions& o) {
  GraphAnalysis a;
  a.run_dir = run_dir;
  a.theta_rule = o.theta_rule;
  a.avalanche_threshold = o.avalanche_threshold;
  a.sign = o.sign;
  a.probes = rec.probe_labels.numel();
  const auto hidden = hidden_of(rec);
  for (const auto l : hidden) a.hidden_layers.push_back(static_cast<std::int64_t>(l));

  // 1. One pass over the recorded steps: percolation at theta, theta_c per step, neuron statistics,
  //    the Hebbian test, avalanches, and the sweeps, structure and rasters at the first and last steps.
  auto pass = read_recording(rec, o, /*full=*/true, run_dir.filename().string());
  a.theta = pass.theta;
  a.theta_rule = pass.rule;
  a.theta_note = pass.note;
  GraphOptions at_theta = o;
  at_theta.theta = pass.theta;
  a.percolation = pass.percolation;
  a.theta_c = pass.theta_c;
  const auto series = series_of(a.percolation);
  a.transition = locate_transition(series.steps, series.p_inf, series.chi, {.seed = o.seed});
  a.rise = rise_of(series);

  // 2. The transition step's sweep, structure and raster (its one second read), between the first and last.
  a.theta_sweeps = std::move(pass.sweeps);  // (the finite-size run below reads only percolation, theta_c and
  a.structure = std::move(pass.structure);  //  the grids of the pass)
  a.rasters = std::move(pass.rasters);
  if (a.transition.status.ok()) {
    const auto step = static_cast<std::int64_t>(*a.transition.x_c);
    if (step != rec.steps.front() && step != rec.steps.back()) {
      const auto s = load_step(rec, step);
      auto g = build_ncg(s, hidden, o.sign, std::min(o.theta_min, pass.theta));
      sort_by_weight_descending(g.edges);
      const auto k =
          static_cast<std::size_t>(std::find(rec.steps.begin(), rec.steps.end(), step) - rec.steps.begin());
      a.theta_sweeps.insert(a.theta_sweeps.begin() + 1, theta_sweep(g, step, pass.grids[k], at_theta));
      a.structure.insert(a.structure.begin() + 1, structure_at(g, step, at_theta));
      a.rasters.push_back(raster(rec, s, hidden.front()));
    }
  }

  // 3. Critical neurons over training; reinforcement and redistribution; avalanches.
  a.critical_neurons = critical_neurons(rec, pass, o);
  if (!o.hebbian) {
    a.hebbian_status =
        make_status(StatusCode::kNotRun, "the Hebbian and redistribution tests were not asked for");
  } else if (std::find(pass.dense.begin(), pass.dense.end(), true) == pass.dense.end()) {
    a.hebbian_status = make_status(StatusCode::kNotApplicable,
                                   "no hidden layer is a dense map from the recorded units below it");
  } else {
    a.redistribution = redistribution_of(rec, pass, o);
    if (rec.steps.size() < 2)
      a.hebbian_status = make_status(StatusCode::kInsufficientData,
                                     "one recorded step; the Hebbian test needs weight changes between two");
  }
  a.hebbian = std::move(pass.hebbian);
  if (a.hebbian_status.ok() && a.hebbian.empty())
    a.hebbian_status = make_status(StatusCode::kInsufficientData,
                                   "no dense layer had units and inputs with variance at two adjacent steps");
  a.avalanches = avalanches_of(rec, pass, o);

  // 4. Critical computational graphs and the pruning test.
  if (o.pruning) {
    a.pruning = prune_and_export(run_dir, rec, pass.stats.back(), o);
  } else {
    a.pruning.num_classes = rec.num_classes;
    a.pruning.status = make_status(StatusCode::kNotRun, "pruning was not asked for");
  }

  // 5. Finite-size scaling with the compared runs (percolation only, each read once).
  if (!o.compare.empty()) {
    std::vector<FiniteSizeRun> runs{finite_size_run(run_dir, rec, pass, o.seed)};
    pass = {};
    for (const auto& other : o.compare) {
      const auto r2 = open_recording(other);
      if (r2.steps.empty() || hidden_of(r2).empty())
        throw Error(fmt::format("'{}' has no usable recording", other.string()));
      runs.push_back(finite_size_run(
          other, r2, read_recording(r2, o, /*full=*/false, other.filename().string()), o.seed));
    }
    a.finite_size = finite_size_of(std::move(runs), o);
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
  return analyse_recording(run_dir, rec, o);
}

}  // namespace critlab::graph
