// End to end: `critlab train --record` then `critlab graph --json` on a small run. Checks the acceptance
// interface, that pruning nothing reproduces the run's test accuracy exactly, that a run killed mid-epoch
// records the same activity after resuming, and that bad input fails cleanly.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "critlab/io/files.h"
#include "critlab/io/npy.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;

namespace {
const std::string kTrain =
    "train --arch mlp --depth 3 --width 48 --activation tanh --batch-size 100 "
    "--lr 0.05 --seed 2 --train-examples 2000 --threads 1 --record --record-points 12 "
    "--record-probes 200 ";
}

TEST(GraphCli, RecordedRunAnalysedWithTheAcceptanceInterface) {
  test::TempDir d;
  const auto run = d.path() / "run";
  ASSERT_EQ(run_cli(kTrain + "--epochs 2 --out " + run.string()).exit_code, 0);
  const auto meta = io::read_json(run / "record" / "meta.json");
  const auto schedule = meta["schedule"].get<std::vector<std::int64_t>>();
  EXPECT_EQ(schedule.front(), 0);
  EXPECT_EQ(schedule.back(), 40);  // 2 epochs x 20 batches
  EXPECT_EQ(io::read_npy(run / "record" / "step-00000040" / "block1_post.npy").sizes(),
            (at::IntArrayRef{200, 48}));
  EXPECT_EQ(io::read_npy(run / "record" / "step-00000040" / "block1_post.npy").scalar_type(), at::kHalf);
  EXPECT_EQ(io::read_npy(run / "record" / "step-00000040" / "param_block1.linear.weight.npy").sizes(),
            (at::IntArrayRef{48, 48}));

  auto r = run_cli("graph --run " + run.string() + " --json --threads 1 --prune-fractions 1 0.3 0.05");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["percolation"].size(), schedule.size());
  for (const auto& p : j["percolation"]) {
    EXPECT_GE(p["p_inf"].get<double>(), 0.0);
    EXPECT_LE(p["p_inf"].get<double>(), 1.0);
    EXPECT_GE(p["susceptibility"].get<double>(), 0.0);
    EXPECT_TRUE(p.contains("step"));
  }
  EXPECT_TRUE(j["transition"].contains("step"));
  EXPECT_TRUE(j["transition"].contains("beta"));
  EXPECT_TRUE(j["transition"].contains("status") && j["transition"].contains("message"));
  if (j["transition"]["status"] == "ok")
    EXPECT_EQ(j["transition"]["beta_ci"].size(), 2u);
  else
    EXPECT_TRUE(j["transition"]["beta"].is_null() && j["transition"]["beta_ci"].is_null());
  ASSERT_EQ(j["pruning"]["status"], "ok");
  const auto& curve = j["pruning"]["curve"];
  ASSERT_EQ(curve.size(), 3u);
  const double acc = io::read_json(run / "summary.json")["test_accuracy"];
  EXPECT_DOUBLE_EQ(curve[0]["fraction_kept"].get<double>(), 1.0);
  for (const char* k : {"critical", "random", "magnitude"})
    EXPECT_NEAR(curve[0][k].get<double>(), acc, 1e-12) << k;
  for (const auto& p : curve)
    EXPECT_TRUE(p.contains("critical") && p.contains("random") && p.contains("magnitude"));
  EXPECT_EQ(j["pruning"]["ccg"].size(), 10u);
  for (const char* f :
       {"graph/summary.json", "graph/tables/percolation_steps.csv", "graph/tables/critical_neurons.csv",
        "graph/tables/pruning.csv", "graph/ccg/class0.graphml", "graph/ccg/class9.dot",
        "graph/plots/p_inf_vs_step.csv", "graph/plots/raster_layer0_step40.dat"})
    EXPECT_TRUE(std::filesystem::exists(run / f)) << f;
  EXPECT_NE(io::read_text(run / "graph/ccg/class0.graphml").find("<graphml"), std::string::npos);
  // The class graphs render: PNG files (signature \x89PNG) of non-zero size, and no gnuplot leftovers.
  for (int c = 0; c < 10; ++c) {
    const auto png = run / "graph" / "ccg" / fmt::format("class{}.png", c);
    ASSERT_TRUE(std::filesystem::exists(png)) << png;
    const auto bytes = io::read_text(png);
    EXPECT_GT(bytes.size(), 1000u) << png;
    EXPECT_EQ(bytes.substr(0, 4), "\x89PNG") << png;
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(run / "graph"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // A failed rerun (here: a --compare run that does not exist) leaves the report exactly as it was.
  const auto before = io::read_text(run / "graph" / "summary.json");
  auto failed =
      run_cli("graph --run " + run.string() + " --theta 0.3 --compare " + (d.path() / "none").string());
  EXPECT_EQ(failed.exit_code, 2) << failed.err;
  EXPECT_EQ(io::read_text(run / "graph" / "summary.json"), before);
  std::int64_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(run))
    files += e.path().filename().string()[0] == '.' && e.path().filename() != ".lock";
  EXPECT_EQ(files, 0);  // no staging directory left beside the report
}

TEST(GraphCli, KilledRecordingResumesToTheSameActivity) {
  test::TempDir d;
  const auto ref = d.path() / "ref", run = d.path() / "run";
  ASSERT_EQ(run_cli(kTrain + "--epochs 1 --out " + ref.string()).exit_code, 0);
  EXPECT_EQ(run_cli(kTrain + "--epochs 1 --test-kill-at-step 12 --out " + run.string()).exit_code, 137);
  ASSERT_EQ(run_cli("train --resume " + run.string()).exit_code, 0);
  const auto steps = io::read_json(ref / "record" / "meta.json")["schedule"].get<std::vector<std::int64_t>>();
  for (const auto s : steps) {
    const auto rel = std::filesystem::path("record") / fmt::format("step-{:08d}", s) / "block2_post.npy";
    ASSERT_TRUE(std::filesystem::exists(run / rel)) << rel;
    EXPECT_TRUE(io::read_npy(run / rel).equal(io::read_npy(ref / rel))) << rel;
  }
  // No half-written step directory is left behind.
  for (const auto& e : std::filesystem::directory_iterator(run / "record"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(GraphCli, BadInputFailsWithOneClearLine) {
  test::TempDir d;
  const auto run = d.path() / "plain";
  ASSERT_EQ(
      run_cli("train --arch mlp --depth 2 --width 16 --epochs 1 --train-examples 500 --out " + run.string())
          .exit_code,
      0);
  auto r = run_cli("graph --run " + run.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--record"), std::string::npos) << r.err;
  auto t = run_cli("graph --run " + run.string() + " --theta 1.5");
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.err.find("--theta"), std::string::npos) << t.err;
  auto p = run_cli("train --arch mlp --depth 2 --width 16 --epochs 1 --record --record-probes 1 --out " +
                   (d.path() / "x").string());
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("--record-probes"), std::string::npos) << p.err;
}
