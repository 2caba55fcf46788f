
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/core/status.h"
#include "critlab/io/files.h"
#include "critlab/io/numbers.h"
#include "critlab/stats/compare.h"
#include "critlab/stats/powerlaw.h"

namespace critlab::cli {

Runner add_powerlaw(CLI::App& cmd) {
  struct State {
    std::string file, column, out;
    stats::PowerLawOptions o;
    double xmin = 0, xmax = 0;
    bool json = false, no_compare = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("file", s->file, "one number per line, or a CSV file (see --column)")->required();
  cmd.add_option("--column", s->column, "CSV column: 0-based index or header name (default: the first)");
  cmd.add_flag("--discrete", s->o.discrete, "integer data: exact discrete (Hurwitz zeta) likelihood");
  cmd.add_flag("--discrete-approximation", s->o.discrete_approximation,
               "discrete: the continuous approximation of CSN eq. 3.7 instead of the exact MLE");
  cmd.add_option("--xmin", s->xmin, "fix xmin instead of scanning");
  cmd.add_option("--xmax", s->xmax, "truncate the tail at xmax");
  cmd.add_option("--min-tail", s->o.min_tail, "smallest tail the xmin scan considers")->capture_default_str();
  cmd.add_option("--bootstrap", s->o.bootstrap, "simulations for the goodness-of-fit p-value")
      ->capture_default_str();
  cmd.add_option("--seed", s->o.seed, "bootstrap seed")->capture_default_str()->check(unsigned_check());
  add_runtime_flags(cmd, {.device = nullptr,
                          .threads = &s->o.threads,
                          .data_dir = nullptr,
                          .threads_help = "bootstrap threads (0 = all cores)"});
  cmd.add_flag("--no-compare", s->no_compare, "skip the likelihood-ratio comparisons");
  cmd.add_option("--out", s->out, "write fit.json and the CCDF plot here");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s, &cmd]() {
    if (cmd.count("--xmin")) s->o.xmin = s->xmin;
    if (cmd.count("--xmax")) s->o.xmax = s->xmax;
    std::string err;
    if (!s->o.IsValid(&err)) throw Error(err);
    if (!s->out.empty()) io::ensure_writable_directory(s->out, "--out");  // before the work, not after
    const auto data = io::read_number_column(s->file, s->column);
    const auto fit = stats::fit_power_law(data, s->o);
    // Values a power law cannot take are bad input; a sample that admits no fit is a result with its status.
    if (fit.status.code == StatusCode::kInvalidInput)
      throw Error(fmt::format("'{}': {}", s->file, fit.status.message));
    auto j = stats::to_json(fit);
    j["file"] = s->file;
    j["comparisons"] = nlohmann::json::array();
    std::vector<stats::Comparison> comparisons;
    if (!s->no_compare && fit.ok()) comparisons = stats::compare_all(data, fit, terminal_progress());
    for (const auto& c : comparisons) j["comparisons"].push_back(stats::to_json(c));
    j["R_sign"] = "R > 0 favours the power law, R < 0 the alternative";
    if (!s->out.empty()) {
      io::write_json(std::filesystem::path(s->out) / "fit.json", j);
      stats::plot_power_law_ccdf(s->out, "ccdf", "x", data, fit);
    }
    if (s->json) {
      print(j.dump(2));
      return 0;
    }
    print(fmt::format("{}: n = {}, {} power law", s->file, fit.n, fit.discrete ? "discrete" : "continuous"));
    if (!fit.ok()) {
      print(fmt::format("  no fit: {} ({})", fit.status.message, to_string(fit.status.code)));
      return 0;
    }
    print(fmt::format("  xmin = {:g}{}  n_tail = {}  alpha = {:.4f} +- {:.4f}  KS = {:.4f}", fit.xmin,
                      fit.xmax > 0 ? fmt::format("  xmax = {:g}", fit.xmax) : "", fit.n_tail, fit.alpha,
                      fit.alpha_se, fit.ks));
    if (fit.p_value)
      print(fmt::format("  goodness of fit: p = {:.3f} ({} bootstrap sets; p < 0.1 rules the power law out)",
                        *fit.p_value, fit.bootstrap));
    if (!comparisons.empty()) print("  likelihood ratios (R > 0 favours the power law):");
    for (const auto& c : comparisons)
      print(c.ok() ? fmt::format("    {:<22} R = {:+8.3f}  p = {:.3g}{}  -> {}", c.against, *c.R, *c.p,
                                 c.nested ? " (nested)" : "", c.favours)
                   : fmt::format("    {:<22} no comparison: {}", c.against, c.status.message));
    return 0;
  };
}

}  // namespace critlab::cli
