// The graph analysis as a library: analyse_run returns values a caller reads (no JSON), the report writes
// exactly those values, and on degenerate input every figure not obtained is empty / JSON null with a
// status and message beside it, never a 0, -1 or NaN standing in for it.
#include "critlab/graph/analysis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "critlab/graph/recording.h"
#include "critlab/graph/report.h"
#include "critlab/io/files.h"
#include "critlab/io/table.h"
#include "test_util.h"

namespace critlab::graph {
namespace {

using nlohmann::json;
using test::run_cli;

// Every object that holds a null also holds a status other than ok and a message; no number is NaN/Inf.
void expect_nulls_explained(const json& j, const std::string& where) {
  if (j.is_object()) {
    bool has_null = false;
    for (const auto& [k, v] : j.items()) {
      // A null with its own "<key>_status" and "<key>_message" beside it (core/status.h's put_result).
      // A power-law fit's "xmax": null says the fit has no upper cut-off (stats/powerlaw.h), not a missing
      // figure.
      if (v.is_null() && !(j.contains(k + "_status") && j.contains(k + "_message")) && k != "xmax")
        has_null = true;
      expect_nulls_explained(v, where + "." + k);
    }
    if (has_null) {
      ASSERT_TRUE(j.contains("status") && j.contains("message")) << where << ": " << j.dump();
      EXPECT_NE(j["status"], "ok") << where << ": " << j.dump().substr(0, 400);
      EXPECT_FALSE(j["message"].get<std::string>().empty()) << where;
    }
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i)
      expect_nulls_explained(j[i], where + "[" + std::to_string(i) + "]");
  } else if (j.is_number_float()) {
    EXPECT_TRUE(std::isfinite(j.get<double>())) << where;
  }
}

TEST(GraphAnalysis, ReturnsValuesThatTheReportWrites) {
  test::TempDir d;
  const auto run = d.path() / "run";
  ASSERT_EQ(
      run_cli("train --arch mlp --depth 3 --width 32 --activation tanh --batch-size 100 --lr 0.05 --seed 2 "
              "--train-examples 1000 --epochs 1 --threads 1 --record --record-points 8 --record-probes 200 "
              "--out " +
              run.string())
          .exit_code,
      0);
  GraphOptions o;
  o.threads = 1;
  o.prune_fractions = {1.0, 0.2};
  o.prune_random_repeats = 2;
  int progress_calls = 0;
  o.progress = [&](const ProgressEvent& e) {
    ++progress_calls;
    EXPECT_LE(e.done, e.total);
  };
  const auto a = analyse_run(run, o);
  EXPECT_FALSE(std::filesystem::exists(run / "graph")) << "analyse_run writes nothing";

  const auto schedule =
      io::read_json(run / "record" / "meta.json")["schedule"].get<std::vector<std::int64_t>>();
  ASSERT_EQ(a.percolation.size(), schedule.size());
  EXPECT_EQ(progress_calls, static_cast<int>(schedule.size() + o.prune_fractions.size()));
  // The default rule: theta is the last recorded network's own percolation point (full resolution).
  EXPECT_EQ(a.theta_rule, ThetaRule::kFinal);
  EXPECT_TRUE(a.theta_note.empty());
  ASSERT_EQ(a.theta_c.size(), schedule.size());
  ASSERT_TRUE(a.theta_c.back().sweep.theta_c);
  EXPECT_EQ(a.theta, *a.theta_c.back().sweep.theta_c);
  for (std::size_t k = 0; k < schedule.size(); ++k) {
    const auto& f = a.theta_c[k].sweep;
    EXPECT_EQ(a.theta_c[k].step, schedule[k]);
    ASSERT_TRUE(f.status.ok()) << f.status.to_string();
    ASSERT_TRUE(f.theta_c && f.chi_max && f.p_inf_at && f.largest_jump && f.discontinuous);
    // theta_c lies inside its own peak, and P_inf one level on is not below P_inf at the peak.
    EXPECT_GE(*f.peak_width, 0.0);
    if (f.p_inf_below) {
      EXPECT_GE(*f.p_inf_below, *f.p_inf_at);
    }
  }
  // At theta = theta_c of the last step the network graph at that step has the fine sweep's chi_max: the
  // same susceptibility from two routes (one threshold of a sweep, one level of the fine sweep).
  EXPECT_NEAR(a.percolation.back().susceptibility, *a.theta_c.back().sweep.chi_max, 1e-9);
  // The initial rule takes the first network's instead; the percolation over steps follows theta.
  GraphOptions oi = o;
  oi.theta_rule = ThetaRule::kInitial;
  oi.pruning = false;
  oi.hebbian = false;
  oi.progress = nullptr;
  const auto ai = analyse_run(run, oi);
  EXPECT_EQ(ai.theta_rule, ThetaRule::kInitial);
  EXPECT_EQ(ai.theta, *ai.theta_c.front().sweep.theta_c);
  EXPECT_NEAR(ai.percolation.front().susceptibility, *ai.theta_c.front().sweep.chi_max, 1e-9);
  EXPECT_EQ(ai.hebbian_status.code, StatusCode::kNotRun);
  EXPECT_TRUE(ai.hebbian.empty());
  EXPECT_GT(a.theta, 0.0);
  EXPECT_LT(a.theta, 1.0);
  EXPECT_EQ(a.probes, 200);
  EXPECT_EQ(a.hidden_layers, (std::vector<std::int64_t>{0, 1, 2}));
  for (std::size_t k = 0; k < schedule.size(); ++k) {
    const auto& p = a.percolation[k];
    EXPECT_EQ(p.step, schedule[k]);
    EXPECT_GE(p.p_inf, 0.0);
    EXPECT_LE(p.p_inf, 1.0);
    EXPECT_EQ(p.nodes + p.excluded_units, 3 * 32);
    // P_inf is the largest component over the kept nodes: a whole number of nodes.
    EXPECT_NEAR(p.p_inf * static_cast<double>(p.nodes), std::round(p.p_inf * static_cast<double>(p.nodes)),
                1e-9);
    ASSERT_EQ(p.layers.size(), 3u);
  }
  // The transition over steps sits at the largest susceptibility, at a recorded step.
  ASSERT_TRUE(a.transition.x_c && a.transition.chi_max);
  double chi_max = 0;
  for (const auto& p : a.percolation) chi_max = std::max(chi_max, p.susceptibility);
  EXPECT_EQ(*a.transition.chi_max, chi_max);
  EXPECT_NE(std::find(schedule.begin(), schedule.end(), static_cast<std::int64_t>(*a.transition.x_c)),
            schedule.end());
  EXPECT_EQ(a.transition.beta.has_value(), a.transition.status.ok());
  // Theta sweeps start at the first recorded step and end at the last; the first one located theta.
  ASSERT_GE(a.theta_sweeps.size(), 2u);
  EXPECT_EQ(a.theta_sweeps.front().step, schedule.front());
  EXPECT_EQ(a.theta_sweeps.back().step, schedule.back());
  EXPECT_EQ(a.structure.size(), a.theta_sweeps.size());
  // Critical neurons: round(10% of 32) = 3 units per layer, rows step-major.
  ASSERT_EQ(a.critical_neurons.rows.size(), 3 * schedule.size());
  for (const auto& s : a.critical_neurons.summary) EXPECT_EQ(s.critical, 3);
  EXPECT_FALSE(a.critical_neurons.rows.front().jaccard_previous);
  EXPECT_TRUE(a.critical_neurons.rows.back().jaccard_previous);
  EXPECT_DOUBLE_EQ(a.critical_neurons.rows.back().jaccard_final, 1.0);
  // The first hidden layer's inputs are pixels: no reinforcement, said so; the others have it.
  EXPECT_EQ(a.critical_neurons.summary[0].status.code, StatusCode::kNotApplicable);
  EXPECT_FALSE(a.critical_neurons.summary[0].reinforcement_ratio_final);
  EXPECT_TRUE(a.critical_neurons.summary[1].reinforcement_ratio_final);
  // Pruning nothing reproduces the run's test accuracy; every rule on every fraction.
  ASSERT_TRUE(a.pruning.status.ok()) << a.pruning.status.to_string();
  ASSERT_EQ(a.pruning.curve.size(), 2u);
  const double acc = io::read_json(run / "summary.json")["test_accuracy"];
  EXPECT_NEAR(a.pruning.curve[0].critical, acc, 1e-12);
  EXPECT_NEAR(a.pruning.curve[0].magnitude, acc, 1e-12);
  EXPECT_NEAR(a.pruning.curve[0].random, acc, 1e-12);
  EXPECT_EQ(a.pruning.curve[0].random_sd, 0.0);
  EXPECT_EQ(a.pruning.classes.size(), 10u);
  EXPECT_EQ(a.rasters.size(), 3 + a.theta_sweeps.size() - 1);
  EXPECT_FALSE(a.finite_size);
  // The Hebbian test: every dense layer between every pair of adjacent recorded steps, with r and with the
  // mean product; pairs are the weights between units (and pixels) with variance.
  EXPECT_TRUE(a.hebbian_status.ok()) << a.hebbian_status.to_string();
  ASSERT_EQ(a.hebbian.size(), 2 * 3 * (schedule.size() - 1));
  for (const auto& h : a.hebbian) {
    ASSERT_TRUE(h.result.status.ok()) << h.result.status.to_string();
    EXPECT_GT(h.result.pairs, 0);
    EXPECT_LE(h.result.pairs, h.layer == 0 ? 32 * 784 : 32 * 32);
    ASSERT_TRUE(h.result.rho && h.result.rho_lo && h.result.rho_hi && h.result.null_sd);
    EXPECT_LE(*h.result.rho_lo, *h.result.rho);
    EXPECT_GE(*h.result.rho_hi, *h.result.rho);
  }
  ASSERT_EQ(a.redistribution.size(), 3u);
  for (const auto& r : a.redistribution) {
    ASSERT_TRUE(r.result.status.ok()) << r.result.status.to_string();
    // Layer 0: 3 critical units x all 784 pixels; the others 3 x 3 critical units below.
    EXPECT_EQ(r.result.critical_weights, r.layer == 0 ? 3 * 784 : 9);
    EXPECT_EQ(r.result.critical_weights + r.result.other_weights, r.layer == 0 ? 32 * 784 : 32 * 32);
    EXPECT_EQ(r.result.critical_path.windows.size(), schedule.size() - 1);
  }
  ASSERT_EQ(a.avalanches.size(), 3u);
  for (const auto& l : a.avalanches) EXPECT_EQ(l.active_fraction.size(), schedule.size());

  // The report writes those values: the CSV reads back as the struct, the summary is to_json.
  const auto out = d.path() / "report";
  write_graph_report(a, out);
  const auto t = io::read_csv(out / "tables" / "percolation_steps.csv");
  ASSERT_EQ(t.rows.size(), a.percolation.size());
  for (std::size_t k = 0; k < t.rows.size(); ++k) {
    EXPECT_EQ(t.rows[k][t.column("step")], static_cast<double>(a.percolation[k].step));
    EXPECT_NEAR(t.rows[k][t.column("p_inf")], a.percolation[k].p_inf, 1e-5);
    EXPECT_NEAR(t.rows[k][t.column("susceptibility_layer1")], a.percolation[k].layers[1].susceptibility,
                1e-5 * a.percolation[k].layers[1].susceptibility);
  }
  const auto j = io::read_json(out / "summary.json");
  EXPECT_EQ(j, to_json(a));
  EXPECT_EQ(j["percolation"][2]["p_inf"].get<double>(), a.percolation[2].p_inf);
  EXPECT_EQ(j["pruning"]["curve"][1]["critical"].get<double>(), a.pruning.curve[1].critical);
  for (const char* f :
       {"tables/critical_neurons.csv", "tables/pruning.csv", "ccg/class3.graphml", "tables/units_layer2.csv"})
    EXPECT_TRUE(std::filesystem::exists(out / f)) << f;
  expect_nulls_explained(j, "summary");
}

// A convolutional network recorded at two steps: too few steps for a transition or a rise, conv blocks with
// no dense weights, and no pruning test (it needs a network of dense blocks). Nothing fails; each missing
// result is null with its status.
TEST(GraphAnalysis, DegenerateRecordingGivesNullsWithStatus) {
  test::TempDir d;
  const auto run = d.path() / "cnn";
  ASSERT_EQ(
      run_cli(
          "train --arch cnn --depth 2 --width 4 --batch-size 100 --seed 1 --train-examples 300 --epochs 1 "
          "--threads 1 --record --record-points 2 --record-probes 60 --out " +
          run.string())
          .exit_code,
      0);
  const auto r = run_cli("graph --run " + run.string() + " --json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  expect_nulls_explained(j, "summary");
  ASSERT_EQ(j["percolation"].size(), 2u);

  const auto& t = j["transition"];
  EXPECT_EQ(t["status"], "insufficient-data");
  for (const char* k : {"step", "x_c", "beta", "beta_ci", "chi_max", "ordered_side"})
    EXPECT_TRUE(t[k].is_null()) << k;
  EXPECT_EQ(j["rise"]["status"], "insufficient-data");
  for (const char* k : {"direction", "step_10", "step_50", "step_90", "p_inf_initial", "decades_10_90"})
    EXPECT_TRUE(j["rise"][k].is_null()) << k;

  EXPECT_EQ(j["pruning"]["status"], "not-applicable");
  EXPECT_TRUE(j["pruning"]["curve"].is_null());
  EXPECT_TRUE(j["pruning"]["ccg"].is_null());
  EXPECT_FALSE(std::filesystem::exists(run / "graph" / "tables" / "pruning.csv"));

  // The conv layers and the dense layer over flattened feature maps have no weights to analyse per unit.
  for (const auto& layer : j["critical_neurons"]["layers"]) {
    EXPECT_EQ(layer["status"], "not-applicable") << layer.dump();
    EXPECT_TRUE(layer["reinforcement_ratio_final"].is_null());
    EXPECT_TRUE(layer["entropy_critical_final"].is_null());
    EXPECT_GE(layer["critical"].get<int>(), 1);
  }
  // The library says the same without the CLI: not asked for is not-run.
  GraphOptions o;
  o.threads = 1;
  o.pruning = false;
  const auto a = analyse_run(run, o);
  EXPECT_EQ(a.pruning.status.code, StatusCode::kNotRun);
  EXPECT_FALSE(a.rise.direction || a.rise.step_50);
  EXPECT_FALSE(a.transition.x_c);
}

TEST(GraphAnalysis, OptionsNameTheField) {
  GraphOptions o;
  EXPECT_TRUE(o.IsValid(nullptr));
  o.theta_step = 0;
  EXPECT_FALSE(o.IsValid(nullptr));  // null-safe
  std::string err;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_EQ(err.rfind("theta_step ", 0), 0u) << err;
  o = {};
  o.neurons.fraction = 0;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_EQ(err.rfind("neurons.fraction ", 0), 0u) << err;
  o = {};
  o.prune_random_repeats = 0;
  EXPECT_FALSE(o.IsValid(&err));
  EXPECT_EQ(err.rfind("prune_random_repeats ", 0), 0u) << err;
  RecordOptions r;
  r.probes = 1;
  EXPECT_FALSE(r.IsValid(nullptr));
  EXPECT_FALSE(r.IsValid(&err));
  EXPECT_EQ(err.rfind("probes ", 0), 0u) << err;
}

}  // namespace
}  // namespace critlab::graph
