// The continual experiment's runs (experiments/continual.h): the task data of each stream, one run per
// (method, seed) carried through the tasks with its checkpoint, and the pool that runs them in parallel.
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>

#include "continual_internal.h"
#include "critlab/core/error.h"
#include "critlab/core/random.h"
#include "critlab/core/resources.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/data/streams.h"
#include "critlab/io/files.h"
#include "critlab/io/json_fields.h"
#include "critlab/measure/criticality.h"
#include "critlab/measure/plasticity.h"
#include "critlab/measure/theory.h"
#include "critlab/nn/model.h"
#include "critlab/train/criticality_reg.h"
#include "critlab/train/maintainer.h"
#include "critlab/train/online_mlp.h"
#include "critlab/train/run.h"
#include "critlab/train/unit_reset.h"

namespace critlab::experiments::continual_detail {

namespace fs = std::filesystem;
using nlohmann::json;

std::string method_name(const RunMethod& m) { return m ? to_string(*m) : "fresh"; }

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_regression(const ContinualOptions& o) { return o.stream == ContinualStream::kRegression; }

bool uses_critical_init(ContinualMethod m) {
  return m == ContinualMethod::kCriticality || m == ContinualMethod::kCriticalityRegularizer ||
         m == ContinualMethod::kCriticalInit || m == ContinualMethod::kHomeostasis ||
         m == ContinualMethod::kCriticalReinit || m == ContinualMethod::kCriticalityController;
}

// The maintainer a method runs, if any (criticality: the chosen one).
std::optional<train::MaintainerKind> maintainer_kind(ContinualMethod m) {
  if (m == ContinualMethod::kCriticality) m = kCriticalityMaintainer;
  if (m == ContinualMethod::kHomeostasis) return train::MaintainerKind::kHomeostasis;
  if (m == ContinualMethod::kCriticalReinit) return train::MaintainerKind::kCriticalReinit;
  return std::nullopt;
}

bool is_gauge(ContinualMethod m) {
  return m == ContinualMethod::kGaugeCritical || m == ContinualMethod::kGaugeAway;
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
    const auto kind = o_.stream == ContinualStream::kPermutedLabels ? data::StreamKind::kPermutedLabels
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

// New units are drawn like the spec's own initialisation: he sqrt 2; xavier at equal fans 1; the critical
// sigma_w for the critical initialisation.
double spec_sigma_w(const nn::ModelSpec& spec) {
  return nn::init_scales(spec).value_or(nn::MeanFieldScales{1.0, 0.0}).sigma_w;
}

nn::ModelSpec learner_spec(const ContinualOptions& o, ContinualMethod method, const Streams& streams) {
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
  Run(const ContinualOptions& o, RunMethod method, std::uint64_t seed, const Streams& streams,
      const c10::Device& device, fs::path dir)
      : o_(o), method_(method), seed_(seed), streams_(streams), device_(device), dir_(std::move(dir)) {
    if (is_regression(o_)) regression_ = std::make_unique<RegressionTasks>(o_, seed_, device_);
  }

  const RunMethod& method() const { return method_; }
  std::uint64_t seed() const { return seed_; }
  const std::vector<json>& rows() const { return rows_; }

  // Reads the committed state (if any); returns the number of completed tasks.
  std::int64_t open() {
    if (method_) build(seed_);  // the fresh reference builds a new network for every task
    const auto state_path = dir_ / "state.json";
    if (dir_.empty() || !fs::exists(state_path)) return 0;
    const auto st = io::read_json(state_path);
    const io::JsonFields f(st, state_path.string());
    const auto& rows = f.raw("rows");
    if (!rows.is_array()) f.fail("rows", "must be an array");
    for (const auto& r : rows)
      if (!r.is_object()) f.fail("rows", "must hold one object per task");
    rows_ = rows.get<std::vector<json>>();
    if (method_) {
      try {
        load(f);
      } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("'{}' is damaged: a method's saved state is malformed ({})",
                                state_path.string(), e.what()));
      }
    }
    return static_cast<std::int64_t>(rows_.size());
  }

  // Trains task t (measuring first), then commits. `examples_done` is advanced as it goes.
  void run_task(std::int64_t t, std::atomic<std::int64_t>& examples_done) {
    const auto t0 = std::chrono::steady_clock::now();
    TaskData task = regression_ ? regression_->task(t) : streams_.classification_task(seed_, t);
    Row row;
    if (!method_) {
      build(data::mix(seed_, 7, static_cast<std::uint64_t>(t)));  // a new network for every task
    } else if (o_.measures) {
      measure(task.probes, row);
    }
    const double replaced_before = replaced();
    const train::MaintainerCounts counts_before =
        maintainer_ ? maintainer_->counts() : train::MaintainerCounts{};
    gauge_ = {};
    const auto sums = train(task.inputs, task.targets, t, &examples_done);
    const double loss_sum = sums.loss, correct_sum = sums.correct;
    const std::int64_t m = task.inputs.size(0);
    row["task"] = static_cast<double>(t);
    // Examples whose loss was non-finite (a maintainer's run backed off there) are out of the mean loss.
    row["online_loss"] = sums.finite > 0 && std::isfinite(loss_sum)
                             ? loss_sum / static_cast<double>(sums.finite)
                         : maintainer_ ? kNaN
                                       : loss_sum / static_cast<double>(m);
    row["online_accuracy"] = is_regression(o_) ? kNaN : correct_sum / static_cast<double>(m);
    row["units_replaced"] = replaced() - replaced_before;
    if (maintainer_) {
      const auto& c = maintainer_->counts();
      row["backoffs"] = static_cast<double>(c.backoffs - counts_before.backoffs);
      row["units_rescaled"] = static_cast<double>(c.units_rescaled - counts_before.units_rescaled);
      row["units_reinitialised"] =
          static_cast<double>(c.units_reinitialised - counts_before.units_reinitialised);
    }
    if (is_gauge(method_.value_or(ContinualMethod::kBackprop))) {
      row["gauge_applications"] = static_cast<double>(gauge_.applications);
      row["gauge_log_gain_shift"] = gauge_.applications ? gauge_.shift_sum / gauge_.applications : kNaN;
      row["gauge_mean_abs_weight_change"] = gauge_.applications ? gauge_.weight_change_max : kNaN;
      row["gauge_distance_after"] = gauge_.applications ? gauge_.distance_sum / gauge_.applications : kNaN;
    }
    if (!std::isfinite(row["online_loss"])) row["diverged"] = 1;
    row["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    json j(json::value_t::object);
    for (const auto& [k, v] : row)
      j[k] = std::isnan(v) ? json(nullptr) : std::isinf(v) ? json(v > 0 ? "inf" : "-inf") : json(v);
    rows_.push_back(std::move(j));
    commit();
  }

  // One pass of online learning over `inputs` as task `t` (its noise generator and controller window):
  // each example's step and the method's per-step work. Returns the sums of the loss and of correct
  // predictions. Used by run_task and by the benchmark.
  struct Sums {
    double loss = 0, correct = 0;
    std::int64_t finite = 0;  // examples with a finite loss
  };
  Sums train(const at::Tensor& inputs, const std::vector<double>& targets, std::int64_t t,
             std::atomic<std::int64_t>* examples_done = nullptr) {
    gain_sum_.clear(), gain_count_ = 0, row_norms_.clear();  // per-task controller window (resumes exactly)
    if (maintainer_) take_snapshot();  // the same point in an uninterrupted and a resumed run
    auto gen = at::make_generator<at::CPUGeneratorImpl>(data::mix(seed_, 11, static_cast<std::uint64_t>(t)));
    // The hook sees every example (a resumed run's first example included), once per call.
    const bool hooked = static_cast<bool>(o_.on_example);
    const ContinualMethod method = method_.value_or(ContinualMethod::kBackprop);
    Sums sums;
    const std::int64_t m = inputs.size(0);
    for (std::int64_t i = 0; i < m; ++i) {
      if (hooked) o_.on_example(method, seed_, t * o_.examples_per_task + i);
      bool correct = false;
      const double loss = mlp_->step(inputs[i], targets[static_cast<std::size_t>(i)], &correct);
      if (std::isfinite(loss)) {
        sums.loss += loss, sums.correct += correct, ++sums.finite;
        after_step(gen);
      } else if (maintainer_) {
        back_off();  // the weights before this step were already non-finite or overflowing
      } else {
        sums.loss += loss;  // a diverged run: its row says so
        after_step(gen);
      }
      if (examples_done && (i & 255) == 255) *examples_done += 256;
    }
    if (examples_done) *examples_done += m & 255;
    if (maintainer_ && !snapshot_finite()) back_off();  // never commit non-finite weights
    return sums;
  }

 private:
  void build(std::uint64_t model_seed) {
    const ContinualMethod base = method_.value_or(ContinualMethod::kBackprop);
    const auto spec = learner_spec(o_, base, streams_);
    net_ = nn::build_model(spec, model_seed);
    net_->to(device_);
    train::OnlineOptions oo;
    oo.lr = o_.lr;
    oo.adam = o_.adam;
    oo.loss = is_regression(o_) ? train::OnlineLoss::kSquaredError : train::OnlineLoss::kCrossEntropy;
    if (base == ContinualMethod::kL2 || base == ContinualMethod::kShrinkPerturb)
      oo.weight_decay = o_.weight_decay;
    if (base == ContinualMethod::kCriticalityRegularizer) oo.criticality_strength = o_.criticality_strength;
    mlp_ = std::make_unique<train::OnlineMlp>(net_, oo);
    train::UnitResetOptions uo;
    uo.sigma_w = spec_sigma_w(spec);
    uo.replacement_rate = o_.replacement_rate;
    uo.decay = o_.utility_decay;
    uo.maturity = o_.maturity;
    uo.tau = o_.redo_tau;
    uo.period = o_.redo_period;
    cbp_.reset(), redo_.reset(), controller_.reset(), maintainer_.reset(), unit_stats_.reset();
    if (base == ContinualMethod::kContinualBackprop)
      cbp_ = std::make_unique<train::ContinualBackprop>(net_, uo, data::mix(seed_, 13, 0));
    if (base == ContinualMethod::kRedo)
      redo_ = std::make_unique<train::Redo>(net_, uo, data::mix(seed_, 17, 0));
    if (const auto kind = maintainer_kind(base)) {
      train::MaintainerOptions mo;
      mo.kind = *kind;
      mo.rate = o_.maintainer_rate;
      mo.tolerance = o_.maintainer_tolerance;
      mo.every = o_.maintainer_every;
      mo.window = o_.maintainer_window;
      mo.band = o_.homeostasis_band;
      mo.sigma_w = spec_sigma_w(spec);
      maintainer_ = std::make_unique<train::CriticalityMaintainer>(net_, mo, data::mix(seed_, 19, 0));
    }
    if (is_gauge(base)) unit_stats_ = std::make_unique<train::UnitStats>(net_, o_.maintainer_window);
    if (base == ContinualMethod::kCriticalityController) {
      train::CriticalityOptions co;
      co.mode = CriticalityMode::kController;
      co.strength = o_.controller_rate;
      co.tolerance = o_.tolerance;
      hidden_ = net_->hidden_blocks();
      controller_ = std::make_unique<train::CriticalityController>(co, hidden_.size());
    }
    reset_ = [this](const at::Tensor& p, std::int64_t dim, std::int64_t index) {
      mlp_->zero_state_slice(p, dim, index);
    };
  }

  void after_step(at::Generator& gen) {
    if (maintainer_) {
      const bool corrected = maintainer_->step(net_, mlp_->hidden_preactivations(), reset_);
      // A finite snapshot every window (a check costs a pass over the weights).
      if (corrected && mlp_->optimizer_steps() % o_.maintainer_window == 0 && !take_snapshot()) back_off();
    }
    if (unit_stats_) gauge_step();
    if (cbp_ || redo_) {
      const auto hidden = mlp_->hidden_activations();  // [units] each: one example
      if (cbp_) cbp_->update(net_, hidden, reset_);
      if (redo_) redo_->update(net_, hidden, reset_);
    }
    if (method_ == ContinualMethod::kShrinkPerturb && o_.perturb_std > 0) {
      // A fresh N(0, s^2) for every parameter. On float32 CPU parameters: the ziggurat sampler
      // (core/random.h), seeded by one draw of the run's generator (so its checkpointed state still decides
      // everything), adds the noise in place; elsewhere one draw of libtorch's normal_ into a buffer.
      torch::NoGradGuard no_grad;
      auto params = net_->parameters();
      bool direct = true;
      for (const auto& p : params)
        direct = direct && p.is_cpu() && p.scalar_type() == at::kFloat && p.is_contiguous();
      if (direct) {
        std::uint64_t seed;
        {
          std::lock_guard<std::mutex> lock(gen.mutex());
          seed = at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
        }
        NormalSampler noise(seed);
        for (auto& p : params) {
          noise.add(p.data_ptr<float>(), p.numel(), static_cast<float>(o_.perturb_std));
          p.unsafeGetTensorImpl()->bump_version();
        }
      } else {
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
    return static_cast<double>((cbp_ ? cbp_->replaced_total() : 0) + (redo_ ? redo_->replaced_total() : 0) +
                               (maintainer_ ? maintainer_->counts().units_reinitialised : 0));
  }

  // The gauge arms: every gauge_every steps, the function-preserving rescaling toward their targets.
  void gauge_step() {
    unit_stats_->observe(mlp_->hidden_preactivations());
    if (mlp_->optimizer_steps() % o_.gauge_every != 0) return;
    const auto lg = train::log_gains(net_, *unit_stats_);
    if (!lg) return;  // statistics younger than a window
    std::vector<double> targets(lg->size(), 0.0);
    // gauge-away: ln gain_sq = -2d, +2d, -2d, ...: the first layer, which holds most of the weights, goes
    // down, so that mean |W| can be held while the others move.
    if (method_ == ContinualMethod::kGaugeAway)
      for (std::size_t l = 0; l < targets.size(); ++l)
        targets[l] = (l % 2 == 0 ? -2.0 : 2.0) * o_.gauge_distance;
    // Bounded steps (0.1 in ln gain per layer and application) and hands off layers that are mostly silent.
    const auto r = train::gauge_rescale(net_, *lg, targets, {.max_step = 0.1, .min_gain_sq = 0.05});
    if (!r.applied) return;
    double P = 0, shift = 0;
    for (std::size_t l = 0; l + 1 < r.log_scale.size(); ++l) {
      P += r.log_scale[l];
      shift += std::abs(2 * r.log_scale[l]);
      for (std::int64_t i = 0; i < unit_stats_->units(l); ++i) unit_stats_->rescale(l, i, std::exp(P));
    }
    double after = 0;
    for (const double g : r.log_gain_after) after += std::abs(g) / 2;
    gauge_.distance_sum += after / static_cast<double>(r.log_gain_after.size());
    ++gauge_.applications;
    gauge_.shift_sum += shift / static_cast<double>(r.log_scale.size() - 1);
    gauge_.weight_change_max =
        std::max(gauge_.weight_change_max, std::abs(r.mean_abs_weight_after / r.mean_abs_weight_before - 1));
  }

  // The maintainers' guard: a copy of the weights and optimiser state known to be finite.
  std::vector<at::Tensor> guarded() const {
    auto t = net_->parameters();
    for (const auto& s : mlp_->state_tensors()) t.push_back(s);
    return t;
  }
  // Copies the current state into the snapshot if it is finite; false (snapshot kept) otherwise.
  bool take_snapshot() {
    c10::InferenceMode guard;
    const auto now = guarded();
    if (snapshot_.size() != now.size()) {
      snapshot_.clear();
      for (const auto& p : now) snapshot_.push_back(torch::empty_like(p));
      snapshot_ok_ = false;
    }
    for (const auto& p : now)
      if (!torch::isfinite(p).all().item<bool>()) return false;
    for (std::size_t i = 0; i < now.size(); ++i) snapshot_[i].copy_(now[i]);
    snapshot_ok_ = true;
    return true;
  }
  bool snapshot_finite() {
    c10::InferenceMode guard;
    for (const auto& p : guarded())
      if (!torch::isfinite(p).all().item<bool>()) return false;
    return true;
  }
  void back_off() {
    CRITLAB_ASSERT(snapshot_ok_, "a maintainer's run has no finite snapshot to return to");
    c10::InferenceMode guard;
    auto now = guarded();
    for (std::size_t i = 0; i < now.size(); ++i) now[i].copy_(snapshot_[i]);
    maintainer_->back_off();
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
      dead += static_cast<double>(p.dead.dead), units += static_cast<double>(p.dead.units),
          erank += p.effective_rank;
      row[fmt::format("effective_rank_l{}", p.index)] = p.effective_rank;
      row[fmt::format("dead_fraction_l{}", p.index)] = p.dead.fraction();
    }
    row["dead_fraction"] = units > 0 ? dead / units : kNaN;
    row["effective_rank"] = plast.empty() ? kNaN : erank / static_cast<double>(plast.size());
    row["mean_abs_weight"] = measure::mean_abs_weight(net_);
    auto mo = measure::monitor_measure_options();
    mo.lyapunov.max_inputs = 64;
    mo.with_dynamic_range = !is_regression(o_);
    const auto r = measure::measure_criticality(net_, probes, mo);
    row["distance_to_criticality"] = r.distance_to_criticality;
    row["lambda_max"] = r.lyapunov && !r.lyapunov->exponents.empty() ? r.lyapunov->exponents[0] : kNaN;
    row["dynamic_range_db"] = r.dynamic_range ? r.dynamic_range->delta_db.value_or(kNaN) : kNaN;
    row["branching_sigma"] = r.branching ? r.branching->sigma.value_or(kNaN) : kNaN;
    for (const auto& g : r.layers)
      if (!g.readout) row[fmt::format("gain_sq_l{}", g.index)] = g.gain_sq;
  }

  // The checkpoint: network and optimiser tensors in model-<k>.pt, method state and rows in state.json
  // (written last: the commit point). The previous checkpoint is removed after the commit.
  void commit() {
    const auto k = static_cast<std::int64_t>(rows_.size());
    json st;
    st["method"] = method_name(method_);
    st["seed"] = seed_;
    st["rows"] = rows_;
    if (method_) {
      std::vector<at::Tensor> tensors;
      for (const auto& p : net_->parameters()) tensors.push_back(p.detach().cpu().clone());
      for (const auto& s : mlp_->state_tensors()) tensors.push_back(s.detach().cpu().clone());
      const auto name = fmt::format("model-{}.pt", k);
      std::ostringstream bytes;
      torch::save(tensors, bytes);  // in memory: a full disk is an error here, not an abort in libtorch
      st["checkpoint_crc32"] = train::write_checksummed(dir_ / name, bytes.str());
      st["checkpoint"] = name;
      st["optimizer_steps"] = mlp_->optimizer_steps();
      if (cbp_) st["continual_backprop"] = cbp_->state();
      if (redo_) st["redo"] = redo_->state();
      if (controller_) st["controller"] = controller_->state();
      if (maintainer_) st["maintainer"] = maintainer_->state();
      if (unit_stats_) st["unit_stats"] = unit_stats_->state();
    }
    io::write_json(dir_ / "state.json", st);
    if (k > 1) fs::remove(dir_ / fmt::format("model-{}.pt", k - 1));
  }

  void load(const io::JsonFields& st) {
    const auto name = st.string("checkpoint");
    if (name.find('/') != std::string::npos || name.empty() || name[0] == '.')
      st.fail("checkpoint", "must name a file in the run directory");
    std::optional<std::uint32_t> crc;
    if (st.has("checkpoint_crc32")) crc = static_cast<std::uint32_t>(st.unsigned_integer("checkpoint_crc32"));
    std::vector<at::Tensor> tensors;
    std::istringstream bytes(train::read_checksummed(dir_ / name, crc));
    try {
      torch::load(tensors, bytes);
    } catch (const c10::Error& e) {
      throw Error(
          fmt::format("cannot load checkpoint '{}': {}", (dir_ / name).string(), e.what_without_backtrace()));
    }
    auto params = net_->parameters();
    auto state = mlp_->state_tensors();
    if (tensors.size() != params.size() + state.size())
      throw Error(fmt::format(
          "checkpoint in {} does not match this network; remove the directory to start over", dir_.string()));
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& p : params) p.copy_(tensors[i++]);
    for (auto& s : state) s.copy_(tensors[i++]);
    mlp_->set_optimizer_steps(st.integer("optimizer_steps"));
    if (cbp_) cbp_->restore(st.raw("continual_backprop"));
    if (redo_) redo_->restore(st.raw("redo"));
    if (controller_) controller_->restore(st.raw("controller"));
    if (maintainer_) maintainer_->restore(st.raw("maintainer"));
    if (unit_stats_) unit_stats_->restore(st.raw("unit_stats"));
  }

  const ContinualOptions& o_;
  RunMethod method_;
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
  std::unique_ptr<train::CriticalityMaintainer> maintainer_;
  std::unique_ptr<train::UnitStats> unit_stats_;  // gauge arms
  struct GaugeTask {
    std::int64_t applications = 0;
    double shift_sum = 0, weight_change_max = 0, distance_sum = 0;
  } gauge_;
  std::vector<at::Tensor> snapshot_;
  bool snapshot_ok_ = false;
  std::vector<std::size_t> hidden_;
  at::Tensor noise_;  // shrink-perturb: one buffer for all parameters' noise
  std::vector<at::Tensor>
      row_norms_;  // controller: |W_i|^2 per hidden layer, refreshed after each correction
  std::vector<double> gain_sum_;
  std::int64_t gain_count_ = 0;
  train::StateReset reset_;
  std::vector<json> rows_;
};

}  // namespace

}  // namespace critlab::experiments::continual_detail

namespace critlab::experiments {

using continual_detail::Run;
using continual_detail::Streams;
using nlohmann::json;

json benchmark_continual_methods(const std::vector<std::string>& methods, std::int64_t examples,
                                 const c10::Device& device, int repeats) {
  ContinualOptions o;  // the default protocol's learner and hyper-parameters
  o.methods.clear();
  for (const auto& m : methods) o.methods.push_back(from_string<ContinualMethod>(m));
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const Streams streams(o, device, /*load=*/false);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor inputs = at::randn({examples, 1, 28, 28}, gen, torch::kFloat32).to(device);
  const at::Tensor labels =
      at::randint(0, 10, {examples}, gen, torch::kInt64).to(torch::kFloat64).contiguous();
  const std::vector<double> targets(labels.data_ptr<double>(), labels.data_ptr<double>() + examples);
  json out = json::object();
  double base = std::numeric_limits<double>::quiet_NaN();
  for (const auto m : o.methods) {
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
    if (m == ContinualMethod::kBackprop) base = rate;
    out[to_string(m)] = {{"examples_per_second", rate},
                         {"cost_vs_backprop", std::isnan(base) ? json(nullptr) : json(base / rate)}};
  }
  return out;
}

}  // namespace critlab::experiments

namespace critlab::experiments::continual_detail {

namespace {

// One run of a pool: its options (which outlive the pool), method, seed and directory.
struct Job {
  const ContinualOptions* o;
  RunMethod method;
  std::uint64_t seed;
  fs::path dir;
  std::int64_t tasks;
};

// Runs (or resumes) `jobs` in parallel with the streams of `stream_options`; progress under `label`.
Execution run_pool(const std::vector<Job>& jobs, const ContinualOptions& stream_options,
                   const std::string& label) {
  const auto& o = stream_options;
  const c10::Device device = resolve_device(o.device);
  // Never more parallel runs than cores: more only adds memory and contention.
  const int cores = hardware_cores();
  int workers = o.threads > 0 ? std::min(o.threads, cores) : cores;
  if (!device.is_cpu()) workers = 1;
  configure_threads(1);  // every run is single-threaded; runs go in parallel

  const Streams streams(o, device);
  std::vector<std::unique_ptr<Run>> runs;
  for (const auto& j : jobs)
    runs.push_back(std::make_unique<Run>(*j.o, j.method, j.seed, streams, device, j.dir));
  Execution execution;
  std::vector<std::int64_t> done_tasks;
  std::int64_t remaining = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    done_tasks.push_back(std::min(runs[i]->open(), jobs[i].tasks));
    execution.tasks_reused += done_tasks.back();
    remaining += (jobs[i].tasks - done_tasks.back()) * jobs[i].o->examples_per_task;
  }

  std::atomic<std::size_t> next{0};
  std::atomic<std::int64_t> examples{0}, tasks_computed{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    try {
      for (std::size_t i; !failed && (i = next++) < runs.size();)
        for (std::int64_t t = done_tasks[i]; t < jobs[i].tasks && !failed; ++t) {
          runs[i]->run_task(t, examples);
          ++tasks_computed;
        }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < std::min<int>(workers, static_cast<int>(runs.size())); ++w) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // the system refused another thread: the ones started (or this one, below) do the work
    }
  }
  if (pool.empty()) pool.emplace_back(work);
  // Progress is reported from this thread only, so the callback need not be thread-safe.
  const std::int64_t total = std::max<std::int64_t>(remaining, 1);
  std::atomic<bool> finished{false};
  std::thread watcher;
  if (o.progress)
    watcher = std::thread([&] {
      while (!finished) {
        report_progress(o.progress, label, std::min(examples.load(), total - 1), total,
                        fmt::format("{} tasks done", tasks_computed.load()));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  for (auto& t : pool) t.join();
  finished = true;
  if (watcher.joinable()) watcher.join();
  if (error) std::rethrow_exception(error);
  report_progress(o.progress, label, total, total, fmt::format("{} tasks done", tasks_computed.load()));
  execution.tasks_computed = tasks_computed.load();
  for (const auto& r : runs) execution.records.push_back({r->method(), r->seed(), r->rows()});
  return execution;
}

}  // namespace

Execution execute_runs(const fs::path& out, const ContinualOptions& o,
                       const std::map<ContinualMethod, ContinualOptions>& per_method) {
  auto runtime = runtime_metadata(resolve_device(o.device), 1);
  const int cores = hardware_cores();
  runtime["parallel_runs"] = o.threads > 0 ? std::min(o.threads, cores) : cores;
  io::write_json(out / "runtime.json", runtime);
  std::vector<Job> jobs;
  std::vector<RunMethod> methods(o.methods.begin(), o.methods.end());
  if (o.fresh_baseline) methods.push_back(std::nullopt);
  for (std::int64_t s = 0; s < o.seeds; ++s)
    for (const auto& m : methods) {
      const auto seed = o.seed + static_cast<std::uint64_t>(s);
      const ContinualOptions* mo = m ? &per_method.at(*m) : &o;
      jobs.push_back({mo, m, seed, out / "runs" / method_name(m) / fmt::format("seed-{}", seed), o.tasks});
    }
  return run_pool(jobs, o, "continual");
}

ContinualTuning tune(const fs::path& out, const ContinualOptions& o) {
  // The tuning stream: tune_tasks x tune_examples on seeds seed + 1000, ...; no measures, no fresh runs.
  ContinualOptions base = o;
  base.tasks = o.tune_tasks;
  base.examples_per_task = o.tune_examples;
  base.measures = false;
  base.fresh_baseline = false;
  ContinualTuning tuning;
  std::vector<std::vector<ContinualOptions>> options;  // per method, per cell (outlive the pool)
  for (const auto m : o.methods) {
    const auto grid = tuning_grid(m);
    if (grid.empty()) continue;
    ContinualTuning::Method tm;
    tm.method = m;
    options.emplace_back();
    for (const auto& g : grid) {
      tm.cells.push_back({g, {}, std::nullopt, {}});
      options.back().push_back(with_setting(base, g));
    }
    tuning.methods.push_back(std::move(tm));
  }
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < tuning.methods.size(); ++i)
    for (std::size_t c = 0; c < tuning.methods[i].cells.size(); ++c)
      for (std::int64_t k = 0; k < o.tune_seeds; ++k) {
        const auto seed = o.seed + 1000 + static_cast<std::uint64_t>(k);
        jobs.push_back({&options[i][c], tuning.methods[i].method, seed,
                        out / "tuning" / to_string(tuning.methods[i].method) /
                            tuning.methods[i].cells[c].setting.label() / fmt::format("seed-{}", seed),
                        o.tune_tasks});
      }
  if (jobs.empty()) return tuning;
  const auto execution = run_pool(jobs, base, "tuning");
  // Score: online accuracy (regression: minus the squared error) over the tasks of the second half.
  const bool regression = is_regression(o);
  std::size_t r = 0;
  for (auto& tm : tuning.methods) {
    for (auto& cell : tm.cells) {
      double sum = 0;
      bool all = true;
      for (std::int64_t k = 0; k < o.tune_seeds; ++k, ++r) {
        double v = 0;
        std::int64_t n = 0;
        for (const auto& row : execution.records[r].rows) {
          if (get(row, "diverged") == 1) v = kNaN;
          if (get(row, "task") < static_cast<double>(o.tune_tasks / 2)) continue;
          v += regression ? -get(row, "online_loss") : get(row, "online_accuracy");
          ++n;
        }
        const bool ok = n > 0 && std::isfinite(v);
        cell.scores.push_back(ok ? std::optional<double>(v / static_cast<double>(n)) : std::nullopt);
        if (ok)
          sum += v / static_cast<double>(n);
        else
          all = false;
      }
      if (all)
        cell.score = sum / static_cast<double>(o.tune_seeds);
      else
        cell.status = make_status(StatusCode::kNonFinite, "a tuning run diverged: no score");
    }
    // The best score; ties go to the first cell of the grid.
    for (std::size_t c = 0; c < tm.cells.size(); ++c)
      if (tm.cells[c].score && (!tm.chosen || *tm.cells[c].score > *tm.cells[*tm.chosen].score))
        tm.chosen = c;
    if (!tm.chosen)
      tm.status =
          make_status(StatusCode::kNonFinite, "every setting diverged; the method runs with its default");
  }
  return tuning;
}

}  // namespace critlab::experiments::continual_detail
