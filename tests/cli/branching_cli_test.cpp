// `critlab branching FILE`: m recovered through the CLI's JSON from driven branching processes of known m
// (subsampled), and bad input (one line, exit 2).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "critlab/stats/branching.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;
namespace fs = std::filesystem;

namespace {
fs::path write_series(const fs::path& dir, const std::string& name, const std::vector<double>& a) {
  std::string text;
  for (double v : a) text += fmt::format("{}\n", v);
  return test::write_file(dir, name, text);
}
}  // namespace

// A_{t+1} ~ Poisson(m A_t + h), each event seen with probability 0.1: the MR estimate is m within 0.015,
// while the conventional r_1 is biased low by the subsampling.
TEST(BranchingCli, RecoversKnownBranchingRatios) {
  test::TempDir d;
  for (const double m : {0.9, 0.98}) {
    std::mt19937_64 rng(m > 0.95 ? 2 : 1);
    const auto a = stats::simulate_driven_branching(m, 100 * (1 - m) * 10, 100000, 0.1, rng);
    const auto file = write_series(d.path(), fmt::format("a{}.txt", m), a);
    const auto r =
        run_cli("branching " + file.string() + " --kmax 40 --bootstrap 20 --blocks 10 --seed 3 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["status"], "ok") << j.dump();
    std::printf("m = %.2f: MR %.4f [%.4f, %.4f], r1 %.4f, naive %.4f\n", m, j["m"].get<double>(),
                j["m_low"].get<double>(), j["m_high"].get<double>(), j["r1"].get<double>(),
                j["m_naive"].get<double>());
    EXPECT_NEAR(j["m"].get<double>(), m, 0.015);
    EXPECT_LT(j["r1"].get<double>(), m - 0.05);  // subsampling bias of the conventional estimator
    EXPECT_LE(j["m_low"].get<double>(), j["m"].get<double>());
    EXPECT_GE(j["m_high"].get<double>(), j["m"].get<double>());
    EXPECT_EQ(j["n"].get<int>(), 100000);
    EXPECT_EQ(j["rk"].size(), 40u);
  }
}

TEST(BranchingCli, BadInputGivesOneClearLine) {
  test::TempDir d;
  test::expect_one_line_error(run_cli("branching " + test::write_file(d.path(), "e", "").string()),
                              "holds no numbers");
  std::string constant;
  for (int i = 0; i < 100; ++i) constant += "5\n";
  test::expect_one_line_error(run_cli("branching " + test::write_file(d.path(), "k", constant).string()),
                              "is constant");
  test::expect_one_line_error(run_cli("branching " + test::write_file(d.path(), "s", "1\n2\n3\n").string()),
                              "holds 3 values; the regression up to --kmax 40 needs at least 43");
  test::expect_one_line_error(
      run_cli("branching " + test::write_file(d.path(), "t", "1\n2\nfoo\n4\n").string()), "line 3");
  std::string negative;
  for (int i = 0; i < 100; ++i) negative += i == 7 ? "-2\n" : fmt::format("{}\n", i % 5);
  test::expect_one_line_error(run_cli("branching " + test::write_file(d.path(), "n", negative).string()),
                              "value -2 (number 8 of the column) is negative");
  test::expect_one_line_error(
      run_cli("branching " + test::write_file(d.path(), "ok", negative).string() + " --kmax 0"),
      "--kmax must be in [1");
  test::expect_one_line_error(run_cli("branching " + (d.path() / "missing").string()), "missing");
}
