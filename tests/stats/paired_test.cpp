// Paired comparisons and rankings of methods over seeds (paired.h) against figures worked out by hand.
//
// Exact signed-rank p-values: with n non-zero differences and no ties, V's null distribution is that of the
// sum of a random subset of {1..n} (2^n subsets, equally likely), and the two-sided p is twice the smaller
// tail at the observed V.
#include "critlab/stats/paired.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "critlab/core/error.h"

using namespace critlab;
using namespace critlab::stats;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kTol = 1e-12;

// The method at position `i` of the ranking (best first).
const MethodRank& at(const Ranking& r, std::size_t i) { return r.methods.at(i); }

}  // namespace

// ---- paired_comparison ----

TEST(PairedComparison, WilcoxonAndTIntervalOfFourDifferences) {
  // d = {1.5, -0.5, 2.5, 3.5}: ranks of |d| are 0.5 -> 1, 1.5 -> 2, 2.5 -> 3, 3.5 -> 4, so V = 2 + 3 + 4 = 9.
  // Of the 16 subsets of {1, 2, 3, 4} two sum to 9 or more ({2,3,4}, {1,2,3,4}): p = 2 * 2/16 = 0.25.
  const auto c = paired_comparison({2.0, 1.0, 3.0, 4.5}, {0.5, 1.5, 0.5, 1.0});
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.n, 4);
  EXPECT_EQ(c.wins, 3);
  EXPECT_EQ(c.losses, 1);
  EXPECT_NEAR(*c.wilcoxon_v, 9, kTol);
  EXPECT_TRUE(c.exact);
  EXPECT_NEAR(*c.p_value, 0.25, kTol);
  // mean 7/4; squared deviations 0.0625 + 5.0625 + 0.5625 + 3.0625 = 8.75, sd^2 = 8.75 / 3 = 35/12;
  // t_{0.975, 3} = 3.182446305284263.
  EXPECT_NEAR(*c.mean_difference, 1.75, kTol);
  const double half = 3.182446305284263 * std::sqrt(35.0 / 12) / 2;
  EXPECT_NEAR(*c.ci_low, 1.75 - half, kTol);
  EXPECT_NEAR(*c.ci_high, 1.75 + half, kTol);
}

TEST(PairedComparison, AllPositiveGivesTheSmallestExactP) {
  // Only the full subset reaches V = n(n+1)/2: p = 2 / 2^n.
  const auto five = paired_comparison({2, 3, 4, 5, 6}, {1, 1, 1, 1, 1});
  EXPECT_NEAR(*five.wilcoxon_v, 15, kTol);
  EXPECT_NEAR(*five.p_value, 2.0 / 32, kTol);
  EXPECT_TRUE(five.exact);
  EXPECT_EQ(five.wins, 5);
  const auto six = paired_comparison({2, 3, 4, 5, 6, 7}, {1, 1, 1, 1, 1, 1});
  EXPECT_NEAR(*six.wilcoxon_v, 21, kTol);
  EXPECT_NEAR(*six.p_value, 2.0 / 64, kTol);
}

TEST(PairedComparison, TIntervalOfThreeDifferences) {
  // d = {1, 2, 3}: mean 2, sd 1, t_{0.975, 2} = 0.95 sqrt(2 / (1 - 0.95^2)) = 4.302652729749464.
  const auto c = paired_comparison({3, 5, 7}, {2, 3, 4});
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_NEAR(*c.mean_difference, 2, kTol);
  const double half = 4.302652729749464 / std::sqrt(3.0);
  EXPECT_NEAR(*c.ci_low, 2 - half, kTol);
  EXPECT_NEAR(*c.ci_high, 2 + half, kTol);
  // V = 1 + 2 + 3 = 6, the largest of 8 subsets: p = 2/8.
  EXPECT_NEAR(*c.p_value, 0.25, kTol);
  // At level 0.5: t_{0.75, 2} = 0.5 sqrt(2 / (1 - 0.25)) = sqrt(2/3).
  const auto c50 = paired_comparison({3, 5, 7}, {2, 3, 4}, 0.5);
  EXPECT_NEAR(*c50.ci_high - 2, std::sqrt(2.0 / 3) / std::sqrt(3.0), kTol);
  EXPECT_EQ(c50.level, 0.5);
}

TEST(PairedComparison, TiesAndZerosUseTheNormalApproximation) {
  // Non-zero d = {1, 1, 2}: ranks 1.5, 1.5, 3, V = 6; a tie and a zero rule out the exact distribution.
  const auto c = paired_comparison({1, 1, 2, 5}, {0, 0, 0, 5});
  EXPECT_EQ(c.n, 4);
  EXPECT_EQ(c.wins, 3);
  EXPECT_EQ(c.losses, 0);
  EXPECT_NEAR(*c.wilcoxon_v, 6, kTol);
  EXPECT_FALSE(c.exact);
  ASSERT_TRUE(c.p_value);
  // var = 3*4*7/24 - (2^3 - 2)/48 = 3.375; z = (6 - 3 - 0.5) / sqrt(3.375); p = erfc(z / sqrt 2).
  EXPECT_NEAR(*c.p_value, std::erfc(2.5 / std::sqrt(3.375) / std::sqrt(2.0)), 1e-12);
}

TEST(PairedComparison, NonFiniteSeedsAreDroppedAndOnePairHasNoInterval) {
  // Only seed 0 has both values finite: d = {1}.
  const auto c = paired_comparison({1, kNaN, 3, kInf}, {0, 1, kNaN, 2});
  EXPECT_EQ(c.n, 1);
  EXPECT_NEAR(*c.mean_difference, 1, kTol);
  EXPECT_FALSE(c.ci_low);
  EXPECT_FALSE(c.ci_high);
  EXPECT_EQ(c.status.code, StatusCode::kInsufficientData);
  // n = 1: V = 1, P(V >= 1) = 1/2, P(V <= 1) = 1: p = 1.
  EXPECT_NEAR(*c.wilcoxon_v, 1, kTol);
  EXPECT_NEAR(*c.p_value, 1, kTol);
}

TEST(PairedComparison, NoPairsAndEqualMethods) {
  const auto none = paired_comparison({kNaN, 1}, {2, kNaN});
  EXPECT_EQ(none.n, 0);
  EXPECT_EQ(none.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(none.mean_difference || none.ci_low || none.ci_high || none.wilcoxon_v || none.p_value);
  // d = {0.1, 0.1, 0.1}: constant, so the interval is [mean, mean] with the mean exactly 0.1; no non-zero
  // difference for the signed-rank test.
  const auto same = paired_comparison({0.2, 0.2, 0.2}, {0.1, 0.1, 0.1});
  EXPECT_EQ(*same.mean_difference, 0.2 - 0.1);
  EXPECT_EQ(*same.ci_low, *same.mean_difference);
  EXPECT_EQ(*same.ci_high, *same.mean_difference);
  const auto zero = paired_comparison({1, 2, 3}, {1, 2, 3});
  EXPECT_EQ(*zero.mean_difference, 0);
  EXPECT_FALSE(zero.wilcoxon_v);
  EXPECT_FALSE(zero.p_value);
  EXPECT_EQ(zero.wins + zero.losses, 0);
  EXPECT_EQ(zero.status.code, StatusCode::kInsufficientData);
  EXPECT_NE(zero.status.message.find("Wilcoxon"), std::string::npos);
}

TEST(PairedComparison, BadInputThrows) {
  EXPECT_THROW(paired_comparison({1, 2}, {1}), Error);
  EXPECT_THROW(paired_comparison({1, 2}, {1, 2}, 1.0), Error);
  EXPECT_THROW(paired_comparison({1, 2}, {1, 2}, 0.0), Error);
}

TEST(PairedComparison, JsonWritesNullAndStatus) {
  const auto j = to_json(paired_comparison({1, kNaN}, {0, 0}));
  EXPECT_EQ(j.at("n"), 1);
  EXPECT_EQ(j.at("mean_difference"), 1.0);
  EXPECT_TRUE(j.at("ci_low").is_null());
  EXPECT_TRUE(j.at("ci_high").is_null());
  EXPECT_EQ(j.at("wins"), 1);
  EXPECT_EQ(j.at("status"), "insufficient-data");
  EXPECT_FALSE(j.at("message").get<std::string>().empty());
}

// ---- rank_methods ----

TEST(PairedRanking, OneMethodBestOnEverySeed) {
  // Ranks per seed (m0, m1, m2): (3, 2, 1), (2, 3, 1), (3, 2, 1): mean ranks 8/3, 7/3, 1.
  const auto r = rank_methods({{0.1, 0.5, 0.9}, {0.3, 0.2, 0.8}, {0.4, 0.6, 0.7}});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.seeds, 3);
  EXPECT_EQ(r.resamples, 2000);
  ASSERT_EQ(r.methods.size(), 3u);
  EXPECT_EQ(at(r, 0).method, 2u);
  EXPECT_EQ(at(r, 1).method, 1u);
  EXPECT_EQ(at(r, 2).method, 0u);
  EXPECT_NEAR(*at(r, 0).mean_rank, 1, kTol);
  EXPECT_NEAR(*at(r, 1).mean_rank, 7.0 / 3, kTol);
  EXPECT_NEAR(*at(r, 2).mean_rank, 8.0 / 3, kTol);
  EXPECT_EQ(*at(r, 0).rank_low, 1);
  EXPECT_EQ(*at(r, 0).rank_high, 1);
  EXPECT_EQ(*at(r, 0).p_best, 1);
  EXPECT_EQ(*at(r, 1).p_best, 0);
  EXPECT_EQ(*at(r, 2).p_best, 0);
  for (const auto& m : r.methods) {
    EXPECT_EQ(m.seeds, 3);
    EXPECT_LE(*m.rank_low, *m.mean_rank);
    EXPECT_GE(*m.rank_high, *m.mean_rank);
  }
  // Methods 0 and 1 rank 2 or 3 on every seed, so every resample's mean lies in [2, 3].
  EXPECT_GE(*at(r, 2).rank_low, 2);
  EXPECT_LE(*at(r, 2).rank_high, 3);
}

TEST(PairedRanking, TiesShareTheMeanRank) {
  // Seed 0: m0 and m1 tie first (1.5), m2 3. Seed 1: all tie (2). Seed 2: m1 and m2 tie first, m0 3.
  // Mean ranks: m0 (1.5 + 2 + 3)/3 = 13/6, m1 (1.5 + 2 + 1.5)/3 = 5/3, m2 (3 + 2 + 1.5)/3 = 13/6; m0 and
  // m2 tie and keep their column order.
  const auto r = rank_methods({{1, 1, 0}, {2, 2, 2}, {0, 5, 5}});
  ASSERT_EQ(r.methods.size(), 3u);
  EXPECT_EQ(at(r, 0).method, 1u);
  EXPECT_EQ(at(r, 1).method, 0u);
  EXPECT_EQ(at(r, 2).method, 2u);
  EXPECT_NEAR(*at(r, 0).mean_rank, 5.0 / 3, kTol);
  EXPECT_NEAR(*at(r, 1).mean_rank, 13.0 / 6, kTol);
  EXPECT_NEAR(*at(r, 2).mean_rank, 13.0 / 6, kTol);
  double total = 0;
  for (const auto& m : r.methods) total += *m.p_best;
  EXPECT_NEAR(total, 1, kTol);
}

TEST(PairedRanking, MissingScoresRankLast) {
  // Seed 0: m2 1, m1 2, m0 (missing) 3. Seed 1: m0 1, m1 and m2 missing share (2 + 3)/2 = 2.5. Seed 2 has
  // no score and is dropped. Seed 3: m2 1, m1 2, m0 3. Means: m0 7/3, m1 13/6, m2 3/2.
  const auto r = rank_methods({{kNaN, 1, 2}, {3, kNaN, kNaN}, {kNaN, kNaN, kNaN}, {1, 2, 3}});
  EXPECT_EQ(r.seeds, 3);
  ASSERT_EQ(r.methods.size(), 3u);
  EXPECT_EQ(at(r, 0).method, 2u);
  EXPECT_EQ(at(r, 1).method, 1u);
  EXPECT_EQ(at(r, 2).method, 0u);
  EXPECT_NEAR(*at(r, 0).mean_rank, 1.5, kTol);
  EXPECT_NEAR(*at(r, 1).mean_rank, 13.0 / 6, kTol);
  EXPECT_NEAR(*at(r, 2).mean_rank, 7.0 / 3, kTol);
  for (const auto& m : r.methods) EXPECT_EQ(m.seeds, 2);
  // An infinite score is missing as well: m0 ranks last on the only seed.
  const auto inf = rank_methods({{kInf, 1, 2}}, 10);
  EXPECT_EQ(at(inf, 2).method, 0u);
  EXPECT_EQ(at(inf, 2).seeds, 0);
}

TEST(PairedRanking, NoSeedsOneSeedNoBootstrap) {
  const auto empty = rank_methods({});
  EXPECT_EQ(empty.status.code, StatusCode::kInsufficientData);
  EXPECT_TRUE(empty.methods.empty());
  EXPECT_EQ(empty.resamples, 0);
  const auto blank = rank_methods({{kNaN, kNaN}, {kNaN, kNaN}});
  EXPECT_EQ(blank.status.code, StatusCode::kInsufficientData);
  EXPECT_TRUE(blank.methods.empty());

  // One seed: every resample is that seed; m0 and m1 tie first and split p_best.
  const auto one = rank_methods({{5, 5, 1}});
  EXPECT_TRUE(one.status.ok());
  EXPECT_FALSE(one.status.message.empty());  // the caveat
  EXPECT_EQ(*at(one, 0).p_best, 0.5);
  EXPECT_EQ(*at(one, 1).p_best, 0.5);
  EXPECT_EQ(*at(one, 2).p_best, 0);
  for (const auto& m : one.methods) {
    EXPECT_EQ(*m.rank_low, *m.mean_rank);
    EXPECT_EQ(*m.rank_high, *m.mean_rank);
  }

  const auto none = rank_methods({{1, 2}, {3, 1}}, 0);
  EXPECT_EQ(none.status.code, StatusCode::kNotRun);
  EXPECT_EQ(none.resamples, 0);
  EXPECT_NEAR(*at(none, 0).mean_rank, 1.5, kTol);
  EXPECT_FALSE(at(none, 0).rank_low || at(none, 0).rank_high || at(none, 0).p_best);

  EXPECT_THROW(rank_methods({{1, 2}, {3}}), Error);
  EXPECT_THROW(rank_methods({{1, 2}}, -1), Error);
  EXPECT_THROW(rank_methods({{1, 2}}, 10, 1, 1.5), Error);
}

TEST(PairedRanking, DeterministicAndNearTheExpectedSplit) {
  // Two seeds, each won by another method. A resample of two seeds is {A, A} (m0 best), {B, B} (m1 best)
  // or {A, B} (a tie, each 1/2), with probabilities 1/4, 1/4, 1/2: p_best = 1/2 for each in expectation.
  const std::vector<std::vector<double>> scores{{2, 1}, {1, 2}};
  const auto r1 = rank_methods(scores, 4000, 7);
  const auto r2 = rank_methods(scores, 4000, 7);
  ASSERT_EQ(r1.methods.size(), 2u);
  EXPECT_NEAR(*at(r1, 0).p_best, 0.5, 0.05);  // sd of the estimate ~ 0.006
  EXPECT_NEAR(*at(r1, 0).p_best + *at(r1, 1).p_best, 1, kTol);
  EXPECT_EQ(to_json(r1).dump(), to_json(r2).dump());
  // Pins of this implementation's draws (std::mt19937_64 and modulo with rejection: the same sequence on
  // every platform). A change here means the bootstrap's resamples changed.
  EXPECT_NEAR(*at(r1, 0).p_best, 2019.5 / 4000, kTol);

  const std::vector<std::vector<double>> table{{0.71, 0.69, 0.75, 0.70}, {0.68, 0.72, 0.74, 0.73},
                                               {0.70, 0.70, 0.69, 0.71}, {0.66, 0.71, 0.76, 0.72},
                                               {0.72, 0.65, 0.73, 0.74}, {0.69, 0.70, 0.72, 0.68}};
  const auto a = rank_methods(table, 1000, 42);
  const auto b = rank_methods(table, 1000, 42);
  EXPECT_EQ(to_json(a).dump(), to_json(b).dump());
  EXPECT_EQ(to_json(a).at("methods").at(0).at("method"), 2);
  EXPECT_NEAR(*at(a, 0).p_best, 0.7295, kTol);
  EXPECT_NEAR(*at(a, 0).rank_high, 16.0 / 6, kTol);
}
