// Progress of long computations, reported without printing: the library calls a ProgressFn where the caller
// gave one (an options struct's `progress` field, as Ceres' Solver::Options holds its callbacks) and does
// nothing where not. The command line passes one that draws a bar on a terminal (io/progress.h); a Python
// caller or a test may pass its own, or none.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>

namespace critlab {

struct ProgressEvent {
  std::string_view task;  // what is running, e.g. "train runs/relu3"; a new task starts a new bar
  std::int64_t done = 0;  // units of work done so far (done == total: the task has finished)
  std::int64_t total = 0;
  std::string_view note;  // a short status, e.g. "epoch 2/5 loss 0.412"
};

using ProgressFn = std::function<void(const ProgressEvent&)>;

inline void report_progress(const ProgressFn& progress, std::string_view task, std::int64_t done,
                            std::int64_t total, std::string_view note = {}) {
  if (progress) progress(ProgressEvent{task, done, total, note});
}

}  // namespace critlab
