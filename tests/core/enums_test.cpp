#include "critlab/core/enums.h"

#include <gtest/gtest.h>

#include "critlab/core/status.h"

using namespace critlab;

TEST(Enums, OneSpellingAndHelpfulErrors) {
  for (auto a :
       {Activation::kTanh, Activation::kRelu, Activation::kGelu, Activation::kSilu, Activation::kLinear})
    EXPECT_EQ(from_string<Activation>(to_string(a)), a);
  try {
    from_string<Norm>("groupnorm");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown normalisation 'groupnorm'; valid: none, batchnorm, layernorm");
  }
}

TEST(Status, WritesNullWithItsStatusBesideIt) {
  nlohmann::json j{{"alpha", or_null(std::optional<double>())}, {"n", or_null(std::optional<int>(3))}};
  put_status(j, make_status(StatusCode::kInsufficientData, "only 3 values"));
  EXPECT_EQ(j.dump(), R"({"alpha":null,"message":"only 3 values","n":3,"status":"insufficient-data"})");
  const auto back = status_from_json(j);
  EXPECT_EQ(back.code, StatusCode::kInsufficientData);
  EXPECT_EQ(back.to_string(), "insufficient-data: only 3 values");
  EXPECT_TRUE(status_from_json(nlohmann::json::object()).ok());
  EXPECT_TRUE(finite_or_null(std::nan("")).is_null());
  EXPECT_EQ(finite_or_null(2.5).get<double>(), 2.5);
  EXPECT_EQ(optional_from_json<double>(j, "alpha"), std::nullopt);
  EXPECT_EQ(optional_from_json<int>(j, "n"), 3);
}
