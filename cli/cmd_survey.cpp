// `critlab survey`: Vock & Meisel's survey. With --manifest it measures every model of a manifest (one
// `critlab measure` child per model, resumable; survey/runner.h) into OUT/models.csv and analyses it; with
// --table it analyses any existing table (survey/analysis.h). Torch-free: the launcher runs it itself.
//
// Bad input: an unreadable manifest or table, a missing column, or bad flags end the command (one line, exit
// 2); a bad row is reported by its line number and the survey goes on without it.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/io/csv.h"
#include "critlab/io/files.h"
#include "critlab/survey/analysis.h"
#include "critlab/survey/runner.h"

namespace critlab::cli {

Runner add_survey(CLI::App& cmd) {
  struct State {
    std::string manifest, table, out;
    survey::SurveyOptions so;
    survey::AnalysisOptions ao;
    std::vector<std::string> factors;
    int probes = 32, lyapunov_k = 4, seed = 0;
    std::string probe_source = "gaussian";
    bool no_dynamic_range = false, no_branching = false, no_spectra = false, json = false;
  };
  auto s = std::make_shared<State>();
  cmd.add_option("--manifest", s->manifest,
                 "CSV: model (TorchScript file or critlab run directory), name, [family, year, accuracy, "
                 "input_shape, ...]");
  cmd.add_option("--table", s->table, "analyse this table instead of measuring (e.g. a models.csv)");
  cmd.add_option("--out", s->out,
                 "directory for models/, models.csv, analysis.json, tables, plots, summary.md");
  cmd.add_option("--probes", s->probes, "probe inputs per model")->capture_default_str();
  cmd.add_option("--probe-source", s->probe_source, "gaussian, fashion, or an .npy file or directory")
      ->capture_default_str();
  cmd.add_option("--lyapunov-k", s->lyapunov_k, "Lyapunov exponents per model")->capture_default_str();
  cmd.add_option("--seed", s->seed, "probe seed")->capture_default_str();
  cmd.add_flag("--no-dynamic-range", s->no_dynamic_range, "skip the dynamic range (the costliest part)");
  cmd.add_flag("--no-branching", s->no_branching, "skip the branching parameter");
  cmd.add_flag("--no-spectra", s->no_spectra, "skip the weight spectra");
  cmd.add_option("--jobs", s->so.jobs, "small models measured at once (0 = one per thread)")
      ->capture_default_str();
  cmd.add_option("--small-model-mb", s->so.small_model_mb,
                 "models below this size run side by side; larger ones alone with every thread")
      ->capture_default_str();
  cmd.add_option("--timeout", s->so.timeout_s, "seconds per model before it is killed and recorded as failed")
      ->capture_default_str();
  cmd.add_option("--accuracy", s->ao.accuracy, "the column to explain")->capture_default_str();
  cmd.add_option(
         "--metrics", s->ao.metrics,
         "COL[,COL...] (default: d, abs_lambda0, sigma_distance, delta_db, lambda0, sigma, alpha_mean, "
         "alpha_weighted_mean where present)")
      ->delimiter(',');
  cmd.add_option("--group", s->ao.group, "random-intercept groups of the mixed model ('' = none)")
      ->capture_default_str();
  cmd.add_option("--year", s->ao.year, "year column ('' = none)")->capture_default_str();
  cmd.add_option(
      "--factor", s->factors,
      "COL[=INNOVATION][:PAIRCOL], repeatable: Mann-Whitney between COL's two levels, Wilcoxon over "
      "the pairs PAIRCOL marks");
  cmd.add_option("--alpha", s->ao.alpha, "significance level of the claims")->capture_default_str();
  add_runtime_flags(cmd, {.threads = &s->so.threads});
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    if (s->manifest.empty() == s->table.empty())
      throw Error("give --manifest (measure and analyse) or --table");
    if (s->manifest.size() && s->out.empty()) throw Error("--manifest needs --out");
    if (s->probes < 2 || s->probes > 100000) throw Error("--probes must be in [2, 100000]");
    if (s->lyapunov_k < 1 || s->lyapunov_k > 64) throw Error("--lyapunov-k must be in [1, 64]");
    for (const auto& f : s->factors) s->ao.factors.push_back(survey::parse_factor(f));
    nlohmann::json out;
    io::TextTable table;
    if (!s->manifest.empty()) {
      auto& so = s->so;
      so.manifest = s->manifest;
      so.out = s->out;
      so.program = self_executable();
      so.measure_args = {
          "--probes",     std::to_string(s->probes),     "--probe-source", s->probe_source,
          "--lyapunov-k", std::to_string(s->lyapunov_k), "--seed",         std::to_string(s->seed)};
      if (s->no_dynamic_range) so.measure_args.push_back("--no-dynamic-range");
      if (s->no_branching) so.measure_args.push_back("--no-branching");
      if (s->no_spectra) so.measure_args.push_back("--no-spectra");
      so.progress = terminal_progress();
      const auto run = survey::run_survey(so);
      for (const auto& p : run.problems) std::cerr << "critlab: survey: " << p << "\n";
      table = run.table;
      out["survey"] = {{"models", run.models.size()}, {"measured", run.measured}, {"reused", run.reused},
                       {"failed", run.failed},        {"seconds", run.seconds},   {"problems", run.problems}};
      for (const auto& m : run.models)
        if (m.status == "failed")
          out["survey"]["failures"].push_back({{"name", m.name}, {"line", m.line}, {"error", m.error}});
      out["models_csv"] = (std::filesystem::path(s->out) / "models.csv").string();
    } else {
      table = io::read_text_csv(s->table);
      if (!s->out.empty()) io::ensure_writable_directory(s->out, "--out");
    }
    const auto analysis = survey::analyse_table(table, s->ao);
    out["analysis"] = survey::to_json(analysis);
    if (!s->out.empty()) survey::write_analysis_files(s->out, table, analysis);
    if (s->json) {
      print(out.dump(2, ' ', false,
                     nlohmann::json::error_handler_t::replace));  // a table's bytes may not be UTF-8
      return 0;
    }
    if (out.contains("survey"))
      print(fmt::format("survey: {} models: {} measured now, {} from an earlier run, {} failed ({:.0f} s)",
                        out["survey"]["models"].get<std::size_t>(),
                        out["survey"]["measured"].get<std::int64_t>(),
                        out["survey"]["reused"].get<std::int64_t>(),
                        out["survey"]["failed"].get<std::int64_t>(), out["survey"]["seconds"].get<double>()));
    print(fmt::format("analysis of {} models ({} with {}):", analysis.rows, analysis.usable, s->ao.accuracy));
    print(claims_brief(analysis));
    if (!s->out.empty()) print("tables, plots and summary.md written to " + s->out);
    return 0;
  };
}

}  // namespace critlab::cli
