#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
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
  cmd.add_option("--activation", s->activation, "activation: " + valid_names<Activation>())->capture_default_str();
  cmd.add_option("--sigma-w", s->sigma_w, "weight scale sigma_w")->capture_default_str();
  cmd.add_option("--sigma-b", s->sigma_b, "bias scale sigma_b")->capture_default_str();
  cmd.add_option("--quadrature", s->mf.quadrature_points, "Gauss-Hermite points")->capture_default_str();
  cmd.add_flag("--edge-of-chaos", s->edge, "also trace sigma_w*(sigma_b) for sigma_b in [0, 0.5, ..., 3]");
  cmd.add_option("--out", s->out, "with --edge-of-chaos: directory for the curve's table and plot");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    const auto act = from_string<Activation>(s->activation);
    const auto r = measure::mean_field(act, s->sigma_w, s->sigma_b, s->mf);
    auto j = measure::to_json(r);
    j["activation"] = s->activation;
    j["sigma_w"] = s->sigma_w;
    j["sigma_b"] = s->sigma_b;
    j["phase"] = r.chi1 < 1 - 1e-9 ? "ordered" : (r.chi1 > 1 + 1e-9 ? "chaotic" : "critical");
    if (s->edge) {
      io::Table curve{{"sigma_b", "sigma_w_star"}, {}};
      nlohmann::json pts = nlohmann::json::array();
      for (int i = 0; i <= 30; ++i) {
        const double sb = 0.1 * i;
        const double sw = measure::edge_of_chaos_sigma_w(act, sb, s->mf);
        curve.add_row({sb, sw});
        pts.push_back({{"sigma_b", sb}, {"sigma_w", sw}});
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
      print(fmt::format("{} at sigma_w={}, sigma_b={}: q* = {:.6g}, chi_1 = {:.6g}, ln(chi_1)/2 = {:+.6g} -> {}{}",
                        s->activation, s->sigma_w, s->sigma_b, r.q_star, r.chi1, r.lyapunov,
                        j["phase"].get<std::string>(), r.message.empty() ? "" : " (" + r.message + ")"));
      if (s->edge)
        for (const auto& p : j["edge_of_chaos"])
          print(fmt::format("  sigma_b = {:.1f}: sigma_w* = {:.6f}", p["sigma_b"].get<double>(),
                            p["sigma_w"].get<double>()));
    }
    return 0;
  };
}

}  // namespace critlab::cli
