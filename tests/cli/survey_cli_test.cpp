// `critlab survey` end to end: five critlab runs and two TorchScript files measured into models.csv, the
// analysis, its plots and summary.md; a survey killed mid-way finishes on the rerun without measuring a
// finished model again; bad manifest rows are reported by line number and the survey goes on; a bad manifest
// or table ends the command with one line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "critlab/io/csv.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace critlab;
using test::run_cli;

namespace {

const fs::path kFixtures = CRITLAB_FIXTURES;

// Five tiny runs (two families) and two TorchScript files (a third family), with accuracies and years.
std::string make_models(const fs::path& dir) {
  std::string manifest = "model,name,family,year,accuracy,input_shape,note\n";
  const char* acts[] = {"tanh", "relu", "tanh", "relu", "tanh"};
  for (int i = 0; i < 5; ++i) {
    const auto run = dir / ("run" + std::to_string(i));
    const auto r =
        run_cli(fmt::format("train --arch mlp --depth 2 --width {} --activation {} --train-examples 256 "
                            "--epochs 1 --batch-size 64 --threads 1 --seed {} --out {}",
                            16 + 8 * i, acts[i], i, run.string()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto summary = nlohmann::json::parse(std::ifstream(run / "summary.json"));
    manifest += fmt::format("run{},r{},mlp-{},{},{},,\"a note, with a comma\"\n", i, i, acts[i], 2010 + i,
                            summary["test_accuracy"].get<double>());
  }
  fs::copy_file(kFixtures / "tanh_20x512.pt", dir / "tanh.pt");
  fs::copy_file(kFixtures / "conv_bn.pt", dir / "conv.pt");
  manifest += "tanh.pt,ts-tanh,torchscript,2016,0.35,,\n";
  manifest += "conv.pt,ts-conv,torchscript,2017,0.55,\"1,8,8\",\n";
  return manifest;
}

std::map<std::string, std::string> column(const io::TextTable& t, const std::string& key,
                                          const std::string& value) {
  std::map<std::string, std::string> out;
  for (std::size_t r = 0; r < t.rows.size(); ++r) out[t.cell(r, *t.find(key))] = t.cell(r, *t.find(value));
  return out;
}

}  // namespace

TEST(SurveyCli, MeasuresRunsAndTorchScriptAndResumesAfterAKill) {
  test::TempDir tmp;
  const auto manifest = test::write_file(tmp.path(), "manifest.csv", make_models(tmp.path()));
  const auto out = tmp.path() / "survey";
  const std::string args =
      fmt::format("survey --manifest {} --out {} --probes 8 --lyapunov-k 2 --no-dynamic-range",
                  manifest.string(), out.string());
  // One model at a time; killed (SIGKILL, no chance to clean up) once two models are committed.
  const int rc = test::run_shell(fmt::format(
      "{} {} --jobs 1 --threads 1 >/dev/null 2>&1 & pid=$!\n"
      "i=0; while [ $(ls {}/models/*.json 2>/dev/null | wc -l) -lt 2 ] && [ $i -lt 1200 ]; do sleep 0.05; "
      "i=$((i+1)); done\n"
      "kill -9 $pid; wait $pid; exit 0",
      test::critlab_bin(), args, out.string()));
  ASSERT_EQ(rc, 0);
  std::map<std::string, timespec> committed;
  for (const auto& e : fs::directory_iterator(out / "models"))
    if (e.path().extension() == ".json") {
      struct stat st {};
      ASSERT_EQ(stat(e.path().c_str(), &st), 0);
      committed[e.path().stem().string()] = st.st_mtim;
    }
  ASSERT_GE(committed.size(), 2u);
  ASSERT_LT(committed.size(), 7u) << "the survey finished before it was killed; the test proves nothing";

  const auto r = run_cli(args + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["survey"]["reused"].get<std::size_t>(), committed.size());
  EXPECT_EQ(j["survey"]["measured"].get<std::size_t>(), 7 - committed.size());
  EXPECT_EQ(j["survey"]["failed"], 0);
  for (const auto& [name, mtime] : committed) {  // not measured (nor rewritten) again
    struct stat st {};
    ASSERT_EQ(stat((out / "models" / (name + ".json")).c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, mtime.tv_sec) << name;
    EXPECT_EQ(st.st_mtim.tv_nsec, mtime.tv_nsec) << name;
  }
  for (const auto& e : fs::directory_iterator(out / "models"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // models.csv: every model measured, the manifest's own columns kept (a quoted comma included).
  const auto table = io::read_text_csv(out / "models.csv");
  ASSERT_EQ(table.rows.size(), 7u);
  auto status = column(table, "name", "status");
  for (const auto& [name, s] : status) EXPECT_EQ(s, "measured") << name;
  EXPECT_EQ(column(table, "name", "note")["r0"], "a note, with a comma");
  const auto d = column(table, "name", "d"), lambda0 = column(table, "name", "lambda0");
  for (const auto& name : {"r0", "r4", "ts-tanh", "ts-conv"}) {
    EXPECT_FALSE(d.at(name).empty()) << name;
    EXPECT_FALSE(lambda0.at(name).empty()) << name;
  }
  EXPECT_EQ(column(table, "name", "delta_status")["r0"],
            "not-run");  // --no-dynamic-range: empty with a status
  EXPECT_TRUE(column(table, "name", "delta_db")["r0"].empty());
  // The 20-layer tanh net at sigma_w 1.5, sigma_b 0.1 is chaotic: lambda_0 > 0 (mean field: ln(chi_1)/2 =
  // +0.061; 8 probes measure +0.038).
  EXPECT_GT(std::stod(lambda0.at("ts-tanh")), 0.01);

  // The analysis of the seven models.
  const auto& a = j["analysis"];
  EXPECT_EQ(a["rows"], 7);
  EXPECT_EQ(a["groups"], 3);
  ASSERT_EQ(a["spearman"][0]["metric"], "d");
  EXPECT_TRUE(a["spearman"][0]["rho"].is_number());
  EXPECT_EQ(a["spearman"][0]["n"], 7);
  EXPECT_TRUE(a["mixed_model"][0]["slope"].is_number()) << a["mixed_model"][0].dump();
  for (const char* f : {"analysis.json", "summary.md", "tables/spearman.csv", "tables/mixed_model.csv"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    EXPECT_TRUE(fs::exists(out / "plots" / "accuracy_vs_d.png"));
    EXPECT_TRUE(fs::exists(out / "plots" / "d_vs_year.png"));
    EXPECT_TRUE(fs::exists(out / "plots" / "family_means_d.png"));
  }
  // --table re-runs the analysis on the written table and gives the same numbers.
  const auto again = run_cli(fmt::format("survey --table {} --json", (out / "models.csv").string()));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["analysis"]["spearman"], a["spearman"]);
}

TEST(SurveyCli, BadRowsAreReportedByLineAndTheSurveyGoesOn) {
  test::TempDir tmp;
  fs::copy_file(kFixtures / "tanh_20x512.pt", tmp.path() / "tanh.pt");
  fs::copy_file(kFixtures / "not_torchscript.pt", tmp.path() / "broken.pt");
  const auto manifest = test::write_file(tmp.path(), "m.csv",
                                         "model,name,family,accuracy\n"
                                         "tanh.pt,good,a,0.5\n"
                                         "absent.pt,missing,a,0.6\n"
                                         "tanh.pt,typo,b,high\n"
                                         "tanh.pt,good,b,0.7\n"
                                         "broken.pt,broken,b,0.8\n"
                                         "tanh.pt,short\n");
  const auto out = tmp.path() / "out";
  const auto r =
      run_cli(fmt::format("survey --manifest {} --out {} --probes 4 --lyapunov-k 1 --no-dynamic-range "
                          "--no-spectra --json",
                          manifest.string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line :
       {"line 3: model file 'absent.pt' not found; recorded as failed",
        "line 4: accuracy 'high' is not a number", "line 5: name 'good' is already used on line 2",
        "line 7: 2 cells, but the header has 4"})
    EXPECT_NE(r.err.find(line), std::string::npos) << line << "\n" << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["survey"]["models"], 4);  // good, missing, typo, broken
  EXPECT_EQ(j["survey"]["failed"], 2);
  const auto table = io::read_text_csv(out / "models.csv");
  auto status = column(table, "name", "status"), error = column(table, "name", "error");
  EXPECT_EQ(status["good"], "measured");
  EXPECT_EQ(status["typo"], "measured");
  EXPECT_EQ(column(table, "name", "accuracy")["typo"], "");  // never a number in place of 'high'
  EXPECT_EQ(status["missing"], "failed");
  EXPECT_EQ(status["broken"], "failed");
  EXPECT_NE(error["broken"].find("cannot be loaded as TorchScript"), std::string::npos) << error["broken"];
  // One model with an accuracy: every test is a status, never a number.
  const auto& a = j["analysis"];
  EXPECT_EQ(a["status"], "insufficient-data");
  EXPECT_TRUE(a["spearman"][0]["rho"].is_null());
  EXPECT_EQ(a["spearman"][0]["status"], "insufficient-data");
  EXPECT_TRUE(a["mixed_model"][0]["slope"].is_null());

  // A manifest without a model column, a missing table, a bad factor: one line, exit 2.
  const auto no_model = test::write_file(tmp.path(), "bad.csv", "file,name\nx.pt,a\n");
  test::expect_one_line_error(
      run_cli(fmt::format("survey --manifest {} --out {}", no_model.string(), (tmp.path() / "o2").string())),
      "no column 'model'");
  test::expect_one_line_error(run_cli("survey --table /nonexistent/models.csv"), "/nonexistent/models.csv");
  test::expect_one_line_error(
      run_cli(fmt::format("survey --table {} --factor nope", (out / "models.csv").string())),
      "factor column 'nope' is not in the table");
  test::expect_one_line_error(run_cli("survey --out x"), "give --manifest");
}
