// The number reader (io/numbers.h): headers only when clearly names, BOMs, range errors with line numbers.
#include "critlab/io/numbers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "critlab/core/error.h"

using critlab::Error;
using critlab::io::parse_number_column;

namespace {
std::string error_of(const std::string& text, const std::string& column = "") {
  try {
    parse_number_column(text, "f", column);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Numbers, HeadersAreNamesOnly) {
  EXPECT_EQ(parse_number_column("size\n1\n2\n", "f"), (std::vector<double>{1, 2}));
  EXPECT_EQ(parse_number_column("size,duration\n1,5\n2,6\n", "f", "duration"), (std::vector<double>{5, 6}));
  EXPECT_EQ(parse_number_column(",size\n0,5\n1,6\n", "f", "size"), (std::vector<double>{5, 6}));
  EXPECT_EQ(parse_number_column("# comment\n\nsize_2\n3\n", "f"), (std::vector<double>{3}));
  // A mistyped number on line 1 is data, and an error, never a dropped header.
  EXPECT_EQ(error_of("x1.5\n2\n"), "'f' line 1: 'x1.5' is not a number");
  EXPECT_EQ(parse_number_column("1,5x\n2,3\n", "f"), (std::vector<double>{1, 2}));  // column 0 is numbers
  EXPECT_EQ(error_of("1,5x\n2,3\n", "1"), "'f' line 1: '5x' is not a number");
}

TEST(Numbers, ByteOrderMarkAndRange) {
  EXPECT_EQ(parse_number_column("\xEF\xBB\xBF"
                                "12\n13\n",
                                "f"),
            (std::vector<double>{12, 13}));
  EXPECT_EQ(parse_number_column("\xEF\xBB\xBF"
                                "size\n13\n",
                                "f", "size"),
            (std::vector<double>{13}));
  EXPECT_NE(error_of("1e400\n2\n").find("line 1: '1e400' is outside the range of a double"),
            std::string::npos);
  EXPECT_NE(error_of("2\n-1e400\n").find("line 2: '-1e400' is outside the range"), std::string::npos);
  EXPECT_NE(error_of("2\n1e-400\n").find("line 2: '1e-400' is outside the range"), std::string::npos);
  EXPECT_EQ(parse_number_column("1e308\r\n", "f"), (std::vector<double>{1e308}));
}

TEST(Numbers, MessagesShowControlBytesEscaped) {
  EXPECT_EQ(error_of(std::string("1\n\x01"
                                 "2\n")),
            "'f' line 2: '\\x012' is not a number");
  EXPECT_NE(error_of(std::string(500, 'y') + ".1\n").find("..."), std::string::npos);
}
