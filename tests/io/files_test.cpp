#include "critlab/io/files.h"

#include <gtest/gtest.h>

#include <cmath>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;

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
