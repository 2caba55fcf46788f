#include "critlab/survey/runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "critlab/core/error.h"
#include "critlab/core/resources.h"
#include "critlab/io/files.h"
#include "critlab/io/processes.h"
#include "critlab/survey/analysis.h"

namespace critlab::survey {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// A manifest row that names a model to measure.
struct Job {
  std::size_t row = 0;  // index into the manifest's rows
  std::int64_t line = 0;
  std::string name;
  fs::path model;
  bool run_dir = false;
  std::string input_shape;
  double megabytes = 0;
  std::string problem;  // set: the row is recorded as failed without measuring
  std::string bad_accuracy;
};

bool valid_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// The size a model occupies: the file, or a run directory's largest file (its checkpoint).
double model_megabytes(const fs::path& p, bool run_dir) {
  std::error_code ec;
  if (!run_dir) return static_cast<double>(fs::file_size(p, ec)) / 1e6;
  std::uintmax_t largest = 0;
  int seen = 0;
  for (auto it = fs::recursive_directory_iterator(p, ec);
       !ec && it != fs::recursive_directory_iterator() && seen < 2000; it.increment(ec), ++seen)
    if (it->is_regular_file(ec)) largest = std::max(largest, it->file_size(ec));
  return static_cast<double>(largest) / 1e6;
}

std::string num(const nlohmann::json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) ? fmt::format("{:.8g}", v.get<double>())
                                                         : std::string();
}

// The survey's columns from one `critlab measure --json` document.
std::map<std::string, std::string> metric_cells(const nlohmann::json& m) {
  std::map<std::string, std::string> c;
  const auto status_of = [](const nlohmann::json& j, const char* key) {
    const std::string s = key ? std::string(key) + "_status" : "status";
    return j.contains(s) && j[s].is_string() ? j[s].get<std::string>() : std::string("ok");
  };
  c["blocks"] = std::to_string(m.value("layers", nlohmann::json::array()).size());
  c["d"] = num(m.value("distance_to_criticality", nlohmann::json()));
  c["d_status"] = c["d"].empty() ? "not-found" : "ok";
  const auto& ly = m.value("lyapunov", nlohmann::json());
  if (ly.is_array() && !ly.empty() && ly[0].is_number()) {
    c["lambda0"] = num(ly[0]);
    c["abs_lambda0"] = num(std::abs(ly[0].get<double>()));
    c["lambda0_status"] = "ok";
  } else {
    c["lambda0_status"] =
        m.contains("lyapunov_status") ? m["lyapunov_status"].get<std::string>() : "not-found";
  }
  const auto& dr = m.value("dynamic_range", nlohmann::json());
  if (dr.is_object()) {
    c["delta_db"] = num(dr.value("delta_db", nlohmann::json()));
    c["delta_status"] = c["delta_db"].empty() ? status_of(dr, nullptr) : "ok";
  } else {
    c["delta_status"] = status_of(m, "dynamic_range");
  }
  const auto& br = m.value("branching", nlohmann::json());
  if (br.is_object() && br.value("sigma", nlohmann::json()).is_number()) {
    c["sigma"] = num(br["sigma"]);
    c["sigma_distance"] = num(std::abs(br["sigma"].get<double>() - 1.0));
    c["sigma_status"] = "ok";
  } else {
    c["sigma_status"] = br.is_object() ? status_of(br, nullptr) : status_of(m, "branching");
  }
  const auto& sp = m.value("spectra", nlohmann::json());
  if (sp.is_object() && sp.contains("summary")) {
    c["alpha_mean"] = num(sp["summary"].value("mean_alpha", nlohmann::json()));
    c["alpha_weighted_mean"] = num(sp["summary"].value("mean_alpha_weighted", nlohmann::json()));
    c["spectra_status"] = c["alpha_mean"].empty() ? "not-found" : "ok";
  } else {
    c["spectra_status"] = sp.is_object() ? status_of(sp, nullptr) : "not-run";
  }
  std::string gains;
  for (const auto& l : m.value("layers", nlohmann::json::array()))
    if (l.value("gain_sq", nlohmann::json()).is_number())
      gains += (gains.empty() ? "" : " ") + fmt::format("{:.4g}", l["gain_sq"].get<double>());
  c["gain_sq"] = gains;
  return c;
}

}  // namespace

const std::vector<std::string>& survey_columns() {
  static const std::vector<std::string> c{
      "status",         "error",          "blocks",         "d",          "d_status",
      "lambda0",        "abs_lambda0",    "lambda0_status", "delta_db",   "delta_status",
      "sigma",          "sigma_distance", "sigma_status",   "alpha_mean", "alpha_weighted_mean",
      "spectra_status", "gain_sq",        "seconds"};
  return c;
}

bool SurveyOptions::IsValid(std::string* error) const {
  if (manifest.empty()) return *error = "the manifest is not given", false;
  if (out.empty()) return *error = "the output directory is not given", false;
  if (program.empty()) return *error = "the critlab program is not given", false;
  if (threads < 0 || jobs < 0) return *error = "threads and jobs must be >= 0", false;
  if (!(small_model_mb >= 0)) return *error = "small_model_mb must be >= 0", false;
  if (!(timeout_s > 0)) return *error = "the timeout must be positive", false;
  return true;
}

SurveyRun run_survey(const SurveyOptions& o) {
  std::string error;
  if (!o.IsValid(&error)) throw Error(error);
  const auto t0 = Clock::now();
  const io::TextTable manifest = io::read_text_csv(o.manifest);
  const std::string src = "manifest '" + o.manifest.string() + "'";
  const auto model_c = manifest.find("model");
  const auto name_c = manifest.find("name");
  if (!model_c || !name_c)
    throw Error(fmt::format("{}: no column '{}' (columns: {}); a manifest needs 'model' and 'name'", src,
                            model_c ? "name" : "model", fmt::join(manifest.columns, ", ")));
  for (const auto& c : manifest.columns)
    if (std::find(survey_columns().begin(), survey_columns().end(), c) != survey_columns().end())
      throw Error(fmt::format("{}: column '{}' is one critlab writes into models.csv; rename it", src, c));
  const auto acc_c = manifest.find("accuracy");
  const auto shape_c = manifest.find("input_shape");
  const fs::path base = fs::absolute(o.manifest).parent_path();

  SurveyRun run;
  std::vector<Job> jobs;
  std::map<std::string, std::int64_t> first_line;
  for (std::size_t r = 0; r < manifest.rows.size(); ++r) {
    const std::int64_t line = manifest.lines[r];
    const auto& row = manifest.rows[r];
    if (row.size() != manifest.columns.size()) {
      run.problems.push_back(fmt::format("line {}: {} cells, but the header has {}; row skipped", line,
                                         row.size(), manifest.columns.size()));
      continue;
    }
    const std::string& name = row[*name_c];
    if (!valid_name(name)) {
      run.problems.push_back(
          name.empty()
              ? fmt::format("line {}: no name; row skipped", line)
              : fmt::format("line {}: name '{}' may hold only letters, digits, '.', '_' and '-'; row skipped",
                            line, name));
      continue;
    }
    if (const auto [it, fresh] = first_line.emplace(name, line); !fresh) {
      run.problems.push_back(
          fmt::format("line {}: name '{}' is already used on line {}; row skipped", line, name, it->second));
      continue;
    }
    Job j{r, line, name};
    const std::string& m = row[*model_c];
    j.model = m.empty() ? fs::path() : fs::path(m).is_absolute() ? fs::path(m) : base / m;
    std::error_code ec;
    if (m.empty()) {
      j.problem = "no model file given";
    } else if (fs::is_directory(j.model, ec)) {
      j.run_dir = true;
      if (!fs::exists(j.model / "config.json", ec))
        j.problem = fmt::format("'{}' is a directory but not a critlab run (no config.json)", m);
    } else if (!fs::is_regular_file(j.model, ec)) {
      j.problem = fmt::format("model file '{}' not found", m);
    }
    if (shape_c) j.input_shape = row[*shape_c];
    bool bad_accuracy = false;
    if (acc_c)
      cell_number(row[*acc_c], &bad_accuracy);  // the analysis's rule: "NA" is missing, "high" is bad
    if (bad_accuracy) {
      j.bad_accuracy = row[*acc_c];
      run.problems.push_back(
          fmt::format("line {}: accuracy '{}' is not a number; the model is measured but left out of the "
                      "tests on accuracy",
                      line, row[*acc_c]));
    }
    if (!j.problem.empty())
      run.problems.push_back(fmt::format("line {}: {}; recorded as failed", line, j.problem));
    else
      j.megabytes = model_megabytes(j.model, j.run_dir);
    jobs.push_back(std::move(j));
  }

  io::ensure_writable_directory(o.out, "--out");
  io::DirectoryLock lock(o.out, "survey");
  const fs::path models_dir = o.out / "models";
  fs::create_directories(models_dir);
  io::remove_stale_temporaries(models_dir);

  const int threads = o.threads > 0 ? o.threads : hardware_cores();
  const int parallel = std::max(1, o.jobs > 0 ? o.jobs : threads);
  const int child_threads = std::max(1, threads / parallel);

  // The command line of one job (also stored with its result, so that a rerun with other flags measures
  // again).
  const auto command = [&](const Job& j, int t) {
    std::vector<std::string> argv{o.program.string(), "measure", "--json", "--threads", std::to_string(t)};
    // Each model's tables and plots go beside the survey (never into a user's run directory).
    argv.insert(argv.end(), {"--out", (o.out / "measure" / j.name).string()});
    if (j.run_dir) {
      argv.insert(argv.end(), {"--run", j.model.string()});
    } else {
      argv.insert(argv.end(), {"--model", j.model.string()});
      if (!j.input_shape.empty()) argv.insert(argv.end(), {"--input-shape", j.input_shape});
    }
    argv.insert(argv.end(), o.measure_args.begin(), o.measure_args.end());
    return argv;
  };
  const auto settings = [&](const Job& j) {
    std::vector<std::string> s{j.model.string(), j.input_shape};
    s.insert(s.end(), o.measure_args.begin(), o.measure_args.end());
    return s;
  };

  std::vector<ModelOutcome> outcomes(jobs.size());
  std::vector<nlohmann::json> measured(jobs.size());
  std::vector<std::size_t> queue;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    outcomes[i] = {jobs[i].name, jobs[i].line, "", jobs[i].problem, 0};
    if (!jobs[i].problem.empty()) {
      outcomes[i].status = "failed";
      continue;
    }
    const fs::path committed = models_dir / (jobs[i].name + ".json");
    std::error_code ec;
    if (fs::exists(committed, ec)) {
      try {
        auto rec = io::read_json(committed);
        if (rec.value("settings", nlohmann::json()) == nlohmann::json(settings(jobs[i])) &&
            rec.contains("measure")) {
          measured[i] = std::move(rec);
          outcomes[i].status = "reused";
          continue;
        }
      } catch (const Error&) {  // a damaged record is measured again
      }
    }
    queue.push_back(i);
  }

  const auto write_table = [&]() {
    io::TextTable t;
    t.columns = manifest.columns;
    t.columns.insert(t.columns.end(), survey_columns().begin(), survey_columns().end());
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (outcomes[i].status.empty()) continue;  // not measured yet
      std::vector<std::string> row = manifest.rows[jobs[i].row];
      if (!jobs[i].bad_accuracy.empty()) row[*acc_c] = "";
      std::map<std::string, std::string> cells;
      if (!measured[i].is_null()) cells = metric_cells(measured[i]["measure"]);
      cells["status"] = outcomes[i].status == "failed" ? "failed" : "measured";
      cells["error"] = outcomes[i].error;
      if (!measured[i].is_null()) cells["seconds"] = num(measured[i].value("seconds", nlohmann::json()));
      for (const auto& c : survey_columns()) row.push_back(cells.count(c) ? cells[c] : "");
      t.rows.push_back(std::move(row));
      t.lines.push_back(static_cast<std::int64_t>(t.rows.size()) + 1);
    }
    io::write_atomic(o.out / "models.csv", t.to_csv());
    return t;
  };

  std::int64_t done = static_cast<std::int64_t>(jobs.size() - queue.size());
  const auto total = static_cast<std::int64_t>(jobs.size());
  report_progress(o.progress, "survey", done, total);
  std::vector<io::ProcessJob> pjobs;
  for (const std::size_t i : queue) {
    const Job& j = jobs[i];
    const bool big = j.megabytes >= o.small_model_mb;
    pjobs.push_back({command(j, big ? threads : child_threads), models_dir / ("." + j.name + ".stdout.tmp"),
                     models_dir / ("." + j.name + ".stderr.tmp"), big});
  }
  io::run_processes(pjobs, parallel, o.timeout_s, [&](std::size_t k, const io::ProcessResult& r) {
    const std::size_t i = queue[k];
    const Job& j = jobs[i];
    ModelOutcome& out = outcomes[i];
    out.seconds = r.seconds;
    const std::string stdout_text = io::read_file_or_empty(pjobs[k].stdout_path),
                      stderr_text = io::read_file_or_empty(pjobs[k].stderr_path);
    std::error_code ec;
    fs::remove(pjobs[k].stdout_path, ec), fs::remove(pjobs[k].stderr_path, ec);
    out.status = "failed";
    if (r.timed_out || r.exit_code != 0) {
      out.error = io::describe_child_failure(pjobs[k], r, stderr_text, o.timeout_s);
    } else {
      try {
        nlohmann::json rec{{"name", j.name},          {"line", j.line},
                           {"settings", settings(j)}, {"command", pjobs[k].argv},
                           {"seconds", r.seconds},    {"measure", nlohmann::json::parse(stdout_text)}};
        io::write_json(models_dir / (j.name + ".json"), rec);
        measured[i] = std::move(rec);
        out.status = "measured";
        out.error.clear();
      } catch (const nlohmann::json::exception&) {
        out.error = "critlab measure printed no valid JSON";
      }
    }
    ++done;
    report_progress(o.progress, "survey", done, total, j.name + " " + out.status);
    write_table();
  });
  run.table = write_table();
  run.models = outcomes;
  for (const auto& m : outcomes) {
    run.measured += m.status == "measured";
    run.reused += m.status == "reused";
    run.failed += m.status == "failed";
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return run;
}

}  // namespace critlab::survey
