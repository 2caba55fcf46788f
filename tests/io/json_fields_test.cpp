// The JSON field reader: every error names the file and the dotted field, and types and ranges are exact.
#include "critlab/io/json_fields.h"

#include <gtest/gtest.h>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;
using nlohmann::json;
using test::error_of;

TEST(JsonFields, ReadsEachTypeExactly) {
  const auto j = json::parse(
      R"({"s": "x", "b": true, "d": 0.5, "i": -3, "u": 18446744073709551615, "f": 4.0, "v": [1, 2.0],
          "o": {"k": 7}, "n": null})");
  const io::JsonFields f(j, "c.json");
  EXPECT_EQ(f.string("s"), "x");
  EXPECT_TRUE(f.boolean("b"));
  EXPECT_EQ(f.number("d"), 0.5);
  EXPECT_EQ(f.integer("i"), -3);
  EXPECT_EQ(f.unsigned_integer("u"), 18446744073709551615ULL);
  EXPECT_EQ(f.integer("f"), 4);  // a whole float is an integer
  EXPECT_EQ(f.integers("v"), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(f.object("o").integer("k"), 7);
  EXPECT_FALSE(f.has("n"));
  EXPECT_EQ(f.integer_or("n", 9), 9);
  EXPECT_EQ(f.string_or("missing", "dflt"), "dflt");
}

TEST(JsonFields, ErrorsNameTheFileAndTheField) {
  const auto j = json::parse(R"({"train": {"lr": "0.1", "epochs": 1.5, "seed": -1, "deep": {"x": []}},
                                  "model": [1]})");
  const io::JsonFields f(j, "run/config.json");
  const auto train = f.object("train");
  EXPECT_EQ(error_of([&] { train.number("lr"); }),
            "'run/config.json': field 'train.lr' must be a number, found a string");
  EXPECT_NE(error_of([&] { train.integer("epochs"); }).find("field 'train.epochs' must be a whole number"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { train.unsigned_integer("seed"); }).find("field 'train.seed' must be a whole number"),
      std::string::npos);
  EXPECT_EQ(error_of([&] { train.number("momentum"); }),
            "'run/config.json': field 'train.momentum' is missing");
  EXPECT_EQ(error_of([&] { train.object("deep").boolean("x"); }),
            "'run/config.json': field 'train.deep.x' must be true or false, found an array");
  EXPECT_EQ(error_of([&] { f.object("model"); }),
            "'run/config.json': field 'model' must be an object, found an array");
  EXPECT_EQ(error_of([&] { io::JsonFields(json::array(), "state.json"); }),
            "'state.json' must hold a JSON object, found an array");
  EXPECT_NE(error_of([&] { f.object("train").choice<Optimizer>("lr"); }).find("unknown optimizer '0.1'"),
            std::string::npos);
}

TEST(JsonFields, IntegersOutsideTheirRangeAreRefused) {
  const auto j = json::parse(R"({"big": 1e300, "neg": -1e19, "frac": [1, 2.5]})");
  const io::JsonFields f(j, "x.json");
  EXPECT_NE(error_of([&] { f.integer("big"); }).find("64-bit"), std::string::npos);
  EXPECT_NE(error_of([&] { f.integer("neg"); }).find("64-bit"), std::string::npos);
  EXPECT_NE(error_of([&] { f.integers("frac"); }).find("entry 1 is 2.5"), std::string::npos);
}

TEST(JsonFields, ParseJsonNamesTheSourceAndTheByte) {
  EXPECT_EQ(error_of([] { io::parse_json("{\"a\": tru}", "meta.json"); }),
            "'meta.json' is not valid JSON (syntax error at byte 10); the file is damaged");
  EXPECT_EQ(io::parse_json("[1]", "x")[0], 1);
}
