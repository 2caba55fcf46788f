// The run directory's own JSON files read back: a damaged config.json or state.json is one clear error that
// names the file and the field, never a raw JSON-library exception.
#include "critlab/train/run_config.h"

#include <gtest/gtest.h>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;
using nlohmann::json;
using test::error_of;

namespace {

json good_config() {
  json j;
  j["model"] = nn::to_json(nn::ModelSpec{});
  j["train"] = train::to_json(train::TrainOptions{});
  j["data_source"] = "fashion-mnist";
  return j;
}
}  // namespace

TEST(RunConfig, RoundTripsThroughJson) {
  nn::ModelSpec spec;
  spec.depth = 7;
  spec.sigma_w = 1.3;
  train::TrainOptions o;
  o.lr = 0.2;
  o.seed = 18446744073709551615ULL;
  o.criticality.mode = CriticalityMode::kController;
  o.criticality.strength = 0.5;
  json j{{"model", nn::to_json(spec)}, {"train", train::to_json(o)}, {"data_source", "supplied"}};
  const auto c = train::run_config_from_json(json::parse(j.dump()), "config.json");
  EXPECT_EQ(c.spec.depth, 7);
  EXPECT_EQ(c.spec.sigma_w, 1.3);
  EXPECT_EQ(c.options.lr, 0.2);
  EXPECT_EQ(c.options.seed, 18446744073709551615ULL);
  EXPECT_EQ(c.options.criticality.mode, CriticalityMode::kController);
  EXPECT_TRUE(c.supplied_data);
}

TEST(RunConfig, DamagedFieldsNameTheFileAndTheField) {
  const auto with = [](const std::string& pointer, json value) {
    auto j = good_config();
    j[json::json_pointer(pointer)] = std::move(value);
    return error_of([&] { train::run_config_from_json(j, "run/config.json"); });
  };
  EXPECT_EQ(with("/train/lr", "fast"),
            "'run/config.json': field 'train.lr' must be a number, found a string");
  EXPECT_EQ(with("/model/depth", true),
            "'run/config.json': field 'model.depth' must be an integer, found a boolean");
  EXPECT_NE(with("/train/lr", 1e308).find("lr must be in (0, 1000]"), std::string::npos);
  EXPECT_NE(with("/train/threads", 1000000000).find("field 'train.threads' must be in [0, 1024]"),
            std::string::npos);
  EXPECT_NE(with("/train/criticality/probes", 100000).find("train.criticality.probes"), std::string::npos);
  EXPECT_NE(with("/model/activation", "swish").find("field 'model.activation' unknown activation 'swish'"),
            std::string::npos);
  EXPECT_NE(with("/data_source", "imagenet").find("field 'data_source'"), std::string::npos);
  auto j = good_config();
  j.erase("model");
  EXPECT_EQ(error_of([&] { train::run_config_from_json(j, "c.json"); }),
            "'c.json': field 'model' is missing");
  EXPECT_EQ(error_of([&] { train::run_config_from_json(json::array(), "c.json"); }),
            "'c.json' must hold a JSON object, found an array");
}

TEST(RunConfig, CheckpointStateIsValidated) {
  const auto s = train::checkpoint_state_from_json(
      json::parse(R"({"epoch": 2, "step": 90, "model_crc32": 4294967295, "controller": {"m": [0.1]}})"),
      "state.json");
  EXPECT_EQ(s.epoch, 2);
  EXPECT_EQ(s.step, 90);
  EXPECT_EQ(s.model_crc32, 4294967295u);
  EXPECT_FALSE(s.optimizer_crc32.has_value());
  EXPECT_EQ(train::to_json(s)["controller"]["m"][0], 0.1);
  const auto bad = [](const char* text) {
    return error_of([&] { train::checkpoint_state_from_json(json::parse(text), "state.json"); });
  };
  EXPECT_EQ(bad(R"({"epoch": "1", "step": 0})"),
            "'state.json': field 'epoch' must be an integer, found a string");
  EXPECT_NE(bad(R"({"epoch": -1, "step": 0})").find("field 'epoch' must be in"), std::string::npos);
  EXPECT_NE(bad(R"({"epoch": 1, "step": 0, "model_crc32": 4294967296})").find("32-bit"), std::string::npos);
  EXPECT_EQ(bad(R"({"epoch": 1})"), "'state.json': field 'step' is missing");
  EXPECT_EQ(bad(R"([1, 2])"), "'state.json' must hold a JSON object, found an array");
}
