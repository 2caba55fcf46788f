// Private to the library (not installed): small tensor helpers the measures and the criticality regulariser
// share.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace critlab::measure {

// Random signs (+1/-1) drawn on a CPU generator seeded with `seed` (the same on any device), then moved
// to options.device().
at::Tensor rademacher(at::IntArrayRef sizes, const at::TensorOptions& options, std::uint64_t seed);

// Numbers per example of a [B, ...] tensor (a block's fan-in or fan-out).
std::int64_t per_example(const at::Tensor& t);

// [B, ...] -> [B*k, ...], each example repeated k times consecutively (example b at rows b*k .. b*k+k-1).
at::Tensor repeat_examples(const at::Tensor& x, std::int64_t k);

}  // namespace critlab::measure

namespace torch::nn {
class Module;
}

namespace critlab::measure {

// Converts a module's floating-point parameters and buffers to double for a scope and restores each to its
// own dtype afterwards (float -> double -> float is exact). Integer buffers (batch norm's step counter) are
// left alone, unlike Module::to(dtype), which would convert them too. For measures that difference tiny
// perturbations (dynamic range, branching), where single precision would round them away.
class DoublePrecisionScope {
 public:
  explicit DoublePrecisionScope(torch::nn::Module& module);
  ~DoublePrecisionScope();
  DoublePrecisionScope(const DoublePrecisionScope&) = delete;
  DoublePrecisionScope& operator=(const DoublePrecisionScope&) = delete;

 private:
  std::vector<std::pair<at::Tensor, c10::ScalarType>> saved_;
};

}  // namespace critlab::measure
