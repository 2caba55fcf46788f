// Must-show 3 (issue 6): a short stream runs for every method, and an experiment killed in the middle of a
// task resumes from each run's last completed task with exactly the results of an uninterrupted run.
// Also: the regression stream, the per-task columns, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "critlab/io/files.h"
#include "critlab/io/table.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;

namespace {
const std::string kAll =
    "backprop,l2,shrink-perturb,continual-backprop,redo,criticality,criticality-regularizer,critical-init,"
    "critical-reinit,criticality-controller,gauge-critical,gauge-away";
constexpr int kRuns = 13;  // the methods and the fresh reference
// Small enough for CI: 10 tasks x 120 examples, 784-32x2-10; replacement rate and ReDo period scaled so that
// units are actually replaced within the stream.
std::string args(const std::filesystem::path& out, int tasks = 10) {
  return "experiment continual --tasks " + std::to_string(tasks) +
         " --examples-per-task 120 --probe-examples 60 --depth 2 --width 32 --replacement-rate 0.01 "
         "--maturity 20 "
         "--redo-period 50 --controller-every 5 --maintainer-window 20 --gauge-every 100 --threads 2 "
         "--methods " +
         kAll + " --out " + out.string();
}
}  // namespace

TEST(Continual, EveryMethodRunsAndAKilledExperimentResumesIdentically) {
  test::TempDir d;
  const auto whole = d.path() / "whole", killed = d.path() / "killed";
  auto r = run_cli(args(whole));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // First 4 tasks of every run (the task count may grow under an experiment), so that every method's state
  // is restored from a checkpoint below; then killed in the middle of task 6 (example 6 x 120 + 37) of
  // whichever run gets there first.
  ASSERT_EQ(run_cli(args(killed, 4)).exit_code, 0);
  auto k = run_cli(args(killed) + " --test-kill-at-example 757");
  ASSERT_EQ(k.exit_code, 137) << k.err;
  std::int64_t committed = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(killed / "runs"))
    if (e.path().filename() == "state.json") committed += io::read_json(e.path()).at("rows").size();
  EXPECT_GE(committed, kRuns * 4);
  EXPECT_LT(committed, kRuns * 10);
  auto resumed = run_cli(args(killed) + " --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto summary = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(summary.at("tasks_reused").get<std::int64_t>(), committed);
  EXPECT_EQ(summary.at("tasks_computed").get<std::int64_t>(), kRuns * 10 - committed);
  EXPECT_EQ(io::read_text(whole / "tasks.csv"), io::read_text(killed / "tasks.csv"));
  EXPECT_EQ(io::read_text(whole / "summary.md"), io::read_text(killed / "summary.md"));

  // Every method has its 10 tasks with the acceptance columns filled.
  const auto csv = io::read_text(whole / "tasks.csv");
  const auto header = csv.substr(0, csv.find('\n'));
  for (const char* c :
       {"method", "task", "online_accuracy", "dead_fraction", "effective_rank", "mean_abs_weight",
        "distance_to_criticality", "plasticity", "lambda_max", "gain_sq_l0"})
    EXPECT_NE(header.find(c), std::string::npos) << c;
  for (const std::string m : {"backprop", "l2", "shrink-perturb", "continual-backprop", "redo", "criticality",
                              "criticality-regularizer", "critical-init", "critical-reinit",
                              "criticality-controller", "gauge-critical", "gauge-away", "fresh"}) {
    std::size_t n = 0;
    for (std::size_t pos = 0; (pos = csv.find("\n" + m + ",", pos)) != std::string::npos; ++pos) ++n;
    EXPECT_EQ(n, 10u) << m;
  }
  // Unit replacement happened where it should, and only there.
  const auto state = [&](const std::string& m) {
    return io::read_json(whole / "runs" / m / "seed-1" / "state.json");
  };
  EXPECT_GT(state("continual-backprop").at("continual_backprop").at("replaced").get<int>(), 0);
  EXPECT_FALSE(state("backprop").contains("continual_backprop"));
  // The maintainers corrected, the gauge arms rescaled (holding mean |W| to float rounding).
  EXPECT_GT(state("criticality").at("maintainer").at("counts").at("corrections").get<int>(), 0);
  EXPECT_GT(state("critical-reinit").at("maintainer").at("counts").at("units_rescaled").get<int>(), 0);
  EXPECT_TRUE(state("criticality-controller").contains("controller"));
  int gauge_applications = 0;
  const auto gauge_state = state("gauge-away");
  for (const auto& row : gauge_state.at("rows")) {
    gauge_applications += row.at("gauge_applications").get<int>();
    if (row.at("gauge_applications").get<int>() > 0) {
      EXPECT_LT(row.at("gauge_mean_abs_weight_change").get<double>(), 1e-5);
    }
  }
  EXPECT_GT(gauge_applications, 0);
  for (const char* plot : {"accuracy_per_task", "dead_units_per_task", "effective_rank_per_task",
                           "distance_per_task", "plasticity_vs_distance"})
    EXPECT_TRUE(std::filesystem::exists(whole / "plots" / (std::string(plot) + ".gp"))) << plot;
  EXPECT_NE(io::read_text(whole / "summary.md").find("Does plasticity track criticality?"),
            std::string::npos);
}

TEST(Continual, RegressionStreamReportsSquaredErrorAndPlasticity) {
  test::TempDir d;
  auto r = run_cli(
      "experiment continual --stream regression --tasks 4 --flip-every 300 --methods "
      "backprop,continual-backprop "
      "--threads 1 --json --out " +
      (d.path() / "reg").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto csv = io::read_text(d.path() / "reg" / "tasks.csv");
  // Columns: method,seed,task,online_accuracy,online_loss,plasticity,...: accuracy empty, loss and plasticity
  // set.
  const auto line = csv.substr(csv.find("\nbackprop,1,3,") + 1);
  const auto first = line.substr(0, line.find('\n'));
  EXPECT_NE(first.find("backprop,1,3,,"), std::string::npos) << first;
  const auto rest = first.substr(std::string("backprop,1,3,,").size());
  const double loss = std::stod(rest.substr(0, rest.find(',')));
  EXPECT_GT(loss, 0);
  EXPECT_TRUE(std::isfinite(loss));

  // Plasticity, row by row: the fresh network's error on the same (seed, task) over the method's error; near
  // 1 on so short a stream (the same learner, a few hundred examples per task).
  std::istringstream in(csv);
  std::string header_line;
  std::getline(in, header_line);
  std::vector<std::string> header;
  {
    std::istringstream cells(header_line);
    for (std::string c; std::getline(cells, c, ',');) header.push_back(c);
  }
  auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  std::vector<std::vector<std::string>> rows;
  for (std::string l; std::getline(in, l);) {
    std::vector<std::string> f;
    std::istringstream cells(l);
    for (std::string c; std::getline(cells, c, ',');) f.push_back(c);
    f.resize(header.size());
    rows.push_back(f);
  }
  std::map<std::string, double> fresh_loss;  // task -> the fresh network's error
  for (const auto& f : rows)
    if (f[col("method")] == "fresh") fresh_loss[f[col("task")]] = std::stod(f[col("online_loss")]);
  ASSERT_EQ(fresh_loss.size(), 4u);
  int checked = 0;
  std::map<std::string, double> last_plasticity;
  for (const auto& f : rows) {
    if (f[col("method")] == "fresh") continue;
    const double method_loss = std::stod(f[col("online_loss")]), fresh = std::stod(f[col("fresh_loss")]);
    const double plasticity = std::stod(f[col("plasticity")]);
    EXPECT_DOUBLE_EQ(fresh, fresh_loss.at(f[col("task")]));
    // tasks.csv holds 6 significant digits.
    EXPECT_NEAR(plasticity, fresh / method_loss, 5e-5 * plasticity)
        << f[col("method")] << " task " << f[col("task")];
    EXPECT_GT(plasticity, 0.2);
    EXPECT_LT(plasticity, 5.0);
    if (f[col("task")] == "3") last_plasticity[f[col("method")]] = plasticity;
    ++checked;
  }
  EXPECT_EQ(checked, 8);
  // The returned analysis carries the same values: the late window of 4 tasks is the last task (one seed).
  const auto summary = nlohmann::json::parse(r.out);
  for (const auto& m : summary.at("analysis").at("methods")) {
    const auto name = m.at("method").get<std::string>();
    if (name == "fresh") {
      EXPECT_TRUE(m.at("plasticity_late").at("mean").is_null());
      continue;
    }
    ASSERT_TRUE(last_plasticity.count(name)) << name;
    EXPECT_NEAR(m.at("plasticity_late").at("mean").get<double>(), last_plasticity.at(name),
                5e-6 * last_plasticity.at(name))
        << name;
    EXPECT_EQ(m.at("status").get<std::string>(), "ok") << name;
  }
}

// The label-permuted stream: the same images, a fresh label permutation per task. A fresh network learns
// each task from scratch, so its accuracy stays above chance on every task.
TEST(Continual, LabelPermutedStreamRuns) {
  test::TempDir d;
  auto r = run_cli(
      "experiment continual --stream permuted-labels --tasks 3 --examples-per-task 600 --probe-examples 50 "
      "--depth 1 --width 32 --methods backprop --threads 1 --out " +
      (d.path() / "lab").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Columns: method,seed,task,online_accuracy,...
  std::istringstream csv(io::read_text(d.path() / "lab" / "tasks.csv"));
  int fresh_tasks = 0;
  for (std::string line; std::getline(csv, line);)
    if (line.rfind("fresh,", 0) == 0) {
      std::vector<std::string> f;
      std::istringstream cells(line);
      for (std::string c; std::getline(cells, c, ',');) f.push_back(c);
      EXPECT_GT(std::stod(f.at(3)), 0.3) << line;
      ++fresh_tasks;
    }
  EXPECT_EQ(fresh_tasks, 3);
}

TEST(Continual, BadInputNamesTheProblem) {
  test::TempDir d;
  auto r = run_cli("experiment continual --methods backprop,sgd-magic --out " + (d.path() / "x").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown method 'sgd-magic'"), std::string::npos) << r.err;
  r = run_cli("experiment continual --stream cifar --out " + (d.path() / "y").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--stream"), std::string::npos) << r.err;
  // A changed protocol under an existing experiment is refused.
  ASSERT_EQ(
      run_cli("experiment continual --tasks 1 --examples-per-task 20 --probe-examples 10 --width 8 --depth 1 "
              "--methods backprop --no-fresh --out " +
              (d.path() / "z").string())
          .exit_code,
      0);
  r = run_cli(
      "experiment continual --tasks 1 --examples-per-task 20 --probe-examples 10 --width 8 --depth 1 --lr "
      "0.1 "
      "--methods backprop --no-fresh --out " +
      (d.path() / "z").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("different protocol"), std::string::npos) << r.err;
}

// Issue 18, must-show 3: --tune scores every setting of each method's grid on the tuning seeds, picks the
// best score, carries it into the evaluation, and makes the same choice when the tuning is killed and
// resumed.
TEST(Continual, TuneChoosesTheBestSettingAndResumesToTheSameChoice) {
  test::TempDir d;
  const std::string base =
      "experiment continual --tasks 3 --examples-per-task 100 --probe-examples 40 --depth 1 --width 16 "
      "--methods backprop,l2,critical-reinit --no-fresh --threads 2 --tune --tune-tasks 4 --tune-examples "
      "150 "
      "--tune-seeds 2 --out ";
  auto r = run_cli(base + (d.path() / "whole").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tuning = io::read_json(d.path() / "whole" / "tuning.json");
  ASSERT_EQ(tuning.at("methods").size(), 2u);  // backprop has no hyper-parameter of its own
  std::string l2_choice;
  for (const auto& m : tuning.at("methods")) {
    const auto& cells = m.at("cells");
    ASSERT_EQ(cells.size(), 3u);
    std::size_t best = 0;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      // Each score is the mean over the tuning seeds of the online accuracy over tasks 2 and 3, from the
      // tuning run's own rows.
      double sum = 0;
      for (const int seed : {1001, 1002}) {
        const auto st = io::read_json(d.path() / "whole" / "tuning" / m.at("method").get<std::string>() /
                                      cells[c].at("setting").get<std::string>() /
                                      ("seed-" + std::to_string(seed)) / "state.json");
        const auto& rows = st.at("rows");
        ASSERT_EQ(rows.size(), 4u);
        sum +=
            (rows[2].at("online_accuracy").get<double>() + rows[3].at("online_accuracy").get<double>()) / 2;
      }
      EXPECT_NEAR(cells[c].at("score").get<double>(), sum / 2, 1e-12);
      if (cells[c].at("score").get<double>() > cells[best].at("score").get<double>()) best = c;
    }
    EXPECT_EQ(m.at("chosen").get<std::string>(), cells[best].at("setting").get<std::string>());
    if (m.at("method") == "l2") l2_choice = cells[best].at("values").at("weight_decay").dump();
  }
  // The evaluation's l2 runs are those of a plain run with the chosen weight decay.
  auto plain = run_cli(
      "experiment continual --tasks 3 --examples-per-task 100 --probe-examples 40 --depth 1 --width 16 "
      "--methods l2 --no-fresh --threads 2 --weight-decay " +
      l2_choice + " --out " + (d.path() / "plain").string());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  auto rows = [&](const char* dir) {
    auto r = io::read_json(d.path() / dir / "runs" / "l2" / "seed-1" / "state.json").at("rows");
    for (auto& row : r) row.erase("seconds");
    return r;
  };
  EXPECT_EQ(rows("plain"), rows("whole"));
  // Killed in the middle of the tuning (example 380 of a tuning run: its third task), then resumed.
  auto k = run_cli(base + (d.path() / "killed").string() + " --test-kill-at-example 380");
  ASSERT_EQ(k.exit_code, 137) << k.err;
  EXPECT_FALSE(std::filesystem::exists(d.path() / "killed" / "tuning.json"));
  ASSERT_EQ(run_cli(base + (d.path() / "killed").string()).exit_code, 0);
  EXPECT_EQ(io::read_json(d.path() / "killed" / "tuning.json"), tuning);
  EXPECT_EQ(io::read_text(d.path() / "killed" / "tasks.csv"),
            io::read_text(d.path() / "whole" / "tasks.csv"));
  EXPECT_NE(io::read_text(d.path() / "whole" / "summary.md").find("## Tuning"), std::string::npos);
}

// Issue 18, must-show 1: on the permuted-pixels stream (its input distribution shifts every task), both
// maintainers keep every run finite over 30 tasks x 5,000 examples in 3 seeds, with their default settings,
// and hold the distance to criticality below backprop's on average over the stream.
TEST(Continual, MaintainersStayFiniteAndCloserToCriticalityThanBackprop) {
  test::TempDir d;
  auto r = run_cli(
      "experiment continual --tasks 30 --examples-per-task 5000 --probe-examples 500 --seeds 3 --no-fresh "
      "--methods backprop,homeostasis,critical-reinit --threads 2 --out " +
      (d.path() / "ms").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::pair<double, int>> distance;
  for (const std::string m : {"backprop", "homeostasis", "critical-reinit"})
    for (const int seed : {1, 2, 3}) {
      const auto st =
          io::read_json(d.path() / "ms" / "runs" / m / ("seed-" + std::to_string(seed)) / "state.json");
      const auto& rows = st.at("rows");
      ASSERT_EQ(rows.size(), 30u);
      for (const auto& row : rows) {
        EXPECT_FALSE(row.contains("diverged")) << m << " seed " << seed;
        ASSERT_TRUE(row.at("online_loss").is_number()) << m << " seed " << seed;
        ASSERT_TRUE(row.at("distance_to_criticality").is_number())
            << m << " seed " << seed;  // finite weights
        EXPECT_GT(row.at("online_accuracy").get<double>(), 0.3) << m << " seed " << seed;
        distance[m].first += row.at("distance_to_criticality").get<double>();
        ++distance[m].second;
      }
    }
  auto mean = [&](const std::string& m) { return distance[m].first / distance[m].second; };
  EXPECT_LT(mean("homeostasis"), mean("backprop"));
  EXPECT_LT(mean("critical-reinit"), mean("backprop"));
  std::cout << "mean distance over the stream: backprop " << mean("backprop") << ", homeostasis "
            << mean("homeostasis") << ", critical-reinit " << mean("critical-reinit") << "\n";
}
