// `critlab reference kinouchi-copelli`: the JSON numbers against the exact mean field, the files of --out and
// bad input (one line, exit 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "test_util.h"

using namespace critlab;
using test::run_cli;
namespace fs = std::filesystem;

// One subcritical curve on a small network: F matches the mean field (10% where F is not tiny), Delta too.
TEST(ReferenceCli, CurveJsonMatchesTheMeanField) {
  test::TempDir d;
  const auto r = run_cli(
      "reference kinouchi-copelli --sigma 0.5 --nodes 2000 --r-min 1e-3 --r-max 10 --points 13 "
      "--steps 1000 --transient 100 --seed 2 --threads 2 --json --out " +
      (d.path() / "kc").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["curves"].size(), 1u);
  const auto& c = j["curves"][0];
  EXPECT_EQ(c["sigma"].get<double>(), 0.5);
  ASSERT_EQ(c["response"].size(), 13u);
  for (std::size_t i = 0; i < 13; ++i)
    EXPECT_NEAR(c["response"][i].get<double>() / c["mean_field"][i].get<double>(), 1.0, 0.1) << i;
  EXPECT_NEAR(c["mean_field"][12].get<double>(), 0.2, 1e-3);  // saturation at 1/n
  ASSERT_TRUE(c["dynamic_range"]["delta_db"].is_number()) << c.dump();
  EXPECT_NEAR(c["dynamic_range"]["delta_db"].get<double>(),
              c["dynamic_range_mean_field"]["delta_db"].get<double>(), 1.5);
  EXPECT_EQ(c["dynamic_range"]["status"], "ok");
  for (const char* f : {"reference.json", "response.csv", "response_plot.csv", "response_plot.gp"})
    EXPECT_TRUE(fs::exists(d.path() / "kc" / f)) << f;
}

// A scan: Delta_mf peaks at sigma = 1; a curve that starts above its 10% level is null with a status.
TEST(ReferenceCli, ScanJsonAndMissingDelta) {
  const auto r = run_cli(
      "reference kinouchi-copelli --sigma-min 0.5 --sigma-max 1.5 --sigma-points 3 --nodes 1000 "
      "--r-min 1e-3 --r-max 10 --points 4 --steps 200 --transient 50 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["curves"].size(), 3u);
  const auto mf = [&](int i) { return j["curves"][i]["dynamic_range_mean_field"]["delta_db"].get<double>(); };
  EXPECT_GT(mf(1), mf(0));
  EXPECT_GT(mf(1), mf(2));
  EXPECT_NEAR(mf(1), 26.36, 0.05);  // the exact mean field at N -> inf, K = 10, n = 5, r_max = 10
  // r_min = 0.1 is above the 10% level of sigma = 1 (r_0.1 ~ 2e-3): no Delta, a status beside the null.
  const auto late = run_cli(
      "reference kinouchi-copelli --sigma 1 --nodes 1000 --r-min 0.1 --r-max 10 --points 3 "
      "--steps 100 --transient 10 --json");
  ASSERT_EQ(late.exit_code, 0) << late.err;
  const auto range = nlohmann::json::parse(late.out)["curves"][0]["dynamic_range"];
  EXPECT_TRUE(range["delta_db"].is_null());
  EXPECT_EQ(range["status"], "not-found");
  EXPECT_NE(range["message"].get<std::string>().find("lower r_min"), std::string::npos);
}

TEST(ReferenceCli, BadInputGivesOneClearLine) {
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --sigma 6"),
                              "--sigma must be in [0, --degree/2 = 5]");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --nodes 1"),
                              "--nodes must be in [2, 10^8]");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --states 2"),
                              "--states must be in [3, 1000]");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --degree 0"),
                              "--degree must be in (0, 1000]");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --r-min 1 --r-max 1"),
                              "--r-max must exceed r_min");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --r-min -1"),
                              "--r-min must be a positive rate");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --sigma 1 --sigma-max 2"),
                              "either --sigma or");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --sigma-min 1 --sigma-max 0.5"),
                              "--sigma-max must exceed --sigma-min");
  test::expect_one_line_error(run_cli("reference kinouchi-copelli --seed -3"), "--seed");
  test::expect_one_line_error(run_cli("reference"), "");
}
