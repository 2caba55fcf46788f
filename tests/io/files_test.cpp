#include "critlab/io/files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;
using test::error_of;

TEST(Files, AtomicWriteLeavesNoTemporaries) {
  test::TempDir d;
  io::write_atomic(d.path() / "sub" / "x.txt", "hello");
  io::write_atomic(d.path() / "sub" / "x.txt", "world");
  EXPECT_EQ(io::read_text(d.path() / "sub" / "x.txt"), "world");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(d.path() / "sub")) (void)e, ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(
      io::write_atomic_with(d.path() / "y", [](const std::filesystem::path&) { throw Error("boom"); }),
      Error);
  EXPECT_FALSE(std::filesystem::exists(d.path() / "y"));
}

namespace {
int count_entries(const std::filesystem::path& dir) {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++n;
  return n;
}
}  // namespace

TEST(Files, ReadTextRefusesDirectoriesAndOversizedFiles) {
  test::TempDir d;
  EXPECT_NE(error_of([&] { io::read_text(d.path()); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([&] { io::read_text(d.path() / "none"); }).find("no such file"), std::string::npos);
  io::write_atomic(d.path() / "big", std::string(100, 'x'));
  EXPECT_NE(error_of([&] { io::read_text(d.path() / "big", 99); }).find("100 bytes"), std::string::npos);
  EXPECT_EQ(io::read_text(d.path() / "big", 100).size(), 100u);
}

TEST(Files, ReadJsonNamesTheFileAndTheByteOfASyntaxError) {
  test::TempDir d;
  io::write_atomic(d.path() / "state.json", "{\"epoch\": 3,, }");
  const auto msg = error_of([&] { io::read_json(d.path() / "state.json"); });
  EXPECT_NE(msg.find("state.json' is not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte 13"), std::string::npos) << msg;
}

TEST(Files, DirectoryLockExcludesASecondWriterUntilReleased) {
  test::TempDir d;
  const auto dir = d.path() / "run";
  {
    io::DirectoryLock first(dir, "a test writes there");
    // flock belongs to the open file description, so a second open in the same process conflicts too.
    const auto msg = error_of([&] { io::DirectoryLock second(dir, "a test writes there"); });
    EXPECT_NE(msg.find("in use by another critlab process"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(io::DirectoryLock again(dir, "a test writes there"));
}

TEST(Files, StaleTemporariesAreRemovedAndNothingElse) {
  test::TempDir d;
  const auto dir = d.path();
  io::write_atomic(dir / "keep.json", "{}");
  io::write_atomic(dir / ".model-0001.pt.tmp.123.0", "partial");
  io::write_atomic(dir / "sub" / ".x.csv.tmp.77.3", "partial");
  std::filesystem::create_directories(dir / "record" / ".step-00000000.tmp");
  std::filesystem::create_directories(dir / ".graph.staging.55");
  EXPECT_EQ(io::remove_stale_temporaries(dir), 2);  // the .tmp.<pid> file and the staging directory
  EXPECT_EQ(io::remove_stale_temporaries(dir, /*recursive=*/true), 2);
  EXPECT_TRUE(std::filesystem::exists(dir / "keep.json"));
  EXPECT_EQ(count_entries(dir / "sub"), 0);
  EXPECT_EQ(count_entries(dir / "record"), 0);
}

TEST(Files, StagedDirectoryReplacesTheOldOneOnlyOnCommit) {
  test::TempDir d;
  const auto target = d.path() / "graph";
  io::write_atomic(target / "summary.json", "old");
  io::write_atomic(target / "tables" / "a.csv", "old");
  {
    io::StagedDirectory staged(target);
    io::write_atomic(staged.path() / "tables" / "a.csv", "new");
    // Destroyed without commit(): a failure part-way leaves the old report exactly as it was.
  }
  EXPECT_EQ(io::read_text(target / "summary.json"), "old");
  EXPECT_EQ(io::read_text(target / "tables" / "a.csv"), "old");
  EXPECT_EQ(count_entries(d.path()), 1);
  {
    io::StagedDirectory staged(target);
    io::write_atomic(staged.path() / "summary.json", "new");
    staged.commit();
  }
  EXPECT_EQ(io::read_text(target / "summary.json"), "new");
  EXPECT_FALSE(std::filesystem::exists(target / "tables"));  // the old report is gone as a whole
  EXPECT_EQ(count_entries(d.path()), 1);
}

TEST(Files, StagedFilesMoveIntoASharedDirectoryOnlyOnCommit) {
  test::TempDir d;
  const auto out = d.path() / "out";
  io::write_atomic(out / "other.txt", "the user's");
  io::write_atomic(out / "plots" / "old.png", "old");
  {
    io::StagedFiles staged(out);
    io::write_atomic(staged.path() / "fit.json", "partial");
  }
  EXPECT_FALSE(std::filesystem::exists(out / "fit.json"));
  EXPECT_EQ(count_entries(out), 2);
  {
    io::StagedFiles staged(out);
    io::write_atomic(staged.path() / "plots" / "new.png", "new");
    io::write_atomic(staged.path() / "fit.json", "done");
    staged.commit("fit.json");
  }
  EXPECT_EQ(io::read_text(out / "fit.json"), "done");
  EXPECT_EQ(io::read_text(out / "other.txt"), "the user's");
  EXPECT_TRUE(std::filesystem::exists(out / "plots" / "old.png"));
  EXPECT_TRUE(std::filesystem::exists(out / "plots" / "new.png"));
  EXPECT_EQ(count_entries(out), 3);
  // An output location that cannot be created fails at once, before any work.
  io::write_atomic(d.path() / "file", "x");
  EXPECT_NE(error_of([&] { io::StagedFiles bad(d.path() / "file" / "out"); }).find("cannot write the output"),
            std::string::npos);
}
