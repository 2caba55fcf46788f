#include "critlab/train/trainer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/core/status.h"
#include "critlab/data/dataset.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/measure/criticality.h"
#include "critlab/train/criticality_reg.h"

namespace critlab::train {

namespace fs = std::filesystem;

nlohmann::json to_json(const TrainSummary& s) {
  return {{"test_accuracy", s.test_accuracy},
          {"test_loss", s.test_loss},
          {"train_accuracy", s.train_accuracy},
          {"train_loss", s.train_loss},
          {"epochs", s.epochs},
          {"steps", s.steps},
          {"seconds", s.seconds},
          {"criticality", s.criticality}};
}

namespace {
nlohmann::json summary_json(const TrainSummary& s) {
  auto j = to_json(s);
  put_result(j, "examples_per_second", s.examples_per_second,
             make_status(StatusCode::kNotRun, "no training step ran in this invocation"));
  return j;
}
}  // namespace

namespace {

const std::vector<std::string> kMetricColumns{
    "step",       "epoch",          "is_epoch_end",     "lr",
    "train_loss", "train_acc",      "test_loss",        "test_acc",
    "distance",   "lambda_max",     "seconds",          "penalty",
    "lambda",     "batch_distance", "dynamic_range_db", "branching_sigma"};

// A metrics table read back from disk, with the current columns (older runs lack some: NaN there).
io::Table conform(const io::Table& t, const fs::path& path) {
  for (const char* required : {"step", "epoch", "is_epoch_end"})
    if (std::find(t.columns.begin(), t.columns.end(), required) == t.columns.end())
      throw Error(fmt::format("'{}' is damaged: it has no '{}' column", path.string(), required));
  io::Table out{kMetricColumns, {}};
  std::vector<int> from;
  for (const auto& c : kMetricColumns) {
    auto it = std::find(t.columns.begin(), t.columns.end(), c);
    from.push_back(it == t.columns.end() ? -1 : static_cast<int>(it - t.columns.begin()));
  }
  for (const auto& r : t.rows) {
    std::vector<double> row;
    for (int f : from) row.push_back(f < 0 ? std::nan("") : r[static_cast<std::size_t>(f)]);
    out.add_row(std::move(row));
  }
  return out;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(nn::LayerStack& model, const TrainOptions& o) {
  switch (o.optimizer) {
    case Optimizer::kSgd:
      return std::make_unique<torch::optim::SGD>(
          model->parameters(),
          torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
    case Optimizer::kAdam:
      return std::make_unique<torch::optim::Adam>(
          model->parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
    case Optimizer::kAdamW:
      return std::make_unique<torch::optim::AdamW>(
          model->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  }
  return nullptr;
}

double scheduled_lr(const TrainOptions& o, std::int64_t step, std::int64_t total_steps,
                    std::int64_t steps_per_epoch) {
  double lr = o.lr;
  switch (o.schedule) {
    case Schedule::kConstant:
      break;
    case Schedule::kCosine:
      lr *= 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) /
                                static_cast<double>(std::max<std::int64_t>(1, total_steps))));
      break;
    case Schedule::kStep:
      lr *= std::pow(o.step_gamma, static_cast<double>(step / (steps_per_epoch * o.step_epochs)));
      break;
  }
  if (o.warmup_steps > 0 && step < o.warmup_steps)
    lr *= static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  return lr;
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

}  // namespace

namespace {

class Run {
 public:
  Run(fs::path dir, nn::ModelSpec spec, TrainOptions options, const TrainEnvironment& env)
      : dir_(std::move(dir)), spec_(std::move(spec)), o_(std::move(options)), env_(env) {}

  TrainSummary execute(bool resume);

 private:
  void write_config(const c10::Device& device, int threads);
  void checkpoint(std::int64_t epochs_done, std::int64_t step);
  CheckpointState restore();
  void write_metrics();
  void write_plots();
  void monitor(std::int64_t step, std::int64_t epoch, std::vector<double>& row);

  fs::path dir_;
  nn::ModelSpec spec_;
  TrainOptions o_;
  const TrainEnvironment& env_;
  nn::LayerStack model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> opt_;
  io::Table metrics_{kMetricColumns, {}};
  io::Table monitor_gains_;
  at::Tensor monitor_probes_;
  std::unique_ptr<CriticalityTraining> criticality_;
};

void Run::write_config(const c10::Device& device, int threads) {
  io::write_json(dir_ / "config.json", {{"model", nn::to_json(spec_)},
                                        {"train", to_json(o_)},
                                        {"runtime", runtime_metadata(device, threads)},
                                        {"data_source", env_.train ? "supplied" : "fashion-mnist"},
                                        {"parameters", model_->num_parameters()}});
}

void Run::write_metrics() {
  io::write_csv(dir_ / "metrics.csv", metrics_);
  if (!monitor_gains_.rows.empty()) io::write_csv(dir_ / "tables" / "monitor_gains.csv", monitor_gains_);
}

void Run::checkpoint(std::int64_t epochs_done, std::int64_t step) {
  write_metrics();
  CheckpointState state;
  state.epoch = epochs_done;
  state.step = step;
  state.model_crc32 = save_checkpoint(model_, model_checkpoint_path(dir_, epochs_done));
  state.optimizer_crc32 = save_checkpoint(*opt_, optimizer_checkpoint_path(dir_, epochs_done));
  if (auto* ctl = criticality_->controller()) state.controller = ctl->state();
  // state.json is the commit point: until it names this epoch, the previous checkpoint stays current.
  io::write_json(dir_ / "checkpoints" / "state.json", to_json(state));
  // Keep the initial weights and the newest two checkpoints.
  for (std::int64_t old = 1; old < epochs_done - 1; ++old) {
    std::error_code ec;
    fs::remove(model_checkpoint_path(dir_, old), ec);
    fs::remove(optimizer_checkpoint_path(dir_, old), ec);
  }
}

// Reads everything a resume needs and checks it before anything in the directory changes.
CheckpointState Run::restore() {
  const auto state = read_checkpoint_state(dir_);
  if (state.epoch > o_.epochs)
    throw Error(fmt::format("'{}' has already trained {} epochs; --epochs must be at least {}", dir_.string(),
                            state.epoch, state.epoch));
  if (state.epoch == o_.epochs && fs::exists(dir_ / "summary.json"))
    throw Error(fmt::format("'{}' has finished its {} epochs; pass --epochs N (more than {}) to train on",
                            dir_.string(), state.epoch, state.epoch));
  const c10::Device device = model_->parameters().front().device();
  load_checkpoint(model_, model_checkpoint_path(dir_, state.epoch), state.model_crc32, device);
  load_checkpoint(*opt_, optimizer_checkpoint_path(dir_, state.epoch), state.optimizer_crc32, device);
  if (auto* ctl = criticality_->controller(); ctl && !state.controller.is_null()) {
    try {
      ctl->restore(state.controller);
    } catch (const nlohmann::json::exception&) {
      throw Error(fmt::format("'{}': field 'controller' is malformed",
                              (dir_ / "checkpoints" / "state.json").string()));
    }
  }
  if (fs::exists(dir_ / "metrics.csv")) {
    metrics_ = conform(io::read_csv(dir_ / "metrics.csv"), dir_ / "metrics.csv");
    std::erase_if(metrics_.rows, [&](const auto& r) { return r[metrics_.column("epoch")] > state.epoch; });
  }
  const auto gains_path = dir_ / "tables" / "monitor_gains.csv";
  if (fs::exists(gains_path)) {
    monitor_gains_ = io::read_csv(gains_path);
    // The monitor measures every block: step, epoch, gain_sq_0 ... gain_sq_<blocks - 1>.
    std::vector<std::string> expected{"step", "epoch"};
    for (std::size_t l = 0; l < model_->size(); ++l) expected.push_back(fmt::format("gain_sq_{}", l));
    if (monitor_gains_.columns != expected)
      throw Error(
          fmt::format("'{}' is damaged: expected the columns {}; delete it to resume without the "
                      "monitor's history",
                      gains_path.string(), fmt::join(expected, ",")));
    std::erase_if(monitor_gains_.rows, [&](const auto& r) { return r[1] > state.epoch; });
  }
  return state;
}

namespace {
// The monitor's measurement: every figure, on fewer inputs and a coarser layer map than `measure`.
measure::MeasureOptions monitor_options(std::uint64_t seed) {
  auto mo = measure::monitor_measure_options();
  mo.gains.seed = mo.dynamic_range.seed = mo.branching.seed = seed;
  return mo;
}
}  // namespace

void Run::monitor(std::int64_t step, std::int64_t epoch, std::vector<double>& row) {
  auto report = measure::measure_criticality(model_, monitor_probes_, monitor_options(step));
  row[metrics_.column("distance")] = report.distance_to_criticality;
  row[metrics_.column("lambda_max")] = report.lyapunov->exponents.front();
  row[metrics_.column("dynamic_range_db")] = report.dynamic_range->delta_db.value_or(std::nan(""));
  row[metrics_.column("branching_sigma")] = report.branching->sigma.value_or(std::nan(""));
  if (monitor_gains_.columns.empty()) {
    monitor_gains_.columns = {"step", "epoch"};
    for (const auto& g : report.layers) monitor_gains_.columns.push_back(fmt::format("gain_sq_{}", g.index));
  }
  std::vector<double> grow{static_cast<double>(step), static_cast<double>(epoch)};
  for (const auto& g : report.layers) grow.push_back(g.gain_sq);
  monitor_gains_.add_row(grow);
}

void Run::write_plots() {
  const auto plots = dir_ / "plots";
  io::Table steps{{"step", "train_loss", "train_acc"}, {}},
      epochs{{"epoch", "train_loss", "test_loss", "train_acc", "test_acc"}, {}};
  io::Table mon{{"step", "distance", "lambda_max"}, {}};
  io::Table branching{{"step", "branching_sigma"}, {}}, range{{"step", "dynamic_range_db"}, {}};
  io::Table control{{"step", "batch_distance", "lambda", "penalty"}, {}};
  const auto c = [&](const char* n) { return metrics_.column(n); };
  for (const auto& r : metrics_.rows) {
    if (r[c("is_epoch_end")] > 0)
      epochs.add_row(
          {r[c("epoch")], r[c("train_loss")], r[c("test_loss")], r[c("train_acc")], r[c("test_acc")]});
    else
      steps.add_row({r[c("step")], r[c("train_loss")], r[c("train_acc")]});
    if (!std::isnan(r[c("distance")])) mon.add_row({r[c("step")], r[c("distance")], r[c("lambda_max")]});
    if (!std::isnan(r[c("branching_sigma")])) branching.add_row({r[c("step")], r[c("branching_sigma")]});
    if (!std::isnan(r[c("dynamic_range_db")])) range.add_row({r[c("step")], r[c("dynamic_range_db")]});
    if (!std::isnan(r[c("batch_distance")]) && r[c("is_epoch_end")] == 0)
      control.add_row({r[c("step")], r[c("batch_distance")], r[c("lambda")], r[c("penalty")]});
  }
  if (!steps.rows.empty())
    io::plot_lines(plots, "train_loss", steps, "step", {{"train_loss", "training loss (running mean)"}},
                   {.title = "Training loss", .xlabel = "step", .ylabel = "cross-entropy", .points = false});
  if (!epochs.rows.empty()) {
    io::plot_lines(plots, "loss_per_epoch", epochs, "epoch", {{"train_loss", "train"}, {"test_loss", "test"}},
                   {.title = "Loss per epoch", .xlabel = "epoch", .ylabel = "cross-entropy"});
    io::plot_lines(plots, "accuracy", epochs, "epoch", {{"train_acc", "train"}, {"test_acc", "test"}},
                   {.title = "Accuracy per epoch", .xlabel = "epoch", .ylabel = "accuracy"});
  }
  if (!mon.rows.empty())
    io::plot_lines(plots, "criticality_monitor", mon, "step",
                   {{"distance", "distance to criticality"}, {"lambda_max", "max Lyapunov exponent"}},
                   {.title = "Criticality during training",
                    .xlabel = "step",
                    .ylabel = "nats per layer",
                    .hlines = {0.0}});
  if (!branching.rows.empty())
    io::plot_lines(plots, "branching_monitor", branching, "step", {{"branching_sigma", "sigma"}},
                   {.title = "Branching parameter during training (1 = critical)",
                    .xlabel = "step",
                    .ylabel = "sigma (perturbation spreading)",
                    .hlines = {1.0}});
  if (!range.rows.empty())
    io::plot_lines(plots, "dynamic_range_monitor", range, "step", {{"dynamic_range_db", "Delta"}},
                   {.title = "Dynamic range during training", .xlabel = "step", .ylabel = "Delta (dB)"});
  if (!monitor_gains_.rows.empty()) {
    std::vector<io::PlotSeries> layers;
    for (std::size_t k = 2; k < monitor_gains_.columns.size(); ++k)  // columns gain_sq_<block index>
      layers.push_back({monitor_gains_.columns[k], "layer " + monitor_gains_.columns[k].substr(8)});
    io::plot_lines(plots, "monitor_gains", monitor_gains_, "step", layers,
                   {.title = "Per-layer gain^2 during training (1 = critical)",
                    .xlabel = "step",
                    .ylabel = "gain^2 = ||J||^2 / fan-out",
                    .logy = true,
                    .points = false,
                    .hlines = {1.0}});
  }
  if (!control.rows.empty()) {
    const bool ctl = o_.criticality.mode == CriticalityMode::kController;
    io::plot_lines(
        plots, "criticality_control", control, "step",
        {{"batch_distance", ctl ? "smoothed batch estimate" : "batch estimate"}},
        {.title = ctl ? "Controller: distance (tolerance and dead band dashed)" : "Regulariser: distance",
         .xlabel = "step",
         .ylabel = "mean |ln gain|",
         .points = false,
         .hlines = ctl ? std::vector<double>{o_.criticality.tolerance, 0.5 * o_.criticality.tolerance}
                       : std::vector<double>{}});
    if (!ctl)
      io::plot_lines(plots, "criticality_lambda", control, "step",
                     {{"lambda", "lambda (strength x schedule)"}},
                     {.title = "Regulariser strength",
                      .xlabel = "step",
                      .ylabel = "lambda",
                      .logy = true,
                      .points = false});
  }
}

TrainSummary Run::execute(bool resume) {
  const c10::Device device = resolve_device(o_.device);
  const int threads = configure_threads(o_.threads);
  data::FashionMnist fm;
  if (env_.train) {
    fm.train = *env_.train, fm.test = *env_.test;
  } else {
    fm = data::load_fashion_mnist(data::resolve_data_dir(o_.data_dir));
    if (o_.train_examples > 0 && o_.train_examples < fm.train.size()) {
      fm.train.images = fm.train.images.slice(0, 0, o_.train_examples);
      fm.train.labels = fm.train.labels.slice(0, 0, o_.train_examples);
    }
  }
  if (spec_.input_shape !=
      std::vector<std::int64_t>(fm.train.images.sizes().begin() + 1, fm.train.images.sizes().end()))
    throw Error("the model's input_shape does not match the data's image shape");
  fm.train = {fm.train.images.to(device), fm.train.labels.to(device)};
  fm.test = {fm.test.images.to(device), fm.test.labels.to(device)};
  monitor_probes_ = data::stratified_subset(fm.test, o_.monitor_probes).images;

  model_ = nn::build_model(spec_, o_.seed);
  model_->to(device);
  opt_ = make_optimizer(model_, o_);
  criticality_ = std::make_unique<CriticalityTraining>(o_.criticality, o_.jacobian_reg, model_);

  std::int64_t epochs_done = 0, step = 0;
  const std::int64_t steps_per_epoch = (fm.train.size() + o_.batch_size - 1) / o_.batch_size;
  const std::int64_t total_steps = steps_per_epoch * o_.epochs;
  if (resume) {
    // Everything is read and checked first; only then do config.json (this invocation's runtime and epoch
    // count) and summary.json (superseded once it trains on) change.
    const auto state = restore();
    epochs_done = state.epoch;
    step = state.step;
    write_config(device, threads);
    if (fs::exists(dir_ / "summary.json")) fs::remove(dir_ / "summary.json");
    for (const auto& cb : env_.callbacks) cb->on_start({dir_, &fm.train, total_steps, step, resume}, model_);
  } else {
    // Written before any checkpoint, so a checkpoint never exists without its config. The callbacks start
    // (a recording commits step 0) before state.json does, so a committed run always has its step 0.
    write_config(device, threads);
    for (const auto& cb : env_.callbacks) cb->on_start({dir_, &fm.train, total_steps, step, resume}, model_);
    checkpoint(0, 0);
  }

  const std::string task = fmt::format("train {}", dir_.filename().string());
  const auto t0 = std::chrono::steady_clock::now();
  double train_seconds = 0;
  std::int64_t examples = 0;
  TrainSummary summary;

  for (std::int64_t epoch = epochs_done + 1; epoch <= o_.epochs; ++epoch) {
    model_->train();
    data::BatchIterator batches(fm.train, o_.batch_size, o_.seed, epoch);
    double run_loss = 0, run_correct = 0, run_n = 0, epoch_loss = 0, epoch_correct = 0, epoch_n = 0;
    double run_penalty = 0, run_lambda = 0, run_distance = 0;
    std::int64_t run_criticality_steps =
        0;  // steps in this log interval where the regulariser/controller acted
    for (std::int64_t b = 0; b < batches.num_batches(); ++b) {
      const auto ts = std::chrono::steady_clock::now();
      const double lr = scheduled_lr(o_, step, total_steps, steps_per_epoch);
      set_lr(*opt_, lr);
      auto [x, y] = batches.batch(b);
      model_->zero_grad(/*set_to_none=*/true);  // saves a pass over every gradient buffer per step
      const auto pass = criticality_->forward(model_, x, step);
      const at::Tensor& logits = pass.logits;
      at::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      const double loss_value = loss.item<double>();
      const std::uint64_t step_seed = o_.seed * 1000003ULL + static_cast<std::uint64_t>(step);
      auto figures = criticality_->add_penalties(model_, pass, loss, step, total_steps, step_seed);
      if (figures.due && !criticality_->controller() && !std::isfinite(figures.penalty)) {
        write_metrics();
        throw DivergenceError(
            fmt::format("the criticality penalty became {} at epoch {}, step {}; the last good checkpoint "
                        "(epoch {}) is kept "
                        "in {}; lower --criticality-strength or --lr and start again",
                        figures.penalty, epoch, step + 1, epochs_done, (dir_ / "checkpoints").string()));
      }
      if (!std::isfinite(loss_value)) {
        write_metrics();
        throw DivergenceError(fmt::format(
            "training diverged: the loss became {} at epoch {}, step {} (lr {:g}); the last good checkpoint "
            "(epoch {}) is kept in {}; lower --lr and start again",
            loss_value, epoch, step + 1, lr, epochs_done, (dir_ / "checkpoints").string()));
      }
      loss.backward();
      opt_->step();
      criticality_->after_step(model_, &figures);
      if (figures.due) {  // the controller has no penalty or lambda: NaN keeps those columns empty
        run_penalty += figures.penalty, run_lambda += figures.lambda, run_distance += figures.distance;
        ++run_criticality_steps;
      }
      ++step;
      const double n = static_cast<double>(y.size(0));
      const double correct = logits.argmax(1).eq(y).sum().item<double>();
      run_loss += loss_value * n, run_correct += correct, run_n += n;
      epoch_loss += loss_value * n, epoch_correct += correct, epoch_n += n;
      examples += y.size(0);
      train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();

      const bool log_now = step % o_.log_every == 0;
      const bool monitor_now = o_.monitor_every > 0 && step % o_.monitor_every == 0;
      if (log_now || monitor_now) {
        std::vector<double> row(kMetricColumns.size(), std::nan(""));
        row[0] = step, row[1] = epoch, row[2] = 0, row[3] = lr;
        row[4] = run_loss / run_n, row[5] = run_correct / run_n;
        row[10] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (o_.criticality.enabled())
          row[11] = run_penalty / run_criticality_steps, row[12] = run_lambda / run_criticality_steps,
          row[13] = run_distance / run_criticality_steps;
        if (monitor_now) monitor(step, epoch, row);
        metrics_.add_row(row);
        run_loss = run_correct = run_n = run_penalty = run_lambda = run_distance = 0;
        run_criticality_steps = 0;
        if (log_now) write_metrics();
      }
      if (env_.progress)
        report_progress(env_.progress, task, step, total_steps,
                        fmt::format("epoch {}/{} loss {:.4f}", epoch, o_.epochs, loss_value));
      for (const auto& cb : env_.callbacks) cb->on_step(step, model_);
    }
    const auto test = evaluate(model_, fm.test, o_.eval_batch_size);
    std::vector<double> row(kMetricColumns.size(), std::nan(""));
    row[0] = step, row[1] = epoch, row[2] = 1, row[3] = scheduled_lr(o_, step, total_steps, steps_per_epoch);
    row[4] = epoch_loss / epoch_n, row[5] = epoch_correct / epoch_n, row[6] = test.loss,
    row[7] = test.accuracy;
    row[10] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics_.add_row(row);
    checkpoint(epoch, step);
    epochs_done = epoch;
    write_plots();
    for (const auto& cb : env_.callbacks) cb->on_epoch_end(epoch, model_);
  }
  report_progress(env_.progress, task, total_steps, total_steps);

  // Final figures come from the last epoch row, whether this invocation trained it or an earlier one did.
  for (const auto& r : metrics_.rows)
    if (r[2] > 0)
      summary.train_loss = r[4], summary.train_accuracy = r[5], summary.test_loss = r[6],
      summary.test_accuracy = r[7];
  summary.epochs = epochs_done;
  summary.steps = step;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (examples > 0 && train_seconds > 0) summary.examples_per_second = examples / train_seconds;
  auto mo = monitor_options(0);
  mo.lyapunov = {};
  const auto report = measure::measure_criticality(model_, monitor_probes_, mo);
  summary.criticality = {{"distance_to_criticality", report.distance_to_criticality},
                         {"gain_sq", [&] {
                            std::vector<double> g;
                            for (const auto& l : report.layers) g.push_back(l.gain_sq);
                            return g;
                          }()}};
  const double lambda_max = report.lyapunov->exponents.front();
  put_result(
      summary.criticality, "lambda_max", std::isfinite(lambda_max) ? std::optional(lambda_max) : std::nullopt,
      make_status(StatusCode::kNonFinite, "the largest exponent is -inf: every perturbation is annihilated"));
  put_result(summary.criticality, "dynamic_range_db", report.dynamic_range->delta_db,
             report.dynamic_range->status);
  put_result(summary.criticality, "branching_sigma", report.branching->sigma, report.branching->status);
  if (auto* ctl = criticality_->controller())
    summary.criticality["controller_corrections"] = ctl->corrections();
  write_plots();
  auto out = summary_json(summary);
  put_status(out, Status::Ok());  // written only when training completed
  io::write_json(dir_ / "summary.json", out);
  return summary;
}

}  // namespace

namespace {
// What a killed process leaves: temporaries of atomic writes and half-written recording steps.
void remove_run_temporaries(const fs::path& dir) {
  for (const auto& sub :
       {fs::path(), fs::path("checkpoints"), fs::path("tables"), fs::path("plots"), fs::path("record")})
    io::remove_stale_temporaries(dir / sub);
}
}  // namespace

TrainSummary train_new(const fs::path& dir, const nn::ModelSpec& spec, const TrainOptions& options,
                       const TrainEnvironment& env) {
  std::string err;
  if (!spec.IsValid(&err)) throw Error(err);
  if (!options.IsValid(&err)) throw Error(err);
  if (env.train.has_value() != env.test.has_value())
    throw Error("a supplied dataset needs both a training and a test set");
  // The lock comes before the check, so two processes can never both find the directory free.
  io::DirectoryLock lock(dir, "a training run writes there");
  if (fs::exists(dir / "checkpoints" / "state.json") || fs::exists(dir / "summary.json"))
    throw Error(
        fmt::format("'{}' already holds a run; pass --resume {} to continue it, or choose another --out",
                    dir.string(), dir.string()));
  remove_run_temporaries(dir);
  Run run(dir, spec, options, env);
  return run.execute(false);
}

TrainSummary train_resume(const fs::path& dir, std::optional<std::int64_t> epochs,
                          const TrainEnvironment& env) {
  if (!fs::is_directory(dir))
    throw Error(fmt::format("'{}' does not exist; nothing to resume", dir.string()));
  io::DirectoryLock lock(dir, "a training run writes there");
  const auto config = read_resumable_run_config(dir);
  remove_run_temporaries(dir);
  const auto& spec = config.spec;
  auto options = config.options;
  if (epochs) options.epochs = *epochs;
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  const bool supplied = config.supplied_data;
  if (supplied && !env.train)
    throw Error(fmt::format("'{}' was trained on data its caller supplied; resume it with the same data",
                            dir.string()));
  if (!supplied && env.train)
    throw Error(
        fmt::format("'{}' was trained on Fashion-MNIST; resume it without supplying data", dir.string()));
  Run run(dir, spec, options, env);
  return run.execute(true);
}

}  // namespace critlab::train
