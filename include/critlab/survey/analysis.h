// The survey's analysis (Vock & Meisel's headline study): does accuracy track closeness to criticality across
// models, did architectures move toward criticality over the years, and do innovations move them there?
// Input: any table with one row per model (the survey's models.csv, or a user's own CSV), read as text so
// that names and numbers can mix. For each metric column it runs
//   - Spearman's rho of accuracy against the metric (and of the metric against year), Fisher interval and p,
//     with Holm's adjustment over the metrics;
//   - the linear mixed model accuracy ~ metric + (1 | group) by REML (a random intercept per family);
//   - Mann-Whitney U of the metric between the two levels of each factor, and the Wilcoxon signed-rank test
//   on
//     the pairs a pair column defines (the same model with one innovation switched);
// then ranks the metrics as predictors and states, per claim, whether the data support it. A test that cannot
// be computed (fewer than 3 models, a constant column, one level) has null figures and a status. No libtorch.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"
#include "critlab/io/csv.h"
#include "critlab/stats/correlation.h"
#include "critlab/stats/inference.h"

namespace critlab::survey {

// A table cell as a number: empty, "null", "NA", "nan" and "NaN" are missing (NaN) without comment; any other
// text, or a number that is not finite, is missing too and sets `*bad` (the caller names the cell).
double cell_number(const std::string& cell, bool* bad);

// How a metric relates to criticality, which decides the sign a claim expects. Known by name: d,
// abs_lambda0 and sigma_distance are distances (0 = critical); delta_db is a closeness (largest at
// criticality); alpha_mean and alpha_weighted_mean are the data-free weight-spectrum competitors
// (WeightWatcher); anything else is reported without a claim.
enum class MetricRole { kDistance, kCloseness, kSpectral, kOther };
MetricRole metric_role(const std::string& metric);

// A two-level column: `column`, optionally the level that is the innovation (`innovation`, so a claim can say
// whether the innovation moved networks toward criticality) and a column whose equal values mark the rows
// of one pair (the same network with the innovation on and off).
struct FactorSpec {
  std::string column;
  std::string innovation;   // "" = not said: the tests are reported, the claim states only the direction
  std::string pair_column;  // "" = no pairs: no Wilcoxon test
};
// Parses "COL", "COL=LEVEL", "COL:PAIRCOL" or "COL=LEVEL:PAIRCOL" (the CLI's --factor).
FactorSpec parse_factor(const std::string& text);

struct AnalysisOptions {
  std::string accuracy = "accuracy";  // the column to explain
  std::vector<std::string> metrics;   // empty: every column of default_metrics() the table has
  std::string group = "family";       // random-intercept groups; "" = no mixed model
  std::string year = "year";          // "" or an absent column: no trend over the years
  std::vector<FactorSpec> factors;
  double confidence = 0.95;  // Spearman's intervals
  double alpha = 0.05;       // the level at which a claim counts as supported (Holm-adjusted where stated)
  int min_models = 3;        // fewer usable models for a test: null figures and insufficient-data

  // False with a message naming the bad field, checked against the table's columns.
  bool IsValid(const io::TextTable& table, std::string* error) const;
};
// The survey's own metric columns, in the order they are reported.
const std::vector<std::string>& default_metrics();

struct SpearmanResult {
  std::string x, y;  // rho of y against x (y = accuracy or the metric)
  stats::RankCorrelation r;
  std::optional<double> p_holm;  // Holm-adjusted over the metrics of the same family of tests
};
struct MixedResult {
  std::string metric;
  stats::MixedModelFit fit;
  std::optional<double> slope_standardized;  // slope x sd(metric) / sd(accuracy): comparable across metrics
};
struct MannWhitneyResult {
  std::string factor, variable, level1, level2;  // U is of level1, the first level in sorted order
  stats::RankTest test;
  std::optional<double> median1, median2;
};
struct WilcoxonResult {
  std::string factor, variable, pair_column;  // differences = value at level2 - value at level1, per pair
  std::string level1, level2;
  stats::RankTest test;
  std::optional<double> median_difference;
};
// One claim of the paper, tested on these data.
struct Claim {
  std::string id;         // e.g. "accuracy-tracks-criticality:d"
  std::string statement;  // the claim, in words
  std::string verdict;    // supported, contradicted, not-supported, not-testable
  std::string evidence;   // the numbers behind the verdict
};

struct SurveyAnalysis {
  AnalysisOptions options;
  std::int64_t rows = 0;    // rows in the table
  std::int64_t usable = 0;  // rows with a numeric accuracy and at least one numeric metric
  std::int64_t groups = 0;  // distinct values of the group column among them
  std::vector<std::string> metrics;
  std::vector<SpearmanResult> spearman;       // accuracy against each metric, then accuracy against year
  std::vector<SpearmanResult> spearman_year;  // each metric against year
  std::vector<MixedResult> mixed_model;
  std::vector<MannWhitneyResult> mann_whitney;
  std::vector<WilcoxonResult> wilcoxon;
  std::vector<std::string> ranking;  // metrics, best predictor of accuracy first (by |rho|)
  std::vector<Claim> claims;
  std::vector<std::string> notes;  // rows left out and why (by line number)
  Status status;
};

// Throws critlab::Error when the options do not fit the table (a missing column); everything else is a
// status inside the result.
SurveyAnalysis analyse_table(const io::TextTable& table, const AnalysisOptions& options);

// spearman[], mixed_model[], mann_whitney[], wilcoxon[] (the stable shapes documented in README),
// spearman_year[], best_predictor, ranking[], claims[], notes[], and the counts.
nlohmann::json to_json(const SurveyAnalysis& a);

// Writes `dir`/analysis.json, tables/*.csv, plots (accuracy against each metric coloured by family, each
// metric against year, family means) and summary.md. `table` is the one analysed.
void write_analysis_files(const std::filesystem::path& dir, const io::TextTable& table,
                          const SurveyAnalysis& a);

// A few lines for a terminal: each testable claim with its verdict and numbers, and how many were not
// testable.
std::string claims_brief(const SurveyAnalysis& a);

// summary.md's text: per claim, the verdict and its numbers, then the tables.
std::string summary_markdown(const SurveyAnalysis& a);

}  // namespace critlab::survey
