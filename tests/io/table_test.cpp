#include <gtest/gtest.h>

#include <cmath>

#include "critlab/core/enums.h"
#include "critlab/io/files.h"
#include "critlab/io/table.h"
#include "test_util.h"

using namespace critlab;

TEST(Table, CsvRoundTripKeepsNumbersAndMissingCells) {
  test::TempDir d;
  io::Table t{{"a", "b"}, {}};
  t.add_row({1, 0.123456789});
  t.add_row({std::nan(""), -2.5e-7});
  io::write_csv(d.path() / "t.csv", t);
  auto back = io::read_csv(d.path() / "t.csv");
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_DOUBLE_EQ(back.rows[0][1], 0.123456789);
  EXPECT_TRUE(std::isnan(back.rows[1][0]));
  EXPECT_DOUBLE_EQ(back.rows[1][1], -2.5e-7);
  EXPECT_THROW(back.column("c"), Error);
}

TEST(Files, AtomicWriteLeavesNoTemporaries) {
  test::TempDir d;
  io::write_atomic(d.path() / "sub" / "x.txt", "hello");
  io::write_atomic(d.path() / "sub" / "x.txt", "world");
  EXPECT_EQ(io::read_text(d.path() / "sub" / "x.txt"), "world");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(d.path() / "sub")) (void)e, ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(io::write_atomic_with(d.path() / "y", [](const std::filesystem::path&) { throw Error("boom"); }), Error);
  EXPECT_FALSE(std::filesystem::exists(d.path() / "y"));
}

TEST(Enums, OneSpellingAndHelpfulErrors) {
  for (auto a : {Activation::kTanh, Activation::kRelu, Activation::kGelu, Activation::kSilu, Activation::kLinear})
    EXPECT_EQ(from_string<Activation>(to_string(a)), a);
  try {
    from_string<Norm>("groupnorm");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown normalisation 'groupnorm'; valid: none, batchnorm, layernorm");
  }
}
