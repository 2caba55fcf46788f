#include "critlab/data/streams.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "critlab/core/error.h"

namespace critlab::data {

std::uint64_t mix(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + a * 0xBF58476D1CE4E5B9ULL + b * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

TaskStream::TaskStream(const Dataset& pool, StreamKind kind, std::int64_t examples_per_task,
                       std::uint64_t seed)
    : pool_(pool), kind_(kind), examples_(examples_per_task), seed_(seed) {
  if (examples_per_task < 1) throw Error("examples_per_task must be at least 1");
  if (pool.size() < 1) throw Error("the task stream needs a non-empty pool of images");
}

Task TaskStream::task(std::int64_t t) const {
  if (t < 0) throw Error(fmt::format("task index must be >= 0, got {}", t));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(seed_, 1, static_cast<std::uint64_t>(t)));
  const auto n = std::min(examples_, pool_.size());
  const at::Tensor order =
      at::randperm(pool_.size(), gen, torch::kInt64).slice(0, 0, n).to(pool_.images.device());
  Task task;
  task.data.images = pool_.images.index_select(0, order);
  task.data.labels = pool_.labels.index_select(0, order);
  task.data.num_classes = pool_.num_classes;
  if (kind_ == StreamKind::kPermutedPixels) {
    const auto pixels = task.data.images[0].numel();
    task.permutation = at::randperm(pixels, gen, torch::kInt64).to(pool_.images.device());
    const auto shape = task.data.images.sizes().vec();
    task.data.images = task.data.images.flatten(1).index_select(1, task.permutation).reshape(shape);
  } else {
    task.permutation = at::randperm(pool_.num_classes, gen, torch::kInt64).to(pool_.labels.device());
    task.data.labels = task.permutation.index_select(0, task.data.labels);
  }
  return task;
}

SlowlyChangingRegression::SlowlyChangingRegression(std::uint64_t seed, std::int64_t flip_every, double beta)
    : seed_(seed), flip_every_(flip_every), state_(mix(seed, 2, 0)) {
  if (flip_every < 1) throw Error("the flip period must be at least 1 example");
  if (!(beta > 0 && beta < 1))
    throw Error(fmt::format("the LTU threshold beta must be in (0, 1), got {}", beta));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(seed, 3, 0));
  auto signs = [&](at::IntArrayRef shape) {
    return (at::randint(0, 2, shape, gen, torch::kFloat32) * 2 - 1);
  };
  w_ = signs({kUnits, kInputs});
  b_ = signs({kUnits});
  v_ = signs({kUnits});
  const auto negatives = (w_ < 0).sum(1).to(torch::kFloat32) + (b_ < 0).to(torch::kFloat32);
  theta_ = beta * (kInputs + 1) - negatives;
  slow_.resize(kSlowBits);
  for (auto& b : slow_) b = static_cast<int>(next_u64() & 1);
}

std::uint64_t SlowlyChangingRegression::next_u64() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

at::Tensor SlowlyChangingRegression::target(const at::Tensor& x) const {
  const at::Tensor fire = ((torch::matmul(x, w_.t()) + b_) > theta_).to(torch::kFloat32);
  return torch::matmul(fire, v_);
}

std::pair<at::Tensor, at::Tensor> SlowlyChangingRegression::next(std::int64_t n) {
  at::Tensor x = torch::empty({n, kInputs}, torch::kFloat32);
  float* p = x.data_ptr<float>();
  for (std::int64_t i = 0; i < n; ++i, ++position_) {
    // Every flip_every examples (after the first period), one slow bit chosen uniformly flips.
    if (position_ > 0 && position_ % flip_every_ == 0) slow_[next_u64() % kSlowBits] ^= 1;
    for (int k = 0; k < kSlowBits; ++k)
      p[i * kInputs + k] = static_cast<float>(slow_[static_cast<std::size_t>(k)]);
    const std::uint64_t fast = next_u64();
    for (int k = kSlowBits; k < kInputs; ++k)
      p[i * kInputs + k] = static_cast<float>((fast >> (k - kSlowBits)) & 1);
  }
  return {x, target(x)};
}

}  // namespace critlab::data
