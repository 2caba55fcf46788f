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

// ------------------------------------------------------------------ finite size
void write_finite_size(const std::vector<FiniteSizeRun>& all, const fs::path& out) {
  if (all.empty()) return;
  io::Table ft{{"width", "transition_step", "chi_max", "beta", "beta_lo", "beta_hi", "p_inf_final"}, {}};
  for (const auto& r : all)
    ft.add_row({r.width, cell(r.transition.x_c), cell(r.transition.chi_max), cell(r.transition.beta),
                cell(r.transition.beta_lo), cell(r.transition.beta_hi), r.p_inf.back()});
  write_table(out, "finite_size", ft);
  // P_inf against step for every width, on the union of their steps (blank where a run has no point).
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
    ser.push_back({pt.columns.back(), fmt::format("width {}", static_cast<std::int64_t>(all[i].width))});
  }
  for (auto& [x, row] : rows) {
    row.resize(all.size(), std::nan(""));
    std::vector<double> r{x};
    r.insert(r.end(), row.begin(), row.end());
    pt.add_row(r);
  }
  io::plot_lines(out / "plots", "finite_size_p_inf", pt, "step_plus_1", ser,
                 {.title = "P_inf during training across widths",
                  .xlabel = "step + 1",
                  .ylabel = "P_inf",
                  .logx = true});
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

}  // namespace

json to_json(const Transition& t) {
  json j = {{"step", number_or_null(t.x_c)},
            {"x_c", number_or_null(t.x_c)},
            {"beta", number_or_null(t.beta)},
            {"beta_ci", t.beta_lo && t.beta_hi
                            ? json::array({finite_or_null(*t.beta_lo), finite_or_null(*t.beta_hi)})
                            : json(nullptr)},
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
  result["theta_auto"] = a.theta_auto;
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
  if (!a.finite_size.empty()) {
    json fsz = json::array();
    for (const auto& r : a.finite_size)
      fsz.push_back(
          {{"width", r.width}, {"transition", to_json(r.transition)}, {"p_inf_final", r.p_inf.back()}});
    result["finite_size"] = fsz;
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
  write_finite_size(a.finite_size, out);
  io::write_json(out / "summary.json", to_json(a));
  staged.commit();
}

}  // namespace critlab::graph
