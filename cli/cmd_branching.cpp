// `critlab branching FILE`: the branching ratio m of one activity time series (events per bin), by multistep
// regression (Wilting & Priesemann 2018) with the naive ratio beside it (stats/branching.h).
//
// Bad input (one line, exit 2): an empty file, a non-numeric row (read_number_column names the line), a
// negative or non-integer-looking negative value (activity counts are >= 0; fractional values such as rates
// are accepted), fewer than kmax + 3 values (the regression needs pairs at every lag up to kmax), and a
// constant series (no variance: every regression slope r_k is 0/0).
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/io/numbers.h"
#include "critlab/stats/branching.h"

namespace critlab::cli {

Runner add_branching(CLI::App& cmd) {
  struct State {
    std::string file, column;
    stats::BranchingOptions o;
    int blocks = 10;
    bool json = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("file", s->file, "activity series: one count per line, or a CSV column (see --column)")
      ->required();
  cmd.add_option("--column", s->column, "CSV column: 0-based index or header name (default: the first)");
  cmd.add_option("--kmax", s->o.kmax, "largest lag of the regression, in [1, 100000]")->capture_default_str();
  cmd.add_option(
         "--bootstrap", s->o.bootstrap,
         "resamples for a confidence interval of m: the series is cut into --blocks contiguous blocks, "
         "resampled with replacement (0 = none)")
      ->capture_default_str();
  cmd.add_option("--blocks", s->blocks, "blocks for the bootstrap, in [2, 10000]")->capture_default_str();
  cmd.add_option("--seed", s->o.seed, "bootstrap seed")->capture_default_str()->check(unsigned_check());
  cmd.add_flag("--offset", s->o.offset, "fit r_k = b m^k + c (an offset for non-stationary input)");
  cmd.add_flag("--stationary-mean", s->o.stationary_mean, "one mean over the whole series in the regression");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    if (s->o.kmax < 1 || s->o.kmax > 100000)
      throw Error(fmt::format("--kmax must be in [1, 100000], got {}", s->o.kmax));
    if (s->o.bootstrap < 0 || s->o.bootstrap > 100000)
      throw Error(fmt::format("--bootstrap must be in [0, 100000], got {}", s->o.bootstrap));
    if (s->blocks < 2 || s->blocks > 10000)
      throw Error(fmt::format("--blocks must be in [2, 10000], got {}", s->blocks));
    std::string err;
    if (!s->o.IsValid(&err)) throw Error(err);
    const auto a = io::read_number_column(s->file, s->column);
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i] < 0)
        throw Error(
            fmt::format("'{}': value {} (number {} of the column) is negative; an activity series counts "
                        "events per bin (>= 0)",
                        s->file, a[i], i + 1));
    const auto need = static_cast<std::size_t>(s->o.kmax) + 3;
    if (a.size() < need)
      throw Error(
          fmt::format("'{}' holds {} values; the regression up to --kmax {} needs at least {} (lower "
                      "--kmax or give a longer series)",
                      s->file, a.size(), s->o.kmax, need));
    if (std::all_of(a.begin(), a.end(), [&](double v) { return v == a.front(); }))
      throw Error(
          fmt::format("'{}' is constant (every value is {}): with no variance the regression slopes are "
                      "undefined",
                      s->file, a.front()));
    auto point = s->o;
    point.bootstrap = 0;
    auto r = stats::estimate_branching_ratio({a}, point);
    if (s->o.bootstrap > 0 && r.ok()) {
      // A single series has one trial; the interval resamples contiguous blocks of it (a block bootstrap).
      const std::size_t len = a.size() / static_cast<std::size_t>(s->blocks);
      if (len < need)
        throw Error(
            fmt::format("--blocks {} cuts '{}' into blocks of {} values, fewer than --kmax + 3 = {}; use "
                        "fewer blocks",
                        s->blocks, s->file, len, need));
      std::vector<std::vector<double>> blocks;
      for (int b = 0; b < s->blocks; ++b)
        blocks.emplace_back(a.begin() + static_cast<std::ptrdiff_t>(b * len),
                            a.begin() + static_cast<std::ptrdiff_t>((b + 1) * len));
      const auto boot = stats::estimate_branching_ratio(blocks, s->o);
      if (boot.ok()) r.m_low = boot.m_low, r.m_high = boot.m_high;
    }
    auto j = stats::to_json(r);
    j["file"] = s->file;
    j["n"] = a.size();
    j["kmax"] = s->o.kmax;
    j["bootstrap"] = s->o.bootstrap;
    if (s->o.bootstrap > 0) j["blocks"] = s->blocks;
    if (s->json) {
      print(j.dump(2));
      return 0;
    }
    print(fmt::format("{}: {} bins, kmax = {}", s->file, a.size(), s->o.kmax));
    print(fmt::format("  naive m = {}", j["m_naive"].is_null() ? "none" : fmt::format("{:.5f}", r.m_naive)));
    if (!r.ok()) {
      print(fmt::format("  MR estimate: none: {} ({})", r.status.message, to_string(r.status.code)));
      return 0;
    }
    print(fmt::format("  MR estimate m = {:.5f}{}  (r_1 = {:.5f}, b = {:.4g}{}, tau = {} bins)", r.m,
                      s->o.bootstrap > 0 ? fmt::format(" [{:.5f}, {:.5f}]", r.m_low, r.m_high) : "", r.r1,
                      r.b, s->o.offset ? fmt::format(", c = {:.4g}", r.c) : "",
                      j["tau"].is_null() ? "none (m >= 1)" : fmt::format("{:.4g}", r.tau)));
    return 0;
  };
}

}  // namespace critlab::cli
