// Must-show 5: bad input never crashes and never leaves a partial result: one clear line on stderr naming
// the problem, a non-zero exit, and no summary.json.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "critlab/io/files.h"
#include "test_util.h"

using namespace critlab;
using test::run_cli;
namespace fs = std::filesystem;

namespace {
void expect_clean_failure(const test::CommandResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << r.err;  // a crash would be 128 + signal
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected one line, got: " << r.err;
}

// A Fashion-MNIST directory whose training images are damaged by `damage`.
fs::path damaged_copy(const fs::path& root, const std::function<void(std::string&)>& damage) {
  const auto dir = root / "data";
  fs::create_directories(dir);
  for (const auto* f :
       {"train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::copy_file(test::fashion_dir() / f, dir / f);
  std::string bytes;
  {
    gzFile in = gzopen((test::fashion_dir() / "train-images-idx3-ubyte.gz").c_str(), "rb");
    char buf[1 << 16];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0) bytes.append(buf, n);
    gzclose(in);
  }
  damage(bytes);
  gzFile out = gzopen((dir / "train-images-idx3-ubyte.gz").c_str(), "wb1");
  gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(out);
  return dir;
}

const std::string kTrain = "train --depth 1 --width 16 --epochs 1 --train-examples 500 ";
}  // namespace

TEST(BadInput, MissingDataDirectory) {
  test::TempDir d;
  auto r = run_cli(kTrain + "--data /nonexistent/fashion --out " + (d.path() / "r").string());
  expect_clean_failure(r, "does not exist");
  EXPECT_FALSE(fs::exists(d.path() / "r" / "summary.json"));
  auto env = run_cli("measure --depth 2 --width 8 --probes 4", "CRITLAB_DATA=/nonexistent/env");
  expect_clean_failure(env, "$CRITLAB_DATA");
}

TEST(BadInput, TruncatedIdxFile) {
  test::TempDir d;
  const auto data = damaged_copy(d.path(), [](std::string& b) { b.resize(b.size() / 2); });
  auto r = run_cli(kTrain + "--data " + data.string() + " --out " + (d.path() / "r").string());
  expect_clean_failure(r, "truncated");
  EXPECT_NE(r.err.find("train-images-idx3-ubyte.gz"), std::string::npos);
  EXPECT_FALSE(fs::exists(d.path() / "r" / "summary.json"));
}

TEST(BadInput, WrongMagicIdxFile) {
  test::TempDir d;
  const auto data = damaged_copy(d.path(), [](std::string& b) { b[0] = 'P', b[1] = 'K'; });
  auto r = run_cli(kTrain + "--data " + data.string() + " --out " + (d.path() / "r").string());
  expect_clean_failure(r, "bad magic");
  EXPECT_FALSE(fs::exists(d.path() / "r" / "summary.json"));
}

TEST(BadInput, UnknownActivationArchitectureAndNegativeWidth) {
  test::TempDir d;
  expect_clean_failure(run_cli(kTrain + "--activation swish --out " + (d.path() / "a").string()),
                       "unknown activation 'swish'; valid: tanh, relu, gelu, silu, linear");
  expect_clean_failure(run_cli(kTrain + "--arch transformer --out " + (d.path() / "b").string()),
                       "unknown architecture 'transformer'");
  expect_clean_failure(run_cli("train --width=-5 --out " + (d.path() / "c").string()),
                       "--width must be positive");
  expect_clean_failure(run_cli("measure --depth 0"), "--depth must be at least 1");
  expect_clean_failure(run_cli("theory --activation tanh --sigma-w -1"),
                       "--sigma-w must be in [1e-06, 1000]");
  expect_clean_failure(run_cli("measure --gain-method magic"), "unknown gain method");
  for (const char* name : {"a", "b", "c"}) EXPECT_FALSE(fs::exists(d.path() / name / "summary.json"));
}

TEST(BadInput, NaNDivergenceKeepsTheLastGoodCheckpoint) {
  test::TempDir d;
  const auto dir = d.path() / "r";
  auto r =
      run_cli("train --depth 2 --width 64 --epochs 1 --lr 1e3 --train-examples 2000 --out " + dir.string());
  expect_clean_failure(r, "diverged");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(fs::exists(dir / "summary.json"));
  EXPECT_EQ(io::read_json(dir / "checkpoints" / "state.json")["epoch"], 0);
  // The kept checkpoint is usable.
  auto m = run_cli("measure --run " + dir.string() + " --probes 8 --no-lyapunov --no-dynamic-range --json");
  EXPECT_EQ(m.exit_code, 0) << m.err;
}

TEST(BadInput, ExistingRunIsNotOverwrittenAndMissingRunIsNamed) {
  test::TempDir d;
  const auto dir = d.path() / "r";
  ASSERT_EQ(run_cli(kTrain + "--out " + dir.string()).exit_code, 0);
  const auto before = io::read_text(dir / "summary.json");
  expect_clean_failure(run_cli(kTrain + "--out " + dir.string()), "already holds a run");
  EXPECT_EQ(io::read_text(dir / "summary.json"), before);
  // A resume that fails (here: its data has gone) keeps the finished run's summary.
  expect_clean_failure(
      run_cli("train --resume " + dir.string() + " --epochs 2", "CRITLAB_DATA=/nonexistent/data"),
      "does not exist");
  EXPECT_EQ(io::read_text(dir / "summary.json"), before);
  expect_clean_failure(run_cli("train --resume " + (d.path() / "nothing").string()),
                       "holds no resumable run");
  expect_clean_failure(run_cli("measure --run " + (d.path() / "nothing").string()),
                       "not a critlab run directory");
}
