// The phase-diagram experiment (experiments/phase_diagram.h): the boundary of full-batch gradient descent on
// a quadratic is 2 / lambda_max; the experiment resumes after a kill and refuses a changed grid; bad options
// are one line and exit 2.
#include "critlab/experiments/phase_diagram.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "critlab/io/files.h"
#include "test_util.h"

using namespace critlab;
using experiments::locate_crossing;
namespace fs = std::filesystem;

namespace {
// A grid on the exact quadratic (lambda_max = 1), on one CPU thread.
experiments::PhaseDiagramOptions quadratic_grid(std::vector<double> lrs,
                                                std::vector<std::int64_t> batch_sizes, std::int64_t seeds,
                                                std::int64_t steps, std::int64_t window,
                                                std::int64_t boundary_bootstrap) {
  experiments::PhaseDiagramOptions o;
  o.task = experiments::PhaseTask::kQuadratic;
  o.lrs = std::move(lrs);
  o.batch_sizes = std::move(batch_sizes);
  o.seeds = seeds;
  o.steps = steps;
  o.window = window;
  o.boundary_bootstrap = boundary_bootstrap;
  o.device = "cpu";
  o.threads = 1;
  return o;
}
}  // namespace

TEST(PhaseDiagram, CrossingIsInterpolatedInLogEta) {
  const std::vector<double> lrs{1, 2, 4, 8};
  auto c = locate_crossing(lrs, {1, 1, 0, 0});
  ASSERT_TRUE(c.eta_c);
  EXPECT_NEAR(*c.eta_c, 2 * std::sqrt(2.0), 1e-12);  // halfway between 2 and 4 in log eta
  c = locate_crossing(lrs, {1, 0.75, 0.25, 0});
  EXPECT_NEAR(*c.eta_c, 2 * std::sqrt(2.0), 1e-12);
  c = locate_crossing(lrs, {1, 1, 1, 0.5});
  EXPECT_FALSE(c.eta_c);
  EXPECT_EQ(c.status.code, StatusCode::kNotFound);
  EXPECT_NE(c.status.message.find("eta_c > 8"), std::string::npos);
  c = locate_crossing(lrs, {0, 1, 0, 0});
  EXPECT_FALSE(c.eta_c);
  EXPECT_NE(c.status.message.find("eta_c < 1"), std::string::npos);
  c = locate_crossing(lrs, {1, 0, 1, 0});  // non-monotone: the first crossing
  EXPECT_NEAR(*c.eta_c, std::sqrt(2.0), 1e-12);
}

// Full-batch GD on 1/2 mean (x.w - y)^2 with Hessian eigenvalues linspace(1, 0.01): converges exactly for
// eta < 2 / lambda_max = 2, so the located boundary lies within the grid step around 2; the reported
// sharpness is lambda_max = 1. Minibatch noise lowers the boundary (SGD on least squares is stable in mean
// square only below 2 / lambda_max).
TEST(PhaseDiagram, QuadraticBoundaryIsTwoOverLambdaMax) {
  test::TempDir d;
  const auto o = quadratic_grid({1.0, 1.4, 1.8, 2.2, 2.6, 3.0}, {10, 200}, 2, 400, 200, 200);
  const auto r = experiments::run_phase_diagram(d.path(), o);
  EXPECT_EQ(r.cells, 24);
  EXPECT_EQ(r.computed, 24);
  ASSERT_EQ(r.boundary.size(), 2u);
  const auto& full = r.boundary[1];
  ASSERT_EQ(full.batch_size, 200);
  ASSERT_TRUE(full.eta_c) << full.status.to_string();
  std::printf("eta_c: B = 10 %s, B = 200 %.4f\n",
              r.boundary[0].eta_c ? fmt::format("{:.4f}", *r.boundary[0].eta_c).c_str() : "none",
              *full.eta_c);
  EXPECT_GT(*full.eta_c, 1.8);
  EXPECT_LT(*full.eta_c, 2.2);
  EXPECT_LE(std::abs(*full.eta_c - 2.0), 0.4);  // within the grid spacing of 2 / lambda_max
  ASSERT_TRUE(r.boundary[0].eta_c);
  EXPECT_LT(*r.boundary[0].eta_c, *full.eta_c);
  // Every full-batch cell: converged exactly below 2, and the Lanczos sharpness is lambda_max = 1.
  for (double lr : o.lrs)
    for (int seed = 1; seed <= 2; ++seed) {
      const auto j = io::read_json(d.path() / "cells" / "B-200" / fmt::format("lr-{:g}", lr) /
                                   fmt::format("seed-{}", seed) / "result.json");
      EXPECT_EQ(j["converged"].get<bool>(), lr < 2) << lr;
      if (lr < 2) {
        EXPECT_NEAR(j["sharpness"].get<double>(), 1.0, 1e-3);
        EXPECT_NEAR(j["sharpness_ratio"].get<double>(), lr / 2, 1e-3);
      } else {
        EXPECT_EQ(j["status"], "diverged");
      }
    }
  // The tables and heat maps are written; the summary's JSON carries the fit with two points.
  for (const char* f : {"cells.csv", "phase.csv", "boundary.csv", "summary.md", "summary.json"})
    EXPECT_TRUE(fs::exists(d.path() / f)) << f;
  EXPECT_TRUE(fs::exists(d.path() / "plots" / "phase_converged.dat"));
  const auto s = io::read_json(d.path() / "summary.json");
  EXPECT_EQ(s["fit"]["points"], 2);
  EXPECT_TRUE(s["fit"]["kappa"].is_number());
  // The flux of a converged SGD cell (B = 10) was measured on its late window, with a trajectory file.
  const auto cell = d.path() / "cells" / "B-10" / "lr-1" / "seed-1";
  const auto j = io::read_json(cell / "result.json");
  ASSERT_TRUE(j["converged"].get<bool>());
  EXPECT_EQ(j["flux"]["status"], "ok") << j["flux"].dump();
  EXPECT_TRUE(fs::exists(cell / "trajectory.csv"));
}

TEST(PhaseDiagramCli, ResumesAfterAKillAndRefusesAChangedGrid) {
  test::TempDir d;
  const auto out = d.path() / "pd";
  const auto command = [&](const std::string& lrs, const std::string& batch_sizes, int seeds = 2) {
    return fmt::format(
        "experiment phase-diagram --task quadratic --lrs {} --batch-sizes {} --seeds {} --steps 200 --window "
        "100 "
        "--boundary-bootstrap 50 --device cpu --threads 1 --out {}",
        lrs, batch_sizes, seeds, out.string());
  };
  const std::string base = command("0.5,1,2.5", "20,200");
  auto r = test::run_cli(base + " --test-kill-after-cells 5");
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_FALSE(fs::exists(out / "summary.json"));
  const auto first = out / "cells" / "B-20" / "lr-0.5" / "seed-1" / "result.json";
  ASSERT_TRUE(fs::exists(first));
  const auto first_text = io::read_text(first);
  r = test::run_cli(base + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cells"], 12);
  EXPECT_EQ(j["computed"], 7);
  EXPECT_EQ(j["reused"], 5);
  EXPECT_EQ(io::read_text(first), first_text);  // a finished cell is never recomputed
  r = test::run_cli(base + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["computed"], 0);
  EXPECT_EQ(j["reused"], 12);
  // A changed grid under the same --out is refused; more seeds are not a change of the grid.
  test::expect_one_line_error(test::run_cli(command("0.5,1,3", "20,200")), "different protocol");
  test::expect_one_line_error(test::run_cli(command("0.5,1,2.5", "20,100")), "different protocol");
  r = test::run_cli(command("0.5,1,2.5", "20,200", 3) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["computed"], 6);
  EXPECT_EQ(j["reused"], 12);
  // Bad options.
  test::expect_one_line_error(test::run_cli("experiment phase-diagram --task quadratic --lrs 0.5,-1 --out " +
                                            (d.path() / "b").string()),
                              "not a positive learning rate");
  test::expect_one_line_error(test::run_cli("experiment phase-diagram --task quadratic --lrs 1,0.5 --out " +
                                            (d.path() / "b").string()),
                              "strictly increasing");
  test::expect_one_line_error(
      test::run_cli("experiment phase-diagram --task quadratic --steps 10 --window 20 --out " +
                    (d.path() / "b").string()),
      "--window must be in");
  test::expect_one_line_error(
      test::run_cli("experiment phase-diagram --task cubic --out " + (d.path() / "b").string()), "--task");
}

// SGD on the same quadratic: at small batches the boundary follows the linear-scaling rule, eta_c doubling
// with B (kappa = 1; the full grid 1..200 in the closing note of issue 20 shows kappa 1, then 0.5, then the
// curvature limit 2 / lambda_max).
TEST(PhaseDiagram, QuadraticSgdFollowsLinearScalingAtSmallBatches) {
  test::TempDir d;
  const auto o = quadratic_grid({0.1, 0.14, 0.2, 0.28, 0.4, 0.56, 0.8}, {1, 2, 4}, 2, 1000, 200, 100);
  const auto r = experiments::run_phase_diagram(d.path(), o);
  ASSERT_TRUE(r.fit.kappa) << r.fit.status.to_string();
  std::printf("kappa %.3f over %lld batch sizes\n", *r.fit.kappa, static_cast<long long>(r.fit.points));
  EXPECT_EQ(r.fit.points, 3);
  EXPECT_NEAR(*r.fit.kappa, 1.0, 0.2);
  ASSERT_EQ(r.fit.local_kappa.size(), 2u);
  for (const auto& [B, k] : r.fit.local_kappa) EXPECT_NEAR(k, 1.0, 0.3) << B;
  for (const auto& row : r.boundary) {
    ASSERT_TRUE(row.eta_c && row.below && row.above);
    EXPECT_LE(*row.below, *row.eta_c);
    EXPECT_GE(*row.above, *row.eta_c);
  }
}

// Learning rates that print alike under %g still get cells of their own.
TEST(PhaseDiagram, CloseLearningRatesGetTheirOwnCells) {
  test::TempDir d;
  const auto o = quadratic_grid({0.1, 0.1000001}, {200}, 1, 20, 10, 0);
  const auto r = experiments::run_phase_diagram(d.path(), o);
  EXPECT_EQ(r.computed, 2);
  EXPECT_TRUE(fs::exists(d.path() / "cells" / "B-200" / "lr-0.1" / "seed-1" / "result.json"));
  EXPECT_TRUE(fs::exists(d.path() / "cells" / "B-200" / "lr-0.1000001" / "seed-1" / "result.json"));
}
