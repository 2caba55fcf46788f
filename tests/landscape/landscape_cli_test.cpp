// End to end: `critlab landscape` on a small recorded run: the stable JSON, sharpness at every recorded step,
// concentration with critical and random subsets, and bad input failing with one clear line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "critlab/io/files.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;

namespace {
const std::string kTrain =
    "train --arch mlp --depth 3 --width 32 --activation tanh --batch-size 100 --lr 0.05 --momentum 0 --seed "
    "3 "
    "--train-examples 1000 --threads 1 --record --record-points 5 --record-probes 200 --epochs 1 ";
}

TEST(LandscapeCli, RecordedRunGivesTheStableJsonSharpnessAndConcentration) {
  test::TempDir d;
  const auto run = d.path() / "run";
  ASSERT_EQ(run_cli(kTrain + "--out " + run.string()).exit_code, 0);
  auto r =
      run_cli("landscape --run " + run.string() +
              " --examples 300 --top-k 3 --smallest --trace-probes 30 --density --density-vectors 3 "
              "--density-steps 20 --slice 2d --slice-points 5 --interpolate 0 --concentration --radii 0.05 "
              "0.5 --directions 4 --sharpness --sharpness-iterations 20 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& h = j["hessian"];
  ASSERT_EQ(h["eigenvalues"].size(), 3u);
  EXPECT_GE(h["eigenvalues"][0].get<double>(), h["eigenvalues"][1].get<double>());
  EXPECT_GE(h["eigenvalues"][1].get<double>(), h["eigenvalues"][2].get<double>());
  EXPECT_GT(h["eigenvalues"][0].get<double>(), 0);
  EXPECT_LE(h["smallest"].get<double>(), h["eigenvalues"][2].get<double>());
  EXPECT_TRUE(h["trace"].is_number() && h["trace_se"].is_number());
  EXPECT_EQ(h["examples"], 300);
  EXPECT_TRUE(h.contains("status"));
  ASSERT_TRUE(j["density"]["grid"].is_array());
  EXPECT_EQ(j["density"]["grid"].size(), j["density"]["values"].size());
  ASSERT_EQ(j["slices"]["2d"]["alpha"].size(), 5u);
  // The centre of the plane is the network itself: its loss is the Hessian batch's loss on the same examples.
  EXPECT_NEAR(j["slices"]["2d"]["train"]["loss"][2][2].get<double>(), h["loss_value"].get<double>(), 1e-4);
  // The interpolation from step 0 ends at the measured network.
  const auto& line = j["interpolation"]["train"]["loss"];
  EXPECT_NEAR(line[25].get<double>(), h["loss_value"].get<double>(), 1e-4);  // t = 1 on the 31-point grid
  // Concentration: all, critical and random at both radii.
  ASSERT_EQ(j["concentration"].size(), 6u);
  EXPECT_EQ(j["concentration"][2]["subset"], "critical");
  EXPECT_EQ(j["concentration"][4]["subset"], "random");
  EXPECT_EQ(j["concentration_info"]["subset_sizes"]["critical"],
            j["concentration_info"]["subset_sizes"]["random"]);
  for (const auto& c : j["concentration"])
    for (const char* k : {"radius", "mean", "sd", "q05", "q50", "q95", "subset"})
      EXPECT_TRUE(c.contains(k)) << k;
  // Sharpness at every recorded step, with 2/lr beside it.
  const auto steps = io::read_json(run / "record" / "meta.json")["schedule"];
  ASSERT_EQ(j["sharpness"].size(), steps.size());
  for (const auto& p : j["sharpness"]) {
    EXPECT_GT(p["lambda_max"].get<double>(), 0);
    EXPECT_NEAR(p["two_over_lr"].get<double>(), 40, 1e-9);
  }
  // The last recorded step is the last checkpoint: its lambda_max is the Hessian's top eigenvalue.
  EXPECT_NEAR(j["sharpness"].back()["lambda_max"].get<double>() / h["eigenvalues"][0].get<double>(), 1, 1e-2);
  EXPECT_TRUE(std::filesystem::exists(run / "landscape" / "landscape.json"));

  // --step: the recorded network at step 0 differs from the trained one.
  auto r0 = run_cli("landscape --run " + run.string() +
                    " --step 0 --examples 300 --top-k 1 --no-trace "
                    "--slice none --threads 1 --json --out " +
                    (d.path() / "l0").string());
  ASSERT_EQ(r0.exit_code, 0) << r0.err;
  const auto j0 = nlohmann::json::parse(r0.out);
  EXPECT_NEAR(
      j0["hessian"]["eigenvalues"][0].get<double>() / j["sharpness"].front()["lambda_max"].get<double>(), 1,
      1e-2);
  EXPECT_TRUE(j0["hessian"]["trace"].is_null());
  EXPECT_EQ(j0["hessian"]["trace_status"], "not-run");
  EXPECT_EQ(j0["sharpness_status"], "not-run");
}

TEST(LandscapeCli, BadInputFailsWithOneClearLine) {
  test::TempDir d;
  const auto run = d.path() / "run";
  const std::string train = fmt::format(
      "train --arch mlp --depth 2 --width 16 --batch-size 100 --train-examples 500 --threads 1 --epochs 1 "
      "--out {}",
      run.string());
  ASSERT_EQ(run_cli(train).exit_code, 0);
  const std::string base = "landscape --run " + run.string() + " --threads 1 --slice none ";
  test::expect_one_line_error(run_cli(base + "--step 3"), "has no recording");
  test::expect_one_line_error(run_cli(base + "--sharpness"), "has no recording");
  test::expect_one_line_error(run_cli(base + "--examples 0"), "--examples must be in [1, 60000]");
  test::expect_one_line_error(run_cli(base + "--top-k 100000"), "top-k must be in [1, 1000]");
  // A network of 805 parameters (784-1-10) asked for 900 eigenvalues.
  const auto tiny = d.path() / "tiny";
  ASSERT_EQ(run_cli(fmt::format("train --arch mlp --depth 1 --width 1 --batch-size 100 --train-examples 200 "
                                "--threads 1 --epochs 1 --out {}",
                                tiny.string()))
                .exit_code,
            0);
  test::expect_one_line_error(
      run_cli("landscape --run " + tiny.string() + " --threads 1 --slice none --top-k 900"),
      "--top-k 900 is more than the model's 805 parameters");
  test::expect_one_line_error(run_cli("landscape --threads 1"), "give --run DIR or --model FILE.pt");
  test::expect_one_line_error(run_cli(base + "--loss hinge"), "loss");
  test::expect_one_line_error(run_cli("landscape --run " + (d.path() / "none").string()), "none");
  const auto rec = d.path() / "rec";
  ASSERT_EQ(run_cli(kTrain + "--out " + rec.string()).exit_code, 0);
  test::expect_one_line_error(
      run_cli("landscape --run " + rec.string() + " --threads 1 --slice none --step 7"),
      "step 7 was not recorded");
  // A recording whose parameters were removed: no parameters saved.
  std::vector<std::filesystem::path> params;
  for (const auto& e : std::filesystem::recursive_directory_iterator(rec / "record"))
    if (e.path().filename().string().rfind("param_", 0) == 0) params.push_back(e.path());
  ASSERT_FALSE(params.empty());
  for (const auto& p : params) std::filesystem::remove(p);
  test::expect_one_line_error(
      run_cli("landscape --run " + rec.string() + " --threads 1 --slice none --step 0"),
      "no saved parameter");
}
