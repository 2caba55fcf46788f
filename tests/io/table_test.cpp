#include "critlab/io/table.h"

#include <gtest/gtest.h>

#include <cmath>

#include "critlab/core/error.h"
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
