// `critlab flux`: a rotational Ornstein-Uhlenbeck trajectory written as CSV gives the exact e_p and area rate
// through the command's JSON; bad input gives one clear line and exit 2.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "test_util.h"

using namespace critlab;
using test::run_cli;
namespace fs = std::filesystem;

namespace {
// dx = -A x dt + sqrt(2 d) dW with A = [[1, -1], [1, 1]], d = 1: e_p = 2 w^2 / a = 2, L_12 = -d w / a = -1.
std::string rotational_csv(std::size_t n, double dt) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z;
  double x = 0, y = 0;
  std::string text = "step,x,y\n";
  const double s = std::sqrt(2 * dt);
  for (std::size_t t = 0; t < n + 2000; ++t) {
    if (t >= 2000) text += fmt::format("{},{:.9g},{:.9g}\n", t - 2000, x, y);
    const double fx = -(x - y), fy = -(x + y);
    const double z1 = z(rng), z2 = z(rng);
    x += fx * dt + s * z1;
    y += fy * dt + s * z2;
  }
  return text;
}
}  // namespace

TEST(FluxCli, RotationalTrajectoryGivesExactValues) {
  test::TempDir d;
  const auto file = test::write_file(d.path(), "traj.csv", rotational_csv(400000, 0.01));
  const auto out = d.path() / "out";
  const auto r = run_cli(fmt::format("flux --trajectory {} --dt 0.01 --tur-steps 5 --json --out {}",
                                     file.string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["status"], "ok") << j.dump();
  EXPECT_EQ(j["n"], 400000);
  EXPECT_EQ(j["columns"], nlohmann::json({"x", "y"}));  // the leading step column is not a coordinate
  const auto& ep = j["entropy_production"];
  std::printf("grid %.4f %s, TUR %.4f %s, area %.4f\n", ep["grid"].get<double>(),
              ep["grid_ci"].dump().c_str(), ep["tur_bound"].get<double>(), ep["tur_ci"].dump().c_str(),
              j["area_rate"][0][1].get<double>());
  EXPECT_NEAR(ep["grid"].get<double>(), 2.0, 0.2);
  EXPECT_LT(ep["tur_bound"].get<double>(), 2.0);
  EXPECT_GT(ep["tur_bound"].get<double>(), 1.4);
  EXPECT_NEAR(j["area_rate"][0][1].get<double>(), -1.0, 0.1);
  EXPECT_NEAR(j["diffusion"][0][0].get<double>(), 1.0, 0.03);
  EXPECT_EQ(ep["grid_ci"].size(), 2u);
  EXPECT_TRUE(fs::exists(out / "flux.json"));
  EXPECT_TRUE(fs::exists(out / "tables" / "grid.csv"));
  EXPECT_TRUE(fs::exists(out / "plots" / "flux.dat"));
  // Plain text names the figures.
  const auto t =
      run_cli(fmt::format("flux --trajectory {} --dt 0.01 --bootstrap 0 --columns y,x", file.string()));
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("entropy production, grid"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("area-enclosing rates"), std::string::npos) << t.out;
}

TEST(FluxCli, BadInputGivesOneClearLine) {
  test::TempDir d;
  const auto good = test::write_file(d.path(), "good.csv", rotational_csv(2000, 0.01));
  std::string few = "x,y\n", constant = "x,y\n", words = "x,y\n";
  for (int i = 0; i < 50; ++i) few += fmt::format("{},{}\n", std::sin(i), std::cos(i));
  for (int i = 0; i < 500; ++i) constant += fmt::format("{},3\n", std::sin(i));
  for (int i = 0; i < 500; ++i)
    words += i == 200 ? "1,abc\n" : fmt::format("{},{}\n", std::sin(i), std::cos(i));
  const auto f = [&](const std::string& name, const std::string& text) {
    return test::write_file(d.path(), name, text).string();
  };
  test::expect_one_line_error(run_cli("flux --dt 1 --trajectory " + f("few.csv", few)), "only 50 points");
  test::expect_one_line_error(run_cli("flux --dt 1 --trajectory " + f("c.csv", constant)),
                              "coordinate 'y' is constant");
  test::expect_one_line_error(run_cli("flux --dt 1 --trajectory " + f("w.csv", words)),
                              "line 202: 'abc' is not a number");
  test::expect_one_line_error(run_cli("flux --dt 0 --trajectory " + good.string()), "dt must be a positive");
  test::expect_one_line_error(run_cli("flux --dt -1 --trajectory " + good.string()), "dt must be a positive");
  test::expect_one_line_error(run_cli("flux --dt 1 --trajectory " + (d.path() / "none.csv").string()),
                              "does not exist");
  test::expect_one_line_error(run_cli("flux --dt 1 --columns x,z --trajectory " + good.string()),
                              "no column named 'z'");
  test::expect_one_line_error(run_cli("flux --dt 1 --pair 0,0 --trajectory " + good.string()),
                              "two different coordinates");
  test::expect_one_line_error(run_cli("flux --dt 1 --columns x --trajectory " + good.string()),
                              "at least 2 coordinates");
}
