#include "critlab/graph/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"

namespace critlab::graph {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The report's file names, shared by the writer and the summary's references to them.
std::string theta_sweep_name(std::int64_t step) { return fmt::format("theta_sweep_step{}", step); }
std::string cluster_sizes_name(std::int64_t step) { return fmt::format("cluster_sizes_step{}", step); }
std::string raster_name(const Raster& r) { return fmt::format("raster_layer{}_step{}", r.layer, r.step); }
std::string class_stem(std::int64_t c) { return fmt::format("class{}", c); }

// NaN for an empty optional: an empty CSV cell (io/table.h).
double cell(const std::optional<double>& v) { return v.value_or(std::nan("")); }
// A marker at a located point, none where it was not located.
std::vector<double> marker_at(const std::optional<double>& x, double shift = 0) {
  return x ? std::vector<double>{*x + shift} : std::vector<double>{};
}
json number_or_null(const std::optional<double>& v) { return v ? finite_or_null(*v) : json(nullptr); }
// [lo, hi], or null unless both ends exist.
json interval_or_null(const std::optional<double>& lo, const std::optional<double>& hi) {
  return lo && hi ? json::array({finite_or_null(*lo), finite_or_null(*hi)}) : json(nullptr);
}

void write_table(const fs::path& out, const std::string& name, const io::Table& t) {
  io::write_csv(out / "tables" / (name + ".csv"), t);
}

// ------------------------------------------------------------------ percolation over training
void write_percolation(const GraphAnalysis& a, const fs::path& out) {
  io::Table t{{"step", "p_inf", "susceptibility", "components", "edges", "nodes", "excluded_units"}, {}};
  for (const auto l : a.hidden_layers) {
    t.columns.push_back(fmt::format("p_inf_layer{}", l));
    t.columns.push_back(fmt::format("susceptibility_layer{}", l));
  }
  for (const auto& r : a.percolation) {
    std::vector<double> row{static_cast<double>(r.step),
                            r.p_inf,
                            r.susceptibility,
                            static_cast<double>(r.components),
                            static_cast<double>(r.edges),
                            static_cast<double>(r.nodes),
                            static_cast<double>(r.excluded_units)};
    for (const auto& q : r.layers) row.push_back(q.p_inf), row.push_back(q.susceptibility);
    t.add_row(row);
  }
  write_table(out, "percolation_steps", t);
  // log(1 + step) axis: the schedule is log-spaced.
  io::Table p{{"step_plus_1", "p_inf", "susceptibility"}, {}};
  for (const auto& r : a.percolation) p.add_row({static_cast<double>(r.step) + 1, r.p_inf, r.susceptibility});
  io::plot_lines(
      out / "plots", "p_inf_vs_step", p, "step_plus_1", {{"p_inf", "P_inf (largest component fraction)"}},
      {.title = fmt::format("Connectivity of the correlation graph during training (theta = {})", a.theta),
       .xlabel = "step + 1",
       .ylabel = "P_inf",
       .logx = true,
       .vlines = marker_at(a.transition.x_c, 1)});
  io::plot_lines(out / "plots", "susceptibility_vs_step", p, "step_plus_1",
                 {{"susceptibility", "mean finite cluster size"}},
                 {.title = fmt::format("Susceptibility during training (theta = {})", a.theta),
                  .xlabel = "step + 1",
                  .ylabel = "mean finite cluster size",
                  .logx = true,
                  .vlines = marker_at(a.transition.x_c, 1)});
}

// ------------------------------------------------------------------ theta sweeps and structure
void write_theta_sweep(const GraphAnalysis& a, const ThetaSweep& s, const fs::path& out) {
  io::Table t{{"theta", "p_inf", "susceptibility", "components", "edges"}, {}};
  for (const auto& x : s.points)
    t.add_row({x.threshold, x.p_inf, x.susceptibility, static_cast<double>(x.components),
               static_cast<double>(x.edges)});
  const auto name = theta_sweep_name(s.step);
  write_table(out, name, t);
  io::plot_lines(out / "plots", name, t, "theta", {{"p_inf", "P_inf"}},
                 {.title = fmt::format("Order parameter against threshold, step {}", s.step),
                  .xlabel = "theta",
                  .ylabel = "largest component fraction",
                  .vlines = marker_at(s.transition.x_c)});
  io::plot_lines(out / "plots", name + "_susceptibility", t, "theta",
                 {{"susceptibility", "mean finite cluster size"}},
                 {.title = fmt::format("Susceptibility against threshold, step {}", s.step),
                  .xlabel = "theta",
                  .ylabel = "mean finite cluster size",
                  .logy = true,
                  .vlines = marker_at(s.transition.x_c)});
  io::Table cs{{"size", "count"}, {}};
  for (const auto& c : s.cluster_sizes)
    cs.add_row({static_cast<double>(c.size), static_cast<double>(c.count)});
  const auto cname = cluster_sizes_name(s.step);
  write_table(out, cname, cs);
  if (cs.rows.size() >= 2)
    io::plot_lines(out / "plots", cname, cs, "size", {{"count", "finite clusters"}},
                   {.title = fmt::format("Finite cluster sizes at theta = {}, step {}", a.theta, s.step),
                    .xlabel = "cluster size",
                    .ylabel = "count",
                    .logx = true,
                    .logy = true});
}

void write_structure(const std::vector<StructureAtStep>& all, const fs::path& out) {
  io::Table summary{{"step", "nodes", "edges", "mean_degree", "max_degree", "transitivity",
                     "mean_local_clustering", "communities", "modularity", "rich_club_normalised_max"},
                    {}};
  for (const auto& at : all) {
    const auto& s = at.structure;
    io::Table deg{{"degree", "count"}, {}};
    for (std::size_t k = 0; k < s.degree_histogram.size(); ++k)
      if (s.degree_histogram[k] > 0)
        deg.add_row({static_cast<double>(k), static_cast<double>(s.degree_histogram[k])});
    write_table(out, fmt::format("degree_step{}", at.step), deg);
    io::Table rc{{"k", "rich_club", "rich_club_normalised"}, {}};
    for (std::size_t i = 0; i < s.rich_club_k.size(); ++i)
      rc.add_row({static_cast<double>(s.rich_club_k[i]), s.rich_club[i], s.rich_club_normalised[i]});
    write_table(out, fmt::format("rich_club_step{}", at.step), rc);
    if (rc.rows.size() >= 2)
      io::plot_lines(out / "plots", fmt::format("rich_club_step{}", at.step), rc, "k",
                     {{"rich_club_normalised", "phi(k) / phi_random(k)"}},
                     {.title = fmt::format("Rich club, step {}", at.step),
                      .xlabel = "degree k",
                      .ylabel = "normalised rich club",
                      .hlines = {1.0}});
    summary.add_row({static_cast<double>(at.step), static_cast<double>(s.nodes), static_cast<double>(s.edges),
                     s.mean_degree, static_cast<double>(s.max_degree), s.transitivity,
                     s.mean_local_clustering, static_cast<double>(s.communities), s.modularity,
                     cell(at.rich_club_normalised_max)});
  }
  write_table(out, "structure", summary);
}

// ------------------------------------------------------------------ critical neurons
void write_critical_neurons(const CriticalNeurons& cn, const fs::path& out) {
  io::Table t{{"step", "layer", "critical", "jaccard_previous", "jaccard_final", "mean_abs_w_critical",
               "mean_abs_w_other", "reinforcement_ratio", "dw_var_critical", "dw_var_other",
               "entropy_critical", "entropy_other", "gini_critical", "gini_other"},
              {}};
  for (const auto& r : cn.rows)
    t.add_row({static_cast<double>(r.step), static_cast<double>(r.layer), static_cast<double>(r.critical),
               cell(r.jaccard_previous), r.jaccard_final, cell(r.mean_abs_w_critical),
               cell(r.mean_abs_w_other), cell(r.reinforcement_ratio), cell(r.dw_var_critical),
               cell(r.dw_var_other), cell(r.entropy_critical), cell(r.entropy_other), cell(r.gini_critical),
               cell(r.gini_other)});
  write_table(out, "critical_neurons", t);
  // Per-unit table at the last step, one per hidden layer.
  for (std::size_t h = 0; h < cn.layers.size(); ++h) {
    const auto& st = cn.final_stats[h];
    io::Table u{{"unit", "strength", "selectivity", "information_bits", "score", "critical"}, {}};
    for (std::size_t j = 0; j < st.strength.size(); ++j)
      u.add_row({static_cast<double>(j), st.strength[j], st.selectivity[j], st.information[j], st.score[j],
                 std::binary_search(st.critical.begin(), st.critical.end(), static_cast<std::int64_t>(j))
                     ? 1.0
                     : 0.0});
    write_table(out, fmt::format("units_layer{}", cn.layers[h]), u);
  }
  // Plots: one series per layer.
  const std::size_t layers = cn.layers.size();
  const auto per_layer = [&](const std::string& col) {
    io::Table p{{"step"}, {}};
    for (const auto l : cn.layers) p.columns.push_back(fmt::format("layer{}", l));
    for (std::size_t k = 0; k * layers < t.rows.size(); ++k) {
      std::vector<double> row{t.rows[k * layers][0]};
      for (std::size_t h = 0; h < layers; ++h) row.push_back(t.rows[k * layers + h][t.column(col)]);
      p.add_row(row);
    }
    return p;
  };
  std::vector<io::PlotSeries> series;
  for (const auto l : cn.layers) series.push_back({fmt::format("layer{}", l), fmt::format("layer {}", l)});
  const auto plot = [&](const std::string& col, const std::string& title, const std::string& ylabel,
                        std::vector<double> h = {}) {
    io::plot_lines(
        out / "plots", "critical_" + col, per_layer(col), "step", series,
        {.title = title, .xlabel = "step", .ylabel = ylabel, .logx = true, .hlines = std::move(h)});
  };
  plot("jaccard_final", "Stability of the critical set (Jaccard with the final set)", "Jaccard");
  plot("reinforcement_ratio", "Reinforcement: mean |w| critical-to-critical / other", "ratio", {1.0});
  plot("entropy_critical", "Balance: normalised entropy of contributions into critical units",
       "H / ln(fan-in)");
  plot("gini_critical", "Balance: Gini coefficient of contributions into critical units", "Gini");
}

void write_raster(const Raster& r, const fs::path& out) {
  io::plot_heatmap(
      out / "plots", raster_name(r), r.z, r.units, r.probes,
      {.title = fmt::format("Activity raster, layer {}, step {} (units in spectral order, probes by class)",
                            r.layer, r.step),
       .xlabel = "probe (grouped by class)",
       .ylabel = "unit (spectral order)",
       .cblabel = "z-score",
       .cb_lo = -3,
       .cb_hi = 3,
       .diverging = true,
       .vlines = r.class_edges});
}

// ------------------------------------------------------------------ pruning and class graphs
void write_class_graph(const ClassGraph& cg, const fs::path& out) {
  const auto& g = cg.graph;
  const auto& layers = cg.layers;
  std::vector<std::int64_t> first;
  std::int64_t n = 0;
  for (const auto& l : layers) first.push_back(n), n += static_cast<std::int64_t>(l.size());
  // Layout: layer on x, rank within the layer spread over [0, 1] on y.
  const auto ypos = [&](std::int64_t node) {
    const auto L = static_cast<std::size_t>(g.nodes[node].layer);
    const auto rank = node - first[L];
    return layers[L].size() > 1 ? static_cast<double>(rank) / static_cast<double>(layers[L].size() - 1) : 0.5;
  };
  // Line width by weight in four classes (gnuplot 5.4 has no per-vector "lw variable"; an arrow style per
  // class, chosen per row with "arrowstyle variable", does the same).
  io::Table edges{{"x", "y", "dx", "dy", "style"}, {}};
  float emax = 0;
  for (const auto& e : g.edges) emax = std::max(emax, e.weight);
  for (const auto& e : g.edges) {
    const double x0 = static_cast<double>(g.nodes[e.u].layer), y0 = ypos(e.u);
    const double rel = e.weight / std::max(emax, 1e-30f);
    edges.add_row({x0, y0, 1.0, ypos(e.v) - y0, 1.0 + std::min(3.0, std::floor(4.0 * rel))});
  }
  io::Table nodes{{"x", "y"}, {}};
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    nodes.add_row({static_cast<double>(g.nodes[i].layer), ypos(static_cast<std::int64_t>(i))});
  const auto stem = class_stem(cg.class_index);
  write_graphml(out / "ccg" / (stem + ".graphml"), g);
  write_dot(out / "ccg" / (stem + ".dot"), g);
  io::write_csv(out / "ccg" / (stem + "_edges.csv"), edges);
  io::write_csv(out / "ccg" / (stem + "_nodes.csv"), nodes);
  io::render_gnuplot(
      out / "ccg", stem,
      fmt::format(
          "set datafile separator ','\nunset key\nunset ytics\nset xtics 1\nset border 1\n"
          "set title 'Critical computational graph, class {} (input pixels, critical units, output)'\n"
          "set xlabel 'layer'\nset xrange [-0.3:{}]\nset yrange [-0.05:1.05]\n"
          "set style arrow 1 nohead lw 0.6 lc rgb '#99336699'\n"
          "set style arrow 2 nohead lw 1.4 lc rgb '#99336699'\n"
          "set style arrow 3 nohead lw 2.3 lc rgb '#99336699'\n"
          "set style arrow 4 nohead lw 3.3 lc rgb '#99336699'\n"
          "plot '{}_edges.csv' skip 1 using 1:2:3:4:5 with vectors arrowstyle variable, "
          "\\\n"
          "     '{}_nodes.csv' skip 1 using 1:2 with points pt 7 ps 1.3 lc rgb 'black'\n",
          cg.class_index, static_cast<double>(layers.size()) - 0.7, stem, stem));
}

void write_pruning(const Pruning& p, const fs::path& out) {
  if (!p.status.ok()) return;
  io::Table t{{"fraction_kept", "critical", "random", "random_sd", "magnitude"}, {}};
  for (const auto& x : p.curve) t.add_row({x.fraction_kept, x.critical, x.random, x.random_sd, x.magnitude});
  write_table(out, "pruning", t);
  io::plot_lines(out / "plots", "pruning", t, "fraction_kept",
                 {{"critical", "critical computational graphs"},
                  {"magnitude", "weight magnitude"},
                  {"random", "random"}},
                 {.title = "Test accuracy of the pruned network",
                  .xlabel = "fraction of weights kept (per layer)",
                  .ylabel = "test accuracy",
                  .logx = true,
                  .hlines = {1.0 / static_cast<double>(p.num_classes)}});
  fs::create_directories(out / "ccg");
  for (const auto& cg : p.classes) write_class_graph(cg, out);
}

// ------------------------------------------------------------------ theta_c over training
void write_theta_c(const GraphAnalysis& a, const fs::path& out) {
  io::Table t{{"step", "theta_c", "chi_max", "peak_width", "p_inf_at", "p_inf_below", "largest_jump",
               "theta_jump", "jump_scaled", "discontinuous"},
              {}};
  for (const auto& r : a.theta_c) {
    const auto& f = r.sweep;
    t.add_row({static_cast<double>(r.step), cell(f.theta_c), cell(f.chi_max), cell(f.peak_width),
               cell(f.p_inf_at), cell(f.p_inf_below), cell(f.largest_jump), cell(f.theta_jump),
               cell(f.jump_scaled), f.discontinuous ? (*f.discontinuous ? 1.0 : 0.0) : std::nan("")});
  }
  write_table(out, "theta_c_steps", t);
  io::Table p{{"step_plus_1", "theta_c", "chi_max"}, {}};
  for (const auto& r : a.theta_c)
    p.add_row({static_cast<double>(r.step) + 1, cell(r.sweep.theta_c), cell(r.sweep.chi_max)});
  io::plot_lines(
      out / "plots", "theta_c_vs_step", p, "step_plus_1", {{"theta_c", "theta_c (susceptibility peak)"}},
      {.title =
           fmt::format("The graph's percolation threshold during training (theta used: {:.3f})", a.theta),
       .xlabel = "step + 1",
       .ylabel = "theta_c",
       .logx = true,
       .hlines = {a.theta}});
  io::plot_lines(out / "plots", "theta_c_chi_max_vs_step", p, "step_plus_1", {{"chi_max", "chi at theta_c"}},
                 {.title = "Susceptibility peak height in theta during training",
                  .xlabel = "step + 1",
                  .ylabel = "chi_max",
                  .logx = true});
}

// ------------------------------------------------------------------ Hebbian test and redistribution
void write_hebbian(const GraphAnalysis& a, const fs::path& out) {
  if (a.hebbian.empty()) return;
  io::Table t{{"step_from", "step", "layer", "coactivity_product", "pairs", "rho", "rho_lo", "rho_hi",
               "slope", "null_mean", "null_sd", "z"},
              {}};
  std::map<double, std::map<std::string, double>> by_step;
  std::vector<io::PlotSeries> series;
  for (const auto& r : a.hebbian) {
    const auto& h = r.result;
    t.add_row({static_cast<double>(r.step_from), static_cast<double>(r.step), static_cast<double>(r.layer),
               r.coactivity == "product" ? 1.0 : 0.0, static_cast<double>(h.pairs), cell(h.rho),
               cell(h.rho_lo), cell(h.rho_hi), cell(h.slope), cell(h.null_mean), cell(h.null_sd), cell(h.z)});
    const auto col = fmt::format("rho_{}_layer{}", r.coactivity, r.layer);
    by_step[static_cast<double>(r.step) + 1][col] = cell(h.rho);
  }
  write_table(out, "hebbian", t);
  io::Table p{{"step_plus_1"}, {}};
  for (const auto& [x, cols] : by_step)
    for (const auto& [c, v] : cols)
      if (std::find(p.columns.begin(), p.columns.end(), c) == p.columns.end()) {
        p.columns.push_back(c);
        series.push_back({c, c});
      }
  for (const auto& [x, cols] : by_step) {
    std::vector<double> row{x};
    for (std::size_t i = 1; i < p.columns.size(); ++i) {
      const auto it = cols.find(p.columns[i]);
      row.push_back(it == cols.end() ? std::nan("") : it->second);
    }
    p.add_row(row);
  }
  io::plot_lines(out / "plots", "hebbian_rho_vs_step", p, "step_plus_1", series,
                 {.title = "Hebbian test: rank correlation of the weight change with co-activity",
                  .xlabel = "step + 1",
                  .ylabel = "Spearman rho",
                  .logx = true,
                  .hlines = {0.0}});
}

void write_redistribution(const GraphAnalysis& a, const fs::path& out) {
  if (a.redistribution.empty()) return;
  io::Table t{{"layer", "critical", "t0", "t1", "n", "drift", "diffusion", "sign_persistence", "peclet"}, {}};
  for (const auto& r : a.redistribution) {
    for (const auto* path : {&r.result.critical_path, &r.result.other_path})
      for (const auto& w : path->windows)
        t.add_row({static_cast<double>(r.layer), path == &r.result.critical_path ? 1.0 : 0.0, w.t0, w.t1,
                   static_cast<double>(w.n), cell(w.drift), cell(w.diffusion), cell(w.sign_persistence),
                   cell(w.peclet)});
    if (r.result.critical_path.windows.empty()) continue;
    io::Table p{{"step_plus_1", "drift_critical", "drift_other", "diffusion_critical", "diffusion_other"},
                {}};
    for (std::size_t k = 0;
         k < r.result.critical_path.windows.size() && k < r.result.other_path.windows.size(); ++k) {
      const auto &c = r.result.critical_path.windows[k], &o = r.result.other_path.windows[k];
      p.add_row({c.t1 + 1, cell(c.drift), cell(o.drift), cell(c.diffusion), cell(o.diffusion)});
    }
    io::plot_lines(out / "plots", fmt::format("drift_layer{}", r.layer), p, "step_plus_1",
                   {{"drift_critical", "critical block"}, {"drift_other", "other weights"}},
                   {.title = fmt::format("Drift of |w| per step, layer {} (window ending at step)", r.layer),
                    .xlabel = "step + 1",
                    .ylabel = "mean sign(w) dw / dt",
                    .logx = true,
                    .hlines = {0.0}});
    io::plot_lines(out / "plots", fmt::format("diffusion_layer{}", r.layer), p, "step_plus_1",
                   {{"diffusion_critical", "critical block"}, {"diffusion_other", "other weights"}},
                   {.title = fmt::format("Diffusion of the weights per step, layer {}", r.layer),
                    .xlabel = "step + 1",
                    .ylabel = "var(dw) / (2 dt)",
                    .logx = true,
                    .logy = true});
  }
  write_table(out, "redistribution_windows", t);
}

void write_avalanche_tables(const GraphAnalysis& a, const fs::path& out) {
  if (a.avalanches.empty()) return;
  io::Table t{{"step_plus_1"}, {}};
  std::vector<io::PlotSeries> series;
  for (const auto& l : a.avalanches) {
    t.columns.push_back(fmt::format("active_layer{}", l.layer));
    series.push_back({t.columns.back(), fmt::format("layer {}", l.layer)});
  }
  for (std::size_t k = 0; k < a.avalanches.front().steps.size(); ++k) {
    std::vector<double> row{a.avalanches.front().steps[k] + 1};
    for (const auto& l : a.avalanches) row.push_back(l.active_fraction[k]);
    t.add_row(row);
  }
  write_table(out, "active_fraction", t);
  io::plot_lines(out / "plots", "active_fraction_vs_step", t, "step_plus_1", series,
                 {.title = fmt::format("Fraction of (unit, probe) pairs above the first step's mean + {} sd",
                                       a.avalanche_threshold),
                  .xlabel = "step + 1",
                  .ylabel = "active fraction",
                  .logx = true});
  for (const auto& l : a.avalanches)
    if (l.within_steps)
      stats::write_avalanche_files(out / "avalanches" / fmt::format("layer{}", l.layer), l.list,
                                   *l.within_steps);
}

// ------------------------------------------------------------------ finite size
void write_finite_size(const FiniteSize& f, const fs::path& out) {
  const auto& all = f.runs;
  io::Table ft{
      {"width", "nodes", "theta", "transition_step", "chi_max", "p_inf_at_transition", "beta", "beta_lo",
       "beta_hi", "largest_step_jump", "p_inf_final", "theta_c_initial", "chi_max_initial",
       "p_inf_at_theta_c_initial", "largest_jump_initial", "jump_scaled_initial", "theta_c_final"},
      {}};
  for (const auto& r : all)
    ft.add_row({r.width, static_cast<double>(r.nodes), r.theta, cell(r.transition.x_c),
                cell(r.transition.chi_max), cell(r.p_inf_at_transition), cell(r.transition.beta),
                cell(r.transition.beta_lo), cell(r.transition.beta_hi), cell(r.largest_step_jump),
                r.p_inf.back(), cell(r.initial.theta_c), cell(r.initial.chi_max), cell(r.initial.p_inf_at),
                cell(r.initial.largest_jump), cell(r.initial.jump_scaled), cell(r.final.theta_c)});
  write_table(out, "finite_size", ft);
  // P_inf against step for every run, on the union of their steps (blank where a run has no point).
  std::map<double, std::vector<double>> rows;
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t k = 0; k < all[i].steps.size(); ++k) {
      auto& row = rows[all[i].steps[k] + 1];
      row.resize(all.size(), std::nan(""));
      row[i] = all[i].p_inf[k];
    }
  io::Table pt{{"step_plus_1"}, {}};
  std::vector<io::PlotSeries> ser;
  for (std::size_t i = 0; i < all.size(); ++i) {
    pt.columns.push_back(fmt::format("width{}_{}", static_cast<std::int64_t>(all[i].width), i));
    ser.push_back({pt.columns.back(), fmt::format("width {} ({})", static_cast<std::int64_t>(all[i].width),
                                                  all[i].run.filename().string())});
  }
  for (auto& [x, row] : rows) {
    row.resize(all.size(), std::nan(""));
    std::vector<double> r{x};
    r.insert(r.end(), row.begin(), row.end());
    pt.add_row(r);
  }
  io::plot_lines(out / "plots", "finite_size_p_inf", pt, "step_plus_1", ser,
                 {.title = "P_inf during training across widths (each run at its own theta)",
                  .xlabel = "step + 1",
                  .ylabel = "P_inf",
                  .logx = true});
  // chi_max against N (log-log), in theta at the first and last steps and over training.
  io::Table cn{{"nodes", "chi_max_theta_initial", "chi_max_theta_final", "chi_max_steps"}, {}};
  for (const auto& r : all)
    cn.add_row({static_cast<double>(r.nodes), cell(r.initial.chi_max), cell(r.final.chi_max),
                cell(r.transition.chi_max)});
  io::plot_lines(out / "plots", "finite_size_chi_max", cn, "nodes",
                 {{"chi_max_theta_initial", "in theta, first step"},
                  {"chi_max_theta_final", "in theta, last step"},
                  {"chi_max_steps", "over training at theta"}},
                 {.title = "Susceptibility peak against graph size",
                  .xlabel = "nodes N",
                  .ylabel = "chi_max",
                  .logx = true,
                  .logy = true,
                  .points = true});
  // The collapses of P_inf(theta) at the first and last steps with their fitted exponents.
  for (const bool last : {false, true}) {
    const auto& c = last ? f.collapse_final : f.collapse_initial;
    if (!c.status.ok()) continue;
    io::Table ct{{"scaled_theta"}, {}};
    std::vector<io::PlotSeries> cs;
    std::map<double, std::vector<double>> crow;
    for (std::size_t i = 0; i < all.size(); ++i) {
      ct.columns.push_back(fmt::format("run{}", i));
      cs.push_back({ct.columns.back(), fmt::format("N = {}", all[i].nodes)});
      const double N = static_cast<double>(last ? all[i].final.nodes : all[i].nodes);
      for (const auto& pnt : last ? all[i].final_grid : all[i].initial_grid) {
        auto& row = crow[(pnt.threshold - *c.x_c) * std::pow(N, *c.inv_nu)];
        row.resize(all.size(), std::nan(""));
        row[i] = pnt.p_inf * std::pow(N, *c.beta_nu);
      }
    }
    for (auto& [x, row] : crow) {
      row.resize(all.size(), std::nan(""));
      std::vector<double> r{x};
      r.insert(r.end(), row.begin(), row.end());
      ct.add_row(r);
    }
    const std::string name = last ? "finite_size_collapse_final" : "finite_size_collapse";
    write_table(out, name, ct);
    io::plot_lines(
        out / "plots", name, ct, "scaled_theta", cs,
        {.title = fmt::format("Collapse of P_inf(theta), {} step: theta_c = {:.3f}, 1/nu = {:.3f}, "
                              "beta/nu = {:.3f}, quality S = {:.3g}",
                              last ? "last" : "first", *c.x_c, *c.inv_nu, *c.beta_nu, *c.quality),
         .xlabel = "(theta - theta_c) N^(1/nu)",
         .ylabel = "P_inf N^(beta/nu)",
         .points = true});
  }
}

// ------------------------------------------------------------------ JSON
json to_json(const PInfRise& r) {
  json j = {{"direction", r.direction ? json(to_string(*r.direction)) : json(nullptr)},
            {"p_inf_initial", number_or_null(r.p_inf_initial)},
            {"p_inf_extreme", number_or_null(r.p_inf_extreme)},
            {"step_extreme", number_or_null(r.step_extreme)},
            {"p_inf_final", number_or_null(r.p_inf_final)},
            {"step_10", number_or_null(r.step_10)},
            {"step_50", number_or_null(r.step_50)},
            {"step_90", number_or_null(r.step_90)},
            {"decades_10_90", number_or_null(r.decades_10_90)}};
  put_status(j, r.status);
  return j;
}

json to_json(const CriticalLayerSummary& s) {
  json j = {{"layer", s.layer},
            {"critical", s.critical},
            {"jaccard_first_to_final", finite_or_null(s.jaccard_first_to_final)},
            {"reinforcement_ratio_initial", number_or_null(s.reinforcement_ratio_initial)},
            {"reinforcement_ratio_final", number_or_null(s.reinforcement_ratio_final)},
            {"entropy_critical_initial", number_or_null(s.entropy_critical_initial)},
            {"entropy_critical_final", number_or_null(s.entropy_critical_final)},
            {"entropy_other_final", number_or_null(s.entropy_other_final)},
            {"gini_critical_final", number_or_null(s.gini_critical_final)},
            {"gini_other_final", number_or_null(s.gini_other_final)}};
  put_status(j, s.status);
  return j;
}

json to_json(const Pruning& p) {
  json j = {{"curve", nullptr}, {"ccg", nullptr}};
  if (p.status.ok()) {
    json curve = json::array(), classes = json::array();
    for (const auto& x : p.curve)
      curve.push_back({{"fraction_kept", x.fraction_kept},
                       {"critical", x.critical},
                       {"random", x.random},
                       {"random_sd", x.random_sd},
                       {"magnitude", x.magnitude}});
    for (const auto& c : p.classes) {
      const auto stem = class_stem(c.class_index);
      classes.push_back({{"class", c.class_index},
                         {"nodes", c.graph.nodes.size()},
                         {"edges", c.graph.edges.size()},
                         {"graphml", "ccg/" + stem + ".graphml"},
                         {"image", "ccg/" + stem + ".png"}});
    }
    j["curve"] = curve;
    j["ccg"] = classes;
  }
  put_status(j, p.status);
  return j;
}

json to_json(const FineSweep& f) {
  json j = {{"theta_c", number_or_null(f.theta_c)},
            {"chi_max", number_or_null(f.chi_max)},
            {"width", number_or_null(f.peak_width)},
            {"p_inf_at", number_or_null(f.p_inf_at)},
            {"largest_jump", number_or_null(f.largest_jump)},
            {"theta_jump", number_or_null(f.theta_jump)},
            {"jump_scaled", number_or_null(f.jump_scaled)},
            {"discontinuous", f.discontinuous ? json(*f.discontinuous) : json(nullptr)},
            {"nodes", f.nodes},
            {"edges", f.edges},
            {"levels", f.levels}};
  put_status(j, f.status);
  if (f.status.ok())
    put_result(j, "p_inf_below", f.p_inf_below,
               make_status(StatusCode::kNotFound, "theta_c is the lowest weight level: no level below it"));
  else
    j["p_inf_below"] = nullptr;
  return j;
}

json to_json(const ScalingFit& s) {
  json j = {{"exponent", number_or_null(s.exponent)},
            {"exponent_ci", interval_or_null(s.exponent_lo, s.exponent_hi)},
            {"prefactor", number_or_null(s.prefactor)},
            {"r2", number_or_null(s.r2)},
            {"points", s.points},
            {"dropped", s.dropped}};
  put_status(j, s.status);
  return j;
}

json to_json(const Collapse& c) {
  json j = {{"theta_c", number_or_null(c.x_c)},
            {"inv_nu", number_or_null(c.inv_nu)},
            {"beta_nu", number_or_null(c.beta_nu)},
            {"quality", number_or_null(c.quality)},
            {"points", c.points}};
  put_status(j, c.status);
  return j;
}

json to_json(const HebbianRow& r) {
  const auto& h = r.result;
  json j = {{"step_from", r.step_from},
            {"step", r.step},
            {"layer", r.layer},
            {"coactivity", r.coactivity},
            {"pairs", h.pairs},
            {"rho", number_or_null(h.rho)},
            {"rho_ci", interval_or_null(h.rho_lo, h.rho_hi)},
            {"slope", number_or_null(h.slope)},
            {"null_mean", number_or_null(h.null_mean)},
            {"null_sd", number_or_null(h.null_sd)},
            {"z", number_or_null(h.z)}};
  put_status(j, h.status);
  return j;
}

json to_json(const FigureVsNull& f) {
  return {{"critical", number_or_null(f.critical)},
          {"other", number_or_null(f.other)},
          {"null_mean", number_or_null(f.null_mean)},
          {"null_sd", number_or_null(f.null_sd)},
          {"z", number_or_null(f.z)}};
}

json to_json(const LayerRedistribution& r) {
  const auto& x = r.result;
  json j = {{"layer", r.layer},
            {"critical_weights", x.critical_weights},
            {"other_weights", x.other_weights},
            {"drift", to_json(x.drift)},
            {"diffusion", to_json(x.diffusion)},
            {"sign_persistence", to_json(x.sign_persistence)},
            {"peclet", to_json(x.peclet)},
            {"table", "tables/redistribution_windows.csv"}};
  put_status(j, x.status);
  return j;
}

json to_json(const LayerAvalanches& l) {
  json j = {{"layer", l.layer},
            {"avalanches", l.avalanches},
            {"within_steps", l.within_steps ? stats::to_json(*l.within_steps) : json(nullptr)},
            {"over_training", stats::to_json(l.over_training)},
            {"table", "tables/active_fraction.csv"}};
  put_status(j, l.status);
  return j;
}

json to_json(const FiniteSize& f) {
  json runs = json::array();
  for (const auto& r : f.runs) {
    runs.push_back({{"run", r.run.string()},
                    {"width", r.width},
                    {"nodes", r.nodes},
                    {"theta", r.theta},
                    {"theta_rule", to_string(r.rule)},
                    {"theta_note", r.note},
                    {"transition", to_json(r.transition)},
                    {"p_inf_final", r.p_inf.back()},
                    {"initial", to_json(r.initial)},
                    {"final", to_json(r.final)}});
    put_result(runs.back(), "p_inf_at_transition", r.p_inf_at_transition,
               make_status(StatusCode::kNotFound, "no transition over training (see transition.status)"));
    put_result(runs.back(), "largest_step_jump", r.largest_step_jump,
               make_status(StatusCode::kInsufficientData, "one recorded step"));
  }
  return {{"runs", runs},
          {"widths", f.widths},
          {"chi_max_theta", to_json(f.chi_theta)},
          {"p_inf_at_theta_c", to_json(f.p_inf_theta)},
          {"largest_jump_theta", to_json(f.jump_theta)},
          {"chi_max_theta_final", to_json(f.chi_theta_final)},
          {"p_inf_at_theta_c_final", to_json(f.p_inf_theta_final)},
          {"largest_jump_theta_final", to_json(f.jump_theta_final)},
          {"chi_max_steps", to_json(f.chi_steps)},
          {"p_inf_at_transition_steps", to_json(f.p_inf_steps)},
          {"largest_jump_steps", to_json(f.jump_steps)},
          {"collapse_initial", to_json(f.collapse_initial)},
          {"collapse_final", to_json(f.collapse_final)},
          {"continuity", f.continuity},
          {"continuity_reason", f.continuity_reason},
          {"table", "tables/finite_size.csv"}};
}

}  // namespace

json to_json(const Transition& t) {
  json j = {{"step", number_or_null(t.x_c)},
            {"x_c", number_or_null(t.x_c)},
            {"beta", number_or_null(t.beta)},
            {"beta_ci", interval_or_null(t.beta_lo, t.beta_hi)},
            {"chi_max", number_or_null(t.chi_max)},
            {"fit_points", t.fit_points},
            {"ordered_side", t.ordered_side ? json(*t.ordered_side) : json(nullptr)}};
  put_status(j, t.status);
  return j;
}

json to_json(const GraphAnalysis& a) {
  json result;
  result["run"] = a.run_dir.string();
  result["theta"] = a.theta;
  result["theta_rule"] = to_string(a.theta_rule);
  result["theta_note"] = a.theta_note;
  result["edge_sign"] = to_string(a.sign);
  result["probes"] = a.probes;
  json perc = json::array();
  for (const auto& r : a.percolation)
    perc.push_back({{"step", r.step},
                    {"p_inf", r.p_inf},
                    {"susceptibility", r.susceptibility},
                    {"components", r.components},
                    {"edges", r.edges},
                    {"nodes", r.nodes},
                    {"excluded_units", r.excluded_units}});
  result["percolation"] = perc;
  json theta_c = json::array();
  for (const auto& r : a.theta_c) {
    json row = to_json(r.sweep);
    row["step"] = r.step;
    theta_c.push_back(std::move(row));
  }
  result["theta_c"] = theta_c;
  result["transition"] = to_json(a.transition);
  result["rise"] = to_json(a.rise);
  json sweeps = json::array();
  for (const auto& s : a.theta_sweeps) {
    json t = to_json(s.transition);
    t.erase("step");
    // theta_c is the transition's x_c; the sweep carries its transition's status beside it.
    json sweep = {{"step", s.step},
                  {"nodes", s.nodes},
                  {"excluded_units", s.excluded_units},
                  {"transition", t},
                  {"theta_c", number_or_null(s.transition.x_c)},
                  {"table", "tables/" + theta_sweep_name(s.step) + ".csv"},
                  {"cluster_sizes", "tables/" + cluster_sizes_name(s.step) + ".csv"}};
    put_status(sweep, s.transition.status);
    sweeps.push_back(std::move(sweep));
  }
  result["theta_sweeps"] = sweeps;
  json structure = json::array();
  for (const auto& at : a.structure) {
    const auto& s = at.structure;
    json row = {{"step", at.step},
                {"nodes", s.nodes},
                {"edges", s.edges},
                {"mean_degree", finite_or_null(s.mean_degree)},
                {"max_degree", s.max_degree},
                {"transitivity", finite_or_null(s.transitivity)},
                {"mean_local_clustering", finite_or_null(s.mean_local_clustering)},
                {"communities", s.communities},
                {"modularity", finite_or_null(s.modularity)},
                {"rich_club_normalised_max", number_or_null(at.rich_club_normalised_max)}};
    put_status(row, at.status);
    structure.push_back(std::move(row));
  }
  result["structure"] = structure;
  json layers = json::array();
  for (const auto& s : a.critical_neurons.summary) layers.push_back(to_json(s));
  result["critical_neurons"] = {{"fraction", a.critical_neurons.fraction},
                                {"layers", layers},
                                {"table", "tables/critical_neurons.csv"}};
  json rasters = json::array();
  for (const auto& r : a.rasters) rasters.push_back("plots/" + raster_name(r) + ".png");
  result["rasters"] = rasters;
  result["pruning"] = to_json(a.pruning);
  json hebbian = json::array();
  for (const auto& r : a.hebbian) hebbian.push_back(to_json(r));
  result["hebbian"] = hebbian;
  put_status(result["hebbian_tests"], a.hebbian_status);
  result["hebbian_tests"]["table"] = "tables/hebbian.csv";
  json redistribution = json::array();
  for (const auto& r : a.redistribution) redistribution.push_back(to_json(r));
  result["redistribution"] = redistribution;
  json avalanches = json::array();
  for (const auto& l : a.avalanches) avalanches.push_back(to_json(l));
  result["avalanches"] = {{"threshold_sd", a.avalanche_threshold}, {"layers", avalanches}};
  if (a.finite_size) {
    result["finite_size"] = to_json(*a.finite_size);
  } else {
    result["finite_size"] = {{"status", to_string(StatusCode::kNotRun)}, {"message", "no --compare runs"}};
  }
  return result;
}

void write_graph_report(const GraphAnalysis& a, const fs::path& target) {
  // Everything is written into a staging directory and swapped in whole at the end: a failure leaves the
  // previous report (or none) as it was, never a mix of new tables and an old summary.
  io::StagedDirectory staged(target);
  const fs::path& out = staged.path();
  fs::create_directories(out / "tables");
  fs::create_directories(out / "plots");
  write_percolation(a, out);
  for (const auto& s : a.theta_sweeps) write_theta_sweep(a, s, out);
  write_structure(a.structure, out);
  write_critical_neurons(a.critical_neurons, out);
  for (const auto& r : a.rasters) write_raster(r, out);
  write_pruning(a.pruning, out);
  write_theta_c(a, out);
  write_hebbian(a, out);
  write_redistribution(a, out);
  write_avalanche_tables(a, out);
  if (a.finite_size) write_finite_size(*a.finite_size, out);
  io::write_json(out / "summary.json", to_json(a));
  staged.commit();
}

}  // namespace critlab::graph
