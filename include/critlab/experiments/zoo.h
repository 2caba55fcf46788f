// Experiment: a zoo of Fashion-MNIST models spanning a decade of innovations, trained here and entered in the
// survey (Vock & Meisel's headline claim, on models whose every difference we know).
//
// Families, in the order their recipe appeared (the `year` column): tanh MLPs with a naive, too small
// initialisation (W ~ N(0, 0.25 / fan_in), the ordered phase; 1986) -> Xavier initialisation (2010) -> ReLU
// (2011) -> He initialisation (2015) -> batch norm (2015) / layer norm (2016) -> residual connections with
// layer norm (2016) -> GELU (2018) / SiLU with Adam (2019); CNNs from LeNet-style tanh (1998) to
// batch-normalised SiLU (2019); ResNets with and without batch norm. Each family has several depths and
// widths (its members); the same member geometry across two families that differ by one innovation forms a
// pair (pair_<factor> columns), for the Wilcoxon test.
//
// Pipeline, resumable at every step: each model is trained by `critlab train` into OUT/runs/<name> (a
// finished run has summary.json and is never trained again; an unfinished one is trained afresh), the
// manifest OUT/manifest.csv is written with each model's test accuracy, the survey (survey/runner.h) measures
// every run into OUT/survey, and the analysis (survey/analysis.h) tests the claims with the factors below.
// Children run side by side, one thread each. No libtorch in this process: the children train and measure.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "critlab/core/progress.h"
#include "critlab/survey/analysis.h"
#include "critlab/survey/runner.h"

namespace critlab::experiments {

struct ZooModel {
  std::string name;                      // e.g. "mlp-relu-he-d4-w128"
  std::string family;                    // the recipe, e.g. "mlp-relu-he"
  int year = 0;                          // when the recipe's newest ingredient appeared
  std::string arch;                      // mlp, cnn or resnet
  std::string geometry;                  // e.g. "mlp-d4-w128": equal across the families of a pair
  std::vector<std::string> train_flags;  // for `critlab train` (architecture, sizes, init, optimiser, data)
  std::map<std::string, std::string> factors;  // factor column -> level ("no" / "yes")
};

// The factors the zoo's analysis tests: column=innovation-level:pair-column.
const std::vector<std::string>& zoo_factors();

struct ZooOptions {
  std::filesystem::path out;      // runs/, manifest.csv, survey/ (models.csv, analysis, plots, summary.md)
  std::filesystem::path program;  // the critlab executable (or critlab-engine) that runs train and measure
  bool full = false;              // longer training on all 60,000 images, larger members
  std::uint64_t seed = 1;         // training seed of every model (the probes' seed is fixed)
  int threads = 0;                // cores in all (0 = every core); each child uses one
  std::string data_dir;           // Fashion-MNIST ("" = critlab's default)
  int probes = 64;                // test images each model is measured on
  bool dynamic_range = true;      // measure the dynamic range too
  double timeout_s = 3600;        // per child
  std::vector<std::string> families;  // only these families (empty = all), e.g. for a quick look
  ProgressFn progress;

  bool IsValid(std::string* error) const;
};

// The zoo's members (82 by default; `full` trains the same members longer).
std::vector<ZooModel> zoo_models(const ZooOptions& options);

struct ZooResult {
  std::int64_t trained = 0, reused = 0, failed = 0;  // training
  std::vector<std::string> failures;                 // "<name>: <error>"
  survey::SurveyRun survey;
  survey::SurveyAnalysis analysis;
  double seconds = 0;
};

// Throws critlab::Error for bad options or an unwritable `out`; a model that fails to train is recorded and
// left out.
ZooResult run_zoo(const ZooOptions& options);

}  // namespace critlab::experiments
