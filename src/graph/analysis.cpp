#include "critlab/graph/analysis.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <torch/torch.h>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/graph/recording.h"
#include "critlab/graph/structure.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/progress.h"
#include "critlab/io/table.h"
#include "critlab/measure/jacobian.h"
#include "critlab/train/run.h"

namespace critlab::graph {
namespace fs = std::filesystem;
using nlohmann::json;

bool GraphOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) { return *error = std::move(m), false; };
  if (!(theta == 0 || (theta > 0 && theta < 1)))
    return fail(fmt::format("--theta must be in (0, 1), or 0 for auto, got {}", theta));
  if (!(theta_min > 0 && theta_min < theta_max && theta_max < 1 && theta_step > 0))
    return fail("the theta sweep needs 0 < --theta-min < --theta-max < 1 and --theta-step > 0");
  if (!(neurons.fraction > 0 && neurons.fraction <= 1))
    return fail(fmt::format("--critical-fraction must be in (0, 1], got {}", neurons.fraction));
  if (neurons.bins < 2) return fail("--bins must be at least 2");
  for (const double f : prune_fractions)
    if (!(f > 0 && f <= 1)) return fail(fmt::format("pruning fractions must be in (0, 1], got {}", f));
  if (ccg_units < 1 || ccg_inputs < 1) return fail("--ccg-units and --ccg-inputs must be at least 1");
  return true;
}

namespace {

std::vector<std::size_t> hidden_of(const Recording& rec) {
  std::vector<std::size_t> h;
  for (std::size_t l = 0; l < rec.blocks.size(); ++l)
    if (!rec.blocks[l].readout) h.push_back(l);
  return h;
}

// The whole network's NCG at one step: hidden layers' units as nodes (zero-variance units excluded), edges
// within layers and between adjacent layers with weight >= min_weight.
struct NetworkGraph {
  std::int64_t nodes = 0, excluded = 0;
  std::vector<WeightedEdge> edges;
  std::vector<Correlation> within;          // per hidden layer
  std::vector<std::int64_t> offset;         // first node of each hidden layer
  std::vector<std::size_t> within_end;      // layer i's own edges are edges[within_end[i-1] .. within_end[i])
  std::vector<std::string> statuses;
};

NetworkGraph build_ncg(const RecordedStep& s, const std::vector<std::size_t>& hidden, EdgeSign sign, double min_weight) {
  NetworkGraph g;
  for (const auto l : hidden) {
    g.within.push_back(correlate(s.post[l]));
    const auto& c = g.within.back();
    g.offset.push_back(g.nodes);
    g.nodes += static_cast<std::int64_t>(c.ok() ? c.kept_a.size() : 0);
    g.excluded += c.ok() ? c.excluded_a : s.post[l].size(1);
    g.statuses.push_back(c.status);
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

std::string tables_csv(const fs::path& out, const std::string& name, const io::Table& t) {
  io::write_csv(out / "tables" / (name + ".csv"), t);
  return "tables/" + name + ".csv";
}

// ------------------------------------------------------------------ percolation over training
struct StepSeries {
  std::vector<double> steps, p_inf, chi;
  io::Table table;
};

StepSeries percolation_over_steps(const Recording& rec, const GraphOptions& o, const std::string& label) {
  const auto hidden = hidden_of(rec);
  StepSeries s;
  s.table.columns = {"step", "p_inf", "susceptibility", "components", "edges", "nodes", "excluded_units"};
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    s.table.columns.push_back(fmt::format("p_inf_layer{}", hidden[i]));
    s.table.columns.push_back(fmt::format("susceptibility_layer{}", hidden[i]));
  }
  io::Progress progress("graph " + label, static_cast<std::int64_t>(rec.steps.size()));
  for (std::size_t k = 0; k < rec.steps.size(); ++k) {
    const auto step = load_step(rec, rec.steps[k]);
    const auto g = build_ncg(step, hidden, o.sign, o.theta);
    const auto p = percolation_sweep(g.nodes, g.edges, {o.theta})[0];
    std::vector<double> row{static_cast<double>(rec.steps[k]), p.p_inf, p.susceptibility,
                            static_cast<double>(p.components), static_cast<double>(p.edges),
                            static_cast<double>(g.nodes), static_cast<double>(g.excluded)};
    for (std::size_t i = 0; i < g.within.size(); ++i) {
      // The layer's own graph: its slice of the network's edges, renumbered from 0.
      std::vector<WeightedEdge> e(g.edges.begin() + static_cast<std::ptrdiff_t>(i ? g.within_end[i - 1] : 0),
                                  g.edges.begin() + static_cast<std::ptrdiff_t>(g.within_end[i]));
      for (auto& x : e) x.u -= static_cast<std::int32_t>(g.offset[i]), x.v -= static_cast<std::int32_t>(g.offset[i]);
      const auto& c = g.within[i];
      const auto q = percolation_sweep(c.ok() ? static_cast<std::int64_t>(c.kept_a.size()) : 0, e, {o.theta})[0];
      row.push_back(q.p_inf);
      row.push_back(q.susceptibility);
    }
    s.steps.push_back(row[0]), s.p_inf.push_back(p.p_inf), s.chi.push_back(p.susceptibility);
    s.table.add_row(row);
    progress.update(static_cast<std::int64_t>(k + 1), fmt::format("step {}", rec.steps[k]));
  }
  progress.finish();
  return s;
}

json transition_json(const Transition& t) {
  return {{"status", t.status},          {"step", t.x_c},           {"x_c", t.x_c},
          {"beta", t.beta},              {"beta_ci", {t.beta_lo, t.beta_hi}},
          {"chi_max", t.chi_max},        {"fit_points", t.fit_points}, {"ordered_side", t.ordered_side}};
}

// ------------------------------------------------------------------ theta sweeps and structure at one step
json theta_sweep(const Recording& rec, std::int64_t step, const GraphOptions& o, const fs::path& out) {
  const auto hidden = hidden_of(rec);
  const auto s = load_step(rec, step);
  const auto grid = theta_grid(o);
  const auto g = build_ncg(s, hidden, o.sign, std::min(o.theta_min, o.theta));
  const auto sweep = percolation_sweep(g.nodes, g.edges, grid);
  io::Table t{{"theta", "p_inf", "susceptibility", "components", "edges"}, {}};
  std::vector<double> p, chi;
  for (const auto& x : sweep) {
    t.add_row({x.threshold, x.p_inf, x.susceptibility, static_cast<double>(x.components), static_cast<double>(x.edges)});
    p.push_back(x.p_inf), chi.push_back(x.susceptibility);
  }
  const auto tr = locate_transition(grid, p, chi, {.seed = o.seed});
  const auto name = fmt::format("theta_sweep_step{}", step);
  tables_csv(out, name, t);
  io::plot_lines(out / "plots", name, t, "theta", {{"p_inf", "P_inf"}},
                 {.title = fmt::format("Order parameter against threshold, step {}", step), .xlabel = "theta",
                  .ylabel = "largest component fraction", .vlines = {tr.x_c}});
  io::plot_lines(out / "plots", name + "_susceptibility", t, "theta", {{"susceptibility", "mean finite cluster size"}},
                 {.title = fmt::format("Susceptibility against threshold, step {}", step), .xlabel = "theta",
                  .ylabel = "mean finite cluster size", .logy = true, .vlines = {tr.x_c}});
  // Cluster sizes at the default theta.
  auto sizes = cluster_sizes(g.nodes, g.edges, o.theta);
  io::Table cs{{"size", "count"}, {}};
  if (!sizes.empty()) sizes.erase(sizes.begin());  // the largest component is not a finite cluster
  std::map<std::int64_t, std::int64_t> hist;
  for (const auto x : sizes) ++hist[x];
  for (const auto& [size, count] : hist) cs.add_row({static_cast<double>(size), static_cast<double>(count)});
  const auto cname = fmt::format("cluster_sizes_step{}", step);
  tables_csv(out, cname, cs);
  if (cs.rows.size() >= 2)
    io::plot_lines(out / "plots", cname, cs, "size", {{"count", "finite clusters"}},
                   {.title = fmt::format("Finite cluster sizes at theta = {}, step {}", o.theta, step),
                    .xlabel = "cluster size", .ylabel = "count", .logx = true, .logy = true});
  json j = {{"step", step}, {"nodes", g.nodes}, {"excluded_units", g.excluded}, {"transition", transition_json(tr)},
            {"theta_c", tr.x_c}, {"table", "tables/" + name + ".csv"}, {"cluster_sizes", "tables/" + cname + ".csv"}};
  j["transition"].erase("step");
  return j;
}

json structure_at(const Recording& rec, std::int64_t step, const GraphOptions& o, const fs::path& out, io::Table& summary) {
  const auto g = build_ncg(load_step(rec, step), hidden_of(rec), o.sign, o.theta);
  const auto s = analyse_structure(g.nodes, g.edges, {.seed = o.seed});
  io::Table deg{{"degree", "count"}, {}};
  for (std::size_t k = 0; k < s.degree_histogram.size(); ++k)
    if (s.degree_histogram[k] > 0) deg.add_row({static_cast<double>(k), static_cast<double>(s.degree_histogram[k])});
  tables_csv(out, fmt::format("degree_step{}", step), deg);
  io::Table rc{{"k", "rich_club", "rich_club_normalised"}, {}};
  double rc_max = 0;
  for (std::size_t i = 0; i < s.rich_club_k.size(); ++i) {
    rc.add_row({static_cast<double>(s.rich_club_k[i]), s.rich_club[i], s.rich_club_normalised[i]});
    rc_max = std::max(rc_max, s.rich_club_normalised[i]);
  }
  tables_csv(out, fmt::format("rich_club_step{}", step), rc);
  if (rc.rows.size() >= 2)
    io::plot_lines(out / "plots", fmt::format("rich_club_step{}", step), rc, "k",
                   {{"rich_club_normalised", "phi(k) / phi_random(k)"}},
                   {.title = fmt::format("Rich club, step {}", step), .xlabel = "degree k", .ylabel = "normalised rich club",
                    .hlines = {1.0}});
  summary.add_row({static_cast<double>(step), static_cast<double>(s.nodes), static_cast<double>(s.edges), s.mean_degree,
                   static_cast<double>(s.max_degree), s.transitivity, s.mean_local_clustering,
                   static_cast<double>(s.communities), s.modularity, rc_max});
  return {{"step", step},
          {"nodes", s.nodes},
          {"edges", s.edges},
          {"mean_degree", s.mean_degree},
          {"max_degree", s.max_degree},
          {"transitivity", s.transitivity},
          {"mean_local_clustering", s.mean_local_clustering},
          {"communities", s.communities},
          {"modularity", s.modularity},
          {"rich_club_normalised_max", rc_max}};
}

// ------------------------------------------------------------------ critical neurons over training
struct Masks {
  at::Tensor crit, other;  // bool [out, in]
};
Masks crit_masks(const std::vector<std::int64_t>& out_crit, const std::vector<std::int64_t>& in_crit, std::int64_t out,
                 std::int64_t in) {
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

json critical_neurons(const Recording& rec, const GraphOptions& o, const fs::path& out) {
  const auto hidden = hidden_of(rec);
  std::vector<std::vector<NeuronStats>> stats;  // [step][hidden layer]
  std::vector<RecordedStep> weights;            // weights only (activity dropped) per step
  for (const auto step : rec.steps) {
    auto s = load_step(rec, step);
    std::vector<NeuronStats> per;
    for (const auto l : hidden) per.push_back(neuron_stats(s.post[l], rec.probe_labels, rec.num_classes, o.neurons));
    stats.push_back(std::move(per));
    s.post.clear(), s.pre.clear();
    weights.push_back(std::move(s));
  }
  const auto input_strength = rec.probe_images.reshape({rec.probe_images.size(0), -1}).abs().mean(0).to(at::kDouble);
  io::Table t{{"step", "layer", "critical", "jaccard_previous", "jaccard_final", "mean_abs_w_critical",
               "mean_abs_w_other", "reinforcement_ratio", "dw_var_critical", "dw_var_other", "entropy_critical",
               "entropy_other", "gini_critical", "gini_other"},
              {}};
  const std::size_t last = rec.steps.size() - 1;
  for (std::size_t k = 0; k < rec.steps.size(); ++k) {
    for (std::size_t h = 0; h < hidden.size(); ++h) {
      const auto l = hidden[h];
      const auto& st = stats[k][h];
      std::vector<double> row{static_cast<double>(rec.steps[k]), static_cast<double>(l),
                              static_cast<double>(st.critical.size()),
                              k > 0 ? jaccard(stats[k - 1][h].critical, st.critical) : std::nan(""),
                              jaccard(stats[last][h].critical, st.critical)};
      const auto& w = weights[k].weight[l];
      if (!w.defined()) {
        row.resize(t.columns.size(), std::nan(""));
        t.add_row(row);
        continue;
      }
      // Incoming weights of layer l from layer l-1 (the input pixels for the first layer): critical-to-critical
      // entries use the final step's critical sets, so the same weights are followed through training.
      const std::vector<std::int64_t> in_crit = h > 0 ? stats[last][h - 1].critical : std::vector<std::int64_t>{};
      const auto m = crit_masks(stats[last][h].critical, in_crit, w.size(0), w.size(1));
      const auto aw = w.abs().to(at::kDouble);
      const double wc = masked_mean(aw, m.crit), wo = masked_mean(aw, m.other);
      row.insert(row.end(), {wc, wo, wc / wo});
      if (k > 0) {
        const double dstep = static_cast<double>(rec.steps[k] - rec.steps[k - 1]);
        const auto dw = (w - weights[k - 1].weight[l]).to(at::kDouble);
        row.insert(row.end(), {masked_var(dw, m.crit) / dstep, masked_var(dw, m.other) / dstep});
      } else {
        row.insert(row.end(), {std::nan(""), std::nan("")});
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
        if (is_crit[j]) ec += e, gc += gi, ++nc;
        else eo += e, go += gi, ++no;
      }
      row.insert(row.end(), {nc ? ec / nc : std::nan(""), no ? eo / no : std::nan(""), nc ? gc / nc : std::nan(""),
                             no ? go / no : std::nan("")});
      t.add_row(row);
    }
  }
  tables_csv(out, "critical_neurons", t);
  // Per-unit table at the last step, one per hidden layer.
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    const auto& st = stats[last][h];
    io::Table u{{"unit", "strength", "selectivity", "information_bits", "score", "critical"}, {}};
    for (std::size_t j = 0; j < st.strength.size(); ++j)
      u.add_row({static_cast<double>(j), st.strength[j], st.selectivity[j], st.information[j], st.score[j],
                 std::binary_search(st.critical.begin(), st.critical.end(), static_cast<std::int64_t>(j)) ? 1.0 : 0.0});
    tables_csv(out, fmt::format("units_layer{}", hidden[h]), u);
  }
  // Plots: one series per layer.
  const auto per_layer = [&](const std::string& col) {
    io::Table p{{"step"}, {}};
    for (const auto l : hidden) p.columns.push_back(fmt::format("layer{}", l));
    for (std::size_t k = 0; k < rec.steps.size(); ++k) {
      std::vector<double> row{static_cast<double>(rec.steps[k])};
      for (std::size_t h = 0; h < hidden.size(); ++h) row.push_back(t.rows[k * hidden.size() + h][t.column(col)]);
      p.add_row(row);
    }
    return p;
  };
  std::vector<io::PlotSeries> series;
  for (const auto l : hidden) series.push_back({fmt::format("layer{}", l), fmt::format("layer {}", l)});
  const auto plot = [&](const std::string& col, const std::string& title, const std::string& ylabel, std::vector<double> h = {}) {
    io::plot_lines(out / "plots", "critical_" + col, per_layer(col), "step", series,
                   {.title = title, .xlabel = "step", .ylabel = ylabel, .logx = true, .hlines = std::move(h)});
  };
  plot("jaccard_final", "Stability of the critical set (Jaccard with the final set)", "Jaccard");
  plot("reinforcement_ratio", "Reinforcement: mean |w| critical-to-critical / other", "ratio", {1.0});
  plot("entropy_critical", "Balance: normalised entropy of contributions into critical units", "H / ln(fan-in)");
  plot("gini_critical", "Balance: Gini coefficient of contributions into critical units", "Gini");
  json layers = json::array();
  for (std::size_t h = 0; h < hidden.size(); ++h) {
    const auto& row = t.rows[last * hidden.size() + h];
    const auto& first = t.rows[h];
    const auto c = [&](const char* n) { return t.column(n); };
    layers.push_back({{"layer", hidden[h]},
                      {"critical", row[c("critical")]},
                      {"jaccard_first_to_final", first[c("jaccard_final")]},
                      {"reinforcement_ratio_initial", first[c("reinforcement_ratio")]},
                      {"reinforcement_ratio_final", row[c("reinforcement_ratio")]},
                      {"entropy_critical_initial", first[c("entropy_critical")]},
                      {"entropy_critical_final", row[c("entropy_critical")]},
                      {"entropy_other_final", row[c("entropy_other")]},
                      {"gini_critical_final", row[c("gini_critical")]},
                      {"gini_other_final", row[c("gini_other")]}});
  }
  return {{"fraction", o.neurons.fraction}, {"layers", layers}, {"table", "tables/critical_neurons.csv"}};
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

std::string raster(const Recording& rec, std::int64_t step, std::size_t layer, const fs::path& out) {
  const auto s = load_step(rec, step);
  const auto a = s.post[layer];
  const auto c = correlate(a);
  const auto order = spectral_order(c, a.size(1));
  const auto by_label = rec.probe_labels.argsort(/*stable=*/true);
  const auto sd = a.std(0, false);
  auto z = ((a - a.mean(0)) / sd.clamp_min(1e-6)).clamp(-3, 3);
  z = z.index_select(0, by_label).index_select(1, at::tensor(order, at::kLong)).t().contiguous();  // [units, probes]
  std::vector<float> v(z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
  std::vector<double> class_edges;
  const auto labels = rec.probe_labels.index_select(0, by_label).contiguous();
  for (std::int64_t i = 1; i < labels.numel(); ++i)
    if (labels[i].item<std::int64_t>() != labels[i - 1].item<std::int64_t>()) class_edges.push_back(i - 0.5);
  const auto name = fmt::format("raster_layer{}_step{}", layer, step);
  io::plot_heatmap(out / "plots", name, v, z.size(0), z.size(1),
                   {.title = fmt::format("Activity raster, layer {}, step {} (units in spectral order, probes by class)",
                                         layer, step),
                    .xlabel = "probe (grouped by class)", .ylabel = "unit (spectral order)", .cblabel = "z-score",
                    .cb_lo = -3, .cb_hi = 3, .diverging = true, .vlines = class_edges});
  return "plots/" + name + ".png";
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
std::vector<at::Tensor> class_input_means(nn::LayerStack& model, const at::Tensor& images, const at::Tensor& labels,
                                          std::int64_t classes) {
  nn::EvalModeGuard eval(*model);
  torch::NoGradGuard no_grad;
  const auto taps = model->forward_tapped(images);
  const auto onehot = at::one_hot(labels, classes).to(at::kFloat).to(images.device());
  const auto counts = onehot.sum(0).clamp_min(1).unsqueeze(1);
  std::vector<at::Tensor> means;
  for (const auto& t : taps) means.push_back(onehot.t().mm(t.input.reshape({t.input.size(0), -1}).abs()) / counts);
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
  const auto k = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(f * static_cast<double>(flat.numel()))));
  auto mask = at::zeros_like(flat);
  mask.index_fill_(0, std::get<1>(flat.topk(std::min(k, flat.numel()))), 1);
  return mask.view_as(score);
}

json prune_and_export(const fs::path& run_dir, const Recording& rec, const GraphOptions& o, const fs::path& out) {
  const c10::Device device = resolve_device(o.device);
  auto run = train::load_run(run_dir, device);
  auto blocks = dense_blocks(run.model);
  if (blocks.empty()) return {{"status", "pruning and class graphs need a network of dense blocks (an MLP)"}};
  auto fm = data::load_fashion_mnist(data::resolve_data_dir(o.data_dir.empty() ? run.options.data_dir : o.data_dir));
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
  io::Table t{{"fraction_kept", "critical", "random", "random_sd", "magnitude"}, {}};
  json pruning = json::array();
  io::Progress progress("graph pruning", static_cast<std::int64_t>(o.prune_fractions.size()));
  for (std::size_t fi = 0; fi < o.prune_fractions.size(); ++fi) {
    const double f = o.prune_fractions[fi];
    const double crit = accuracy_with([&](std::size_t l) { return top_fraction_mask(critical_score[l], f); });
    const double mag = accuracy_with([&](std::size_t l) { return top_fraction_mask(original[l].abs(), f); });
    std::vector<double> rnd;
    for (int r = 0; r < o.prune_random_repeats; ++r) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 1000 + static_cast<std::uint64_t>(r) * 7919 + fi);
      rnd.push_back(accuracy_with([&](std::size_t l) {
        return top_fraction_mask(at::rand(original[l].sizes(), gen).to(device), f);
      }));
    }
    const double mean = std::accumulate(rnd.begin(), rnd.end(), 0.0) / static_cast<double>(rnd.size());
    double var = 0;
    for (const double x : rnd) var += (x - mean) * (x - mean);
    const double sd = rnd.size() > 1 ? std::sqrt(var / static_cast<double>(rnd.size() - 1)) : 0.0;
    t.add_row({f, crit, mean, sd, mag});
    pruning.push_back({{"fraction_kept", f}, {"critical", crit}, {"random", mean}, {"random_sd", sd}, {"magnitude", mag}});
    progress.update(static_cast<std::int64_t>(fi + 1));
  }
  progress.finish();
  tables_csv(out, "pruning", t);
  io::plot_lines(out / "plots", "pruning", t, "fraction_kept",
                 {{"critical", "critical computational graphs"}, {"magnitude", "weight magnitude"}, {"random", "random"}},
                 {.title = "Test accuracy of the pruned network", .xlabel = "fraction of weights kept (per layer)",
                  .ylabel = "test accuracy", .logx = true, .hlines = {1.0 / static_cast<double>(rec.num_classes)}});

  // Export each class's graph: per hidden layer the class's units among the critical set with the largest
  // class preference (class mean |a| minus the mean over other classes), the input pixels contributing
  // most to them, the class's output unit; edges weighted by a_i^c |w_ji|.
  const auto hidden = hidden_of(rec);
  const auto final_step = load_step(rec, rec.steps.back());
  std::vector<NeuronStats> stats;
  for (const auto l : hidden) stats.push_back(neuron_stats(final_step.post[l], rec.probe_labels, rec.num_classes, o.neurons));
  json classes = json::array();
  fs::create_directories(out / "ccg");
  for (std::int64_t c = 0; c < rec.num_classes; ++c) {
    std::vector<std::vector<std::int64_t>> layers;  // node sets: inputs, hidden..., output
    for (std::size_t h = 0; h < hidden.size(); ++h) {
      const auto& cm = stats[h].class_means;
      const auto pref = (cm[c] - (cm.sum(0) - cm[c]) / std::max<std::int64_t>(1, rec.num_classes - 1)).contiguous();
      std::vector<std::int64_t> cand = stats[h].critical;
      std::sort(cand.begin(), cand.end(), [&](std::int64_t a, std::int64_t b) {
        return pref[a].item<double>() > pref[b].item<double>();
      });
      cand.resize(std::min<std::size_t>(cand.size(), static_cast<std::size_t>(o.ccg_units)));
      layers.push_back(cand);
    }
    // Inputs: pixels with the largest total contribution into the first hidden layer's chosen units.
    const auto w0 = original[hidden.front()].abs().index_select(0, at::tensor(layers.front(), at::kLong).to(device));
    const auto pix = (w0 * means[hidden.front()][c].unsqueeze(0)).sum(0);
    const auto top = std::get<1>(pix.topk(std::min<std::int64_t>(o.ccg_inputs, pix.numel()))).to(at::kCPU).contiguous();
    std::vector<std::int64_t> inputs(top.data_ptr<std::int64_t>(), top.data_ptr<std::int64_t>() + top.numel());
    layers.insert(layers.begin(), inputs);
    layers.push_back({c});
    ExportGraph g;
    std::vector<std::int64_t> first;
    for (std::size_t L = 0; L < layers.size(); ++L) {
      first.push_back(static_cast<std::int64_t>(g.nodes.size()));
      for (const auto u : layers[L]) {
        const std::string kind = L == 0 ? "pixel" : L + 1 == layers.size() ? "output" : "unit";
        g.nodes.push_back({static_cast<std::int64_t>(L), u, fmt::format("{} {}", kind, u), 0.0});
      }
    }
    io::Table edges{{"x", "y", "dx", "dy", "width"}, {}};
    for (std::size_t L = 0; L + 1 < layers.size(); ++L) {
      const auto l = L == 0 ? hidden.front() : (L < hidden.size() ? hidden[L] : blocks.size() - 1);
      const auto w = original[l].to(at::kCPU), a = means[l][c].to(at::kCPU);
      std::vector<WeightedEdge> local;
      float wmax = 0;
      for (std::size_t i = 0; i < layers[L].size(); ++i)
        for (std::size_t j = 0; j < layers[L + 1].size(); ++j) {
          const float v = a[layers[L][i]].item<float>() * std::abs(w[layers[L + 1][j]][layers[L][i]].item<float>());
          local.push_back({static_cast<std::int32_t>(first[L] + i), static_cast<std::int32_t>(first[L + 1] + j), v});
          wmax = std::max(wmax, v);
        }
      for (const auto& e : local)
        if (e.weight >= 0.05f * wmax && wmax > 0) g.edges.push_back(e);
    }
    const auto ypos = [&](std::int64_t node) {
      const auto L = static_cast<std::size_t>(g.nodes[node].layer);
      const auto rank = node - first[L];
      return layers[L].size() > 1 ? static_cast<double>(rank) / static_cast<double>(layers[L].size() - 1) : 0.5;
    };
    float emax = 0;
    for (const auto& e : g.edges) emax = std::max(emax, e.weight);
    for (const auto& e : g.edges) {
      const double x0 = static_cast<double>(g.nodes[e.u].layer), y0 = ypos(e.u);
      edges.add_row({x0, y0, 1.0, ypos(e.v) - y0, 0.3 + 3.0 * e.weight / std::max(emax, 1e-30f)});
    }
    io::Table nodes{{"x", "y"}, {}};
    for (std::size_t i = 0; i < g.nodes.size(); ++i) nodes.add_row({static_cast<double>(g.nodes[i].layer), ypos(static_cast<std::int64_t>(i))});
    const auto stem = fmt::format("class{}", c);
    write_graphml(out / "ccg" / (stem + ".graphml"), g);
    write_dot(out / "ccg" / (stem + ".dot"), g);
    io::write_csv(out / "ccg" / (stem + "_edges.csv"), edges);
    io::write_csv(out / "ccg" / (stem + "_nodes.csv"), nodes);
    io::render_gnuplot(out / "ccg", stem,
                       fmt::format("set datafile separator ','\nunset key\nunset ytics\nset xtics 1\nset border 1\n"
                                   "set title 'Critical computational graph, class {} (input pixels, critical units, output)'\n"
                                   "set xlabel 'layer'\nset xrange [-0.3:{}]\nset yrange [-0.05:1.05]\n"
                                   "plot '{}_edges.csv' skip 1 using 1:2:3:4:5 with vectors nohead lw variable lc rgb '#99336699', \\\n"
                                   "     '{}_nodes.csv' skip 1 using 1:2 with points pt 7 ps 1.3 lc rgb 'black'\n",
                                   c, static_cast<double>(layers.size()) - 0.7, stem, stem));
    classes.push_back({{"class", c}, {"nodes", g.nodes.size()}, {"edges", g.edges.size()}, {"graphml", "ccg/" + stem + ".graphml"},
                       {"image", "ccg/" + stem + ".png"}});
  }
  return {{"status", "ok"}, {"curve", pruning}, {"classes", classes}};
}

// How fast and when P_inf changes over training. The direction is that of the larger excursion from the
// first recorded value; the running extreme (max for a rise, min for a fall) makes the crossing steps robust
// to later dips; step_10, step_50 and step_90 are where it first covers 10%, 50% and 90% of the excursion,
// and log10(step_90 / step_10) measures the sharpness in decades of training.
json rise_json(const StepSeries& s) {
  if (s.steps.size() < 3) return {{"status", "too_few_points"}};
  const double p0 = s.p_inf.front();
  const auto [lo, hi] = std::minmax_element(s.p_inf.begin(), s.p_inf.end());
  const bool rising = *hi - p0 >= p0 - *lo;
  const double p1 = rising ? *hi : *lo;
  if (p1 == p0) return {{"status", "no_change"}, {"p_inf_initial", p0}};
  double run = p0;
  double at[3] = {std::nan(""), std::nan(""), std::nan("")};
  const double levels[3] = {0.1, 0.5, 0.9};
  for (std::size_t k = 0; k < s.steps.size(); ++k) {
    run = rising ? std::max(run, s.p_inf[k]) : std::min(run, s.p_inf[k]);
    for (int i = 0; i < 3; ++i)
      if (std::isnan(at[i]) && (run - p0) / (p1 - p0) >= levels[i]) at[i] = s.steps[k];
  }
  return {{"status", "ok"},
          {"direction", rising ? "rise" : "fall"},
          {"p_inf_initial", p0},
          {"p_inf_extreme", p1},
          {"step_extreme", s.steps[static_cast<std::size_t>((rising ? hi : lo) - s.p_inf.begin())]},
          {"p_inf_final", s.p_inf.back()},
          {"step_10", at[0]},
          {"step_50", at[1]},
          {"step_90", at[2]},
          {"decades_10_90", std::log10((at[2] + 1) / (at[0] + 1))}};
}

json analyse_resolved(const fs::path& run_dir, const Recording& rec, const GraphOptions& o, json result, bool auto_theta);

}  // namespace

json analyse_run(const fs::path& run_dir, const GraphOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  configure_threads(o.threads);
  const auto rec = open_recording(run_dir);
  if (rec.steps.empty())
    throw Error(fmt::format("'{}' has a recording plan but no recorded step yet; train the run first", run_dir.string()));
  if (hidden_of(rec).empty()) throw Error("the recorded network has no hidden layer to build a graph from");
  const auto out = run_dir / "graph";
  fs::create_directories(out / "tables");
  fs::create_directories(out / "plots");
  json result;
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
    resolved.theta = locate_transition(grid, p0, c0, {.bootstrap = 0}).x_c;
    if (!(resolved.theta > 0 && resolved.theta < 1)) resolved.theta = 0.5;
  }
  return analyse_resolved(run_dir, rec, resolved, std::move(result), o.theta == 0);
}

namespace {

json analyse_resolved(const fs::path& run_dir, const Recording& rec, const GraphOptions& o, json result, bool auto_theta) {
  const auto out = run_dir / "graph";
  result["theta"] = o.theta;
  result["theta_auto"] = auto_theta;
  result["edge_sign"] = to_string(o.sign);
  result["probes"] = rec.probe_labels.numel();

  // 1. Percolation over training at the default theta, and the transition.
  auto series = percolation_over_steps(rec, o, run_dir.filename().string());
  tables_csv(out, "percolation_steps", series.table);
  const auto tr = locate_transition(series.steps, series.p_inf, series.chi, {.seed = o.seed});
  result["rise"] = rise_json(series);
  json perc = json::array();
  for (const auto& r : series.table.rows)
    perc.push_back({{"step", r[0]}, {"p_inf", r[1]}, {"susceptibility", r[2]}, {"components", r[3]}, {"edges", r[4]},
                    {"nodes", r[5]}, {"excluded_units", r[6]}});
  result["percolation"] = perc;
  result["transition"] = transition_json(tr);
  {
    // log(1 + step) axis: the schedule is log-spaced.
    io::Table t{{"step_plus_1", "p_inf", "susceptibility"}, {}};
    for (const auto& r : series.table.rows) t.add_row({r[0] + 1, r[1], r[2]});
    io::plot_lines(out / "plots", "p_inf_vs_step", t, "step_plus_1", {{"p_inf", "P_inf (largest component fraction)"}},
                   {.title = fmt::format("Connectivity of the correlation graph during training (theta = {})", o.theta),
                    .xlabel = "step + 1", .ylabel = "P_inf", .logx = true, .vlines = {tr.x_c + 1}});
    io::plot_lines(out / "plots", "susceptibility_vs_step", t, "step_plus_1", {{"susceptibility", "mean finite cluster size"}},
                   {.title = fmt::format("Susceptibility during training (theta = {})", o.theta), .xlabel = "step + 1",
                    .ylabel = "mean finite cluster size", .logx = true, .vlines = {tr.x_c + 1}});
  }

  // 2. Theta sweeps, cluster sizes and structure at the first step, the transition and the last step.
  std::vector<std::int64_t> chosen{rec.steps.front()};
  const auto at_transition = static_cast<std::int64_t>(tr.x_c);
  if (tr.status == "ok" && std::find(chosen.begin(), chosen.end(), at_transition) == chosen.end()) chosen.push_back(at_transition);
  if (std::find(chosen.begin(), chosen.end(), rec.steps.back()) == chosen.end()) chosen.push_back(rec.steps.back());
  json sweeps = json::array(), structure = json::array();
  io::Table st{{"step", "nodes", "edges", "mean_degree", "max_degree", "transitivity", "mean_local_clustering",
                "communities", "modularity", "rich_club_normalised_max"},
               {}};
  for (const auto s : chosen) {
    sweeps.push_back(theta_sweep(rec, s, o, out));
    structure.push_back(structure_at(rec, s, o, out, st));
  }
  tables_csv(out, "structure", st);
  result["theta_sweeps"] = sweeps;
  result["structure"] = structure;

  // 3. Critical neurons over training.
  result["critical_neurons"] = critical_neurons(rec, o, out);

  // 4. Rasters: every hidden layer at the last step; the first hidden layer at the first step and transition.
  json rasters = json::array();
  const auto hidden = hidden_of(rec);
  for (const auto l : hidden) rasters.push_back(raster(rec, rec.steps.back(), l, out));
  for (const auto s : chosen)
    if (s != rec.steps.back()) rasters.push_back(raster(rec, s, hidden.front(), out));
  result["rasters"] = rasters;

  // 5. Critical computational graphs and the pruning test.
  result["pruning"] = json::array();
  if (o.pruning) {
    auto p = prune_and_export(run_dir, rec, o, out);
    if (p.at("status") == "ok") {
      result["pruning"] = p.at("curve");
      result["ccg"] = p.at("classes");
    } else {
      result["pruning_status"] = p.at("status");
    }
  }

  // 6. Finite-size comparison with other recorded runs.
  if (!o.compare.empty()) {
    json fsz = json::array();
    std::vector<std::pair<double, StepSeries>> all{{static_cast<double>(rec.blocks[hidden.front()].units), std::move(series)}};
    for (const auto& other : o.compare) {
      const auto r2 = open_recording(other);
      if (r2.steps.empty() || hidden_of(r2).empty()) throw Error(fmt::format("'{}' has no usable recording", other.string()));
      all.emplace_back(static_cast<double>(r2.blocks[hidden_of(r2).front()].units),
                       percolation_over_steps(r2, o, other.filename().string()));
    }
    io::Table ft{{"width", "transition_step", "chi_max", "beta", "beta_lo", "beta_hi", "p_inf_final"}, {}};
    for (auto& [width, s] : all) {
      const auto t2 = locate_transition(s.steps, s.p_inf, s.chi, {.seed = o.seed});
      ft.add_row({width, t2.x_c, t2.chi_max, t2.beta, t2.beta_lo, t2.beta_hi, s.p_inf.back()});
      fsz.push_back({{"width", width}, {"transition", transition_json(t2)}, {"p_inf_final", s.p_inf.back()}});
    }
    tables_csv(out, "finite_size", ft);
    // P_inf against step for every width, on the union of their steps (blank where a run has no point).
    std::map<double, std::vector<double>> rows;
    for (std::size_t i = 0; i < all.size(); ++i)
      for (std::size_t k = 0; k < all[i].second.steps.size(); ++k) {
        auto& row = rows[all[i].second.steps[k] + 1];
        row.resize(all.size(), std::nan(""));
        row[i] = all[i].second.p_inf[k];
      }
    io::Table pt{{"step_plus_1"}, {}};
    std::vector<io::PlotSeries> ser;
    for (std::size_t i = 0; i < all.size(); ++i) {
      pt.columns.push_back(fmt::format("width{}_{}", static_cast<std::int64_t>(all[i].first), i));
      ser.push_back({pt.columns.back(), fmt::format("width {}", static_cast<std::int64_t>(all[i].first))});
    }
    for (auto& [x, row] : rows) {
      row.resize(all.size(), std::nan(""));
      std::vector<double> r{x};
      r.insert(r.end(), row.begin(), row.end());
      pt.add_row(r);
    }
    io::plot_lines(out / "plots", "finite_size_p_inf", pt, "step_plus_1", ser,
                   {.title = "P_inf during training across widths", .xlabel = "step + 1", .ylabel = "P_inf", .logx = true});
    result["finite_size"] = fsz;
  }

  result["run"] = run_dir.string();
  io::write_json(out / "summary.json", result);
  return result;
}

}  // namespace

}  // namespace critlab::graph
