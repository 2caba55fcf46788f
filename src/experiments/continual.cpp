#include "critlab/experiments/continual.h"


#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/data/streams.h"
#include "critlab/experiments/protocol.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/progress.h"
#include "critlab/io/table.h"
#include "critlab/measure/criticality.h"
#include "critlab/measure/plasticity.h"
#include "critlab/measure/theory.h"
#include "critlab/nn/model.h"
#include "critlab/stats/correlation.h"
#include "critlab/stats/describe.h"
#include "critlab/train/criticality_reg.h"
#include "critlab/train/online_mlp.h"
#include "critlab/train/unit_reset.h"

namespace critlab::experiments {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::string kFresh = "fresh";

bool is_regression(const ContinualOptions& o) { return o.stream == "regression"; }

bool uses_critical_init(const std::string& m) {
  return m == "criticality" || m == "criticality-regularizer" || m == "critical-init";
}

// ---------------------------------------------------------------------------------------------------------
// Data: one task's training examples and probes, for either kind of stream.

struct TaskData {
  at::Tensor inputs;            // [M, ...input_shape] on the device
  std::vector<double> targets;  // class index or regression target
  at::Tensor probes;            // the first probe_examples inputs
};

class Streams {
 public:
  Streams(const ContinualOptions& o, const c10::Device& device, bool load = true) : o_(o), device_(device) {
    if (is_regression(o) || !load) return;
    pool_ = data::load_fashion_mnist(data::resolve_data_dir(o.data_dir)).train;
  }
  std::vector<std::int64_t> input_shape() const {
    return is_regression(o_) ? std::vector<std::int64_t>{data::SlowlyChangingRegression::kInputs}
                             : std::vector<std::int64_t>{1, 28, 28};
  }
  std::int64_t outputs() const { return is_regression(o_) ? 1 : 10; }

  // Task t of the classification stream of `seed` (thread-safe: a pure function of (seed, t)).
  TaskData classification_task(std::uint64_t seed, std::int64_t t) const {
    const auto kind = o_.stream == "permuted-labels" ? data::StreamKind::kPermutedLabels
                                                     : data::StreamKind::kPermutedPixels;
    const auto task = data::TaskStream(pool_, kind, o_.examples_per_task, seed).task(t);
    TaskData d;
    d.inputs = task.data.images.to(device_);
    const at::Tensor labels = task.data.labels.to(torch::kFloat64).cpu().contiguous();
    d.targets.assign(labels.data_ptr<double>(), labels.data_ptr<double>() + labels.numel());
    d.probes = d.inputs.slice(0, 0, std::min(o_.probe_examples, d.inputs.size(0)));
    return d;
  }

 private:
  const ContinualOptions& o_;
  c10::Device device_;
  data::Dataset pool_;
};

// The regression stream of one run: examples [t M, (t + 1) M) are task t; a resumed run replays the
// generator up to its task (cheap: bits and 100 LTUs per example).
class RegressionTasks {
 public:
  RegressionTasks(const ContinualOptions& o, std::uint64_t seed, const c10::Device& device)
      : o_(o), seed_(seed), device_(device) {
    reset();
  }
  TaskData task(std::int64_t t) {
    const std::int64_t start = t * o_.examples_per_task;
    if (gen_->position() > start) reset();
    while (gen_->position() < start) gen_->next(std::min<std::int64_t>(start - gen_->position(), 100000));
    auto [x, y] = gen_->next(o_.examples_per_task);
    TaskData d;
    d.inputs = x.to(device_);
    const at::Tensor yd = y.to(torch::kFloat64).contiguous();
    d.targets.assign(yd.data_ptr<double>(), yd.data_ptr<double>() + yd.numel());
    d.probes = d.inputs.slice(0, 0, std::min(o_.probe_examples, d.inputs.size(0)));
    return d;
  }

 private:
  void reset() { gen_ = std::make_unique<data::SlowlyChangingRegression>(seed_, o_.flip_every); }
  const ContinualOptions& o_;
  std::uint64_t seed_;
  c10::Device device_;
  std::unique_ptr<data::SlowlyChangingRegression> gen_;
};

// ---------------------------------------------------------------------------------------------------------
// One run: a method and a seed, carried through the tasks with its checkpoint.

using Row = std::map<std::string, double>;

nn::ModelSpec learner_spec(const ContinualOptions& o, const std::string& method, const Streams& streams) {
  double sigma_w = 0, sigma_b = 0;  // 0: the default initialisation (He for relu, Xavier otherwise)
  if (uses_critical_init(method)) {
    sigma_b = o.critical_sigma_b;
    sigma_w = measure::edge_of_chaos_sigma_w(o.activation, sigma_b);
  }
  auto spec = nn::mlp_spec(o.depth, o.width, o.activation, sigma_w, sigma_b, streams.input_shape());
  spec.num_classes = streams.outputs();
  return spec;
}

class Run {
 public:
  Run(const ContinualOptions& o, std::string method, std::uint64_t seed, const Streams& streams,
      const c10::Device& device, fs::path dir)
      : o_(o), method_(std::move(method)), seed_(seed), streams_(streams), device_(device), dir_(std::move(dir)) {
    if (is_regression(o_)) regression_ = std::make_unique<RegressionTasks>(o_, seed_, device_);
  }

  const std::string& method() const { return method_; }
  std::uint64_t seed() const { return seed_; }
  const std::vector<json>& rows() const { return rows_; }

  // Reads the committed state (if any); returns the number of completed tasks.
  std::int64_t open() {
    if (method_ != kFresh) build(seed_);  // the fresh reference builds a new network for every task
    const auto state_path = dir_ / "state.json";
    if (dir_.empty() || !fs::exists(state_path)) return 0;
    const auto st = io::read_json(state_path);
    rows_ = st.at("rows").get<std::vector<json>>();
    if (method_ != kFresh) load(st);
    return static_cast<std::int64_t>(rows_.size());
  }

  // Trains task t (measuring first), then commits. `examples_done` is advanced as it goes.
  void run_task(std::int64_t t, std::atomic<std::int64_t>& examples_done) {
    const auto t0 = std::chrono::steady_clock::now();
    TaskData task = regression_ ? regression_->task(t) : streams_.classification_task(seed_, t);
    Row row;
    if (method_ == kFresh) {
      build(data::mix(seed_, 7, static_cast<std::uint64_t>(t)));  // a new network for every task
    } else {
      measure(task.probes, row);
    }
    const double replaced_before = replaced();
    const auto sums = train(task.inputs, task.targets, t, &examples_done);
    const double loss_sum = sums.first, correct_sum = sums.second;
    const std::int64_t m = task.inputs.size(0);
    row["task"] = static_cast<double>(t);
    row["online_loss"] = loss_sum / static_cast<double>(m);
    row["online_accuracy"] = is_regression(o_) ? kNaN : correct_sum / static_cast<double>(m);
    row["units_replaced"] = replaced() - replaced_before;
    if (!std::isfinite(row["online_loss"])) row["diverged"] = 1;
    row["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json j(json::value_t::object);
    for (const auto& [k, v] : row) j[k] = std::isnan(v) ? json(nullptr) : std::isinf(v) ? json(v > 0 ? "inf" : "-inf") : json(v);
    rows_.push_back(std::move(j));
    commit();
  }

  // One pass of online learning over `inputs` as task `t` (its noise generator and controller window):
  // each example's step and the method's per-step work. Returns the sums of the loss and of correct
  // predictions. Used by run_task and by the benchmark.
  std::pair<double, double> train(const at::Tensor& inputs, const std::vector<double>& targets, std::int64_t t,
                                  std::atomic<std::int64_t>* examples_done = nullptr) {
    gain_sum_.clear(), gain_count_ = 0, row_norms_.clear();  // per-task controller window (resumes exactly)
    auto gen = at::make_generator<at::CPUGeneratorImpl>(data::mix(seed_, 11, static_cast<std::uint64_t>(t)));
    const auto kill_at = kill_at_example();
    double loss_sum = 0, correct_sum = 0;
    const std::int64_t m = inputs.size(0);
    for (std::int64_t i = 0; i < m; ++i) {
      if (kill_at >= 0 && t * o_.examples_per_task + i == kill_at) std::_Exit(137);  // test hook: abrupt kill
      bool correct = false;
      loss_sum += mlp_->step(inputs[i], targets[static_cast<std::size_t>(i)], &correct);
      correct_sum += correct;
      after_step(gen);
      if (examples_done && (i & 255) == 255) *examples_done += 256;
    }
    if (examples_done) *examples_done += m & 255;
    return {loss_sum, correct_sum};
  }

 private:
  void build(std::uint64_t model_seed) {
    const std::string base = method_ == kFresh ? "backprop" : method_;
    const auto spec = learner_spec(o_, base, streams_);
    net_ = nn::build_model(spec, model_seed);
    net_->to(device_);
    train::OnlineOptions oo;
    oo.lr = o_.lr;
    oo.adam = o_.adam;
    oo.loss = is_regression(o_) ? train::OnlineLoss::kSquaredError : train::OnlineLoss::kCrossEntropy;
    if (base == "l2" || base == "shrink-perturb") oo.weight_decay = o_.weight_decay;
    if (base == "criticality-regularizer") oo.criticality_strength = o_.criticality_strength;
    mlp_ = std::make_unique<train::OnlineMlp>(net_, oo);
    train::UnitResetOptions uo;
    // New units are drawn like the spec's own initialisation: he sqrt 2; xavier at equal fans 1.
    uo.sigma_w = nn::init_scales(spec).value_or(nn::MeanFieldScales{1.0, 0.0}).sigma_w;
    uo.replacement_rate = o_.replacement_rate;
    uo.decay = o_.utility_decay;
    uo.maturity = o_.maturity;
    uo.tau = o_.redo_tau;
    uo.period = o_.redo_period;
    cbp_.reset(), redo_.reset(), controller_.reset();
    if (base == "continual-backprop") cbp_ = std::make_unique<train::ContinualBackprop>(net_, uo, data::mix(seed_, 13, 0));
    if (base == "redo") redo_ = std::make_unique<train::Redo>(net_, uo, data::mix(seed_, 17, 0));
    if (base == "criticality") {
      train::CriticalityOptions co;
      co.mode = CriticalityMode::kController;
      co.strength = o_.controller_rate;
      co.tolerance = o_.tolerance;
      hidden_ = net_->hidden_blocks();
      controller_ = std::make_unique<train::CriticalityController>(co, hidden_.size());
    }
    reset_ = [this](const at::Tensor& p, std::int64_t dim, std::int64_t index) { mlp_->zero_state_slice(p, dim, index); };
  }

  void after_step(at::Generator& gen) {
    if (cbp_ || redo_) {
      const auto hidden = mlp_->hidden_activations();  // [units] each: one example
      if (cbp_) cbp_->update(net_, hidden, reset_);
      if (redo_) redo_->update(net_, hidden, reset_);
    }
    if (method_ == "shrink-perturb" && o_.perturb_std > 0) {
      // One draw of N(0, s^2) for every parameter into a preallocated buffer, then added slice by slice.
      torch::NoGradGuard no_grad;
      auto params = net_->parameters();
      if (!noise_.defined()) {
        std::int64_t total = 0;
        for (const auto& p : params) total += p.numel();
        noise_ = torch::empty({total}, torch::TensorOptions().dtype(params.front().dtype()));
      }
      noise_.normal_(0.0, o_.perturb_std, gen);
      const at::Tensor noise = noise_.to(params.front().device());
      std::int64_t offset = 0;
      for (auto& p : params) {
        p.add_(noise.slice(0, offset, offset + p.numel()).view(p.sizes()));
        offset += p.numel();
      }
    }
    if (controller_) {
      // The controller sees the arithmetic mean of gain_sq over the examples since its last correction: the
      // log of a one-example estimate is biased low (Jensen), and the bias would be corrected into the net.
      if (row_norms_.empty()) row_norms_ = mlp_->hidden_row_sq_norms();
      const auto g = mlp_->hidden_gain_sq(row_norms_);
      if (gain_sum_.empty()) gain_sum_.assign(g.size(), 0.0);
      for (std::size_t i = 0; i < g.size(); ++i) gain_sum_[i] += g[i];
      if (++gain_count_ >= o_.controller_every) {
        for (auto& v : gain_sum_) v /= static_cast<double>(gain_count_);
        controller_->correct(net_, hidden_, gain_sum_);
        gain_sum_.assign(g.size(), 0.0);
        gain_count_ = 0;
        row_norms_.clear();  // the correction (and the steps since) changed the weights
      }
    }
  }

  double replaced() const {
    return static_cast<double>((cbp_ ? cbp_->replaced_total() : 0) + (redo_ ? redo_->replaced_total() : 0));
  }

  void measure(const at::Tensor& probes, Row& row) {
    {
      torch::NoGradGuard no_grad;
      for (const auto& p : net_->parameters())
        if (!torch::isfinite(p).all().item<bool>()) {
          row["diverged"] = 1;  // a diverged network has no measures (its rows say so)
          return;
        }
    }
    const auto plast = measure::layer_plasticity(net_, probes);
    double dead = 0, units = 0, erank = 0;
    for (const auto& p : plast) {
      dead += static_cast<double>(p.dead.dead), units += static_cast<double>(p.dead.units), erank += p.effective_rank;
      row[fmt::format("effective_rank_l{}", p.index)] = p.effective_rank;
      row[fmt::format("dead_fraction_l{}", p.index)] = p.dead.fraction();
    }
    row["dead_fraction"] = units > 0 ? dead / units : kNaN;
    row["effective_rank"] = plast.empty() ? kNaN : erank / static_cast<double>(plast.size());
    row["mean_abs_weight"] = measure::mean_abs_weight(net_);
    measure::MeasureOptions mo;
    mo.lyapunov.k = 1;
    mo.lyapunov.max_inputs = 64;
    mo.dynamic_range.max_inputs = 32;
    mo.dynamic_range.points = 31;
    mo.with_dynamic_range = !is_regression(o_);
    const auto r = measure::measure_criticality(net_, probes, mo);
    row["distance_to_criticality"] = r.distance_to_criticality;
    row["lambda_max"] = r.lyapunov && !r.lyapunov->exponents.empty() ? r.lyapunov->exponents[0] : kNaN;
    row["dynamic_range_db"] = r.dynamic_range && r.dynamic_range->ok() ? r.dynamic_range->delta_db : kNaN;
    for (const auto& g : r.layers)
      if (!g.readout) row[fmt::format("gain_sq_l{}", g.index)] = g.gain_sq;
  }

  // The checkpoint: network and optimiser tensors in model-<k>.pt, method state and rows in state.json
  // (written last: the commit point). The previous checkpoint is removed after the commit.
  void commit() {
    const auto k = static_cast<std::int64_t>(rows_.size());
    json st;
    st["method"] = method_;
    st["seed"] = seed_;
    st["rows"] = rows_;
    if (method_ != kFresh) {
      std::vector<at::Tensor> tensors;
      for (const auto& p : net_->parameters()) tensors.push_back(p.detach().cpu().clone());
      for (const auto& s : mlp_->state_tensors()) tensors.push_back(s.detach().cpu().clone());
      const auto name = fmt::format("model-{}.pt", k);
      io::write_atomic_with(dir_ / name, [&](const fs::path& p) { torch::save(tensors, p.string()); });
      st["checkpoint"] = name;
      st["optimizer_steps"] = mlp_->optimizer_steps();
      if (cbp_) st["continual_backprop"] = cbp_->state();
      if (redo_) st["redo"] = redo_->state();
      if (controller_) st["controller"] = controller_->state();
    }
    io::write_json(dir_ / "state.json", st);
    if (k > 1) fs::remove(dir_ / fmt::format("model-{}.pt", k - 1));
  }

  void load(const json& st) {
    std::vector<at::Tensor> tensors;
    torch::load(tensors, (dir_ / st.at("checkpoint").get<std::string>()).string());
    auto params = net_->parameters();
    auto state = mlp_->state_tensors();
    if (tensors.size() != params.size() + state.size())
      throw Error(fmt::format("checkpoint in {} does not match this network; remove the directory to start over",
                              dir_.string()));
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& p : params) p.copy_(tensors[i++]);
    for (auto& s : state) s.copy_(tensors[i++]);
    mlp_->set_optimizer_steps(st.at("optimizer_steps").get<std::int64_t>());
    if (cbp_) cbp_->restore(st.at("continual_backprop"));
    if (redo_) redo_->restore(st.at("redo"));
    if (controller_) controller_->restore(st.at("controller"));
  }

  static std::int64_t kill_at_example() {
    const char* s = std::getenv("CRITLAB_TEST_KILL_AT_EXAMPLE");
    return s ? std::atoll(s) : -1;
  }

  const ContinualOptions& o_;
  std::string method_;
  std::uint64_t seed_;
  const Streams& streams_;
  c10::Device device_;
  fs::path dir_;
  std::unique_ptr<RegressionTasks> regression_;
  nn::LayerStack net_{nullptr};
  std::unique_ptr<train::OnlineMlp> mlp_;
  std::unique_ptr<train::ContinualBackprop> cbp_;
  std::unique_ptr<train::Redo> redo_;
  std::unique_ptr<train::CriticalityController> controller_;
  std::vector<std::size_t> hidden_;
  at::Tensor noise_;                   // shrink-perturb: one buffer for all parameters' noise
  std::vector<at::Tensor> row_norms_;  // controller: |W_i|^2 per hidden layer, refreshed after each correction
  std::vector<double> gain_sum_;
  std::int64_t gain_count_ = 0;
  train::StateReset reset_;
  std::vector<json> rows_;
};

// ---------------------------------------------------------------------------------------------------------
// Outputs.

// The fixed columns of tasks.csv, then the per-layer ones in name order.
const std::vector<std::string> kColumns{"online_accuracy", "online_loss",  "plasticity",     "fresh_accuracy",
                                        "fresh_loss",      "dead_fraction", "effective_rank", "mean_abs_weight",
                                        "distance_to_criticality", "lambda_max", "dynamic_range_db",
                                        "units_replaced",  "diverged"};
// Measures correlated with plasticity (the criticality ones first).
const std::vector<std::string> kMeasures{"distance_to_criticality", "abs_lambda_max", "dead_fraction",
                                         "effective_rank", "mean_abs_weight"};

// A row's value: null is "not measured" (NaN); infinities are stored as the strings "inf" and "-inf" (a
// Lyapunov exponent is -inf when a perturbation is annihilated, e.g. by a layer with every unit off).
double get(const json& row, const std::string& key) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return kNaN;
  if (it->is_string()) return it->get<std::string>() == "inf" ? INFINITY : -INFINITY;
  return it->get<double>();
}

std::string fixed(double v, int digits = 3) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "-"; }

// The mean of the finite values (NaN when there are none).
double mean_of(const std::vector<double>& v) { return stats::mean_sd(v).mean; }

struct Outputs {
  fs::path tasks_csv, summary_md;
};

// A line plot of `column` against task, one series per method (mean over seeds).
void plot_per_task(const fs::path& dir, const std::string& stem, const std::string& title,
                   const std::string& ylabel, const std::vector<std::string>& methods, std::int64_t tasks,
                   const std::map<std::string, std::vector<std::vector<double>>>& by_method,
                   std::vector<double> hlines = {}) {
  io::Table t;
  t.columns = {"task"};
  std::vector<io::PlotSeries> series;
  for (const auto& m : methods) {
    t.columns.push_back(m);
    series.push_back({m, m});
  }
  bool any = false;
  for (std::int64_t k = 0; k < tasks; ++k) {
    std::vector<double> row{static_cast<double>(k)};
    for (const auto& m : methods) {
      auto it = by_method.find(m);
      const double v = it != by_method.end() && k < static_cast<std::int64_t>(it->second.size())
                           ? mean_of(it->second[static_cast<std::size_t>(k)])
                           : kNaN;
      any |= std::isfinite(v);
      row.push_back(v);
    }
    t.add_row(row);
  }
  if (!any) return;
  io::plot_lines(dir, stem, t, "task", series,
                 {.title = title, .xlabel = "task", .ylabel = ylabel, .points = tasks <= 60, .hlines = hlines});
}

Outputs write_outputs(const fs::path& out, const ContinualOptions& o, const std::vector<std::unique_ptr<Run>>& runs) {
  const bool regression = is_regression(o);
  // The fresh reference per (seed, task).
  std::map<std::pair<std::uint64_t, std::int64_t>, std::pair<double, double>> fresh;
  for (const auto& r : runs)
    if (r->method() == kFresh)
      for (const auto& row : r->rows())
        fresh[{r->seed(), static_cast<std::int64_t>(get(row, "task"))}] = {get(row, "online_accuracy"),
                                                                          get(row, "online_loss")};
  // Rows with plasticity; per-layer column names.
  std::vector<std::tuple<std::string, std::uint64_t, json>> rows;
  std::set<std::string> layer_columns;
  for (const auto& r : runs)
    for (json row : r->rows()) {
      const auto t = static_cast<std::int64_t>(get(row, "task"));
      if (t >= o.tasks) continue;  // an experiment reopened with fewer tasks reports only those
      auto it = fresh.find({r->seed(), t});
      if (r->method() != kFresh && it != fresh.end()) {
        row["fresh_accuracy"] = it->second.first;
        row["fresh_loss"] = it->second.second;
        const double p = regression ? it->second.second / get(row, "online_loss")
                                    : get(row, "online_accuracy") / it->second.first;
        row["plasticity"] = std::isfinite(p) ? json(p) : json(nullptr);  // a diverged run: no plasticity
      }
      for (const auto& [k, v] : row.items())
        for (const char* prefix : {"dead_fraction_l", "effective_rank_l", "gain_sq_l"})
          if (k.rfind(prefix, 0) == 0) layer_columns.insert(k);
      rows.emplace_back(r->method(), r->seed(), std::move(row));
    }
  // tasks.csv
  std::string csv = "method,seed,task";
  for (const auto& c : kColumns) csv += "," + c;
  for (const auto& c : layer_columns) csv += "," + c;
  csv += "\n";
  for (const auto& [m, seed, row] : rows) {
    csv += fmt::format("{},{},{}", m, seed, static_cast<std::int64_t>(get(row, "task")));
    for (const auto& c : kColumns) csv += "," + (c == "diverged" ? std::to_string(get(row, c) == 1) : io::csv_number(get(row, c)));
    for (const auto& c : layer_columns) csv += "," + io::csv_number(get(row, c));
    csv += "\n";
  }
  Outputs outputs{out / "tasks.csv", out / "summary.md"};
  io::write_atomic(outputs.tasks_csv, csv);

  // Per method and task, the values over seeds.
  std::vector<std::string> methods = o.methods;
  if (o.fresh_baseline) methods.push_back(kFresh);
  std::map<std::string, std::map<std::string, std::vector<std::vector<double>>>> series;  // column -> method -> task
  const std::vector<std::string> plotted{"online_accuracy", "online_loss", "plasticity", "dead_fraction",
                                         "effective_rank", "mean_abs_weight", "distance_to_criticality",
                                         "lambda_max", "dynamic_range_db"};
  for (const auto& [m, seed, row] : rows) {
    const auto t = static_cast<std::size_t>(get(row, "task"));
    for (const auto& c : plotted) {
      auto& v = series[c][m];
      if (v.size() <= t) v.resize(t + 1);
      v[t].push_back(get(row, c));
    }
  }

  // Summary table: early vs late tasks (first and last tenth, at least one task each).
  const std::int64_t tenth = std::max<std::int64_t>(1, o.tasks / 10);
  // Tasks [first, end) of the early or late window among the n tasks of a series.
  auto window_range = [&](std::int64_t n, bool late) {
    return late ? std::make_pair(std::max<std::int64_t>(0, n - tenth), n) : std::make_pair<std::int64_t>(0, std::min(n, tenth));
  };
  // Mean over the window's tasks of the mean over seeds.
  auto window = [&](const std::string& c, const std::string& m, bool late) {
    std::vector<double> vals;
    const auto& v = series[c][m];
    const auto [first, end] = window_range(static_cast<std::int64_t>(v.size()), late);
    for (auto t = first; t < end; ++t) vals.push_back(mean_of(v[static_cast<std::size_t>(t)]));
    return mean_of(vals);
  };
  // The same per seed, then "mean ± sd over seeds" (just the mean for one seed).
  auto window_sd = [&](const std::string& c, const std::string& m, bool late) {
    const auto& v = series[c][m];
    const auto [first, end] = window_range(static_cast<std::int64_t>(v.size()), late);
    std::vector<double> per_seed;
    for (std::int64_t k = 0; k < o.seeds; ++k) {
      std::vector<double> vals;
      for (auto t = first; t < end; ++t)
        if (k < static_cast<std::int64_t>(v[static_cast<std::size_t>(t)].size()))
          vals.push_back(v[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)]);
      per_seed.push_back(mean_of(vals));
    }
    const auto s = stats::mean_sd(per_seed);
    return s.n < 2 ? fixed(s.mean) : fmt::format("{} ± {}", fixed(s.mean), fixed(s.sd));
  };
  const std::string perf = regression ? "online_loss" : "online_accuracy";
  std::string md = fmt::format("# Continual learning: {} stream\n\n", o.stream);
  md += fmt::format("{} tasks x {} examples, online (batch 1), {} {}-{}x{}-{}, lr {}, seeds {}..{}. Early = the first "
                    "{} task(s), late = the last {} completed task(s); values are means over seeds (late accuracy and plasticity: "
                    "mean ± sd over seeds' means); measures are taken "
                    "before each task on its first {} inputs.\n\n",
                    o.tasks, o.examples_per_task, o.adam ? "Adam" : "SGD", regression ? 20 : 784, o.width, o.depth,
                    regression ? 1 : 10, o.lr, o.seed, o.seed + static_cast<std::uint64_t>(o.seeds) - 1, tenth, tenth,
                    o.probe_examples);
  md += fmt::format("| method | {0} early | {0} late | plasticity late | dead early | dead late | erank early | erank late "
                    "| mean abs W late | distance early | distance late | lambda_max late | units replaced |\n",
                    regression ? "error" : "accuracy");
  md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  std::map<std::string, double> replaced;
  for (const auto& [m, seed, row] : rows) replaced[m] += get(row, "units_replaced") / static_cast<double>(o.seeds);
  for (const auto& m : methods) {
    if (!series[perf].count(m)) continue;
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", m, fixed(window(perf, m, false)),
                      window_sd(perf, m, true), window_sd("plasticity", m, true),
                      fixed(window("dead_fraction", m, false)), fixed(window("dead_fraction", m, true)),
                      fixed(window("effective_rank", m, false), 1), fixed(window("effective_rank", m, true), 1),
                      fixed(window("mean_abs_weight", m, true), 4), fixed(window("distance_to_criticality", m, false)),
                      fixed(window("distance_to_criticality", m, true)), fixed(window("lambda_max", m, true)),
                      m == kFresh ? "-" : fmt::format("{:.0f}", replaced[m]));
  }

  // Runs that diverged (non-finite loss or weights), and from which task.
  std::map<std::pair<std::string, std::uint64_t>, std::int64_t> diverged_at;
  for (const auto& [m, seed, row] : rows)
    if (get(row, "diverged") == 1 && !diverged_at.count({m, seed}))
      diverged_at[{m, seed}] = static_cast<std::int64_t>(get(row, "task"));
  if (!diverged_at.empty()) {
    md += "\nDiverged (non-finite loss or weights; no measures from then on):";
    for (const auto& [key, t] : diverged_at) md += fmt::format(" {} seed {} at task {};", key.first, key.second, t);
    md.back() = '.';
    md += "\n";
  }

  // Plasticity against each measure, over all methods and tasks >= 1.
  std::map<std::string, std::vector<double>> xs;
  std::vector<double> plasticity;
  std::vector<int> cluster;
  std::map<std::pair<std::string, std::uint64_t>, int> cluster_id;
  for (const auto& [m, seed, row] : rows) {
    if (m == kFresh || get(row, "task") < 1) continue;
    plasticity.push_back(get(row, "plasticity"));
    for (const auto& c : kMeasures)
      xs[c].push_back(c == "abs_lambda_max" ? std::abs(get(row, "lambda_max")) : get(row, c));
    cluster.push_back(cluster_id.emplace(std::make_pair(m, seed), static_cast<int>(cluster_id.size())).first->second);
  }
  json correlations = json::array();
  md += "\n## Does plasticity track criticality?\n\nSpearman rank correlation of plasticity with each measure over "
        "all methods and tasks >= 1 (task 0 starts from initialisation). The Fisher interval treats every task as "
        "independent; the cluster bootstrap resamples whole runs (method x seed) and is the honest one, since "
        "consecutive tasks of one run are not independent. A partial row asks whether the distance still tracks "
        "plasticity once a classical measure is accounted for.\n\n"
        "| measure | rho | 95% CI (Fisher) | 95% CI (cluster bootstrap) | p (Fisher) | n |\n| --- | --- | --- | --- | --- | --- |\n";
  // One row of the table and of correlations.json: the Fisher result f and the cluster bootstrap b.
  auto add_correlation = [&](const std::string& name, const stats::RankCorrelation& f, const stats::RankCorrelation& b) {
    md += fmt::format("| {} | {} | [{}, {}] | [{}, {}] | {} | {} |\n", name, fixed(f.rho), fixed(f.low), fixed(f.high),
                      fixed(b.low), fixed(b.high), std::isfinite(f.p_value) ? fmt::format("{:.2g}", f.p_value) : "-",
                      f.n);
    correlations.push_back({{"measure", name}, {"rho", f.rho}, {"fisher_low", f.low}, {"fisher_high", f.high},
                            {"bootstrap_low", b.low}, {"bootstrap_high", b.high}, {"p_value", f.p_value}, {"n", f.n}});
  };
  stats::RankCorrelation headline;
  for (const auto& c : kMeasures) {
    const auto f = stats::spearman(xs[c], plasticity);
    const auto b = stats::spearman_cluster_bootstrap(xs[c], plasticity, cluster, 0.95, 2000, o.seed);
    if (c == "distance_to_criticality") headline = b;
    add_correlation(c, f, b);
  }
  // Does the distance carry information beyond the classical plasticity measures?
  stats::RankCorrelation erank_partial;
  for (const std::string control : {"dead_fraction", "effective_rank", "mean_abs_weight"}) {
    const auto& d = xs["distance_to_criticality"];
    const auto f = stats::partial_spearman(d, plasticity, xs[control]);
    const auto b = stats::partial_spearman_cluster_bootstrap(d, plasticity, xs[control], cluster, 0.95, 2000, o.seed);
    if (control == "effective_rank") erank_partial = b;
    const auto name = "distance_to_criticality given " + control;
    add_correlation(name + " (partial)", f, b);
  }
  md += "\nThe paper's claim predicts a negative correlation with the distance to criticality (closer to criticality, "
        "more plastic). ";
  if (!std::isfinite(headline.rho) || !std::isfinite(headline.low))
    md += "Here there are too few runs or tasks to test it.\n";
  else if (headline.high < 0)
    md += fmt::format("Here rho = {:.3f} with a cluster-bootstrap interval below zero: consistent with the claim.\n",
                      headline.rho);
  else if (headline.low > 0)
    md += fmt::format("Here rho = {:.3f} with a cluster-bootstrap interval above zero: the opposite of the claim.\n",
                      headline.rho);
  else
    md += fmt::format("Here rho = {:.3f} and the cluster-bootstrap interval [{:.3f}, {:.3f}] includes zero: not "
                      "supported by these runs.\n",
                      headline.rho, headline.low, headline.high);
  if (std::isfinite(erank_partial.low) && std::isfinite(erank_partial.high))
    md += fmt::format("Once the effective rank is accounted for, the partial rho is {:.3f} [{:.3f}, {:.3f}]: {}\n",
                      erank_partial.rho, erank_partial.low, erank_partial.high,
                      erank_partial.low <= 0 && erank_partial.high >= 0
                          ? "the distance to criticality tells nothing about plasticity that the effective rank "
                            "does not already tell."
                          : "the distance carries information about plasticity beyond the effective rank.");
  io::write_atomic(outputs.summary_md, md);

  // Plots.
  const auto plots = out / "plots";
  std::vector<std::string> with_measures = o.methods;
  plot_per_task(plots, "accuracy_per_task", regression ? "Online squared error per task" : "Online accuracy per task",
                regression ? "mean squared error" : "accuracy", methods, o.tasks, series[perf]);
  plot_per_task(plots, "plasticity_per_task", "Plasticity: performance relative to a fresh network",
                "plasticity", with_measures, o.tasks, series["plasticity"], {1.0});
  plot_per_task(plots, "dead_units_per_task", "Dead hidden units (before each task)",
                "fraction dead", with_measures, o.tasks, series["dead_fraction"]);
  plot_per_task(plots, "effective_rank_per_task", "Effective rank (mean over hidden layers)",
                "effective rank", with_measures, o.tasks, series["effective_rank"]);
  plot_per_task(plots, "distance_per_task", "Distance to criticality (before each task)",
                "mean |ln gain|", with_measures, o.tasks, series["distance_to_criticality"], {o.tolerance});
  plot_per_task(plots, "lambda_max_per_task", "Maximal Lyapunov exponent (before each task)",
                "lambda_max per layer", with_measures, o.tasks, series["lambda_max"], {0.0});
  plot_per_task(plots, "weight_magnitude_per_task", "Mean |W| (before each task)", "mean |W|",
                with_measures, o.tasks, series["mean_abs_weight"]);
  // The scatter: plasticity against distance, one point set per method.
  {
    std::string dat, body = "set title 'Plasticity against distance to criticality (tasks >= 1)'\n"
                            "set xlabel 'distance to criticality (mean |ln gain|)'\nset ylabel 'plasticity'\n"
                            "set key outside right\nset grid\nplot ";
    int block = 0;
    for (const auto& m : o.methods) {
      std::string pts;
      for (const auto& [rm, seed, row] : rows)
        if (rm == m && get(row, "task") >= 1 && std::isfinite(get(row, "plasticity")) &&
            std::isfinite(get(row, "distance_to_criticality")))
          pts += fmt::format("{} {}\n", get(row, "distance_to_criticality"), get(row, "plasticity"));
      if (pts.empty()) continue;
      dat += fmt::format("# {}\n{}\n\n", m, pts);
      body += fmt::format("{}'plasticity_vs_distance.dat' index {} with points pt 7 ps 0.6 title '{}'", block ? ", " : "",
                          block, m);
      ++block;
    }
    if (block) {
      io::write_atomic(plots / "plasticity_vs_distance.dat", dat);
      io::render_gnuplot(plots, "plasticity_vs_distance", body + "\n");
    }
  }
  io::write_json(out / "correlations.json", correlations);
  return outputs;
}

}  // namespace

bool ContinualOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  const auto& streams = continual_streams();
  if (std::find(streams.begin(), streams.end(), stream) == streams.end())
    return fail(fmt::format("unknown --stream '{}'; choose one of: {}", stream, fmt::join(streams, ", ")));
  if (methods.empty()) return fail("--methods is empty; name at least one method");
  for (const auto& m : methods) {
    const auto& names = continual_methods();
    if (std::find(names.begin(), names.end(), m) == names.end())
      return fail(fmt::format("unknown method '{}'; choose from: {}", m, fmt::join(names, ", ")));
    if (std::count(methods.begin(), methods.end(), m) > 1) return fail(fmt::format("method '{}' is listed twice", m));
  }
  if (tasks < 1) return fail("--tasks must be at least 1");
  if (examples_per_task < 1) return fail("--examples-per-task must be at least 1");
  if (seeds < 1) return fail("--seeds must be at least 1");
  if (depth < 1 || width < 1) return fail("--depth and --width must be at least 1");
  if (!(lr > 0)) return fail("--lr must be positive");
  if (!(weight_decay >= 0) || !(perturb_std >= 0)) return fail("--weight-decay and --perturb-std must be >= 0");
  if (!(replacement_rate >= 0 && replacement_rate <= 1)) return fail("--replacement-rate must be in [0, 1]");
  if (!(utility_decay >= 0 && utility_decay < 1)) return fail("--utility-decay must be in [0, 1)");
  if (maturity < 0) return fail("--maturity must be >= 0");
  if (!(redo_tau >= 0) || redo_period < 1) return fail("--redo-tau must be >= 0 and --redo-period >= 1");
  if (!(controller_rate > 0 && controller_rate < 2)) return fail("--controller-rate must be in (0, 2)");
  if (!(tolerance > 0)) return fail("--tolerance must be positive");
  if (controller_every < 1) return fail("--controller-every must be at least 1");
  if (!(criticality_strength >= 0)) return fail("--criticality-strength must be >= 0");
  if (criticality_strength > 0 && adam &&
      std::find(methods.begin(), methods.end(), "criticality-regularizer") != methods.end())
    return fail("criticality-regularizer runs with SGD only; drop --adam or the method");
  if (!(critical_sigma_b >= 0)) return fail("--critical-sigma-b must be >= 0");
  if (flip_every < 1) return fail("--flip-every must be at least 1");
  if (probe_examples < 2) return fail("--probe-examples must be at least 2");
  if (threads < 0) return fail("--threads must be >= 0");
  return true;
}

json to_json(const ContinualOptions& o) {
  return {{"stream", o.stream},
          {"tasks", o.tasks},
          {"examples_per_task", o.examples_per_task},
          {"methods", o.methods},
          {"seed", o.seed},
          {"seeds", o.seeds},
          {"depth", o.depth},
          {"width", o.width},
          {"activation", to_string(o.activation)},
          {"lr", o.lr},
          {"optimizer", o.adam ? "adam" : "sgd"},
          {"weight_decay", o.weight_decay},
          {"perturb_std", o.perturb_std},
          {"replacement_rate", o.replacement_rate},
          {"utility_decay", o.utility_decay},
          {"maturity", o.maturity},
          {"redo_tau", o.redo_tau},
          {"redo_period", o.redo_period},
          {"controller_rate", o.controller_rate},
          {"tolerance", o.tolerance},
          {"controller_every", o.controller_every},
          {"criticality_strength", o.criticality_strength},
          {"critical_sigma_b", o.critical_sigma_b},
          {"flip_every", o.flip_every},
          {"probe_examples", o.probe_examples},
          {"fresh_baseline", o.fresh_baseline}};
}

const std::vector<std::string>& continual_methods() {
  static const std::vector<std::string> names{"backprop",    "l2",          "shrink-perturb", "continual-backprop",
                                              "redo",        "criticality", "criticality-regularizer",
                                              "critical-init"};
  return names;
}

const std::vector<std::string>& continual_streams() {
  static const std::vector<std::string> names{"permuted-pixels", "permuted-labels", "regression"};
  return names;
}

json benchmark_continual_methods(const std::vector<std::string>& methods, std::int64_t examples,
                                 const c10::Device& device, int repeats) {
  ContinualOptions o;  // the default protocol's learner and hyper-parameters
  o.methods = methods;
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const Streams streams(o, device, /*load=*/false);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor inputs = at::randn({examples, 1, 28, 28}, gen, torch::kFloat32).to(device);
  const at::Tensor labels = at::randint(0, 10, {examples}, gen, torch::kInt64).to(torch::kFloat64).contiguous();
  const std::vector<double> targets(labels.data_ptr<double>(), labels.data_ptr<double>() + examples);
  json out = json::object();
  double base = kNaN;
  for (const auto& m : methods) {
    std::vector<double> seconds;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      Run run(o, m, 1, streams, device, {});
      run.open();
      const auto t0 = std::chrono::steady_clock::now();
      run.train(inputs, targets, 0);
      if (device.is_cuda()) torch::cuda::synchronize();
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    const double rate = static_cast<double>(examples) / seconds[seconds.size() / 2];
    if (m == "backprop") base = rate;
    out[m] = {{"examples_per_second", rate}, {"cost_vs_backprop", std::isnan(base) ? json(nullptr) : json(base / rate)}};
  }
  return out;
}

ContinualSummary run_continual(const fs::path& out, const ContinualOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const auto t0 = std::chrono::steady_clock::now();
  // The protocol must not change under completed tasks; methods, seeds and the task count may.
  open_experiment_dir(out, to_json(o), {"methods", "seeds", "tasks"});
  const c10::Device device = resolve_device(o.device);
  int workers = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (!device.is_cpu()) workers = 1;
  configure_threads(1);  // every run is single-threaded; runs go in parallel
  auto runtime = runtime_metadata(device, 1);
  runtime["parallel_runs"] = workers;
  io::write_json(out / "runtime.json", runtime);

  const Streams streams(o, device);
  std::vector<std::unique_ptr<Run>> runs;
  std::vector<std::string> methods = o.methods;
  if (o.fresh_baseline) methods.push_back(kFresh);
  for (std::int64_t s = 0; s < o.seeds; ++s)
    for (const auto& m : methods) {
      const auto seed = o.seed + static_cast<std::uint64_t>(s);
      runs.push_back(std::make_unique<Run>(o, m, seed, streams, device,
                                           out / "runs" / m / fmt::format("seed-{}", seed)));
    }
  ContinualSummary summary;
  summary.runs = static_cast<std::int64_t>(runs.size());
  std::vector<std::int64_t> done_tasks;
  std::int64_t remaining = 0;
  for (auto& r : runs) {
    done_tasks.push_back(std::min(r->open(), o.tasks));
    summary.tasks_reused += done_tasks.back();
    remaining += (o.tasks - done_tasks.back()) * o.examples_per_task;
  }

  std::atomic<std::size_t> next{0};
  std::atomic<std::int64_t> examples{0}, tasks_computed{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> pool;
  for (int w = 0; w < std::min<int>(workers, static_cast<int>(runs.size())); ++w)
    pool.emplace_back([&] {
      try {
        for (std::size_t i; !failed && (i = next++) < runs.size();)
          for (std::int64_t t = done_tasks[i]; t < o.tasks && !failed; ++t) {
            runs[i]->run_task(t, examples);
            ++tasks_computed;
          }
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    });
  io::Progress progress("continual", std::max<std::int64_t>(remaining, 1));
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished) {
      progress.update(examples.load(), fmt::format("{} tasks done", tasks_computed.load()));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  for (auto& t : pool) t.join();
  finished = true;
  watcher.join();
  progress.finish();
  if (error) std::rethrow_exception(error);
  summary.tasks_computed = tasks_computed.load();

  const auto outputs = write_outputs(out, o, runs);
  summary.tasks_csv = outputs.tasks_csv;
  summary.summary_md = outputs.summary_md;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  io::write_json(out / "summary.json", {{"runs", summary.runs},
                                        {"tasks_computed", summary.tasks_computed},
                                        {"tasks_reused", summary.tasks_reused},
                                        {"seconds", summary.seconds}});
  return summary;
}

}  // namespace critlab::experiments
