#include "critlab/experiments/critical_training.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/core/status.h"
#include "critlab/data/dataset.h"
#include "critlab/experiments/protocol.h"
#include "critlab/io/files.h"
#include "critlab/io/json_fields.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/measure/theory.h"
#include "critlab/stats/describe.h"
#include "critlab/train/trainer.h"

namespace critlab::experiments {

namespace fs = std::filesystem;

nn::ModelSpec arch_spec(CriticalTrainingArch arch, bool full) {
  nn::ModelSpec s;
  switch (arch) {
    case CriticalTrainingArch::kTanhMlp:
      return nn::mlp_spec(full ? 30 : 20, full ? 256 : 128, Activation::kTanh);
    case CriticalTrainingArch::kReluMlp:
      return nn::mlp_spec(full ? 20 : 10, full ? 256 : 128, Activation::kRelu);
    case CriticalTrainingArch::kCnn:
      s.arch = Arch::kCnn;
      s.depth = 3;
      s.width = full ? 64 : 32;
      return s;
    case CriticalTrainingArch::kResNet:
      s.arch = Arch::kResNet;
      s.depth = full ? 2 : 1;
      s.width = 16;
      return s;
  }
  throw Error("arch_spec: not a critical-training architecture");
}

namespace {

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

template <typename E>
std::vector<std::string> names(const std::vector<E>& v) {
  std::vector<std::string> out;
  for (const auto e : v) out.push_back(to_string(e));
  return out;
}

}  // namespace

bool CriticalTrainingOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (archs.empty()) return fail("archs is empty; name at least one architecture");
  if (methods.empty()) return fail("methods is empty; name at least one method");
  for (const auto a : archs)
    if (std::count(archs.begin(), archs.end(), a) > 1)
      return fail(fmt::format("archs lists '{}' twice", to_string(a)));
  for (const auto m : methods)
    if (std::count(methods.begin(), methods.end(), m) > 1)
      return fail(fmt::format("methods lists '{}' twice", to_string(m)));
  if (seeds < 1 || seeds > 1000) return fail(fmt::format("seeds must be in [1, 1000], got {}", seeds));
  if (epochs < 1 || epochs > 10000) return fail(fmt::format("epochs must be in [1, 10000], got {}", epochs));
  if (train_examples < 0 || train_examples > 60000)
    return fail(fmt::format("train_examples must be in [0, 60000] (0 = all), got {}", train_examples));
  if (batch_size < 1 || batch_size > 60000)
    return fail(fmt::format("batch_size must be in [1, 60000], got {}", batch_size));
  if (!(lr > 0 && lr <= 1e3)) return fail(fmt::format("lr must be in (0, 1000], got {}", lr));
  if (!(strength > 0 && strength <= 1e6))
    return fail(fmt::format("strength must be in (0, 1e6], got {}", strength));
  if (!(controller_rate > 0 && controller_rate < 2))
    return fail(fmt::format("controller_rate must be in (0, 2), got {}", controller_rate));
  if (!(tolerance > 0 && tolerance <= 1e3))
    return fail(fmt::format("tolerance must be in (0, 1000], got {}", tolerance));
  if (!(jacobian_reg > 0 && jacobian_reg <= 1e6))
    return fail(fmt::format("jacobian_reg must be in (0, 1e6], got {}", jacobian_reg));
  if (!(weight_decay > 0 && weight_decay <= 1e3))
    return fail(fmt::format("weight_decay must be in (0, 1000], got {}", weight_decay));
  if (!(critical_sigma_b >= 0 && critical_sigma_b <= 1e3))
    return fail(fmt::format("critical_sigma_b must be >= 0, got {}", critical_sigma_b));
  if (monitor_every < 1) return fail(fmt::format("monitor_every must be at least 1, got {}", monitor_every));
  if (threads < 0 || threads > 1024)
    return fail(fmt::format("threads must be in [0, 1024], got {}", threads));
  return robustness.IsValid(error);
}

nlohmann::json to_json(const CriticalTrainingOptions& o) {
  return {{"archs", names(o.archs)},
          {"methods", names(o.methods)},
          {"seeds", o.seeds},
          {"first_seed", o.first_seed},
          {"full", o.full},
          {"epochs", o.epochs},
          {"train_examples", o.train_examples},
          {"batch_size", o.batch_size},
          {"lr", o.lr},
          {"strength", o.strength},
          {"controller_rate", o.controller_rate},
          {"tolerance", o.tolerance},
          {"jacobian_reg", o.jacobian_reg},
          {"weight_decay", o.weight_decay},
          {"critical_sigma_b", o.critical_sigma_b},
          {"monitor_every", o.monitor_every},
          {"robustness",
           {{"noise_std", o.robustness.noise_std},
            {"eps", o.robustness.eps},
            {"pgd_steps", o.robustness.pgd_steps},
            {"pgd_step_ratio", o.robustness.pgd_step_ratio},
            {"pgd_random_start", o.robustness.pgd_random_start},
            {"examples", o.robustness.examples}}}};
}

CriticalTrainingOptions with_critical_training_presets(const CriticalTrainingOptions& o) {
  CriticalTrainingOptions r = o;
  if (!o.full) return r;
  const CriticalTrainingOptions defaults;
  // A field is the caller's when named in `given` or changed from its default; the preset fills the others.
  auto keep = [&](const char* name, bool changed) { return o.given.count(name) > 0 || changed; };
  if (!keep("epochs", o.epochs != defaults.epochs)) r.epochs = 10;
  if (!keep("train_examples", o.train_examples != defaults.train_examples)) r.train_examples = 0;
  if (!keep("seeds", o.seeds != defaults.seeds)) r.seeds = 5;
  if (!keep("robustness.examples", o.robustness.examples != defaults.robustness.examples))
    r.robustness.examples = 2000;
  return r;
}

namespace {

struct Cell {
  CriticalTrainingArch arch_id;
  CriticalTrainingMethod method_id;
  std::string arch, method;  // their names: the cell's directory and record
  std::uint64_t seed = 0;
  fs::path dir;
};

// The model spec and training options of one cell.
std::pair<nn::ModelSpec, train::TrainOptions> cell_setup(const Cell& c, const CriticalTrainingOptions& o) {
  nn::ModelSpec spec = arch_spec(c.arch_id, o.full);
  train::TrainOptions t;
  t.epochs = o.epochs;
  t.batch_size = o.batch_size;
  t.lr = o.lr;
  t.seed = c.seed;
  t.train_examples = o.train_examples;
  t.monitor_every = o.monitor_every;
  t.log_every = o.monitor_every;
  t.device = o.device;
  t.threads = o.threads;
  t.data_dir = o.data_dir;
  switch (c.method_id) {
    case CriticalTrainingMethod::kPlain:
      break;
    case CriticalTrainingMethod::kCriticalInit:
      spec.init = Init::kGaussian;
      spec.sigma_b = o.critical_sigma_b;
      spec.sigma_w = measure::edge_of_chaos_sigma_w(spec.activation, o.critical_sigma_b);
      break;
    case CriticalTrainingMethod::kRegularizer:
      t.criticality.mode = CriticalityMode::kRegularizer;
      t.criticality.strength = o.strength;
      break;
    case CriticalTrainingMethod::kController:
      t.criticality.mode = CriticalityMode::kController;
      t.criticality.strength = o.controller_rate;
      t.criticality.tolerance = o.tolerance;
      break;
    case CriticalTrainingMethod::kJacobianNorm:
      t.jacobian_reg = o.jacobian_reg;
      break;
    case CriticalTrainingMethod::kWeightDecay:
      t.weight_decay = o.weight_decay;
      break;
  }
  return {spec, t};
}

nlohmann::json run_cell(const Cell& c, const CriticalTrainingOptions& o, const data::FashionMnist& fm,
                        const c10::Device& device) {
  const fs::path run = c.dir / "run";
  const auto t0 = std::chrono::steady_clock::now();
  if (!fs::exists(run / "summary.json")) {
    try {
      if (fs::exists(run / "checkpoints" / "state.json")) {
        train::train_resume(run, std::nullopt, {.callbacks = o.callbacks, .progress = o.progress});
      } else {
        fs::remove_all(run);  // a run that never committed its first checkpoint holds nothing to keep
        const auto [spec, t] = cell_setup(c, o);
        train::train_new(run, spec, t, {.callbacks = o.callbacks, .progress = o.progress});
      }
    } catch (const DivergenceError& e) {
      // A result like any other: the method failed on this cell. Counted and shown, never averaged in.
      nlohmann::json failed{
          {"arch", c.arch},
          {"method", c.method},
          {"seed", c.seed},
          {"test_accuracy", nullptr},
          {"distance_to_criticality", nullptr},
          {"lambda_max", nullptr},
          {"train_seconds", nullptr},
          {"robustness", nullptr},
          {"distance_trace", {{"step", nlohmann::json::array()}, {"distance", nlohmann::json::array()}}}};
      put_status(failed, make_status(StatusCode::kNonFinite, std::string("training diverged: ") + e.what()));
      return failed;
    }
  }
  const auto summary = io::read_json(run / "summary.json");
  auto loaded = train::load_run(run, device);
  train::RobustnessOptions ro = o.robustness;
  ro.seed = c.seed;
  const auto robust =
      train::evaluate_robustness(loaded.model, fm.test, train::standardised_pixels(fm.mean, fm.stdev), ro);

  nlohmann::json trace_step = nlohmann::json::array(), trace_distance = nlohmann::json::array();
  const auto metrics = io::read_csv(run / "metrics.csv");
  const auto c_step = metrics.column("step"), c_end = metrics.column("is_epoch_end"),
             c_distance = metrics.column("distance");
  for (const auto& r : metrics.rows)
    if (r[c_end] == 0 && !std::isnan(r[c_distance])) {
      trace_step.push_back(r[c_step]);
      trace_distance.push_back(r[c_distance]);
    }
  const auto& crit = summary.at("criticality");
  return {{"arch", c.arch},
          {"method", c.method},
          {"seed", c.seed},
          {"status", to_string(StatusCode::kOk)},
          {"test_accuracy", summary.at("test_accuracy")},
          {"distance_to_criticality", crit.at("distance_to_criticality")},
          {"lambda_max", crit.at("lambda_max")},
          {"gain_sq", crit.at("gain_sq")},
          {"train_seconds", summary.at("seconds")},
          {"cell_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
          {"robustness", train::to_json(robust)},
          {"distance_trace", {{"step", trace_step}, {"distance", trace_distance}}}};
}

// The numbers of one cell, in a fixed column order shared by cells.csv and the aggregates.
struct Columns {
  std::vector<std::string> names;
  explicit Columns(const CriticalTrainingOptions& o) {
    names.push_back("clean_accuracy");
    for (double s : o.robustness.noise_std) names.push_back(fmt::format("noise_{:g}", s));
    for (double e : o.robustness.eps) names.push_back(fmt::format("fgsm_{:g}", e));
    for (double e : o.robustness.eps) names.push_back(fmt::format("pgd_{:g}", e));
    names.push_back("distance_to_criticality");
    names.push_back("lambda_max");
    names.push_back("train_seconds");
  }
};

double number(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : std::nan(""); }

std::vector<double> cell_values(const nlohmann::json& r, const CriticalTrainingOptions& o) {
  std::vector<double> v{number(r.at("test_accuracy"))};
  const auto& rob = r.at("robustness");
  for (const auto& key : {"noise", "fgsm", "pgd"}) {
    const std::size_t n =
        std::string(key) == "noise" ? o.robustness.noise_std.size() : o.robustness.eps.size();
    for (std::size_t i = 0; i < n; ++i)
      v.push_back(rob.is_null() ? std::nan("") : number(rob.at(key).at(i).at("accuracy")));
  }
  v.push_back(number(r.at("distance_to_criticality")));
  v.push_back(number(r.at("lambda_max")));
  v.push_back(number(r.at("train_seconds")));
  return v;
}

// One figure per metric: mean +- sd over seeds against method, one series per architecture.
void plot_by_method(const fs::path& dir, const std::string& stem, const std::string& title,
                    const std::string& ylabel, const std::vector<std::string>& archs,
                    const std::vector<std::string>& methods,
                    const std::map<std::pair<std::string, std::string>, stats::MeanSd>& values) {
  std::string dat = "# method_index method";
  for (const auto& a : archs) dat += fmt::format(" {0}_mean {0}_sd", a);
  dat += "\n";
  for (std::size_t m = 0; m < methods.size(); ++m) {
    dat += fmt::format("{} {}", m, methods[m]);
    for (const auto& a : archs) {
      auto it = values.find({a, methods[m]});
      const stats::MeanSd v = it == values.end() ? stats::MeanSd{} : it->second;
      dat += std::isnan(v.mean) ? " NaN NaN" : fmt::format(" {:.6g} {:.6g}", v.mean, v.sd);
    }
    dat += "\n";
  }
  io::write_atomic(dir / (stem + ".dat"), dat);
  std::string body = fmt::format(
      "set title '{}'\nset ylabel '{}'\nset xrange [-0.5:{}]\nset grid ytics\nset key outside right\n"
      "set xtics rotate by -25\n",
      title, ylabel, static_cast<double>(methods.size()) - 0.5);
  body += "set xtics (";
  for (std::size_t m = 0; m < methods.size(); ++m)
    body += fmt::format("{}'{}' {}", m ? ", " : "", methods[m], m);
  body += ")\nplot ";
  const double width = 0.5, step = archs.size() > 1 ? width / static_cast<double>(archs.size() - 1) : 0.0;
  for (std::size_t a = 0; a < archs.size(); ++a) {
    const double offset = archs.size() > 1 ? -width / 2 + step * static_cast<double>(a) : 0.0;
    body += fmt::format("{}'{}.dat' using ($1+{:.3f}):{}:{} with yerrorbars pt 7 title '{}'", a ? ", " : "",
                        stem, offset, 3 + 2 * a, 4 + 2 * a, archs[a]);
  }
  body += "\n";
  io::render_gnuplot(dir, stem, body);
}

}  // namespace

CriticalTrainingSummary run_critical_training(const fs::path& out, const CriticalTrainingOptions& options) {
  const CriticalTrainingOptions o = with_critical_training_presets(options);
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const auto t0 = std::chrono::steady_clock::now();
  // One writer at a time; what a killed writer left half-written goes first.
  io::DirectoryLock lock(out, "an experiment writes there");
  io::remove_stale_temporaries(out, /*recursive=*/true);
  // The grid's protocol must not change under finished cells; the grid itself may grow or shrink.
  open_experiment_dir(out, to_json(o), {"archs", "methods", "seeds"});
  const c10::Device device = resolve_device(o.device);
  const int threads = configure_threads(o.threads);
  io::write_json(out / "runtime.json", runtime_metadata(device, threads));

  auto fm = data::load_fashion_mnist(data::resolve_data_dir(o.data_dir));
  fm.test = {fm.test.images.to(device), fm.test.labels.to(device)};

  std::vector<Cell> cells;
  for (const auto a : o.archs)
    for (const auto m : o.methods)
      for (std::int64_t s = 0; s < o.seeds; ++s) {
        const auto seed = o.first_seed + static_cast<std::uint64_t>(s);
        cells.push_back({a, m, to_string(a), to_string(m), seed,
                         out / "cells" / to_string(a) / to_string(m) / fmt::format("seed-{}", seed)});
      }
  // The grid's names: labels of the tables and plots.
  const auto arch_names = names(o.archs), method_names = names(o.methods);

  CriticalTrainingSummary summary;
  summary.cells = static_cast<std::int64_t>(cells.size());
  std::vector<nlohmann::json> results;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& c = cells[i];
    const auto result_path = c.dir / "result.json";
    report_progress(o.progress, "critical-training", static_cast<std::int64_t>(i), summary.cells,
                    fmt::format("{} {} seed {}", c.arch, c.method, c.seed));
    if (fs::exists(result_path)) {
      auto previous = io::read_json(result_path);
      const io::JsonFields f(previous, result_path.string());
      f.string("status");
      if (f.string("arch") != c.arch || f.string("method") != c.method ||
          f.unsigned_integer("seed") != c.seed)
        throw Error(fmt::format("'{}' belongs to another cell; the experiment directory is damaged",
                                result_path.string()));
      results.push_back(std::move(previous));
      ++summary.reused;
      continue;
    }
    auto r = run_cell(c, o, fm, device);
    io::write_json(result_path, r);  // the commit point of the cell
    results.push_back(std::move(r));
    ++summary.computed;
  }
  report_progress(o.progress, "critical-training", summary.cells, summary.cells);

  // cells.csv and the aggregates.
  const Columns cols(o);
  std::string cells_csv = "arch,method,seed";
  for (const auto& n : cols.names) cells_csv += "," + n;
  cells_csv += "\n";
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<double>>> by_group;
  std::map<std::tuple<std::string, std::string, std::uint64_t>, std::vector<double>> by_cell;
  for (const auto& r : results) {
    const auto v = cell_values(r, o);
    const std::string arch = r.at("arch"), method = r.at("method");
    const std::uint64_t seed = r.at("seed");
    cells_csv += fmt::format("{},{},{}", arch, method, seed);
    for (double x : v) cells_csv += "," + io::csv_number(x);
    cells_csv += "\n";
    by_group[{arch, method}].push_back(v);
    by_cell[{arch, method, seed}] = v;
  }
  io::write_atomic(out / "cells.csv", cells_csv);

  std::string results_csv = "arch,method,seeds";
  for (const auto& n : cols.names) results_csv += fmt::format(",{0}_mean,{0}_sd", n);
  results_csv += "\n";
  std::map<std::string, std::map<std::pair<std::string, std::string>, stats::MeanSd>>
      stat;  // column -> group -> value
  std::string md = fmt::format(
      "# critical-training: accuracy and robustness by method\n\n"
      "Fashion-MNIST, {} epoch(s) on {} training examples, SGD lr {} momentum 0.9, batch {}; {} seed(s) per "
      "cell "
      "(mean ± sd). Robustness on {} class-stratified test images; sizes in pixel units ([0, 1]); PGD: {} "
      "steps "
      "of {} eps / {}, random start. distance = mean |ln gain| over hidden layers at the end (0 = "
      "critical).\n\n",
      o.epochs, o.train_examples > 0 ? std::to_string(o.train_examples) : "60000", o.lr, o.batch_size,
      o.seeds, o.robustness.examples, o.robustness.pgd_steps, o.robustness.pgd_step_ratio,
      o.robustness.pgd_steps);
  md += "| arch | method |";
  for (const auto& n : cols.names) md += " " + n + " |";
  md += "\n|---|---|";
  for (std::size_t k = 0; k < cols.names.size(); ++k) md += "---|";
  md += "\n";
  for (const auto& a : arch_names)
    for (const auto& m : method_names) {
      const auto it = by_group.find({a, m});
      if (it == by_group.end()) continue;
      results_csv += fmt::format("{},{},{}", a, m, it->second.size());
      std::int64_t diverged = 0;
      for (const auto& v : it->second) diverged += std::isnan(v[0]) ? 1 : 0;
      md += diverged ? fmt::format("| {} | {} ({} of {} diverged) |", a, m, diverged, it->second.size())
                     : fmt::format("| {} | {} |", a, m);
      for (std::size_t k = 0; k < cols.names.size(); ++k) {
        std::vector<double> x;
        for (const auto& v : it->second) x.push_back(v[k]);
        const auto s = stats::mean_sd(x);
        stat[cols.names[k]][{a, m}] = s;
        results_csv += "," + io::csv_number(s.mean) + "," + io::csv_number(s.sd);
        md += std::isnan(s.mean) ? " – |" : fmt::format(" {:.3f} ± {:.3f} |", s.mean, s.sd);
      }
      results_csv += "\n";
      md += "\n";
    }
  // Paired differences against every other method, seed by seed (same seed = same data order).
  const std::vector<std::string> headline{
      "clean_accuracy", cols.names[1 + o.robustness.noise_std.size() / 2],
      cols.names[1 + o.robustness.noise_std.size() + o.robustness.eps.size() + o.robustness.eps.size() / 2]};
  md += fmt::format(
      "\n## Criticality methods against each baseline (paired by seed: mean ± sd of the difference)\n\n"
      "| arch | method | baseline | Δ {} | Δ {} | Δ {} |\n|---|---|---|---|---|---|\n",
      headline[0], headline[1], headline[2]);
  const auto is_criticality = [](CriticalTrainingMethod m) {
    return m == CriticalTrainingMethod::kRegularizer || m == CriticalTrainingMethod::kController;
  };
  for (const auto& a : arch_names)
    for (const auto m_id : {CriticalTrainingMethod::kRegularizer, CriticalTrainingMethod::kController}) {
      if (!contains(o.methods, m_id)) continue;
      const std::string m = to_string(m_id);
      for (const auto b_id : o.methods) {
        if (is_criticality(b_id)) continue;
        const std::string b = to_string(b_id);
        md += fmt::format("| {} | {} | {} |", a, m, b);
        for (const auto& h : headline) {
          const auto k = static_cast<std::size_t>(std::find(cols.names.begin(), cols.names.end(), h) -
                                                  cols.names.begin());
          std::vector<double> d;
          for (std::int64_t s = 0; s < o.seeds; ++s) {
            const auto seed = o.first_seed + static_cast<std::uint64_t>(s);
            auto x = by_cell.find({a, m, seed}), y = by_cell.find({a, b, seed});
            if (x != by_cell.end() && y != by_cell.end()) d.push_back(x->second[k] - y->second[k]);
          }
          const auto s = stats::mean_sd(d);
          md += std::isnan(s.mean) ? " – |" : fmt::format(" {:+.3f} ± {:.3f} |", s.mean, s.sd);
        }
        md += "\n";
      }
    }
  io::write_atomic(out / "results.csv", results_csv);
  io::write_atomic(out / "results.md", md);

  // Plots: each headline metric against method; the distance to criticality over training per arch.
  const auto plots = out / "plots";
  plot_by_method(plots, "clean_accuracy", "Clean test accuracy", "accuracy", arch_names, method_names,
                 stat["clean_accuracy"]);
  for (const auto& n : cols.names)
    if (n.rfind("noise_", 0) == 0 || n.rfind("fgsm_", 0) == 0 || n.rfind("pgd_", 0) == 0)
      plot_by_method(plots, n,
                     n.rfind("noise_", 0) == 0  ? "Accuracy under Gaussian noise, sigma = " + n.substr(6)
                     : n.rfind("fgsm_", 0) == 0 ? "Accuracy under FGSM, eps = " + n.substr(5)
                                                : "Accuracy under PGD, eps = " + n.substr(4),
                     "accuracy", arch_names, method_names, stat[n]);
  plot_by_method(plots, "distance_to_criticality", "Distance to criticality after training", "mean |ln gain|",
                 arch_names, method_names, stat["distance_to_criticality"]);
  for (const auto& a : arch_names) {
    // Mean over seeds of the monitored distance, one column per method (steps are the same in every cell).
    std::map<double, std::map<std::string, std::vector<double>>> at_step;
    for (const auto& r : results) {
      if (r.at("arch") != a) continue;
      const auto& tr = r.at("distance_trace");
      for (std::size_t i = 0; i < tr.at("step").size(); ++i)
        at_step[tr.at("step")[i].get<double>()][r.at("method").get<std::string>()].push_back(
            tr.at("distance")[i].get<double>());
    }
    if (at_step.empty()) continue;
    io::Table t;
    t.columns = {"step"};
    std::vector<io::PlotSeries> series;
    for (const auto& m : method_names) {
      t.columns.push_back(m);
      series.push_back({m, m});
    }
    for (const auto& [step, per_method] : at_step) {
      std::vector<double> row{step};
      for (const auto& m : method_names) {
        auto it = per_method.find(m);
        row.push_back(it == per_method.end() ? std::nan("") : stats::mean_sd(it->second).mean);
      }
      t.add_row(row);
    }
    io::plot_lines(plots, "distance_over_training_" + a, t, "step", series,
                   {.title = "Distance to criticality during training: " + a + " (mean over seeds)",
                    .xlabel = "step",
                    .ylabel = "mean |ln gain|",
                    .hlines = {o.tolerance}});
  }

  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.results_md = out / "results.md";
  io::write_json(out / "summary.json", {{"cells", summary.cells},
                                        {"computed", summary.computed},
                                        {"reused", summary.reused},
                                        {"seconds", summary.seconds},
                                        {"results", results}});
  return summary;
}

}  // namespace critlab::experiments
