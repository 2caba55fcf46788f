// Supervised training of a LayerStack on an image dataset, into a run directory:
//
//   DIR/config.json       resolved model spec, training options, runtime (versions, BLAS, threads, device)
//   DIR/metrics.csv       one row per logged step and per epoch end (is_epoch_end = 1 rows carry test
//   figures);
//                         distance / lambda_max filled on rows where the criticality monitor ran; penalty,
//                         lambda and batch_distance (the regulariser's own estimate) when it is on
//   DIR/tables/monitor_gains.csv   per-layer gain_sq at every monitor step
//   DIR/checkpoints/      model-<epoch>.pt, optimizer-<epoch>.pt and state.json (the commit point), atomic
//   DIR/summary.json      final figures, written once, only when training completed
//   DIR/plots/            loss, accuracy and monitor curves
//   DIR/record/           with `record`: activity and weights on a probe set at log-spaced steps, written by
//                         graph::RecordingCallback, which the caller attaches (the trainer knows no graphs)
//
// Epoch 0 (the initial weights) is checkpointed first, so even a run that diverges keeps a good state.
// A run resumes from its last committed epoch; batch order depends only on (seed, epoch), so a resumed run
// sees the same batches as an uninterrupted one. A non-finite loss throws DivergenceError.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "critlab/core/progress.h"
#include "critlab/data/dataset.h"
#include "critlab/nn/model.h"
#include "critlab/train/callbacks.h"
#include "critlab/train/options.h"
#include "critlab/train/run.h"

namespace critlab::train {

// What a caller supplies beside the options.
struct TrainEnvironment {
  // The data to train and test on, images [N, ...input_shape] float and labels [N] int64, on any device.
  // Empty: Fashion-MNIST from options.data_dir, its training set cut to options.train_examples. A run
  // trained on supplied data is marked so in config.json, and resuming it needs the same data supplied.
  std::optional<data::Dataset> train, test;
  TrainCallbacks callbacks;  // monitors, called in order
  ProgressFn progress;       // progress over optimiser steps; empty: silent
};

struct TrainSummary {
  double test_accuracy = 0, test_loss = 0;
  double train_accuracy = 0, train_loss = 0;  // running means over the last epoch
  std::int64_t epochs = 0, steps = 0;
  double seconds = 0;
  // Training throughput of this invocation; nullopt when it trained no step (a resume after the last
  // epoch's checkpoint only measures and writes the summary).
  std::optional<double> examples_per_second;
  nlohmann::json criticality;  // final measurement (distance, lambda_max, gains)
};
nlohmann::json to_json(const TrainSummary& s);

// Starts a new run in `dir` (which must not already hold one).
TrainSummary train_new(const std::filesystem::path& dir, const nn::ModelSpec& spec,
                       const TrainOptions& options, const TrainEnvironment& env = {});

// Continues the run in `dir` from its last checkpoint; `epochs` (if set) replaces the total epoch count and
// may not be below the epochs already trained. Nothing in `dir` changes until the checkpoint, the metrics
// and the tables have been read back and checked. A finished run (summary.json present, every epoch done)
// is refused: there is nothing to resume.
TrainSummary train_resume(const std::filesystem::path& dir, std::optional<std::int64_t> epochs = std::nullopt,
                          const TrainEnvironment& env = {});

}  // namespace critlab::train
