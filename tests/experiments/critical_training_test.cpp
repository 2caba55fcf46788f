// Must-show 2 (issue 5): from an ordered (sigma_w = 0.8) and a chaotic (sigma_w = 2.5) 20-layer tanh MLP, one
// short epoch on Fashion-MNIST with the regulariser or the controller brings the measured distance to
// criticality below 0.1, and well below plain training from the same start. Also the CLI acceptance
// interface (train --criticality ... then measure --run) and the experiment's resume.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "critlab/io/files.h"
#include "critlab/io/table.h"
#include "critlab/train/trainer.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;

namespace {
double trained_distance(const std::filesystem::path& dir, double sigma_w, CriticalityMode mode,
                        double strength) {
  auto spec = nn::mlp_spec(20, 64, Activation::kTanh, sigma_w, 0.05);
  train::TrainOptions o;
  o.lr = 0.01;
  o.seed = 1;
  o.train_examples = 20000;
  o.threads = 1;
  o.criticality.mode = mode;
  o.criticality.strength = strength;
  return train::train_new(dir, spec, o).criticality.at("distance_to_criticality").get<double>();
}
}  // namespace

TEST(CriticalTraining, RegularizerAndControllerReachCriticalityFromOrderedAndChaoticStarts) {
  test::TempDir d;
  for (double sigma_w : {0.8, 2.5}) {
    const auto tag = std::to_string(sigma_w);
    const double plain = trained_distance(d.path() / ("plain" + tag), sigma_w, CriticalityMode::kOff, 1.0);
    const double reg =
        trained_distance(d.path() / ("reg" + tag), sigma_w, CriticalityMode::kRegularizer, 3.0);
    const double ctl = trained_distance(d.path() / ("ctl" + tag), sigma_w, CriticalityMode::kController, 0.5);
    SCOPED_TRACE("sigma_w " + tag);
    EXPECT_GT(plain, 0.15);
    EXPECT_LT(reg, 0.1);
    EXPECT_LT(ctl, 0.1);
    EXPECT_LT(reg, plain / 3);
    EXPECT_LT(ctl, plain / 3);
  }
}

TEST(CriticalTraining, CliTrainsWithTheControllerAndMeasureReadsTheRun) {
  test::TempDir d;
  const auto run = d.path() / "run";
  auto r = run_cli(
      "train --arch mlp --depth 8 --width 64 --activation tanh --sigma-w 2.5 --sigma-b 0.05 --lr 0.01 "
      "--criticality controller --criticality-strength 0.5 --criticality-tolerance 0.05 "
      "--train-examples 10000 --log-every 10 --threads 1 --out " +
      run.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto config = io::read_json(run / "config.json");
  EXPECT_EQ(config["train"]["criticality"]["mode"], "controller");
  EXPECT_EQ(config["model"]["init"], "gaussian");
  EXPECT_TRUE(std::filesystem::exists(run / "plots" / "criticality_control.csv"));
  auto m = run_cli("measure --run " + run.string() + " --json");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_LT(nlohmann::json::parse(m.out)["distance_to_criticality"].get<double>(), 0.1);

  auto bad = run_cli("train --criticality sometimes --out " + (d.path() / "x").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("regularizer"), std::string::npos) << bad.err;
  bad = run_cli("train --criticality controller --criticality-strength 5 --out " + (d.path() / "y").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--criticality-strength"), std::string::npos) << bad.err;
}

TEST(CriticalTraining, ExperimentResumesWithoutRecomputingFinishedCells) {
  test::TempDir d;
  const std::string args =
      "experiment critical-training --archs relu-mlp --methods plain,controller,jacobian-norm "
      "--seeds 2 --train-examples 1500 --robust-examples 100 --threads 1 --monitor-every 5 --json "
      "--out ";
  const auto ref = d.path() / "ref", run = d.path() / "run";
  auto a = run_cli(args + ref.string());
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(nlohmann::json::parse(a.out)["computed"], 6);

  // Killed in the middle of the first cell's training, then run again to the end.
  auto k = run_cli("experiment critical-training --test-kill-at-step 7 " + args.substr(29) + run.string());
  EXPECT_EQ(k.exit_code, 137);
  EXPECT_FALSE(std::filesystem::exists(run / "results.md"));
  auto b = run_cli(args + run.string());
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(io::read_text(run / "cells.csv").substr(0, 200), io::read_text(ref / "cells.csv").substr(0, 200));
  const auto ref_cells = io::read_text(ref / "cells.csv");
  const auto run_cells = io::read_text(run / "cells.csv");
  // Every column except the wall-clock seconds at the end is identical.
  auto strip_seconds = [](const std::string& csv) {
    std::string out, line;
    std::istringstream in(csv);
    while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  EXPECT_EQ(strip_seconds(run_cells), strip_seconds(ref_cells));

  // A third run recomputes nothing.
  auto c = run_cli(args + run.string());
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["computed"], 0);
  EXPECT_EQ(j["reused"], 6);
  EXPECT_TRUE(std::filesystem::exists(run / "results.md"));
  EXPECT_TRUE(std::filesystem::exists(run / "plots" / "clean_accuracy.dat"));

  // A changed protocol under finished cells is refused.
  auto bad = run_cli(
      "experiment critical-training --archs relu-mlp --methods plain --seeds 2 --train-examples 999 "
      "--out " +
      run.string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("different protocol"), std::string::npos) << bad.err;
  bad = run_cli("experiment critical-training --methods plain,magic --out " + (d.path() / "z").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("magic"), std::string::npos) << bad.err;
}
