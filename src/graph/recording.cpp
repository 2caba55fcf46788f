#include "critlab/graph/recording.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/json_fields.h"
#include "critlab/io/npy.h"
#include "critlab/nn/stack.h"

namespace critlab::graph {
namespace fs = std::filesystem;

namespace {

std::string step_name(std::int64_t step) { return fmt::format("step-{:08d}", step); }

// Per-example unit activity: flattened for vectors, per-channel spatial mean for feature maps.
at::Tensor units_of(const at::Tensor& t) {
  if (t.dim() == 4) return t.mean({2, 3});
  return t.reshape({t.size(0), -1});
}

std::string param_file(const std::string& name) { return "param_" + name + ".npy"; }

}  // namespace

bool RecordOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (points < 2) return fail(fmt::format("points must be at least 2, got {}", points));
  if (probes < 2) return fail(fmt::format("probes must be at least 2, got {}", probes));
  return true;
}

std::vector<std::int64_t> record_schedule(std::int64_t total_steps, std::int64_t points) {
  const std::int64_t target = std::min(points, total_steps + 1);
  const double top = std::log1p(static_cast<double>(std::max<std::int64_t>(total_steps, 0)));
  std::set<std::int64_t> steps;
  // Log spacing rounds several early points onto the same step; add candidates until `target` are distinct.
  for (std::int64_t k = std::max<std::int64_t>(target, 2); k <= 100 * points; ++k) {
    steps.clear();
    for (std::int64_t i = 0; i < k; ++i)
      steps.insert(std::llround(std::expm1(top * static_cast<double>(i) / static_cast<double>(k - 1))));
    if (static_cast<std::int64_t>(steps.size()) >= target) break;
  }
  return {steps.begin(), steps.end()};
}

Recorder::Recorder(fs::path run_dir, const data::Dataset& train, const RecordOptions& options,
                   std::int64_t total_steps, nn::LayerStack& model)
    : dir_(std::move(run_dir) / "record"), options_(options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  const auto probe_set = data::stratified_subset(train, options.probes);
  probes_ = probe_set.images;
  if (fs::exists(dir_ / "meta.json")) {
    schedule_ =
        io::JsonFields(io::read_json(dir_ / "meta.json"), (dir_ / "meta.json").string()).integers("schedule");
    return;
  }
  schedule_ = record_schedule(total_steps, options.points);
  io::write_npy(dir_ / "probe_images.npy", probe_set.images);
  io::write_npy(dir_ / "probe_labels.npy", probe_set.labels);
  nlohmann::json blocks = nlohmann::json::array();
  {
    nn::EvalModeGuard eval(*model);
    torch::NoGradGuard no_grad;
    auto x = probes_.slice(0, 0, 2);
    for (std::size_t l = 0; l < model->size(); ++l) {
      auto [pre, out] = model->block(l)->forward_with_pre(x);
      const auto dense = model->block(l)->dense_view();
      const auto prefix = nn::LayerStackImpl::block_name(l) + ".";
      blocks.push_back({{"index", l},
                        {"description", model->block(l)->describe()},
                        {"units", units_of(out).size(1)},
                        {"has_pre", pre.defined()},
                        {"readout", model->block(l)->is_readout()},
                        {"dense", dense.has_value()},
                        {"weight_name", dense ? prefix + dense->weight_name : ""},
                        {"bias_name", dense && !dense->bias_name.empty() ? prefix + dense->bias_name : ""}});
      x = out;
    }
  }
  io::write_json(dir_ / "meta.json",
                 {{"format", "critlab recording 1: NumPy .npy files, one directory per step"},
                  {"schedule", schedule_},
                  {"probes", probe_set.size()},
                  {"probe_source", "class-stratified training images"},
                  {"activation_dtype", options.half ? "float16" : "float32"},
                  {"blocks", blocks}});
}

bool Recorder::due(std::int64_t step) const {
  return std::binary_search(schedule_.begin(), schedule_.end(), step);
}

void Recorder::record(std::int64_t step, nn::LayerStack& model) {
  const auto final_dir = dir_ / step_name(step);
  const auto tmp = dir_ / ("." + step_name(step) + ".tmp");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  {
    nn::EvalModeGuard eval(*model);
    torch::NoGradGuard no_grad;
    const auto taps = model->forward_tapped(probes_.to(model->parameters().front().device()));
    const auto store = [&](const at::Tensor& t) {
      return options_.half ? units_of(t).to(at::kHalf) : units_of(t).to(at::kFloat);
    };
    for (std::size_t l = 0; l < taps.size(); ++l) {
      io::write_npy(tmp / fmt::format("block{}_post.npy", l), store(taps[l].output));
      if (taps[l].pre.defined()) io::write_npy(tmp / fmt::format("block{}_pre.npy", l), store(taps[l].pre));
    }
    for (const auto& p : model->named_parameters())
      io::write_npy(tmp / param_file(p.key()), p.value().to(at::kFloat));
  }
  // A resumed run re-records the steps after its checkpoint; the new directory replaces the old one.
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
}

void RecordingCallback::on_start(const train::TrainStart& start, nn::LayerStack& model) {
  recorder_ = std::make_unique<Recorder>(start.dir, *start.train, options_, start.total_steps, model);
  if (!start.resumed) recorder_->record(0, model);
}

void RecordingCallback::on_step(std::int64_t step, nn::LayerStack& model) {
  if (recorder_ && recorder_->due(step)) recorder_->record(step, model);
}

Recording open_recording(const fs::path& run_dir) {
  Recording rec;
  rec.dir = run_dir / "record";
  if (!fs::exists(rec.dir / "meta.json"))
    throw Error(
        fmt::format("'{}' holds no activity recording (record/meta.json); train it with --record, e.g. "
                    "critlab train --record --out {}",
                    run_dir.string(), run_dir.string()));
  const auto meta_path = (rec.dir / "meta.json").string();
  rec.meta = io::read_json(rec.dir / "meta.json");
  const io::JsonFields meta(rec.meta, meta_path);
  rec.schedule = meta.integers("schedule");
  if (rec.schedule.empty() || !std::is_sorted(rec.schedule.begin(), rec.schedule.end()) ||
      rec.schedule.front() != 0 || rec.schedule.front() < 0)
    meta.fail("schedule", "must be an ascending list of steps starting at 0");
  const auto& blocks = meta.raw("blocks");
  if (!blocks.is_array() || blocks.empty()) meta.fail("blocks", "must be a non-empty array");
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const io::JsonFields b(blocks[i], meta_path, fmt::format("blocks[{}]", i));
    BlockInfo info{b.integer("index"),   b.string("description"), b.integer("units"),
                   b.boolean("has_pre"), b.boolean("readout"),    b.boolean("dense")};
    if (info.index != static_cast<std::int64_t>(i)) b.fail("index", fmt::format("must be {}", i));
    if (info.units < 1) b.fail("units", "must be positive");
    // Recordings made before blocks named their dense weights held only the built-in dense block.
    const auto legacy = fmt::format("block{}.linear.", info.index);
    info.weight_name = b.string_or("weight_name", info.dense ? legacy + "weight" : "");
    info.bias_name = b.string_or("bias_name", info.dense ? legacy + "bias" : "");
    for (const auto* name : {&info.weight_name, &info.bias_name})
      if (name->find('/') != std::string::npos || name->find("..") != std::string::npos)
        b.fail("weight_name", "must be a parameter name, not a path");
    rec.blocks.push_back(std::move(info));
  }
  for (const auto s : rec.schedule)
    if (fs::is_directory(rec.dir / step_name(s))) rec.steps.push_back(s);
  // Step 0 is the initial network every comparison starts from; a recording without it would silently make
  // its first present step the baseline.
  if (rec.steps.empty() || rec.steps.front() != 0)
    throw Error(
        fmt::format("the recording in '{}' lacks step 0 (the initial network, {}); it is incomplete. "
                    "Record the run again",
                    rec.dir.string(), (rec.dir / step_name(0)).string()));
  rec.probe_images = io::read_npy(rec.dir / "probe_images.npy");
  rec.probe_labels = io::read_npy(rec.dir / "probe_labels.npy");
  if (rec.probe_labels.dim() != 1 || rec.probe_labels.scalar_type() != at::kLong ||
      rec.probe_labels.numel() < 2)
    throw Error(
        fmt::format("'{}' must hold at least 2 int64 labels [P]", (rec.dir / "probe_labels.npy").string()));
  if (rec.probe_images.dim() < 2 || rec.probe_images.size(0) != rec.probe_labels.size(0) ||
      !rec.probe_images.is_floating_point())
    throw Error(fmt::format("'{}' must hold {} float images [P, ...] matching probe_labels.npy",
                            (rec.dir / "probe_images.npy").string(), rec.probe_labels.size(0)));
  const auto lo = rec.probe_labels.min().item<std::int64_t>();
  const auto hi = rec.probe_labels.max().item<std::int64_t>();
  if (lo < 0 || hi >= 100000)
    throw Error(
        fmt::format("'{}' holds labels outside [0, 100000)", (rec.dir / "probe_labels.npy").string()));
  rec.num_classes = hi + 1;
  return rec;
}

RecordedStep load_step(const Recording& rec, std::int64_t step) {
  const auto d = rec.dir / step_name(step);
  if (!fs::is_directory(d))
    throw Error(fmt::format("the recording has no step {} ({} is missing)", step, d.string()));
  const auto probes = rec.probe_labels.size(0);
  // Every array is checked against meta.json and the probe set before anything computes with it.
  const auto activity = [&](const fs::path& p, std::int64_t units) {
    auto t = io::read_npy(p);
    if (t.dim() != 2 || t.size(0) != probes || t.size(1) != units || !t.is_floating_point())
      throw Error(fmt::format("'{}' has shape {} but the recording needs float [{}, {}]", p.string(),
                              fmt::join(t.sizes(), "x"), probes, units));
    return t.to(at::kFloat);
  };
  RecordedStep s;
  s.step = step;
  for (std::size_t i = 0; i < rec.blocks.size(); ++i) {
    const auto& b = rec.blocks[i];
    s.post.push_back(activity(d / fmt::format("block{}_post.npy", b.index), b.units));
    s.pre.push_back(b.has_pre ? activity(d / fmt::format("block{}_pre.npy", b.index), b.units)
                              : at::Tensor());
    if (b.dense) {
      const auto wp = d / param_file(b.weight_name);
      auto w = io::read_npy(wp);
      // The fan-in is known where the block's input is the probe image or a dense block's output.
      const std::int64_t fan_in = i == 0                    ? rec.probe_images[0].numel()
                                  : rec.blocks[i - 1].dense ? rec.blocks[i - 1].units
                                                            : -1;
      if (w.dim() != 2 || w.size(0) != b.units || (fan_in > 0 && w.size(1) != fan_in) ||
          !w.is_floating_point())
        throw Error(fmt::format("'{}' has shape {} but block {} needs a float weight [{}, {}]", wp.string(),
                                fmt::join(w.sizes(), "x"), b.index, b.units,
                                fan_in > 0 ? std::to_string(fan_in) : "fan-in"));
      s.weight.push_back(w.to(at::kFloat));
      if (b.bias_name.empty()) {
        s.bias.emplace_back();
      } else {
        const auto bp = d / param_file(b.bias_name);
        auto bias = io::read_npy(bp);
        if (bias.dim() != 1 || bias.size(0) != b.units || !bias.is_floating_point())
          throw Error(fmt::format("'{}' has shape {} but block {} needs a float bias [{}]", bp.string(),
                                  fmt::join(bias.sizes(), "x"), b.index, b.units));
        s.bias.push_back(bias.to(at::kFloat));
      }
    } else {
      s.weight.emplace_back();
      s.bias.emplace_back();
    }
  }
  return s;
}

}  // namespace critlab::graph
