// `critlab reference ...`: the reference models that criticality measures are checked against, simulated
// beside their exact mean field. Today: `reference kinouchi-copelli` (stats/kinouchi_copelli.h).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/stats/kinouchi_copelli.h"

namespace critlab::cli {

namespace {

std::string db_or_none(const std::optional<double>& v) { return v ? fmt::format("{:.2f}", *v) : "none"; }

Runner add_kinouchi_copelli(CLI::App& cmd) {
  struct State {
    stats::KinouchiCopelliOptions o;
    double sigma = 1.0, sigma_min = 0.5, sigma_max = 1.5;
    int sigma_points = 11;
    bool json = false;
    std::string out;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--sigma", s->sigma, "branching ratio sigma = K <p>, in [0, K/2]: one F(r) curve")
      ->capture_default_str();
  cmd.add_option("--sigma-min", s->sigma_min, "with --sigma-max: a Delta(sigma) scan from here")
      ->capture_default_str();
  cmd.add_option("--sigma-max", s->sigma_max, "the scan's largest sigma")->capture_default_str();
  cmd.add_option("--sigma-points", s->sigma_points, "sigma values in the scan, evenly spaced, in [2, 1000]")
      ->capture_default_str();
  cmd.add_option("--nodes", s->o.nodes, "N, elements, in [2, 10^8]")->capture_default_str();
  cmd.add_option("--degree", s->o.degree, "K, mean out-degree, in (0, 1000]")->capture_default_str();
  cmd.add_option("--states", s->o.states, "n: quiescent, excited, n-2 refractory states; in [3, 1000]")
      ->capture_default_str();
  cmd.add_option("--r-min", s->o.r_min, "smallest drive rate, 1/ms")->capture_default_str();
  cmd.add_option("--r-max", s->o.r_max, "largest drive rate, 1/ms (Fmax is F here)")->capture_default_str();
  cmd.add_option("--points", s->o.points, "rates, log-spaced, in [2, 10000]")->capture_default_str();
  cmd.add_option("--steps", s->o.steps, "averaged steps (1 ms) per point")->capture_default_str();
  cmd.add_option("--transient", s->o.transient, "steps discarded first")->capture_default_str();
  cmd.add_option("--seed", s->o.seed, "network and dynamics seed")
      ->capture_default_str()
      ->check(unsigned_check());
  add_runtime_flags(cmd,
                    {.device = nullptr,
                     .threads = &s->o.threads,
                     .data_dir = nullptr,
                     .threads_help = "points simulated in parallel (0 = all cores; same numbers for any)"});
  cmd.add_flag("--json", s->json, "print one JSON document");
  cmd.add_option("--out", s->out, "write the tables (CSV) and plots here");
  return [s, &cmd]() {
    const bool scan = cmd.count("--sigma-min") + cmd.count("--sigma-max") + cmd.count("--sigma-points") > 0;
    if (scan && cmd.count("--sigma"))
      throw Error("give either --sigma or --sigma-min/--sigma-max/--sigma-points, not both");
    if (scan && !(s->sigma_max > s->sigma_min))
      throw Error(
          fmt::format("--sigma-max must exceed --sigma-min, got {} and {}", s->sigma_max, s->sigma_min));
    if (scan && (s->sigma_points < 2 || s->sigma_points > 1000))
      throw Error(fmt::format("--sigma-points must be in [2, 1000], got {}", s->sigma_points));
    std::string err;
    if (!s->o.IsValid(&err)) throw Error(err);
    std::vector<double> sigmas{s->sigma};
    if (scan) {
      sigmas.clear();
      for (int i = 0; i < s->sigma_points; ++i)
        sigmas.push_back(s->sigma_min + (s->sigma_max - s->sigma_min) * i / (s->sigma_points - 1));
    }
    for (double v : sigmas)
      if (!(v >= 0 && v <= s->o.degree / 2))
        throw Error(fmt::format("--sigma must be in [0, --degree/2 = {}] (p = 2 sigma u / K <= 1), got {}",
                                s->o.degree / 2, v));
    std::unique_ptr<io::StagedFiles> staged;
    if (!s->out.empty()) {
      io::ensure_writable_directory(s->out, "--out");  // before the work, not after
      staged = std::make_unique<io::StagedFiles>(s->out);
    }
    s->o.progress = terminal_progress();
    const auto curves = stats::kinouchi_copelli_scan(s->o, sigmas);

    nlohmann::json j{{"model", "kinouchi-copelli"},
                     {"nodes", s->o.nodes},
                     {"degree", s->o.degree},
                     {"states", s->o.states},
                     {"steps", s->o.steps},
                     {"transient", s->o.transient},
                     {"seed", s->o.seed}};
    j["curves"] = nlohmann::json::array();
    for (const auto& c : curves) j["curves"].push_back(stats::to_json(c));
    io::Table response{{"r", "F_sim", "F_mean_field"}, {}};
    io::Table ranges{{"sigma", "delta_sim_db", "delta_mean_field_db", "f0_sim", "f0_mean_field"}, {}};
    for (const auto& c : curves)
      ranges.add_row({c.sigma, c.range.delta_db.value_or(std::nan("")),
                      c.range_mean_field.delta_db.value_or(std::nan("")), c.range.f0, c.range_mean_field.f0});
    if (!scan)
      for (std::size_t i = 0; i < curves[0].rates.size(); ++i)
        response.add_row({curves[0].rates[i], curves[0].response[i], curves[0].mean_field[i]});
    if (staged) {
      const auto dir = staged->path();
      if (!scan) {
        io::write_csv(dir / "response.csv", response);
        io::plot_lines(dir, "response_plot", response, "r",
                       {{"F_sim", "simulation"}, {"F_mean_field", "mean field"}},
                       {.title = fmt::format("Kinouchi-Copelli response, sigma = {}", curves[0].sigma),
                        .xlabel = "r (1/ms)",
                        .ylabel = "F (1/ms)",
                        .logx = true,
                        .logy = true});
      } else {
        io::write_csv(dir / "dynamic_range.csv", ranges);
        io::plot_lines(dir, "dynamic_range_plot", ranges, "sigma",
                       {{"delta_sim_db", "simulation"}, {"delta_mean_field_db", "mean field"}},
                       {.title = "Kinouchi-Copelli dynamic range",
                        .xlabel = "sigma",
                        .ylabel = "Delta (dB)",
                        .vlines = {1.0}});
      }
      io::write_json(dir / "reference.json", j);
      staged->commit("reference.json");
    }
    if (s->json) {
      print(j.dump(2));
      return 0;
    }
    print(fmt::format("Kinouchi-Copelli: N = {}, K = {}, n = {}, {} steps after {} (seed {})", s->o.nodes,
                      s->o.degree, s->o.states, s->o.steps, s->o.transient, s->o.seed));
    if (!scan) {
      const auto& c = curves[0];
      print(fmt::format("sigma = {}: F0 = {:.4g} (mean field {:.4g}), Fmax = {:.4g}", c.sigma, c.range.f0,
                        c.range_mean_field.f0, c.range.fmax));
      print(fmt::format("  {:>10}  {:>12}  {:>12}", "r (1/ms)", "F_sim", "F_mean_field"));
      for (std::size_t i = 0; i < c.rates.size(); ++i)
        print(fmt::format("  {:>10.4g}  {:>12.5g}  {:>12.5g}", c.rates[i], c.response[i], c.mean_field[i]));
      print(fmt::format("Delta = {} dB (mean field {} dB){}", db_or_none(c.range.delta_db),
                        db_or_none(c.range_mean_field.delta_db),
                        c.range.status.ok() ? "" : ": " + c.range.status.message));
      return 0;
    }
    print(fmt::format("  {:>6}  {:>10}  {:>10}  {:>10}", "sigma", "Delta_sim", "Delta_mf", "F0_sim"));
    for (const auto& c : curves)
      print(fmt::format("  {:>6.3f}  {:>10}  {:>10}  {:>10.4g}", c.sigma, db_or_none(c.range.delta_db),
                        db_or_none(c.range_mean_field.delta_db), c.range.f0));
    return 0;
  };
}

}  // namespace

Runner add_reference(CLI::App& cmd) {
  cmd.require_subcommand(1);
  auto* kc = cmd.add_subcommand("kinouchi-copelli",
                                "the Kinouchi-Copelli excitable network: F(r) at one sigma or Delta(sigma), "
                                "simulated beside the exact mean field");
  auto run = add_kinouchi_copelli(*kc);
  return [kc, run]() { return kc->parsed() ? run() : 1; };
}

}  // namespace critlab::cli
