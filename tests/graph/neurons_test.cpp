// Critical-neuron statistics against constructed units with known strength, selectivity and information;
// balance measures against closed forms; the recording schedule and .npy round trips.
#include "critlab/graph/neurons.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "critlab/graph/recording.h"
#include "critlab/io/npy.h"
#include "test_util.h"

namespace critlab::graph {
namespace {

TEST(CriticalNeurons, StrengthSelectivityInformationAndTheCriticalSet) {
  // 10 classes x 100 probes. Unit 0: active (value 4) only on class 3 -> selectivity 1, information
  // log2(10) - H(class | bin) = the entropy of "is class 3" = H(0.1) bits. Unit 1: constant 5 -> dead
  // (zero variance), never critical. Unit 2: weak noise (mean 0.25) independent of the label -> information ~
  // 0. Unit 3: strong (value 4) on classes 0-4, zero on 5-9: selectivity (4 - 4*4/9)/(4 + 4*4/9) = 5/13.
  const std::int64_t n = 1000;
  auto labels = torch::arange(n, torch::kLong) % 10;
  auto a = torch::zeros({n, 4});
  a.select(1, 0) = labels.eq(3).to(torch::kFloat) * 4;
  a.select(1, 1).fill_(5);
  torch::manual_seed(0);
  a.select(1, 2) = torch::rand({n}) * 0.5;
  a.select(1, 3) = labels.lt(5).to(torch::kFloat) * 4;
  const auto s = neuron_stats(a, labels, 10, {.fraction = 0.5, .bins = 8});
  EXPECT_NEAR(s.strength[0], 0.4, 1e-12);
  EXPECT_NEAR(s.strength[3], 2.0, 1e-12);
  EXPECT_NEAR(s.selectivity[0], 1.0, 1e-12);
  EXPECT_NEAR(s.selectivity[3], 5.0 / 13, 1e-12);
  EXPECT_EQ(s.selectivity[1], 0.0);
  const auto h2 = [](double p) { return -p * std::log2(p) - (1 - p) * std::log2(1 - p); };
  const double bias = (2 - 1.0) * (10 - 1.0) / (2.0 * n * std::log(2.0));  // two bins used, Miller-Madow
  EXPECT_NEAR(s.information[0], h2(0.1) - bias, 1e-9);
  EXPECT_NEAR(s.information[3], 1.0 - bias, 1e-9);
  EXPECT_EQ(s.information[1], 0.0);
  EXPECT_LT(s.information[2], 0.03);
  // The two strong, specific units are the critical half; the dead one never is.
  EXPECT_EQ(s.critical, (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(s.score[1], 0.0);
  EXPECT_NEAR(s.class_means[3][0].item<double>(), 4.0, 1e-12);
}

TEST(CriticalNeurons, BalanceAndStabilityMeasures) {
  EXPECT_DOUBLE_EQ(jaccard({1, 2, 3}, {2, 3, 4}), 0.5);
  EXPECT_DOUBLE_EQ(jaccard({}, {}), 1.0);
  EXPECT_NEAR(normalised_entropy({1, 1, 1, 1}), 1.0, 1e-12);
  EXPECT_NEAR(normalised_entropy({1, 0, 0, 0}), 0.0, 1e-12);
  EXPECT_NEAR(normalised_entropy({1, 1, 0, 0}), std::log(2.0) / std::log(4.0), 1e-12);
  EXPECT_NEAR(gini({1, 1, 1, 1}), 0.0, 1e-12);
  EXPECT_NEAR(gini({0, 0, 0, 1}), 0.75, 1e-12);  // (n-1)/n for one holder of everything
  EXPECT_NEAR(gini({1, 2, 3}), 2.0 / 9, 1e-12);  // sum |xi - xj| / (2 n^2 mean) = 8 / 36
  EXPECT_EQ(gini({0, 0}), 0.0);
  EXPECT_THROW(neuron_stats(torch::zeros({3, 2}), torch::zeros({4}, torch::kLong), 2), std::exception);
}

TEST(Recording, ScheduleIsLogSpacedWithEndpointsAndEnoughPoints) {
  const auto s = record_schedule(938, 50);
  EXPECT_EQ(s.front(), 0);
  EXPECT_EQ(s.back(), 938);
  EXPECT_GE(s.size(), 50u);
  EXPECT_LE(s.size(), 52u);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
  // Dense early: the first ten steps are all recorded; the last gap is large.
  for (std::int64_t k = 0; k < 10; ++k) EXPECT_EQ(s[k], k);
  EXPECT_GT(s[s.size() - 1] - s[s.size() - 2], 50);
  EXPECT_EQ(record_schedule(5, 50), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, RoundTripsEveryTypeAndRejectsBadFiles) {
  test::TempDir dir;
  for (const auto type :
       {torch::kHalf, torch::kFloat, torch::kDouble, torch::kLong, torch::kInt, torch::kByte}) {
    const auto t = (torch::arange(24, torch::kDouble).reshape({2, 3, 4}) * 1.5).to(type);
    io::write_npy(dir.path() / "a.npy", t);
    const auto back = io::read_npy(dir.path() / "a.npy");
    EXPECT_EQ(back.scalar_type(), t.scalar_type());
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(back.equal(t));
  }
  io::write_npy(dir.path() / "v.npy", torch::ones({5}));
  // The header is NumPy's: magic, version 1.0, a dict naming dtype and shape, padded to 64 bytes.
  std::ifstream in(dir.path() / "v.npy", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const auto header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0);
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"), std::string::npos);
  EXPECT_EQ(bytes.size(), 10u + header_len + 20u);
  {
    std::ofstream bad(dir.path() / "bad.npy", std::ios::binary);
    bad << bytes.substr(0, bytes.size() - 4);  // truncated body
  }
  EXPECT_THROW(io::read_npy(dir.path() / "bad.npy"), std::exception);
  {
    std::ofstream bad(dir.path() / "junk.npy", std::ios::binary);
    bad << "not numpy";
  }
  EXPECT_THROW(io::read_npy(dir.path() / "junk.npy"), std::exception);
}

}  // namespace
}  // namespace critlab::graph
