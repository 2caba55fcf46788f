#include "critlab/graph/recording.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "critlab/core/error.h"
#include "critlab/io/files.h"
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
    schedule_ = io::read_json(dir_ / "meta.json").at("schedule").get<std::vector<std::int64_t>>();
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
  rec.meta = io::read_json(rec.dir / "meta.json");
  try {
    rec.schedule = rec.meta.at("schedule").get<std::vector<std::int64_t>>();
    for (const auto& b : rec.meta.at("blocks")) {
      BlockInfo info{b.at("index"),   b.at("description"), b.at("units"),
                     b.at("has_pre"), b.at("readout"),     b.at("dense")};
      // Recordings made before blocks named their dense weights held only the built-in dense block.
      const auto legacy = fmt::format("block{}.linear.", info.index);
      info.weight_name = b.value("weight_name", info.dense ? legacy + "weight" : "");
      info.bias_name = b.value("bias_name", info.dense ? legacy + "bias" : "");
      rec.blocks.push_back(std::move(info));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("'{}' is malformed: {}", (rec.dir / "meta.json").string(), e.what()));
  }
  for (const auto s : rec.schedule)
    if (fs::is_directory(rec.dir / step_name(s))) rec.steps.push_back(s);
  rec.probe_images = io::read_npy(rec.dir / "probe_images.npy");
  rec.probe_labels = io::read_npy(rec.dir / "probe_labels.npy");
  rec.num_classes = rec.probe_labels.numel() ? rec.probe_labels.max().item<std::int64_t>() + 1 : 0;
  return rec;
}

RecordedStep load_step(const Recording& rec, std::int64_t step) {
  const auto d = rec.dir / step_name(step);
  if (!fs::is_directory(d))
    throw Error(fmt::format("the recording has no step {} ({} is missing)", step, d.string()));
  RecordedStep s;
  s.step = step;
  for (const auto& b : rec.blocks) {
    s.post.push_back(io::read_npy(d / fmt::format("block{}_post.npy", b.index)).to(at::kFloat));
    s.pre.push_back(b.has_pre ? io::read_npy(d / fmt::format("block{}_pre.npy", b.index)).to(at::kFloat)
                              : at::Tensor());
    if (b.dense) {
      s.weight.push_back(io::read_npy(d / param_file(b.weight_name)));
      s.bias.push_back(b.bias_name.empty() ? at::Tensor() : io::read_npy(d / param_file(b.bias_name)));
    } else {
      s.weight.emplace_back();
      s.bias.emplace_back();
    }
  }
  return s;
}

}  // namespace critlab::graph
