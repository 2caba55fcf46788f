// Must-show 2 of the code-shape issue: every number in every command's JSON is a result, or null with the
// reason beside it. Each command runs on degenerate input, where some results cannot be obtained, and the
// walker checks that every null sits in an object carrying "status" (or "<key>_status" for that key), that
// every status names a code and a non-ok one says why, and that the figures one expects to be missing are
// null, not 0, -1 or NaN.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "critlab/core/status.h"
#include "test_util.h"

using namespace critlab;
using nlohmann::json;
using test::run_cli;

namespace {

// `explained`: the array's own "<key>_status" says why some entries are null (e.g. annihilated directions).
void expect_nulls_explained(const json& j, const std::string& path = "", bool explained = false) {
  if (j.is_object()) {
    if (j.contains("status") && j["status"].is_string()) {
      const auto code = from_string<StatusCode>(j["status"].get<std::string>());  // throws on an unknown code
      if (code != StatusCode::kOk) {
        EXPECT_FALSE(j.value("message", std::string()).empty()) << path;
      }
    }
    for (const auto& [k, v] : j.items()) {
      if (v.is_null())
        EXPECT_TRUE(j.contains("status") || j.contains(k + "_status"))
            << "unexplained null at " << path << "/" << k;
      else
        expect_nulls_explained(v, path + "/" + k, j.contains(k + "_status"));
    }
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      EXPECT_TRUE(explained || !j[i].is_null())
          << "unexplained null inside an array at " << path << "[" << i << "]";
      expect_nulls_explained(j[i], path + "[" + std::to_string(i) + "]");
    }
  }
}

json run_json(const std::string& args) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << args << ": not JSON: " << e.what() << "\n" << r.out;
    return json::object();
  }
}

}  // namespace

TEST(JsonStatus, TheoryWithoutAFixedPoint) {
  // ReLU at sigma_w^2 / 2 > 1: the length map runs away.
  const auto j = run_json("theory --activation relu --sigma-w 1.6 --sigma-b 0.1 --json");
  expect_nulls_explained(j);
  EXPECT_EQ(j["status"], "no-convergence");
  for (const char* key : {"q_star", "chi1", "lyapunov"}) EXPECT_TRUE(j[key].is_null()) << key;
  EXPECT_EQ(j["phase"], "undetermined");
  expect_nulls_explained(run_json("theory --activation tanh --sigma-b 0.1 --edge-of-chaos --json"));
}

TEST(JsonStatus, PowerLawOnTooFewValuesAndAvalanchesOfAnEmptySeries) {
  test::TempDir d;
  std::ofstream(d.path() / "few.txt") << "1\n2\n3\n4\n";
  const auto fit = run_json("powerlaw " + (d.path() / "few.txt").string() + " --json");
  expect_nulls_explained(fit);
  EXPECT_EQ(fit["status"], "insufficient-data");
  EXPECT_TRUE(fit["alpha"].is_null());
  EXPECT_TRUE(fit["p_value"].is_null());
  EXPECT_EQ(fit["p_value_status"], "not-run");

  {
    std::ofstream s(d.path() / "series.txt");
    for (int i = 0; i < 40; ++i) s << (i % 4 == 1 ? 1 : 0) << "\n";  // ten avalanches of size 1, duration 1
  }
  const auto av = run_json("avalanches --series " + (d.path() / "series.txt").string() + " --json");
  expect_nulls_explained(av);
  for (const char* key : {"tau", "tau_t", "gamma"}) EXPECT_TRUE(av["analysis"][key].is_null()) << key;
  EXPECT_EQ(av["analysis"]["tau_status"], "insufficient-data");
  EXPECT_NE(av["analysis"]["collapse"]["status"], "ok");
}

TEST(JsonStatus, MeasureWithPartsSwitchedOffAndADegenerateNetwork) {
  const std::string net =
      "measure --arch mlp --depth 3 --width 8 --activation relu --probe-source gaussian --probes 6 ";
  const auto off = run_json(net + "--no-lyapunov --no-dynamic-range --no-branching --json");
  expect_nulls_explained(off);
  EXPECT_TRUE(off["lyapunov"].is_null());
  EXPECT_EQ(off["lyapunov_status"], "not-run");
  EXPECT_TRUE(off["dynamic_range"].is_null());
  EXPECT_TRUE(off["branching"].is_null());
  EXPECT_EQ(off["branching_status"], "not-run");
  // A bias-free ReLU network has no bounded response: no dynamic range, as null with its status.
  const auto relu = run_json(net + "--sigma-b 0 --no-lyapunov --json");
  expect_nulls_explained(relu);
  EXPECT_TRUE(relu["dynamic_range"]["delta_db"].is_null());
  EXPECT_EQ(relu["dynamic_range"]["status"], "not-applicable");
  EXPECT_TRUE(relu["branching"]["sigma"].is_number());
  // A vanishing network: every ReLU layer scaled down to almost nothing, so most directions die.
  const auto dead = run_json(net + "--sigma-w 1e-6 --json");
  expect_nulls_explained(dead);
  EXPECT_EQ(dead["lyapunov_status"], "non-finite");
}

TEST(JsonStatus, TrainingAndAContinualStreamTooShortForStatistics) {
  test::TempDir d;
  expect_nulls_explained(
      run_json("train --arch mlp --depth 1 --width 8 --train-examples 300 --batch-size 100 "
               "--epochs 1 --json --out " +
               (d.path() / "run").string()));
  const auto cont = run_json(
      "experiment continual --tasks 2 --examples-per-task 60 --width 8 --depth 1 "
      "--methods backprop --probe-examples 20 --no-fresh --json --out " +
      (d.path() / "cont").string());
  expect_nulls_explained(cont);
  // With the tuning, the paired tests (one seed: no interval, no test) and the ranking.
  expect_nulls_explained(
      run_json("experiment continual --tasks 2 --examples-per-task 60 --width 8 --depth 1 --methods "
               "backprop,l2,homeostasis "
               "--probe-examples 20 --tune --tune-tasks 2 --tune-examples 40 --tune-seeds 1 --json --out " +
               (d.path() / "tuned").string()));
}
