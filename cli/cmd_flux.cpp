// `critlab flux`: probability flux, area-enclosing rates and entropy production of a trajectory (a CSV file,
// one coordinate per column), from landscape/flux.h. Torch-free: the launcher runs it itself.
#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/numbers.h"
#include "critlab/landscape/flux.h"

namespace critlab::cli {

namespace {
// " [lo, hi] (95% CI)", or nothing without a bootstrap.
std::string interval(const std::optional<landscape::Interval>& ci, double confidence) {
  return ci ? fmt::format(" [{:.4g}, {:.4g}] ({:g}% CI)", (*ci)[0], (*ci)[1], 100 * confidence) : "";
}
}  // namespace

Runner add_flux(CLI::App& cmd) {
  struct State {
    std::string trajectory, out;
    std::vector<std::string> columns;
    std::vector<std::int64_t> pair{0, 1};
    landscape::FluxOptions o;
    bool json = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--trajectory", s->trajectory,
                 "CSV file, one coordinate per column (a header row of names is optional)")
      ->required();
  cmd.add_option("--dt", s->o.dt, "time between rows (SGD: 1 step)")->required();
  cmd.add_option("--columns", s->columns,
                 "coordinates to use: names or 0-based indices, comma separated (default: every column but a "
                 "leading 'step' or 'time')")
      ->delimiter(',');
  cmd.add_option("--pair", s->pair, "the two coordinates of the 2-D grid, 0-based among --columns")
      ->delimiter(',')
      ->expected(2)
      ->capture_default_str();
  cmd.add_option("--bins", s->o.bins, "grid boxes per axis (0 = n^(1/4) within [4, 40])")
      ->capture_default_str();
  cmd.add_option("--min-box-count", s->o.min_box_count, "boxes with fewer samples are left out of e_p")
      ->capture_default_str();
  cmd.add_option("--blocks", s->o.blocks, "contiguous time blocks (cross-block square and bootstrap)")
      ->capture_default_str();
  cmd.add_option("--bootstrap", s->o.bootstrap, "block-bootstrap resamples for the CIs (0 = none)")
      ->capture_default_str();
  cmd.add_option("--tur-steps", s->o.tur_steps, "tau of the TUR currents, in rows")->capture_default_str();
  cmd.add_option("--confidence", s->o.confidence, "confidence level of the CIs")->capture_default_str();
  cmd.add_option("--seed", s->o.seed, "bootstrap seed")->capture_default_str()->check(unsigned_check());
  cmd.add_option("--out", s->out, "write flux.json, tables/grid.csv and plots/flux.png here");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    s->o.pair = {s->pair[0], s->pair[1]};  // CLI11 checked: two whole numbers
    std::string err;
    if (!s->o.IsValid(&err)) throw Error(err);
    if (!s->out.empty()) io::ensure_writable_directory(s->out, "--out");
    auto data = io::read_number_columns(s->trajectory, s->columns);
    if (s->columns.empty() && data.names.size() > 1 && (data.names[0] == "step" || data.names[0] == "time")) {
      data.names.erase(data.names.begin());
      data.values.erase(data.values.begin());
    }
    const auto r = landscape::analyze_flux(data.values, s->o, data.names);
    if (!r.ok()) throw Error(fmt::format("'{}': {}", s->trajectory, r.status.message));
    auto j = landscape::to_json(r);
    j["file"] = s->trajectory;
    if (!s->out.empty()) {
      const std::filesystem::path out(s->out);
      io::write_atomic(out / "tables" / "grid.csv", landscape::grid_csv(r));
      landscape::plot_flux((out / "plots").string(), "flux", r);
      io::write_json(out / "flux.json", j);
    }
    if (s->json) {
      print(j.dump(2));
      return 0;
    }
    print(fmt::format("{}: n = {}, {} coordinates, dt = {:g}", s->trajectory, r.n, r.d, r.dt));
    print(r.ep_grid ? fmt::format("  entropy production, grid ({} x {} boxes on {} and {}): {:.4g}{}",
                                  r.grid.bins, r.grid.bins, j["grid"]["columns"][0].get<std::string>(),
                                  j["grid"]["columns"][1].get<std::string>(), *r.ep_grid,
                                  interval(r.ep_grid_ci, s->o.confidence))
                    : fmt::format("  entropy production, grid: none ({})", r.ep_grid_status.message));
    if (r.ep_grid && !r.ep_grid_status.message.empty()) print("    note: " + r.ep_grid_status.message);
    print(r.tur_bound
              ? fmt::format(
                    "  entropy production, TUR lower bound ({} linear currents, tau = {} rows): {:.4g}{}",
                    r.tur_currents, s->o.tur_steps, *r.tur_bound, interval(r.tur_ci, s->o.confidence))
              : fmt::format("  entropy production, TUR lower bound: none ({})", r.tur_status.message));
    print("  area-enclosing rates L_ij (row i, column j):");
    for (std::int64_t i = 0; i < r.d; ++i) {
      std::string row = fmt::format("    {:>12}", r.columns[static_cast<std::size_t>(i)]);
      for (std::int64_t k = 0; k < r.d; ++k)
        row += fmt::format(" {:>11.4g}", r.area_rate[static_cast<std::size_t>(i * r.d + k)]);
      print(row);
    }
    print("  diffusion D:");
    for (std::int64_t i = 0; i < r.d; ++i) {
      std::string row = fmt::format("    {:>12}", r.columns[static_cast<std::size_t>(i)]);
      for (std::int64_t k = 0; k < r.d; ++k)
        row += fmt::format(" {:>11.4g}", r.diffusion[static_cast<std::size_t>(i * r.d + k)]);
      print(row);
    }
    if (r.drift_power && r.flux_power)
      print(
          fmt::format("  drift on the grid: power {:.4g}, gradient part {}, flux part {:.4g} (powers in "
                      "D^-1; the parts add up in a steady state)",
                      *r.drift_power, r.gradient_power ? fmt::format("{:.4g}", *r.gradient_power) : "n/a",
                      *r.flux_power));
    return 0;
  };
}

}  // namespace critlab::cli
