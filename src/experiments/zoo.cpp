#include "critlab/experiments/zoo.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "critlab/core/error.h"
#include "critlab/core/resources.h"
#include "critlab/io/csv.h"
#include "critlab/io/files.h"
#include "critlab/io/processes.h"

namespace critlab::experiments {

namespace fs = std::filesystem;

namespace {

// One family's recipe: everything but the member's depth and width.
struct Recipe {
  const char* family;
  int year;
  const char* arch;  // mlp, cnn, resnet
  const char* activation;
  const char* init;  // auto, xavier, he, gaussian (naive: sigma_w 0.5, the ordered phase)
  const char* norm;
  bool residual;
  const char* optimizer;
  double lr;
  std::map<std::string, std::string> factors;  // factor -> level
};

// One row per family: name, year, arch, activation, init, norm, residual, optimiser, lr, factor levels.
// clang-format off
const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> r{
      {"mlp-tanh-naive",       1986, "mlp", "tanh", "gaussian", "none", false, "sgd", 0.05, {{"scaled_init", "no"}}},
      {"mlp-tanh-xavier",      2010, "mlp", "tanh", "xavier", "none", false, "sgd", 0.05,
       {{"scaled_init", "yes"}, {"relu", "no"}}},
      {"mlp-relu-xavier",      2011, "mlp", "relu", "xavier", "none", false, "sgd", 0.05,
       {{"relu", "yes"}, {"he_init", "no"}}},
      {"mlp-relu-he",          2015, "mlp", "relu", "he", "none", false, "sgd", 0.05,
       {{"he_init", "yes"}, {"norm", "no"}}},
      {"mlp-relu-he-bn",       2015, "mlp", "relu", "he", "batchnorm", false, "sgd", 0.05, {{"norm", "yes"}}},
      {"mlp-relu-he-ln",       2016, "mlp", "relu", "he", "layernorm", false, "sgd", 0.05, {{"skip", "no"}}},
      // Skip connections with layer norm (pre-norm residual blocks): without a normalisation, He-initialised
      // residual ReLU MLPs diverge at this learning rate (the variance doubles per block).
      {"mlp-relu-he-ln-res",   2016, "mlp", "relu", "he", "layernorm", true, "sgd", 0.05, {{"skip", "yes"}}},
      {"mlp-gelu-ln-res",      2018, "mlp", "gelu", "auto", "layernorm", true, "sgd", 0.05, {}},
      {"mlp-silu-ln-res-adam", 2019, "mlp", "silu", "auto", "layernorm", true, "adam", 0.001, {}},
      {"cnn-tanh-naive",       1998, "cnn", "tanh", "gaussian", "none", false, "sgd", 0.05, {{"scaled_init", "no"}}},
      {"cnn-tanh-xavier",      2010, "cnn", "tanh", "xavier", "none", false, "sgd", 0.05,
       {{"scaled_init", "yes"}, {"relu", "no"}}},
      {"cnn-relu-xavier",      2012, "cnn", "relu", "xavier", "none", false, "sgd", 0.05,
       {{"relu", "yes"}, {"norm", "no"}}},
      {"cnn-relu-xavier-bn",   2015, "cnn", "relu", "xavier", "batchnorm", false, "sgd", 0.05, {{"norm", "yes"}}},
      {"cnn-silu-bn",          2019, "cnn", "silu", "auto", "batchnorm", false, "sgd", 0.05, {}},
      {"resnet-relu",          2016, "resnet", "relu", "he", "none", false, "sgd", 0.05, {{"norm", "no"}}},
      {"resnet-relu-bn",       2016, "resnet", "relu", "he", "batchnorm", false, "sgd", 0.05, {{"norm", "yes"}}},
      {"resnet-silu-bn",       2019, "resnet", "silu", "auto", "batchnorm", false, "sgd", 0.05, {}},
  };
  return r;
}
// clang-format on

// The members of a family: {depth, width}.
std::vector<std::pair<int, int>> members(const std::string& arch) {
  if (arch == "mlp") return {{2, 128}, {4, 128}, {4, 256}, {8, 128}, {8, 256}};
  if (arch == "cnn") return {{2, 16}, {2, 32}, {3, 16}, {3, 32}, {4, 16}};
  return {{1, 8}, {1, 16}, {2, 8}, {2, 16}};
}

// A finished run's test accuracy, or empty (no summary, or a run that did not end well).
std::optional<double> finished_accuracy(const fs::path& run) {
  const std::string text = io::read_file_or_empty(run / "summary.json");
  if (text.empty()) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(text);
    if (j.value("status", "") != "ok" || !j.value("test_accuracy", nlohmann::json()).is_number())
      return std::nullopt;
    return j["test_accuracy"].get<double>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace

const std::vector<std::string>& zoo_factors() {
  static const std::vector<std::string> f{"scaled_init=yes:pair_scaled_init", "relu=yes:pair_relu",
                                          "he_init=yes:pair_he_init", "norm=yes:pair_norm",
                                          "skip=yes:pair_skip"};
  return f;
}

bool ZooOptions::IsValid(std::string* error) const {
  if (out.empty()) return *error = "--out is required", false;
  if (program.empty()) return *error = "the critlab program is not known", false;
  if (threads < 0) return *error = "--threads must be >= 0", false;
  if (probes < 2 || probes > 10000) return *error = "--probes must be in [2, 10000]", false;
  if (!(timeout_s > 0)) return *error = "--timeout must be positive", false;
  for (const auto& f : families)
    if (std::none_of(recipes().begin(), recipes().end(), [&](const Recipe& r) { return f == r.family; })) {
      std::vector<std::string> names;
      for (const auto& r : recipes()) names.push_back(r.family);
      return *error = fmt::format("--families: no family '{}' (families: {})", f, fmt::join(names, ", ")),
             false;
    }
  return true;
}

std::vector<ZooModel> zoo_models(const ZooOptions& o) {
  std::vector<ZooModel> zoo;
  for (const auto& r : recipes()) {
    if (!o.families.empty() && std::find(o.families.begin(), o.families.end(), r.family) == o.families.end())
      continue;
    const std::string arch = r.arch;
    // Default: 10,000 images, 2 epochs for MLPs, 1 for the convolutional nets (40 minutes for the whole zoo
    // on 2 cores); full: every image, 5 and 3 epochs.
    const int epochs = o.full ? (arch == "mlp" ? 5 : 3) : (arch == "mlp" ? 2 : 1);
    const int examples = o.full ? 0 : 10000;
    for (const auto& [depth, width] : members(arch)) {
      ZooModel m;
      m.family = r.family;
      m.year = r.year;
      m.arch = arch;
      m.name = fmt::format("{}-d{}-w{}", r.family, depth, width);
      m.geometry = fmt::format("{}-d{}-w{}", arch, depth, width);
      // clang-format off
      m.train_flags = {"--arch", arch, "--depth", std::to_string(depth), "--width", std::to_string(width),
                       "--activation", r.activation, "--init", r.init, "--norm", r.norm,
                       "--optimizer", r.optimizer, "--lr", fmt::format("{}", r.lr),
                       "--epochs", std::to_string(epochs), "--batch-size", "64",
                       "--train-examples", std::to_string(examples), "--seed", std::to_string(o.seed),
                       "--log-every", "1000"};
      // clang-format on
      if (std::string(r.init) == "gaussian") m.train_flags.insert(m.train_flags.end(), {"--sigma-w", "0.5"});
      if (r.residual) m.train_flags.push_back("--residual");
      if (!o.data_dir.empty()) m.train_flags.insert(m.train_flags.end(), {"--data", o.data_dir});
      m.factors = r.factors;
      zoo.push_back(std::move(m));
    }
  }
  return zoo;
}

ZooResult run_zoo(const ZooOptions& o) {
  std::string error;
  if (!o.IsValid(&error)) throw Error(error);
  const auto t0 = std::chrono::steady_clock::now();
  io::ensure_writable_directory(o.out, "--out");
  io::DirectoryLock lock(o.out, "zoo");  // one zoo per directory at a time
  const auto zoo = zoo_models(o);
  ZooResult result;
  const fs::path runs = o.out / "runs";
  fs::create_directories(runs);
  const int threads = o.threads > 0 ? o.threads : hardware_cores();

  // 1. Training: every model without a finished run, side by side, one thread each.
  std::vector<io::ProcessJob> jobs;
  std::vector<std::size_t> job_model;
  std::vector<std::optional<double>> accuracy(zoo.size());  // each run's summary.json is read once
  for (std::size_t i = 0; i < zoo.size(); ++i) {
    const fs::path run = runs / zoo[i].name;
    accuracy[i] = finished_accuracy(run);
    if (accuracy[i]) {
      ++result.reused;
      continue;
    }
    std::error_code ec;
    fs::remove_all(run, ec);  // an unfinished run is trained afresh (minutes at most)
    std::vector<std::string> argv{o.program.string(), "train", "--out", run.string(), "--threads", "1"};
    argv.insert(argv.end(), zoo[i].train_flags.begin(), zoo[i].train_flags.end());
    jobs.push_back(
        {argv, runs / ("." + zoo[i].name + ".stdout.tmp"), runs / ("." + zoo[i].name + ".stderr.tmp")});
    job_model.push_back(i);
  }
  std::int64_t done = result.reused;
  const auto total = static_cast<std::int64_t>(zoo.size());
  report_progress(o.progress, "zoo: train", done, total);
  io::run_processes(jobs, threads, o.timeout_s, [&](std::size_t k, const io::ProcessResult& r) {
    const std::size_t i = job_model[k];
    const auto& m = zoo[i];
    const std::string stderr_text = io::read_file_or_empty(jobs[k].stderr_path);
    std::error_code ec;
    fs::remove(jobs[k].stdout_path, ec), fs::remove(jobs[k].stderr_path, ec);
    if (!r.timed_out && r.exit_code == 0) accuracy[i] = finished_accuracy(runs / m.name);
    if (accuracy[i]) {
      ++result.trained;
    } else {
      ++result.failed;
      result.failures.push_back(m.name + ": " +
                                (r.timed_out || r.exit_code != 0
                                     ? io::describe_child_failure(jobs[k], r, stderr_text, o.timeout_s)
                                     : std::string("finished without a test accuracy in summary.json")));
    }
    report_progress(o.progress, "zoo: train", ++done, total, m.name);
  });

  // 2. The manifest: every trained model with its test accuracy and its factors.
  io::TextTable manifest;
  manifest.columns = {"model", "name", "family", "year", "accuracy", "arch", "geometry"};
  std::vector<std::string> factor_names;
  for (const auto& f : zoo_factors()) {
    const auto spec = survey::parse_factor(f);
    factor_names.push_back(spec.column);
    manifest.columns.push_back(spec.column);
    manifest.columns.push_back(spec.pair_column);
  }
  for (std::size_t i = 0; i < zoo.size(); ++i) {
    const auto& m = zoo[i];
    const auto& acc = accuracy[i];
    if (!acc) continue;
    std::vector<std::string> row{"../runs/" + m.name,         m.name, m.family,  std::to_string(m.year),
                                 fmt::format("{:.6g}", *acc), m.arch, m.geometry};
    for (const auto& f : factor_names) {
      const auto it = m.factors.find(f);
      row.push_back(it == m.factors.end() ? "" : it->second);
      row.push_back(it == m.factors.end() ? "" : m.geometry);
    }
    manifest.rows.push_back(std::move(row));
  }
  const fs::path survey_dir = o.out / "survey";
  fs::create_directories(survey_dir);
  io::write_atomic(survey_dir / "manifest.csv", manifest.to_csv());

  // 3. The survey on the test images, and its analysis.
  survey::SurveyOptions so;
  so.manifest = survey_dir / "manifest.csv";
  so.out = survey_dir;
  so.program = o.program;
  so.threads = threads;
  so.jobs = threads;
  so.timeout_s = o.timeout_s;
  so.progress = o.progress;
  so.measure_args = {"--probes", std::to_string(o.probes), "--probe-source", "fashion", "--lyapunov-k", "4"};
  if (!o.data_dir.empty()) so.measure_args.insert(so.measure_args.end(), {"--data", o.data_dir});
  if (!o.dynamic_range) so.measure_args.push_back("--no-dynamic-range");
  result.survey = survey::run_survey(so);
  survey::AnalysisOptions ao;
  for (const auto& f : zoo_factors()) ao.factors.push_back(survey::parse_factor(f));
  result.analysis = survey::analyse_table(result.survey.table, ao);
  survey::write_analysis_files(survey_dir, result.survey.table, result.analysis);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json summary{{"models", zoo.size()},
                         {"trained", result.trained},
                         {"reused", result.reused},
                         {"failed", result.failed},
                         {"failures", result.failures},
                         {"measured", result.survey.measured},
                         {"measure_failed", result.survey.failed},
                         {"seconds", result.seconds},
                         {"full", o.full},
                         {"analysis", survey::to_json(result.analysis)}};
  io::write_json(o.out / "summary.json", summary);
  return result;
}

}  // namespace critlab::experiments
