#include "critlab/io/table.h"

#include <gtest/gtest.h>

#include <cmath>

#include "critlab/core/error.h"
#include "critlab/io/files.h"
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

TEST(Table, DamagedCsvIsOneErrorNamingTheFileAndTheLine) {
  test::TempDir d;
  const auto message = [&](const std::string& text) {
    io::write_atomic(d.path() / "metrics.csv", text);
    try {
      io::read_csv(d.path() / "metrics.csv");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const auto path = (d.path() / "metrics.csv").string();
  EXPECT_EQ(message("step,epoch\n1,2\n3\n"),
            "'" + path + "' is damaged: line 3: 1 cells, but the header has 2");
  EXPECT_EQ(message("step,epoch\n1,2x\n"), "'" + path + "' is damaged: line 2: cell '2x' is not a number");
  EXPECT_EQ(message("step,,epoch\n"),
            "'" + path + "' is damaged: line 1: the header has an empty column name");
  EXPECT_EQ(message("step,epoch\n1,2,3,4,5,6,7,8,9\n"),
            "'" + path + "' is damaged: line 2: 9 cells, but the header has 2");
  EXPECT_EQ(message("step,epoch\n1,-inf\n,\n"), "no error");  // -inf is a value; empty cells are missing
}
