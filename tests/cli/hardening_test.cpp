// The bad-input regression suite for the engine's commands (issue 13): every case is one clear line on
// stderr with exit 2 (3 for divergence), or a correct result; nothing half-written is left behind; run
// directories survive kills, concurrent writers, full disks and failed resumes.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "critlab/io/files.h"
#include "critlab/io/table.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kTinyNoWidth =
    "train --arch mlp --depth 2 --activation tanh --batch-size 100 --lr 0.05 --seed 3 --train-examples 600 "
    "--log-every 2 --threads 1 ";
const std::string kTiny = kTinyNoWidth + "--width 16 ";

// One line on stderr, naming `needle`.
void expect_one_line(const test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// Every file under `dir` (relative path -> contents).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != ".lock")
      files[fs::relative(e.path(), dir).string()] = io::read_text(e.path());
  return files;
}

void flip_byte(const fs::path& p, std::uintmax_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

}  // namespace

TEST(Hardening, TwoTrainProcessesIntoOneDirectoryNeverBothWrite) {
  test::TempDir d;
  const auto dir = d.path() / "run";
  const auto bin = test::critlab_bin();
  const std::string cmd = bin + " " + kTiny + "--epochs 1 --out " + dir.string();
  const auto a = d.path() / "a", b = d.path() / "b";
  test::run_shell("(" + cmd + " >/dev/null 2>" + a.string() + "; echo $? >" + a.string() + ".rc) & (" + cmd +
                  " >/dev/null 2>" + b.string() + "; echo $? >" + b.string() + ".rc) & wait");
  const int rc_a = std::stoi(io::read_text(a.string() + ".rc")),
            rc_b = std::stoi(io::read_text(b.string() + ".rc"));
  // Exactly one trains; the other is refused with one line (the directory is in use, or already holds
  // the first one's run if it finished first).
  EXPECT_EQ(std::min(rc_a, rc_b), 0);
  EXPECT_EQ(std::max(rc_a, rc_b), 2);
  const auto refused = io::read_text(rc_a == 2 ? a : b);
  EXPECT_TRUE(refused.find("in use by another critlab process") != std::string::npos ||
              refused.find("already holds a run") != std::string::npos)
      << refused;
  const auto summary = io::read_json(dir / "summary.json");
  EXPECT_EQ(summary["epochs"], 1);
  EXPECT_EQ(io::read_json(dir / "config.json")["train"]["epochs"], 1);
}

TEST(Hardening, KillAtTheMomentStateJsonAppearsKeepsStepZeroOfTheRecording) {
  test::TempDir d;
  const auto dir = d.path() / "run";
  // Kill -9 the moment the first checkpoint commits: the recording's step 0 must already be there.
  const int rc = test::run_shell(
      test::critlab_bin() + " " + kTiny + "--epochs 1 --record --record-points 6 --record-probes 100 --out " +
      dir.string() + " >/dev/null 2>&1 & pid=$!; while [ ! -e " +
      (dir / "checkpoints" / "state.json").string() +
      " ] && kill -0 $pid 2>/dev/null; do :; done; kill -9 $pid; wait $pid; exit 0");
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(fs::exists(dir / "checkpoints" / "state.json"));
  EXPECT_TRUE(fs::is_directory(dir / "record" / "step-00000000"));
  auto resumed = run_cli("train --resume " + dir.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::is_directory(dir / "record" / "step-00000000"));
  for (const auto& e : fs::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  // A recording without its step 0 is refused instead of treating step 1 as the initial network.
  fs::remove_all(dir / "record" / "step-00000000");
  auto g = run_cli("graph --no-pruning --run " + dir.string());
  EXPECT_EQ(g.exit_code, 2);
  expect_one_line(g, "lacks step 0");
}

TEST(Hardening, FailedResumesLeaveTheRunDirectoryExactlyAsItWas) {
  test::TempDir d;
  const auto dir = d.path() / "run";
  ASSERT_EQ(run_cli(kTiny + "--epochs 2 --monitor-every 3 --out " + dir.string()).exit_code, 0);
  const auto before = snapshot(dir);

  // A finished run: --epochs below or at what it has trained.
  auto fewer = run_cli("train --resume " + dir.string() + " --epochs 1");
  EXPECT_EQ(fewer.exit_code, 2);
  expect_one_line(fewer, "has already trained 2 epochs");
  auto same = run_cli("train --resume " + dir.string());
  EXPECT_EQ(same.exit_code, 2);
  expect_one_line(same, "has finished its 2 epochs");
  EXPECT_EQ(snapshot(dir), before);

  // A checkpoint with a flipped byte: its CRC-32 no longer matches state.json.
  const auto model = dir / "checkpoints" / "model-0002.pt";
  flip_byte(model, fs::file_size(model) / 2);
  auto damaged = run_cli("train --resume " + dir.string() + " --epochs 3");
  EXPECT_EQ(damaged.exit_code, 2);
  expect_one_line(damaged, "model-0002.pt' is damaged: its CRC-32");
  auto measured = run_cli("measure --no-lyapunov --no-dynamic-range --run " + dir.string());
  EXPECT_EQ(measured.exit_code, 2);
  expect_one_line(measured, "is damaged: its CRC-32");
  flip_byte(model, fs::file_size(model) / 2);  // repaired
  auto damaged_before = snapshot(dir);

  // Damaged tables and JSON: refused before anything changes, naming the file (and the field).
  const auto restore = [&] {
    for (const auto& [rel, text] : damaged_before) io::write_atomic(dir / rel, text);
  };
  struct Case {
    std::string file, content, needle;
  };
  const std::vector<Case> cases{
      {"tables/monitor_gains.csv", "step,epoch,gain_sq_0\n3,1\n", "monitor_gains.csv' is damaged"},
      {"tables/monitor_gains.csv", "step,epoch,gain\n3,1,2\n", "monitor_gains.csv' is damaged"},
      {"metrics.csv", "step,epoch\n1,1,1\n", "metrics.csv' is damaged: line 2"},
      {"metrics.csv", "lr\n1\n", "metrics.csv' is damaged: it has no 'step' column"},
      {"checkpoints/state.json", R"({"epoch": "2", "step": 12})", "field 'epoch' must be an integer"},
      {"checkpoints/state.json", R"([2])", "must hold a JSON object"},
      {"checkpoints/state.json", R"({"epoch": 2, "st)", "is not valid JSON"},
      {"config.json", "{}", "field 'model' is missing"},
  };
  for (const auto& c : cases) {
    io::write_atomic(dir / c.file, c.content);
    const auto expected = snapshot(dir);
    auto r = run_cli("train --resume " + dir.string() + " --epochs 3");
    EXPECT_EQ(r.exit_code, 2) << c.file << ": " << c.content;
    expect_one_line(r, c.needle);
    EXPECT_EQ(snapshot(dir), expected) << c.file;
    restore();
  }
  // Repaired, it resumes.
  auto more = run_cli("train --resume " + dir.string() + " --epochs 3");
  EXPECT_EQ(more.exit_code, 0) << more.err;
  EXPECT_EQ(io::read_json(dir / "summary.json")["epochs"], 3);
}

TEST(Hardening, AFullDiskIsAClearErrorAndLeavesNoTemporaries) {
  test::TempDir d;
  const auto dir = d.path() / "run";
  // RLIMIT_FSIZE stands in for a full disk: with SIGXFSZ ignored, a write past 64 kB fails with EFBIG as it
  // would with ENOSPC. The checkpoints (about 150 kB) cannot be written.
  const auto err = d.path() / "err";
  const int rc =
      test::run_shell("trap '' XFSZ; ulimit -f 64; " + test::critlab_bin() + " " + kTinyNoWidth +
                      "--epochs 1 --width 128 --out " + dir.string() + " >/dev/null 2>" + err.string());
  EXPECT_EQ(rc, 2);
  const auto message = io::read_text(err);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1) << message;
  EXPECT_NE(message.find("disk full?"), std::string::npos) << message;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  EXPECT_FALSE(fs::exists(dir / "checkpoints" / "state.json"));
}

TEST(Hardening, BadNumbersForEngineCommandsAreOneLineAndFast) {
  test::TempDir d;
  const std::vector<std::string> commands_flags{
      "train --out " + (d.path() / "t").string() + " --epochs",
      "train --out " + (d.path() / "t").string() + " --lr",
      "train --out " + (d.path() / "t").string() + " --batch-size",
      "train --out " + (d.path() / "t").string() + " --weight-decay",
      "train --out " + (d.path() / "t").string() + " --depth",
      "train --out " + (d.path() / "t").string() + " --width",
      "train --out " + (d.path() / "t").string() + " --sigma-w",
      "train --out " + (d.path() / "t").string() + " --criticality-probes",
      "train --out " + (d.path() / "t").string() + " --monitor-probes",
      "train --out " + (d.path() / "t").string() + " --threads",
      "train --out " + (d.path() / "t").string() + " --seed",
      "measure --probes",
      "measure --hutchinson-probes",
      "measure --lyapunov-k",
      "measure --sigma-w",
      "measure --seed",
      "avalanches --repeats",
      "avalanches --probes",
      "avalanches --threshold",
      "graph --run " + d.path().string() + " --theta-step",
      "graph --run " + d.path().string() + " --prune-repeats",
      "experiment continual --out " + (d.path() / "c").string() + " --seeds",
      "experiment continual --out " + (d.path() / "c").string() + " --examples-per-task",
      "experiment critical-training --out " + (d.path() / "e").string() + " --seeds"};
  for (const auto& cf : commands_flags)
    for (const std::string value : {"-1", "nan", "1e308", "18446744073709551616"}) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = run_cli(cf + " " + value);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EXPECT_EQ(r.exit_code, 2) << cf << " " << value << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << cf << " " << value << ": " << r.err;
      EXPECT_LT(s, 10.0) << cf << " " << value;
    }
  EXPECT_FALSE(fs::exists(d.path() / "t" / "config.json"));
}
