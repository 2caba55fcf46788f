// The survey's measuring half: every model of a manifest measured by `critlab measure`, one child process per
// model, so that a model that crashes, hangs or exhausts memory costs only its own row. No libtorch here: the
// children do the measuring.
//
// The manifest is a CSV with one row per model: `model` (a TorchScript file or a critlab run directory,
// relative to the manifest's folder or absolute), `name` (letters, digits, '.', '_', '-'; unique), and
// optionally `family`, `year`, `accuracy`, `input_shape` (C,H,W for a TorchScript file) and any other
// columns, which models.csv keeps. Bad rows are reported by line number and the survey goes on where it can.
//
// Resumable: a measured model is committed as OUT/models/<name>.json (atomically) and never measured again by
// a rerun; models.csv is rewritten (atomically) after every model. A failed model is recorded in models.csv
// with its error and measured again by the next run.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "critlab/core/progress.h"
#include "critlab/io/csv.h"

namespace critlab::survey {

struct SurveyOptions {
  std::filesystem::path manifest;         // the CSV described above
  std::filesystem::path out;              // models/, models.csv (and the analysis, written by the caller)
  std::filesystem::path program;          // the critlab (or critlab-engine) executable that runs `measure`
  std::vector<std::string> measure_args;  // flags for every `critlab measure` (e.g. --probes 32)
  int threads = 0;                        // cores to use in all (0 = every core)
  int jobs = 0;                           // small models measured at once (0 = threads)
  double small_model_mb = 32;  // a model file (a run's last checkpoint) below this is small: run in parallel,
                               // each child with threads / jobs threads; a larger one runs alone
  double timeout_s = 3600;     // per model; a child past it is killed and its row records the timeout
  ProgressFn progress;         // one event per model finished

  bool IsValid(std::string* error) const;
};

struct ModelOutcome {
  std::string name;
  std::int64_t line = 0;
  std::string status;  // measured, reused (committed by an earlier run), failed
  std::string error;   // the child's last line of stderr, or the manifest problem
  double seconds = 0;  // wall time of this run's measurement (0 when reused)
};

struct SurveyRun {
  std::vector<ModelOutcome> models;   // in manifest order (rows that name no usable model are not here)
  std::vector<std::string> problems;  // "line N: ..." for every bad manifest row
  io::TextTable table;                // models.csv as written
  std::int64_t measured = 0, reused = 0, failed = 0;
  double seconds = 0;
};

// Throws critlab::Error for a manifest that cannot be read at all (missing, empty, no `model` or `name`
// column, a column that collides with one critlab writes) or an unwritable `out`; everything else is a row's
// problem. Holds a lock on `out` while it runs.
SurveyRun run_survey(const SurveyOptions& options);

// The columns critlab adds to the manifest's in models.csv, in order.
const std::vector<std::string>& survey_columns();

}  // namespace critlab::survey
