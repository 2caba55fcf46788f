// `critlab powerlaw`: the acceptance interface and must-show 5 of the avalanches issue (bad input).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "critlab/stats/powerlaw.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;
namespace fs = std::filesystem;

TEST(PowerLawCli, PrintsTheInterfaceFields) {
  test::TempDir d;
  std::mt19937_64 rng(1);
  const auto truth = stats::power_law_model(2.0, 1, true);
  std::string text = "size,other\n";
  for (double v : stats::sample_power_law(truth, 5000, rng)) text += fmt::format("{},7\n", v);
  const auto file = test::write_file(d.path(), "sizes.csv", text);
  auto r = run_cli("powerlaw " + file.string() +
                   " --column size --discrete --bootstrap 20 --seed 3 --json --out " +
                   (d.path() / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"xmin", "alpha", "alpha_se", "n_tail", "ks", "p_value"})
    EXPECT_TRUE(j[key].is_number()) << key;
  EXPECT_NEAR(j["alpha"].get<double>(), 2.0, 0.1);
  std::vector<std::string> against;
  for (const auto& c : j["comparisons"]) {
    against.push_back(c["against"]);
    EXPECT_TRUE(c["R"].is_number());
    EXPECT_TRUE(c["p"].is_number());
    EXPECT_EQ(c["nested"].get<bool>(), c["against"] == "truncated_power_law");
  }
  EXPECT_EQ(against, (std::vector<std::string>{"exponential", "lognormal", "stretched_exponential", "poisson",
                                               "truncated_power_law"}));
  EXPECT_TRUE(fs::exists(d.path() / "out" / "fit.json"));
  EXPECT_TRUE(fs::exists(d.path() / "out" / "ccdf.csv"));
}

TEST(PowerLawCli, BadInputGivesOneClearLine) {
  test::TempDir d;
  test::expect_one_line_error(run_cli("powerlaw " + test::write_file(d.path(), "e", "").string()),
                              "holds no numbers");
  test::expect_one_line_error(
      run_cli("powerlaw " + test::write_file(d.path(), "t", "1\n2\n\nfoo\n").string()),
      "line 4: 'foo' is not a number");
  test::expect_one_line_error(run_cli("powerlaw " + test::write_file(d.path(), "n", "1\n-2\n3\n").string()),
                              "not positive");
  test::expect_one_line_error(run_cli("powerlaw " + test::write_file(d.path(), "z", "1\n0\n3\n").string()),
                              "not positive");
  // Too few values is no bad input but a sample that admits no fit: a result whose figures are null.
  const auto few =
      run_cli("powerlaw " + test::write_file(d.path(), "f", "1\n2\n3\n4\n").string() + " --json");
  ASSERT_EQ(few.exit_code, 0) << few.err;
  const auto j = nlohmann::json::parse(few.out);
  EXPECT_EQ(j["status"], "insufficient-data");
  EXPECT_NE(j["message"].get<std::string>().find("fewer than 10 values"), std::string::npos);
  for (const char* key : {"alpha", "alpha_se", "ks", "xmin", "p_value"}) EXPECT_TRUE(j[key].is_null()) << key;
  EXPECT_TRUE(j["comparisons"].empty());
  test::expect_one_line_error(
      run_cli("powerlaw " + test::write_file(d.path(), "r", "1.5\n2\n").string() + " --discrete"),
      "not an integer");
  test::expect_one_line_error(run_cli("powerlaw " + (d.path() / "missing").string()), "does not exist");
  // Line 1 is a header only when it is clearly names: a mistyped or out-of-range number is an error.
  test::expect_one_line_error(run_cli("powerlaw " + test::write_file(d.path(), "x", "x1.5\n2\n3\n").string()),
                              "line 1: 'x1.5' is not a number");
  test::expect_one_line_error(
      run_cli("powerlaw " + test::write_file(d.path(), "o", "1e400\n2\n3\n").string()),
      "line 1: '1e400' is outside the range of a double");
  const auto bom = run_cli("powerlaw " +
                           test::write_file(d.path(), "b",
                                            "\xEF\xBB\xBF"
                                            "5\n1\n2\n3\n")
                               .string() +
                           " --json");
  ASSERT_EQ(bom.exit_code, 0) << bom.err;
  EXPECT_EQ(nlohmann::json::parse(bom.out)["n"], 4);
  test::expect_one_line_error(
      run_cli("powerlaw " + test::write_file(d.path(), "c", "a,b\n1,2\n").string() + " --column zz"),
      "no column named 'zz'");
}

TEST(PowerLawCli, ThreadsBeyondTheCoresGiveTheSameResult) {
  // --threads 100000 once aborted ("terminate called without an active exception"). Counts above 1024 are
  // now refused by the flag; up to it, more threads than cores run on the cores.
  test::TempDir d;
  std::mt19937_64 rng(2);
  std::string text;
  for (double v : stats::sample_power_law(stats::power_law_model(2.0, 1, true), 1000, rng))
    text += fmt::format("{}\n", v);
  const auto file = test::write_file(d.path(), "x", text).string();
  const auto many =
      run_cli("powerlaw " + file + " --discrete --bootstrap 6 --no-compare --json --threads 1024");
  const auto two = run_cli("powerlaw " + file + " --discrete --bootstrap 6 --no-compare --json --threads 2");
  ASSERT_EQ(many.exit_code, 0) << many.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(nlohmann::json::parse(many.out), nlohmann::json::parse(two.out));
  const auto refused = run_cli("powerlaw " + file + " --threads 100000");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--threads: Value 100000 not in range 0 to 1024"), std::string::npos)
      << refused.err;
}

TEST(PowerLawCli, InfiniteXmaxIsNoXmaxAndHugeBootstrapsAreRefused) {
  test::TempDir d;
  std::mt19937_64 rng(3);
  std::string text;
  for (double v : stats::sample_power_law(stats::power_law_model(2.5, 1.0), 2000, rng))
    text += fmt::format("{}\n", v);
  const auto file = test::write_file(d.path(), "x", text).string();
  const auto inf = run_cli("powerlaw " + file + " --json --xmax inf");
  const auto none = run_cli("powerlaw " + file + " --json");
  ASSERT_EQ(inf.exit_code, 0) << inf.err;
  EXPECT_EQ(nlohmann::json::parse(inf.out), nlohmann::json::parse(none.out));
  test::expect_one_line_error(run_cli("powerlaw " + file + " --bootstrap 1000000000"),
                              "--bootstrap must be in [0, 100000]");
  test::expect_one_line_error(run_cli("powerlaw " + file + " --xmin inf"),
                              "--xmin must be positive and finite");
}

TEST(PowerLawCli, HugeDiscreteValuesFinishInSeconds) {
  test::TempDir d;
  std::string text;
  for (int i = 1; i <= 200; ++i) text += fmt::format("{}\n", 1 + i % 37);
  const auto file = test::write_file(d.path(), "x", text + "9007199254740992\n9007199254740994\n").string();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_cli("powerlaw " + file + " --discrete --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

TEST(PowerLawCli, EveryNumericFlagAtEdgeValuesGivesAResultOrOneLine) {
  // Each numeric flag of powerlaw and theory at 0, -1, nan, inf, 1e308 and 2^31: a result (exit 0) or one
  // line naming the problem (exit 2), within seconds; never a hang, a crash, CLI11's own exit codes or a
  // raw library error.
  test::TempDir d;
  std::mt19937_64 rng(4);
  std::string text;
  for (double v : stats::sample_power_law(stats::power_law_model(2.0, 1, true), 300, rng))
    text += fmt::format("{}\n", v);
  const auto file = test::write_file(d.path(), "x", text).string();
  const std::vector<std::pair<std::string, std::string>> commands{
      {"powerlaw " + file + " --discrete", "--xmin"},
      {"powerlaw " + file + " --discrete", "--xmax"},
      {"powerlaw " + file, "--xmin"},
      {"powerlaw " + file, "--xmax"},
      {"powerlaw " + file, "--min-tail"},
      {"powerlaw " + file, "--bootstrap"},
      {"powerlaw " + file + " --bootstrap 2", "--seed"},
      {"powerlaw " + file + " --bootstrap 2", "--threads"},
      {"theory", "--sigma-w"},
      {"theory", "--sigma-b"},
      {"theory", "--quadrature"},
      {"theory --activation gelu", "--sigma-w"}};
  for (const auto& [command, flag] : commands)
    for (const char* value : {"0", "-1", "nan", "inf", "1e308", "2147483648"}) {
      const std::string args = command + " " + flag + " " + value;
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = run_cli(args);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 2) << args << ": exit " << r.exit_code << "\n" << r.err;
      if (r.exit_code == 2) {
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
        EXPECT_EQ(r.err.rfind("critlab: error: ", 0), 0u) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(flag), std::string::npos) << args << "\n" << r.err;
      }
      EXPECT_LT(seconds, 10.0) << args;
    }
}

TEST(PowerLawCli, ParseErrorsAreOneLineAndTheHelpStatesTheExitCodes) {
  test::expect_one_line_error(run_cli("powerlaw x --min-tail abc"), "--min-tail");
  test::expect_one_line_error(run_cli("theory --quadrature abc"), "--quadrature");
  test::expect_one_line_error(run_cli("theory --no-such-flag"), "--no-such-flag");
  const auto help = run_cli("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Exit codes: 0 success; 1 internal error"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("2 bad input"), std::string::npos);
}

TEST(PowerLawCli, UnwritableOutIsRefusedBeforeTheWork) {
  test::TempDir d;
  const auto blocker = test::write_file(d.path(), "file", "not a directory");
  const auto t0 = std::chrono::steady_clock::now();
  test::expect_one_line_error(run_cli("theory --edge-of-chaos --out " + (blocker / "eoc").string()),
                              "--out '" + (blocker / "eoc").string() + "': cannot create the directory");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  test::expect_one_line_error(run_cli("powerlaw " + blocker.string() + " --out " + (blocker / "o").string()),
                              "--out");
  const auto gelu = run_cli("theory --activation gelu --sigma-w 1e-6 --json");
  ASSERT_EQ(gelu.exit_code, 0) << gelu.err;
  const auto j = nlohmann::json::parse(gelu.out);
  EXPECT_TRUE(j["status"] != "ok" || (j["chi1"].is_number() && j["lyapunov"].is_number())) << j.dump();
}
