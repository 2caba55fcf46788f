// The survey's analysis on tables whose answers are known: the statistics it reports are the statistics
// module's own (checked against R in stats/inference_test.cpp), Holm's adjustment by hand, the claims'
// verdicts follow the data, a test without enough data is null with a status, and a simulated survey recovers
// its slope.
#include "critlab/survey/analysis.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "critlab/io/csv.h"
#include "critlab/io/files.h"
#include "test_util.h"

using namespace critlab;

namespace {

io::TextTable table_of(const std::string& csv) { return io::parse_text_csv(csv, "test table"); }

const survey::Claim& claim(const survey::SurveyAnalysis& a, const std::string& id) {
  for (const auto& c : a.claims)
    if (c.id == id) return c;
  throw std::runtime_error("no claim " + id);
}

}  // namespace

TEST(TextCsv, QuotesCrlfAndByteOrderMark) {
  const auto t = io::parse_text_csv(
      "\xEF\xBB\xBFname,model\r\n\"a,b\",\"say \"\"hi\"\"\"\r\n\r\nc,\"two\nlines\"\n", "t");
  ASSERT_EQ(t.columns, (std::vector<std::string>{"name", "model"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][0], "a,b");
  EXPECT_EQ(t.rows[0][1], "say \"hi\"");
  EXPECT_EQ(t.rows[1][1], "two\nlines");
  EXPECT_EQ(t.lines, (std::vector<std::int64_t>{2, 4}));  // the blank line 3 is skipped
  // Written back and read again, every cell survives.
  const auto again = io::parse_text_csv(t.to_csv(), "t2");
  EXPECT_EQ(again.rows, t.rows);
  EXPECT_EQ(io::csv_cell(" padded"), "\" padded\"");
}

TEST(TextCsv, DamagedTablesNameTheLine) {
  EXPECT_THROW(io::parse_text_csv("", "t"), Error);
  try {
    io::parse_text_csv("a,b\n1,\"open\n2,3\n", "t");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2: a quoted cell is never closed"), std::string::npos)
        << e.what();
  }
  try {
    io::parse_text_csv("a,b,a\n", "t");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("column 'a' appears twice"), std::string::npos) << e.what();
  }
}

TEST(SurveyAnalysis, SpearmanAndHolmAreTheStatisticsModules) {
  const std::vector<double> acc{0.71, 0.80, 0.64, 0.90, 0.77, 0.85, 0.69, 0.74};
  const std::vector<double> d{0.9, 0.5, 1.4, 0.2, 0.8, 0.3, 1.1, 0.7};
  const std::vector<double> delta{12, 15, 11, 18, 13, 14, 16, 12.5};
  const std::vector<double> alpha{4.1, 3.0, 5.2, 3.3, 2.9, 4.4, 3.8, 5.0};
  std::string csv = "name,family,accuracy,d,delta_db,alpha_mean\n";
  for (std::size_t i = 0; i < acc.size(); ++i)
    csv += fmt::format("m{},f{},{},{},{},{}\n", i, i % 3, acc[i], d[i], delta[i], alpha[i]);
  const auto a = survey::analyse_table(table_of(csv), {});
  ASSERT_EQ(a.metrics, (std::vector<std::string>{"d", "delta_db", "alpha_mean"}));
  ASSERT_EQ(a.spearman.size(), 3u);  // no year column: no trend
  const std::vector<std::vector<double>*> cols{const_cast<std::vector<double>*>(&d),
                                               const_cast<std::vector<double>*>(&delta),
                                               const_cast<std::vector<double>*>(&alpha)};
  std::vector<double> p;
  for (std::size_t k = 0; k < 3; ++k) {
    const auto ref = stats::spearman(*cols[k], acc);
    EXPECT_DOUBLE_EQ(*a.spearman[k].r.rho, *ref.rho);
    EXPECT_DOUBLE_EQ(*a.spearman[k].r.p_value, *ref.p_value);
    p.push_back(*ref.p_value);
  }
  // Holm by hand: sort, multiply by m, m-1, ..., keep monotone, cap at 1.
  std::vector<std::size_t> idx{0, 1, 2};
  std::sort(idx.begin(), idx.end(), [&](auto x, auto y) { return p[x] < p[y]; });
  const double h0 = std::min(1.0, 3 * p[idx[0]]), h1 = std::max(h0, std::min(1.0, 2 * p[idx[1]])),
               h2 = std::max(h1, std::min(1.0, p[idx[2]]));
  EXPECT_DOUBLE_EQ(*a.spearman[idx[0]].p_holm, h0);
  EXPECT_DOUBLE_EQ(*a.spearman[idx[1]].p_holm, h1);
  EXPECT_DOUBLE_EQ(*a.spearman[idx[2]].p_holm, h2);
  // The mixed model of each metric is the statistics module's fit on the same rows.
  std::vector<std::string> g;
  for (std::size_t i = 0; i < acc.size(); ++i) g.push_back("f" + std::to_string(i % 3));
  const auto fit = stats::random_intercept_model(acc, d, g);
  ASSERT_TRUE(a.mixed_model[0].fit.slope.has_value());
  EXPECT_DOUBLE_EQ(*a.mixed_model[0].fit.slope, *fit.slope);
  EXPECT_EQ(a.mixed_model[0].fit.groups, 3);
  // JSON: the documented shapes.
  const auto j = survey::to_json(a);
  EXPECT_EQ(j["spearman"][0]["metric"], "d");
  EXPECT_DOUBLE_EQ(j["spearman"][0]["rho"].get<double>(), *a.spearman[0].r.rho);
  EXPECT_EQ(j["spearman"][0]["ci"].size(), 2u);
  for (const char* key :
       {"slope", "slope_se", "intercept", "group_sd", "residual_sd", "p", "n", "groups", "status"})
    EXPECT_TRUE(j["mixed_model"][0].contains(key)) << key;
  EXPECT_EQ(j["ranking"].size(), 3u);
}

TEST(SurveyAnalysis, VerdictsFollowTheData) {
  // Accuracy falls exactly with d (rho = -1: supported), rises with delta_db (supported) and rises with
  // |lambda0| (rho = +1 for a distance: contradicted); year: later models are more accurate.
  std::string csv = "name,family,year,accuracy,d,delta_db,abs_lambda0,alpha_mean\n";
  for (int i = 0; i < 12; ++i)
    csv += fmt::format("m{},f{},{},{},{},{},{},{}\n", i, i % 4, 2010 + i,
                       0.6 + 0.03 * i + 0.002 * ((i * 5) % 3 - 1), 2.0 - 0.15 * i, 10 + i, 0.1 * i,
                       3 + (i * 7) % 5);
  const auto a = survey::analyse_table(table_of(csv), {});
  EXPECT_EQ(claim(a, "accuracy-tracks-criticality:d").verdict, "supported");
  EXPECT_EQ(claim(a, "accuracy-tracks-criticality:delta_db").verdict, "supported");
  EXPECT_EQ(claim(a, "accuracy-tracks-criticality:abs_lambda0").verdict, "contradicted");
  EXPECT_EQ(claim(a, "accuracy-tracks-criticality-within-families:d").verdict, "supported");
  EXPECT_EQ(claim(a, "accuracy-tracks-criticality-within-families:abs_lambda0").verdict, "contradicted");
  // summary.md escapes the formula's '|' so that the claims table keeps its three columns.
  EXPECT_NE(survey::summary_markdown(a).find("accuracy ~ d + (1 \\| family)"), std::string::npos);
  EXPECT_EQ(claim(a, "moved-toward-criticality-over-years:d").verdict, "supported");
  EXPECT_EQ(claim(a, "accuracy-rose-over-years").verdict, "supported");
  EXPECT_EQ(claim(a, "criticality-beats-weight-spectra").verdict, "supported");
  EXPECT_NEAR(*a.spearman[0].r.rho, -1.0, 1e-12);
  EXPECT_EQ(a.ranking.front(), "d");  // |rho| = 1 ties; ties keep the metrics' order
}

TEST(SurveyAnalysis, FactorsGiveMannWhitneyAndPairedWilcoxon) {
  // Six pairs: the same network with and without norm; d is lower with norm in every pair, and every d with
  // norm is below every d without. Exact references: U (of "no") = 36, p = 2 / C(12, 6) = 2 / 924; Wilcoxon
  // on the differences yes - no (all negative): V = 0, p = 2 / 2^6.
  std::string csv = "name,family,accuracy,d,norm,pair\n";
  for (int i = 0; i < 6; ++i) {
    csv += fmt::format("p{}-off,f{},{},{},no,g{}\n", i, i % 2, 0.7 + 0.01 * i, 1.0 + 0.1 * i, i);
    csv += fmt::format("p{}-on,f{},{},{},yes,g{}\n", i, i % 2, 0.75 + 0.013 * i, 0.2 + 0.05 * i, i);
  }
  survey::AnalysisOptions o;
  o.factors = {survey::parse_factor("norm=yes:pair")};
  const auto a = survey::analyse_table(table_of(csv), o);
  const auto& mw = a.mann_whitney.front();
  EXPECT_EQ(mw.variable, "d");
  EXPECT_EQ(mw.level1, "no");
  EXPECT_DOUBLE_EQ(*mw.test.statistic, 36.0);
  EXPECT_TRUE(mw.test.exact);
  EXPECT_NEAR(*mw.test.p_value, 2.0 / 924.0, 1e-12);
  const auto& w = a.wilcoxon.front();
  EXPECT_DOUBLE_EQ(*w.test.statistic, 0.0);
  EXPECT_NEAR(*w.test.p_value, 2.0 / 64.0, 1e-12);
  EXPECT_EQ(w.test.n1, 6);
  EXPECT_EQ(claim(a, "innovation-moves-toward-criticality:norm:d").verdict, "supported");
  // The accuracy is compared too (a row per variable).
  EXPECT_EQ(a.mann_whitney.back().variable, "accuracy");
  // A factor with three levels is not two samples: a status, no number.
  o.factors = {survey::parse_factor("family")};
  const auto three = survey::analyse_table(table_of(csv + "x,f9,0.5,1,maybe,g9\n"), o);
  EXPECT_FALSE(three.mann_whitney.front().test.statistic.has_value());  // f0, f1 and f9
  EXPECT_EQ(three.mann_whitney.front().test.status.code, StatusCode::kInvalidInput);
  EXPECT_EQ(survey::parse_factor("a=b:c").pair_column, "c");
  EXPECT_THROW(survey::parse_factor("a=:c"), Error);
}

TEST(SurveyAnalysis, TooFewModelsGiveAStatusNeverANumber) {
  const auto a =
      survey::analyse_table(table_of("name,family,accuracy,d,norm\nm1,a,0.5,1,no\nm2,b,0.7,0.5,yes\n"),
                            {.factors = {survey::parse_factor("norm")}});
  EXPECT_FALSE(a.spearman[0].r.rho.has_value());
  EXPECT_EQ(a.spearman[0].r.status.code, StatusCode::kInsufficientData);
  EXPECT_FALSE(a.mixed_model[0].fit.slope.has_value());
  EXPECT_FALSE(a.mann_whitney[0].test.p_value.has_value());
  EXPECT_EQ(a.status.code, StatusCode::kInsufficientData);
  const auto j = survey::to_json(a);
  EXPECT_TRUE(j["spearman"][0]["rho"].is_null());
  EXPECT_EQ(j["spearman"][0]["status"], "insufficient-data");
  EXPECT_TRUE(j["mixed_model"][0]["slope"].is_null());
  EXPECT_EQ(j["mixed_model"][0]["status"], "insufficient-data");
  EXPECT_TRUE(j["mann_whitney"][0]["u"].is_null());
  EXPECT_TRUE(j["best_predictor"].is_null());
  EXPECT_EQ(j["best_predictor_status"], "insufficient-data");
  for (const auto& c : a.claims) EXPECT_EQ(c.verdict, "not-testable") << c.id;
}

TEST(SurveyAnalysis, BadCellsAreLeftOutAndNamedByLine) {
  const auto a = survey::analyse_table(
      table_of("name,family,accuracy,d\nm1,a,0.5,1\nm2,a,abc,2\nm3,b,0.7,0.5\nm4,b,0.8,NA\nm5,c,0.6,0.9\n"),
      {});
  ASSERT_EQ(a.notes.size(), 1u);
  EXPECT_EQ(a.notes[0],
            "line 3: accuracy 'abc' is not a number; the row is left out of the tests on accuracy");
  EXPECT_EQ(a.usable, 3);           // m2 has no accuracy, m4 no metric
  EXPECT_EQ(a.spearman[0].r.n, 3);  // m2 (accuracy) and m4 (d) left out
  std::string why;
  survey::AnalysisOptions o;
  o.metrics = {"lambda"};
  EXPECT_FALSE(o.IsValid(table_of("name,accuracy\nx,1\n"), &why));
  EXPECT_NE(why.find("metric column 'lambda' is not in the table"), std::string::npos) << why;
}

// accuracy = a + b metric + family effect + noise, through the table: the mixed model's slope recovers b
// within two standard errors and sees the family spread that Spearman cannot.
TEST(SurveyAnalysis, SimulatedSurveyRecoversTheSlope) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n01;
  const double b = -2.0, family_sd = 1.5, noise_sd = 0.5;
  std::string csv = "name,family,accuracy,d\n";
  int k = 0;
  for (int f = 0; f < 14; ++f) {
    const double u = family_sd * n01(rng);
    for (int i = 0; i < 3 + f % 6; ++i) {
      const double x = 1.0 + n01(rng);
      csv += fmt::format("m{},f{},{:.10g},{:.10g}\n", k++, f, 80 + b * x + u + noise_sd * n01(rng), x);
    }
  }
  const auto a = survey::analyse_table(table_of(csv), {});
  const auto& fit = a.mixed_model[0].fit;
  ASSERT_TRUE(fit.slope && fit.slope_se && fit.group_sd);
  EXPECT_LT(std::abs(*fit.slope - b), 2 * *fit.slope_se) << *fit.slope << " +- " << *fit.slope_se;
  EXPECT_NEAR(*fit.group_sd, family_sd, 0.5 * family_sd);
  EXPECT_NEAR(*fit.residual_sd, noise_sd, 0.2 * noise_sd);
  EXPECT_LT(*fit.p_value, 1e-6);
  EXPECT_EQ(fit.groups, 14);
}

// Cells that are not UTF-8 (a Latin-1 spreadsheet export) must not break the JSON output (found by
// fuzz/survey_table_fuzz.cpp: nlohmann::json's dump threw type_error 316).
TEST(SurveyAnalysis, NonUtf8CellsAreWrittenNotThrown) {
  test::TempDir tmp;
  const auto table = table_of(
      "name,family,accuracy,d\nm1,caf\xE9,0.5,1\nm2,caf\xE9,0.6,0.8\nm3,b,0.7,0.5\n"
      "m4,b,x\xD3y,0.4\nm5,c,0.9,0.1\n");
  const auto a = survey::analyse_table(table, {});
  ASSERT_NO_THROW(survey::write_analysis_files(tmp.path(), table, a));
  const auto j = nlohmann::json::parse(io::read_text(tmp.path() / "analysis.json"));
  EXPECT_EQ(j["usable"], 4);
  EXPECT_EQ(j["notes"].size(), 1u);  // line 5's accuracy, written with U+FFFD in place of the bad byte
}
