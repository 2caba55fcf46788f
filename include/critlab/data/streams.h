// Continual-learning task streams (Dohare et al., "Loss of plasticity in deep continual learning", 2024).
//
// Every task is a pure function of (seed, task index), so any task can be regenerated after an interruption
// without replaying the stream.
//   permuted pixels   task t: a fresh pixel permutation and a fresh sample of training images
//   permuted labels   task t: a fresh permutation of the ten labels over a fresh sample of images
//   slowly-changing regression (the "bit-flipping" problem): 20 input bits, the first 15 flip slowly (one
//                     bit, chosen uniformly, every `flip_every` examples), the last 5 are fresh coin flips at
//                     every example; the target is a fixed network of 100 linear threshold units (LTUs)
//                     with input and bias weights in {-1, +1}, LTU i firing when w_i . [x; 1] > theta_i with
//                     theta_i = beta * 21 - S_i (S_i the number of its negative weights, beta = 0.7), and
//                     output weights in {-1, +1}: y = sum_i v_i LTU_i(x).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "critlab/data/dataset.h"

namespace critlab::data {

// Mixes (seed, stream, index) into one generator seed (splitmix64), so tasks are independent and addressable.
std::uint64_t mix(std::uint64_t seed, std::uint64_t a, std::uint64_t b);

enum class StreamKind { kPermutedPixels, kPermutedLabels };

// One task of a classification stream: `examples` images drawn without replacement from `pool` (all of it
// when examples >= its size, in a task-specific order), transformed by the task's permutation.
struct Task {
  Dataset data;
  at::Tensor permutation;  // pixels (permuted-pixels) or labels (permuted-labels): new = old[permutation]
};

class TaskStream {
 public:
  TaskStream(const Dataset& pool, StreamKind kind, std::int64_t examples_per_task, std::uint64_t seed);
  // Task t (t >= 0); the same (pool, kind, examples, seed, t) always gives the same task.
  Task task(std::int64_t t) const;

 private:
  const Dataset& pool_;
  StreamKind kind_;
  std::int64_t examples_;
  std::uint64_t seed_;
};

class SlowlyChangingRegression {
 public:
  static constexpr int kInputs = 20, kSlowBits = 15, kUnits = 100;

  SlowlyChangingRegression(std::uint64_t seed, std::int64_t flip_every = 10000, double beta = 0.7);
  // The next `n` examples of the stream: inputs [n, 20] in {0, 1} (float32) and targets [n] (float32).
  std::pair<at::Tensor, at::Tensor> next(std::int64_t n);
  // The target function on arbitrary inputs [n, 20] in {0, 1}.
  at::Tensor target(const at::Tensor& x) const;

  std::int64_t position() const { return position_; }
  const std::vector<int>& slow_bits() const { return slow_; }
  // The target network's parameters: input weights [100, 20], bias weights [100], thresholds [100], output
  // weights [100].
  const at::Tensor& weights() const { return w_; }
  const at::Tensor& bias_weights() const { return b_; }
  const at::Tensor& thresholds() const { return theta_; }
  const at::Tensor& output_weights() const { return v_; }

 private:
  std::uint64_t seed_;
  std::int64_t flip_every_;
  std::int64_t position_ = 0;
  std::vector<int> slow_;
  at::Tensor w_, b_, theta_, v_;
  std::uint64_t state_;  // splitmix64 state for the input bits (cheap and exactly reproducible)
  std::uint64_t next_u64();
};

}  // namespace critlab::data
