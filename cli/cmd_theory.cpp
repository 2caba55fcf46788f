#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/measure/theory.h"

namespace critlab::cli {

Runner add_theory(CLI::App& cmd) {
  struct State {
    std::string activation = "tanh", out;
    double sigma_w = 1.0, sigma_b = 0.0;
    bool json = false, edge = false;
    measure::MeanFieldOptions mf;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--activation", s->activation, "activation: " + valid_names<Activation>())
      ->capture_default_str();
  cmd.add_option("--sigma-w", s->sigma_w, "weight scale sigma_w, in [1e-6, 1e3]")->capture_default_str();
  cmd.add_option("--sigma-b", s->sigma_b, "bias scale sigma_b, in [0, 1e3]")->capture_default_str();
  cmd.add_option("--quadrature", s->mf.quadrature_points, "Gauss-Hermite points, in [20, 200]")
      ->capture_default_str();
  cmd.add_flag("--edge-of-chaos", s->edge, "also trace sigma_w*(sigma_b) for sigma_b = 0, 0.1, ..., 3");
  cmd.add_option("--out", s->out, "with --edge-of-chaos: directory for the curve's table and plot");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    const auto act = from_string<Activation>(s->activation);
    std::string err;
    if (!s->mf.IsValid(&err)) throw Error(err);
    if (!s->out.empty()) io::ensure_writable_directory(s->out, "--out");  // before the work, not after
    const auto r = measure::mean_field(act, s->sigma_w, s->sigma_b, s->mf);
    auto j = measure::to_json(r);
    j["activation"] = s->activation;
    j["sigma_w"] = s->sigma_w;
    j["sigma_b"] = s->sigma_b;
    if (s->edge) {
      io::Table curve{{"sigma_b", "sigma_w_star"}, {}};
      nlohmann::json pts = nlohmann::json::array();
      for (const auto& p : measure::edge_of_chaos_curve(act, 3.0, 0.1, s->mf, terminal_progress())) {
        curve.add_row(
            {p.sigma_b, p.sigma_w.value_or(std::nan(""))});  // an empty CSV cell where there is none
        nlohmann::json point{{"sigma_b", p.sigma_b}};
        put_result(point, "sigma_w", p.sigma_w,
                   make_status(StatusCode::kNotFound, "chi_1 = 1 has no root for sigma_w in [0.05, 20]"));
        pts.push_back(point);
      }
      j["edge_of_chaos"] = pts;
      if (!s->out.empty())
        io::plot_lines(s->out, "edge_of_chaos", curve, "sigma_b", {{"sigma_w_star", "chi_1 = 1"}},
                       {.title = "Edge of chaos, " + s->activation + " (ordered below, chaotic above)",
                        .xlabel = "sigma_b",
                        .ylabel = "sigma_w*"});
    }
    if (s->json) {
      print(j.dump(2));
    } else {
      if (r.ok())
        print(fmt::format(
            "{} at sigma_w={}, sigma_b={}: q* = {:.6g}, chi_1 = {:.6g}, ln(chi_1)/2 = {:+.6g} -> {}{}",
            s->activation, s->sigma_w, s->sigma_b, r.q_star, r.chi1, r.lyapunov,
            to_string(measure::phase_of(r)), r.status.message.empty() ? "" : " (" + r.status.message + ")"));
      else
        print(fmt::format("{} at sigma_w={}, sigma_b={}: no result: {} ({})", s->activation, s->sigma_w,
                          s->sigma_b, r.status.message, to_string(r.status.code)));
      if (s->edge)
        for (const auto& p : j["edge_of_chaos"])
          print(fmt::format(
              "  sigma_b = {:.1f}: sigma_w* = {}", p["sigma_b"].get<double>(),
              p["sigma_w"].is_null() ? "none" : fmt::format("{:.6f}", p["sigma_w"].get<double>())));
    }
    return 0;
  };
}

}  // namespace critlab::cli
