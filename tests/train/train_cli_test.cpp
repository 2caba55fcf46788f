// Must-show 4: one epoch of a 3-layer ReLU MLP on Fashion-MNIST reaches 80% test accuracy; a run killed right
// after a checkpoint and again in the middle of an epoch resumes from its last checkpoint, keeps its
// completed epochs, and ends with exactly the numbers of an uninterrupted run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "critlab/core/runtime.h"
#include "critlab/io/files.h"
#include "critlab/io/table.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;

TEST(TrainCli, OneEpochReluMlpReachesEightyPercent) {
  test::TempDir d;
  const auto dir = d.path() / "run";
  auto r = run_cli(
      "train --arch mlp --depth 3 --width 256 --activation relu --epochs 1 --batch-size 128 --lr 0.05 "
      "--seed 1 --out " +
      dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = io::read_json(dir / "summary.json");
  EXPECT_GE(summary["test_accuracy"].get<double>(), 0.80);
  EXPECT_EQ(summary["epochs"], 1);
  const auto config = io::read_json(dir / "config.json");
  // The BLAS the run records is the one this process (the same libtorch, the same alternatives) has mapped.
  EXPECT_EQ(config["runtime"]["blas"], blas_info().name);
  EXPECT_EQ(config["runtime"]["blas_library"], blas_info().library);
  EXPECT_TRUE(std::filesystem::exists(dir / "plots" / "accuracy.csv"));
}

TEST(TrainCli, KillAndResumeLosesNothingAndMatchesAnUninterruptedRun) {
  test::TempDir d;
  const std::string common =
      "train --arch mlp --depth 2 --width 64 --activation tanh --epochs 3 --batch-size 100 "
      "--lr 0.05 --seed 4 --train-examples 3000 --log-every 10 --threads 1 ";
  const auto ref = d.path() / "ref", run = d.path() / "run";
  ASSERT_EQ(run_cli(common + "--out " + ref.string()).exit_code, 0);

  // Killed right after committing epoch 1.
  auto k1 = run_cli(common + "--test-kill-after-epoch 1 --out " + run.string());
  EXPECT_EQ(k1.exit_code, 137);
  EXPECT_FALSE(std::filesystem::exists(run / "summary.json"));
  EXPECT_EQ(io::read_json(run / "checkpoints" / "state.json")["epoch"], 1);
  const auto after_kill = io::read_csv(run / "metrics.csv");

  // Resumed, then killed in the middle of epoch 2 (step 45 of 90).
  auto k2 = run_cli("train --test-kill-at-step 45 --resume " + run.string());
  EXPECT_EQ(k2.exit_code, 137);
  EXPECT_EQ(io::read_json(run / "checkpoints" / "state.json")["epoch"], 1);
  EXPECT_FALSE(std::filesystem::exists(run / "summary.json"));

  // Resumed to the end.
  auto done = run_cli("train --resume " + run.string());
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const auto s_run = io::read_json(run / "summary.json"), s_ref = io::read_json(ref / "summary.json");
  EXPECT_EQ(s_run["epochs"], 3);
  EXPECT_EQ(s_run["steps"], 90);
  EXPECT_DOUBLE_EQ(s_run["test_accuracy"].get<double>(), s_ref["test_accuracy"].get<double>());
  EXPECT_NEAR(s_run["test_loss"].get<double>(), s_ref["test_loss"].get<double>(), 1e-9);

  // The epoch-1 rows written before the first kill survive unchanged; no row is duplicated.
  const auto m = io::read_csv(run / "metrics.csv"), m_ref = io::read_csv(ref / "metrics.csv");
  ASSERT_EQ(m.rows.size(), m_ref.rows.size());
  const auto step = m.column("step"), loss = m.column("train_loss");
  for (std::size_t i = 0; i < after_kill.rows.size(); ++i) {
    EXPECT_EQ(m.rows[i][step], after_kill.rows[i][step]);
    EXPECT_EQ(m.rows[i][loss], after_kill.rows[i][loss]);
  }
  for (std::size_t i = 0; i < m.rows.size(); ++i) {
    EXPECT_EQ(m.rows[i][step], m_ref.rows[i][step]);
    EXPECT_NEAR(m.rows[i][loss], m_ref.rows[i][loss], 1e-7);
  }

  // Extending a finished run continues it.
  auto more = run_cli("train --resume " + run.string() + " --epochs 4");
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_EQ(io::read_json(run / "summary.json")["epochs"], 4);
}

TEST(MeasureCli, FreshAndTrainedNetworksPrintTheInterfaceFields) {
  auto r = run_cli(
      "measure --arch mlp --depth 4 --width 64 --activation tanh --sigma-w 1.5 --sigma-b 0.1 --seed 2 "
      "--probes 32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 5u);
  EXPECT_EQ(j["layers"][0]["fan_in"], 784);
  EXPECT_EQ(j["layers"][0]["fan_out"], 64);
  for (const auto& l : j["layers"]) {
    EXPECT_NEAR(l["gain"].get<double>(), std::sqrt(l["gain_sq"].get<double>()), 1e-12);
    EXPECT_NEAR(l["log_gain"].get<double>(), std::log(l["gain"].get<double>()), 1e-12);
  }
  double d = 0;
  for (int i = 0; i < 4; ++i) d += std::abs(j["layers"][i]["log_gain"].get<double>());
  EXPECT_NEAR(j["distance_to_criticality"].get<double>(), d / 4, 1e-12);
  const auto ly = j["lyapunov"].get<std::vector<double>>();
  ASSERT_GE(ly.size(), 2u);
  for (std::size_t i = 1; i < ly.size(); ++i) EXPECT_GE(ly[i - 1], ly[i] - 1e-3);
  EXPECT_NEAR(j["mean_field"]["chi1"].get<double>(), 1.12905, 1e-4);  // tanh, sigma_w 1.5, sigma_b 0.1

  test::TempDir d2;
  const auto run = d2.path() / "run";
  ASSERT_EQ(
      run_cli("train --depth 2 --width 32 --epochs 1 --train-examples 1000 --out " + run.string()).exit_code,
      0);
  auto m = run_cli("measure --run " + run.string() + " --probes 16 --json");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const auto mj = nlohmann::json::parse(m.out);
  EXPECT_EQ(mj["layers"].size(), 3u);
  EXPECT_EQ(mj["source"]["epoch"], 1);
  EXPECT_TRUE(std::filesystem::exists(run / "measure" / "criticality.json"));
  EXPECT_TRUE(std::filesystem::exists(run / "measure" / "tables" / "gains.csv"));
}

TEST(TheoryCli, PrintsFixedPointAndChi) {
  auto r = run_cli("theory --activation relu --sigma-w 1.2 --sigma-b 0.3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["q_star"].get<double>(), 0.09 / 0.28, 1e-9);
  EXPECT_NEAR(j["chi1"].get<double>(), 0.72, 1e-12);
  EXPECT_EQ(j["phase"], "ordered");
}

TEST(BenchCli, QuickRunPrintsEveryFigure) {
  auto r = run_cli("bench --quick --repeats 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"sgemm_gflops"}) EXPECT_GT(j[key].get<double>(), 0) << key;
  EXPECT_GT(j["mlp_train"]["examples_per_second"].get<double>(), 0);
  EXPECT_GT(j["mlp_train"]["ratio_to_sgemm"].get<double>(), 0);
  EXPECT_GT(j["online"]["examples_per_second"].get<double>(), 0);
  EXPECT_GT(j["measure"]["full_over_train_step"].get<double>(), 0);
  EXPECT_EQ(j["runtime"]["blas"], blas_info().name);
  // The comparisons with what a user would run instead: figures when the other program ran, else null
  // figures with a status saying why (CI has python3-torch but not R's poweRlaw).
  const auto& py = j["mlp_train_vs_pytorch"];
  ASSERT_TRUE(py["status"] == "ok" || py["status"] == "not-run") << py.dump();
  if (py["status"] == "ok") {
    EXPECT_GT(py["critlab_speedup"].get<double>(), 0);
    EXPECT_EQ(py["pytorch_settings_ms"].size(), 2 * j["runtime"]["threads"].get<std::size_t>()) << py.dump();
  } else {
    EXPECT_TRUE(py["critlab_speedup"].is_null());
    EXPECT_FALSE(py["message"].get<std::string>().empty());
  }
  const auto& pl = j["powerlaw_vs_poweRlaw"];
  ASSERT_TRUE(pl["status"] == "ok" || pl["status"] == "not-run") << pl.dump();
  if (pl["status"] == "ok") {
    // Both fit Moby Dick: the same xmin and alpha to the optimisers' tolerance.
    EXPECT_EQ(pl["critlab"]["xmin"], pl["poweRlaw"]["xmin"]);
    EXPECT_NEAR(pl["critlab"]["alpha"].get<double>(), pl["poweRlaw"]["alpha"].get<double>(), 1e-4);
    EXPECT_GT(pl["poweRlaw_over_critlab"]["fit"].get<double>(), 0);
  } else {
    EXPECT_TRUE(pl["poweRlaw_over_critlab"].is_null());
    EXPECT_FALSE(pl["message"].get<std::string>().empty());
  }
  EXPECT_GT(j["powerlaw"]["comparisons_seconds"].get<double>(), 0);
}
