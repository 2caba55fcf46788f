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
  // --theta is the fixed rule; naming another rule beside it is a contradiction, said in one line.
  auto both = run_cli("graph --run " + run.string() + " --theta 0.5 --theta-rule final");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--theta-rule final"), std::string::npos) << both.err;
  auto p = run_cli("train --arch mlp --depth 2 --width 16 --epochs 1 --record --record-probes 1 --out " +
                   (d.path() / "x").string());
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("--record-probes"), std::string::npos) << p.err;
}

// Finite-size scaling over compared runs: two widths and a second seed. Too few widths for a power law is
// said, not faked; the report goes where --out says and the run's own graph/ is untouched; the same seed and
// threads give the same numbers.
TEST(GraphCli, FiniteSizeOverComparedRuns) {
  test::TempDir d;
  const std::string train =
      "train --arch mlp --depth 2 --activation tanh --batch-size 100 --lr 0.05 --train-examples 1000 "
      "--epochs 1 --threads 1 --record --record-points 6 --record-probes 100 ";
  const auto a = d.path() / "w16", b = d.path() / "w32", c = d.path() / "w32s1";
  ASSERT_EQ(run_cli(train + "--width 16 --seed 0 --out " + a.string()).exit_code, 0);
  ASSERT_EQ(run_cli(train + "--width 32 --seed 0 --out " + b.string()).exit_code, 0);
  ASSERT_EQ(run_cli(train + "--width 32 --seed 1 --out " + c.string()).exit_code, 0);
  const auto out = d.path() / "fss";
  const std::string cmd = "graph --run " + a.string() + " --compare " + b.string() + " --compare " +
                          c.string() + " --no-pruning --threads 1 --json --out " + out.string();
  const auto r = run_cli(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(std::filesystem::exists(a / "graph"));
  EXPECT_TRUE(std::filesystem::exists(out / "tables" / "finite_size.csv"));
  EXPECT_TRUE(std::filesystem::exists(out / "plots" / "finite_size_chi_max.csv"));
  const auto& f = j["finite_size"];
  ASSERT_EQ(f["runs"].size(), 3u);
  EXPECT_EQ(f["widths"], 2);
  EXPECT_EQ(f["runs"][0]["width"], 16.0);
  EXPECT_EQ(f["runs"][2]["width"], 32.0);
  for (const auto& run : f["runs"]) {
    // Each run at its own trained network's percolation point (the final rule).
    ASSERT_TRUE(run["final"]["theta_c"].is_number()) << run.dump();
    EXPECT_EQ(run["theta"], run["final"]["theta_c"]);
    EXPECT_EQ(run["nodes"], run["initial"]["nodes"]);
    EXPECT_LE(run["nodes"].get<double>(), 2 * run["width"].get<double>());  // two hidden layers
  }
  // Three runs at two sizes: the power laws are fitted (3 points, 2 distinct N) with intervals.
  for (const char* k : {"chi_max_theta", "p_inf_at_theta_c", "largest_jump_theta"}) {
    const auto& s = f[k];
    if (s["status"] == "ok") {
      EXPECT_TRUE(s["exponent"].is_number()) << k;
      EXPECT_EQ(s["exponent_ci"].size(), 2u) << k;
      EXPECT_EQ(s["points"], 3) << k;
    } else {
      EXPECT_TRUE(s["exponent"].is_null() && s["exponent_ci"].is_null()) << k;
      EXPECT_FALSE(s["message"].get<std::string>().empty()) << k;
    }
  }
  const auto verdict = f["continuity"].get<std::string>();
  EXPECT_TRUE(verdict == "continuous" || verdict == "discontinuous" || verdict == "undecided") << verdict;
  EXPECT_FALSE(f["continuity_reason"].get<std::string>().empty());
  // Two seeds of one width: no power law in the width is fitted, and the verdict says why.
  const auto one = run_cli("graph --run " + b.string() + " --compare " + c.string() +
                           " --no-pruning --no-hebbian --threads 1 "
                           "--json --out " +
                           (d.path() / "one").string());
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto f1 = nlohmann::json::parse(one.out)["finite_size"];
  EXPECT_EQ(f1["widths"], 1);
  for (const char* k :
       {"chi_max_theta", "chi_max_theta_final", "largest_jump_theta_final", "chi_max_steps"}) {
    EXPECT_EQ(f1[k]["status"], "insufficient-data") << k;
    EXPECT_TRUE(f1[k]["exponent"].is_null()) << k;
  }
  EXPECT_EQ(f1["continuity"], "undecided");
  // Determinism: the same command gives the same JSON.
  const auto again = run_cli(cmd);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["finite_size"], f);
  EXPECT_EQ(nlohmann::json::parse(again.out)["hebbian"], j["hebbian"]);
}

// Issue 17's command: a width-256 ReLU run for one epoch. Its transition over training has a number for beta
// with an interval, or null with the status and message saying why; never a 0 standing for nothing. The same
// for theta_c at every step.
TEST(GraphCli, Width256RunGivesBetaOrItsStatus) {
  test::TempDir d;
  const auto run = d.path() / "run";
  ASSERT_EQ(run_cli("train --arch mlp --depth 3 --width 256 --activation relu --epochs 1 --batch-size 64 "
                    "--lr 0.05 --seed 3 --record --out " +
                    run.string())
                .exit_code,
            0);
  const auto r = run_cli("graph --run " + run.string() + " --json --no-pruning");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& t = j["transition"];
  if (t["status"] == "ok") {
    ASSERT_TRUE(t["beta"].is_number());
    ASSERT_EQ(t["beta_ci"].size(), 2u);
    EXPECT_LE(t["beta_ci"][0].get<double>(), t["beta"].get<double>());
    EXPECT_GE(t["beta_ci"][1].get<double>(), t["beta"].get<double>());
    EXPECT_GE(t["fit_points"].get<int>(), 3);
  } else {
    EXPECT_TRUE(t["beta"].is_null() && t["beta_ci"].is_null()) << t.dump();
    EXPECT_FALSE(t["message"].get<std::string>().empty());
  }
  EXPECT_EQ(j["theta_rule"], "final");
  ASSERT_EQ(j["theta_c"].size(), j["percolation"].size());
  EXPECT_EQ(j["theta"], j["theta_c"].back()["theta_c"]);
  for (const auto& row : j["theta_c"]) {
    ASSERT_EQ(row["status"], "ok") << row.dump();
    EXPECT_GT(row["theta_c"].get<double>(), 0.0);
    EXPECT_GT(row["chi_max"].get<double>(), 1.0);  // a peak: some finite cluster holds more than one node
  }
}
