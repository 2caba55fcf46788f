// The experiments' options: the presets are the library's (the CLI passes only what the user gave), the
// methods and streams are enums with their one spelling, and IsValid names the field first (null-safe).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "critlab/experiments/continual.h"
#include "critlab/experiments/critical_training.h"

using namespace critlab;
using namespace critlab::experiments;

TEST(ContinualOptions, FullPresetFillsWhatTheCallerDidNotSet) {
  ContinualOptions o;
  o.full = true;
  o.tasks = 12;         // differs from the default: kept
  o.given = {"seeds"};  // the default value, given on purpose: kept
  const auto r = with_continual_presets(o);
  EXPECT_EQ(r.tasks, 12);
  EXPECT_EQ(r.examples_per_task, 60000);
  EXPECT_EQ(r.width, 2000);
  EXPECT_EQ(r.depth, 3);
  EXPECT_EQ(r.seeds, 1);
  // Idempotent: the resolved options are what experiment.json records.
  EXPECT_EQ(to_json(with_continual_presets(r)), to_json(r));
}

TEST(ContinualOptions, RegressionPresetIsDohareEtAlsLearnerAndTaskLength) {
  ContinualOptions o;
  o.stream = ContinualStream::kRegression;
  o.flip_every = 300;
  auto r = with_continual_presets(o);
  EXPECT_EQ(r.depth, 1);
  EXPECT_EQ(r.width, 5);
  EXPECT_EQ(r.examples_per_task, 300);
  EXPECT_EQ(r.probe_examples, 1000);
  EXPECT_EQ(r.tasks, 100);
  // With full: the protocol size of full, the learner and task length of the regression stream.
  o.full = true;
  o.given = {"width"};
  r = with_continual_presets(o);
  EXPECT_EQ(r.tasks, 800);
  EXPECT_EQ(r.seeds, 3);
  EXPECT_EQ(r.width, 100);  // given
  EXPECT_EQ(r.depth, 1);
  EXPECT_EQ(r.examples_per_task, 300);
  // The classification stream keeps the defaults without full.
  EXPECT_EQ(to_json(with_continual_presets(ContinualOptions{})), to_json(ContinualOptions{}));
}

TEST(ContinualOptions, EnumsAndIsValidNameTheField) {
  EXPECT_EQ(to_string(ContinualMethod::kShrinkPerturb), "shrink-perturb");
  EXPECT_EQ(from_string<ContinualMethod>("criticality-regularizer"),
            ContinualMethod::kCriticalityRegularizer);
  EXPECT_EQ(from_string<ContinualStream>("permuted-labels"), ContinualStream::kPermutedLabels);
  EXPECT_THROW(from_string<ContinualMethod>("sgd-magic"), Error);
  ContinualOptions o;
  EXPECT_TRUE(o.IsValid(nullptr));
  o.examples_per_task = 0;
  EXPECT_FALSE(o.IsValid(nullptr));
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_EQ(error.rfind("examples_per_task must be in [1, 60000]", 0), 0u) << error;
  o = ContinualOptions{};
  o.methods = {ContinualMethod::kL2, ContinualMethod::kL2};
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_EQ(error.rfind("methods", 0), 0u) << error;
  EXPECT_EQ(to_json(ContinualOptions{}).at("methods").at(2), "shrink-perturb");
}

TEST(CriticalTrainingOptions, FullPresetFillsWhatTheCallerDidNotSet) {
  CriticalTrainingOptions o;
  EXPECT_EQ(to_json(with_critical_training_presets(o)), to_json(o));  // no preset without full
  o.full = true;
  o.epochs = 2;
  o.given = {"robustness.examples"};
  const auto r = with_critical_training_presets(o);
  EXPECT_EQ(r.epochs, 2);
  EXPECT_EQ(r.train_examples, 0);
  EXPECT_EQ(r.seeds, 5);
  EXPECT_EQ(r.robustness.examples, 500);
  EXPECT_TRUE(r.IsValid(nullptr));
  std::string error;
  o.monitor_every = 0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_EQ(error.rfind("monitor_every", 0), 0u) << error;
  EXPECT_FALSE(o.IsValid(nullptr));
}
