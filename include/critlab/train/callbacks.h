// Monitors (DESIGN.md): code the trainer calls at fixed points of a run without knowing what it does. The
// activity recorder of correlation graphs (graph::RecordingCallback) is one; a test's simulated kill is
// another. The trainer calls every callback in the order given; a callback that throws stops the run like any
// error (the last committed checkpoint stays current).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "critlab/data/dataset.h"
#include "critlab/nn/stack.h"

namespace critlab::train {

// What a callback sees when a run starts.
struct TrainStart {
  std::filesystem::path dir;     // the run directory
  const data::Dataset* train;    // the training set, on the run's device
  std::int64_t total_steps = 0;  // optimiser steps of the whole run
  std::int64_t step = 0;         // steps already done (0 for a new run; the checkpoint's on resume)
  bool resumed = false;
};

class TrainCallback {
 public:
  virtual ~TrainCallback() = default;
  // Once, after the model is built and its checkpoint loaded (a new run: after epoch 0 is committed).
  virtual void on_start(const TrainStart& /*start*/, nn::LayerStack& /*model*/) {}
  // After each optimiser step; `step` counts the steps done (1 after the first).
  virtual void on_step(std::int64_t /*step*/, nn::LayerStack& /*model*/) {}
  // After epoch `epoch`'s checkpoint is committed.
  virtual void on_epoch_end(std::int64_t /*epoch*/, nn::LayerStack& /*model*/) {}
};

using TrainCallbacks = std::vector<std::shared_ptr<TrainCallback>>;

}  // namespace critlab::train
