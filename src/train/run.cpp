#include "critlab/train/run.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <sstream>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::train {

namespace fs = std::filesystem;

namespace {
// zlib's CRC-32 of all the bytes (crc32_z takes a size_t length: crc32's uInt would stop at 4 GiB).
std::uint32_t crc32_of(const std::string& bytes) {
  return static_cast<std::uint32_t>(crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}
}  // namespace

std::uint32_t write_checksummed(const fs::path& path, const std::string& bytes) {
  io::write_atomic(path, bytes);
  return crc32_of(bytes);
}

std::string read_checksummed(const fs::path& path, std::optional<std::uint32_t> expected) {
  if (!fs::exists(path))
    throw Error(fmt::format("checkpoint '{}' is missing; the run directory is damaged", path.string()));
  auto bytes = io::read_text(path, std::uintmax_t{64} << 30);
  if (expected) {
    const auto crc = crc32_of(bytes);
    if (crc != *expected)
      throw Error(fmt::format("checkpoint '{}' is damaged: its CRC-32 is {:08x}, state.json records {:08x}",
                              path.string(), crc, *expected));
  }
  return bytes;
}

namespace {
template <typename T>
std::uint32_t save_serialised(const T& value, const fs::path& path) {
  std::ostringstream out;
  torch::save(value, out);
  return write_checksummed(path, out.str());
}

template <typename T>
void load_serialised(T& value, const fs::path& path, std::optional<std::uint32_t> crc,
                     const c10::Device& device) {
  std::istringstream in(read_checksummed(path, crc));
  try {
    torch::load(value, in, device);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot load checkpoint '{}': {}", path.string(), e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(fmt::format("cannot load checkpoint '{}': {}", path.string(), e.what()));
  }
}
}  // namespace

std::uint32_t save_checkpoint(const nn::LayerStack& model, const fs::path& path) {
  return save_serialised(model, path);
}
std::uint32_t save_checkpoint(const torch::optim::Optimizer& optimizer, const fs::path& path) {
  return save_serialised(optimizer, path);
}
void load_checkpoint(nn::LayerStack& model, const fs::path& path, std::optional<std::uint32_t> crc,
                     const c10::Device& device) {
  load_serialised(model, path, crc, device);
}
void load_checkpoint(torch::optim::Optimizer& optimizer, const fs::path& path,
                     std::optional<std::uint32_t> crc, const c10::Device& device) {
  load_serialised(optimizer, path, crc, device);
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

LoadedRun load_run(const fs::path& dir, const c10::Device& device) {
  const auto config = read_run_config(dir);
  LoadedRun run;
  run.spec = config.spec;
  run.options = config.options;
  const auto state = read_checkpoint_state(dir);
  run.epoch = state.epoch;
  run.model = nn::build_model(run.spec, run.options.seed);
  load_checkpoint(run.model, model_checkpoint_path(dir, run.epoch), state.model_crc32, device);
  run.model->to(device);
  return run;
}

}  // namespace critlab::train
