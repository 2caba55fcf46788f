#include "critlab/train/run.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::train {

namespace fs = std::filesystem;

fs::path model_checkpoint_path(const fs::path& dir, std::int64_t epoch) {
  return dir / "checkpoints" / fmt::format("model-{:04d}.pt", epoch);
}
fs::path optimizer_checkpoint_path(const fs::path& dir, std::int64_t epoch) {
  return dir / "checkpoints" / fmt::format("optimizer-{:04d}.pt", epoch);
}

Evaluation evaluate(nn::LayerStack& model, const data::Dataset& d, std::int64_t batch_size) {
  nn::EvalModeGuard eval(*model);
  torch::NoGradGuard no_grad;
  double loss = 0, correct = 0;
  for (std::int64_t start = 0; start < d.size(); start += batch_size) {
    const auto end = std::min(start + batch_size, d.size());
    auto x = d.images.slice(0, start, end);
    auto y = d.labels.slice(0, start, end);
    auto logits = model->forward(x);
    loss += torch::nn::functional::cross_entropy(
                logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<double>();
  }
  return {loss / d.size(), correct / d.size()};
}

RunConfig read_run_config(const fs::path& dir) {
  if (!fs::exists(dir / "config.json"))
    throw Error(fmt::format("'{}' is not a critlab run directory (no config.json)", dir.string()));
  const auto config = io::read_json(dir / "config.json");
  RunConfig c;
  try {
    c.spec = nn::model_spec_from_json(config.at("model"));
    c.options = train_options_from_json(config.at("train"));
    c.supplied_data = config.value("data_source", std::string("fashion-mnist")) == "supplied";
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("'{}' is malformed: {}", (dir / "config.json").string(), e.what()));
  }
  return c;
}

RunConfig read_resumable_run_config(const fs::path& dir) {
  if (!fs::exists(dir / "config.json") || !fs::exists(dir / "checkpoints" / "state.json"))
    throw Error(fmt::format("'{}' holds no resumable run (config.json and checkpoints/state.json are needed)",
                            dir.string()));
  return read_run_config(dir);
}

LoadedRun load_run(const fs::path& dir, const c10::Device& device) {
  const auto config = read_run_config(dir);
  LoadedRun run;
  run.spec = config.spec;
  run.options = config.options;
  const auto state_path = dir / "checkpoints" / "state.json";
  if (!fs::exists(state_path))
    throw Error(fmt::format("'{}' has no checkpoint (checkpoints/state.json)", dir.string()));
  run.epoch = io::read_json(state_path).at("epoch");
  run.model = nn::build_model(run.spec, run.options.seed);
  try {
    torch::load(run.model, model_checkpoint_path(dir, run.epoch).string(), device);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot load checkpoint '{}': {}", model_checkpoint_path(dir, run.epoch).string(),
                            e.what_without_backtrace()));
  }
  run.model->to(device);
  return run;
}

}  // namespace critlab::train
