#include "critlab/bench/bench.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/experiments/continual.h"
#include "critlab/graph/correlation.h"
#include "critlab/graph/percolation.h"
#include "critlab/measure/criticality.h"
#include "critlab/nn/model.h"
#include "critlab/stats/powerlaw.h"
#include "critlab/train/criticality_reg.h"
#include "critlab/train/online_mlp.h"

namespace critlab::bench {

bool BenchOptions::IsValid(std::string* error) const {
  if (repeats < 1 || repeats > 1000) {
    if (error) *error = fmt::format("repeats must be in [1, 1000], got {}", repeats);
    return false;
  }
  return true;
}

namespace {
using Clock = std::chrono::steady_clock;

void sync(const c10::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

// Median seconds of `repeats` calls of fn (after one warm-up call).
template <typename F>
double median_seconds(int repeats, const c10::Device& d, F&& fn) {
  fn();
  sync(d);
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    fn();
    sync(d);
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

double mlp_flops_per_example(const std::vector<std::int64_t>& dims) {
  double f = 0;
  for (std::size_t i = 0; i + 1 < dims.size(); ++i) f += 2.0 * static_cast<double>(dims[i] * dims[i + 1]);
  return f;
}
}  // namespace

nlohmann::json run_benchmarks(const BenchOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const c10::Device device = resolve_device(o.device);
  const int threads = configure_threads(o.threads);
  nlohmann::json out;
  out["runtime"] = runtime_metadata(device, threads);

  // 1. sgemm of the same libtorch: the ceiling the training throughput is compared with.
  {
    const std::int64_t n = 1024;
    auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
    auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
    auto c = torch::empty({n, n}, torch::TensorOptions().device(device));
    const int inner = o.quick ? 2 : 10;
    const double s = median_seconds(o.repeats, device, [&] {
      for (int i = 0; i < inner; ++i) at::mm_out(c, a, b);
    });
    out["sgemm_gflops"] = 2.0 * n * n * n * inner / s / 1e9;
  }

  // 2. Minibatch training throughput: MLP 784-1024x4-10, batch 256, SGD with momentum, autograd.
  auto model = nn::build_model(nn::mlp_spec(4, 1024, Activation::kRelu), 1);
  model->to(device);
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const std::int64_t batch = 256;
  auto x = torch::randn({batch, 1, 28, 28}, torch::TensorOptions().device(device));
  auto y = torch::randint(0, 10, {batch}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  auto train_step = [&] {
    model->zero_grad(/*set_to_none=*/true);  // backward then hands over fresh gradient buffers, no extra pass
    auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
  };
  const int steps = o.quick ? 4 : 12;
  const double step_s = median_seconds(o.repeats, device,
                                       [&] {
                                         for (int i = 0; i < steps; ++i) train_step();
                                       }) /
                        steps;
  const double flops = 3.0 * mlp_flops_per_example({784, 1024, 1024, 1024, 1024, 10});  // fwd + 2x for bwd
  const double gflops = flops * batch / step_s / 1e9;
  out["mlp_train"] = {{"model", "784-1024x4-10 relu"},
                      {"batch", batch},
                      {"step_ms", step_s * 1e3},
                      {"examples_per_second", batch / step_s},
                      {"gflops", gflops},
                      {"ratio_to_sgemm", gflops / out["sgemm_gflops"].get<double>()}};

  // 2b. Criticality-driven training: one regularised step against the plain step above (same model, batch,
  // optimiser, this run), for each estimator and for the controller and the Jacobian-norm baseline.
  {
    struct Variant {
      const char* name;
      train::CriticalityOptions c;
      double jacobian_reg = 0;
    };
    auto reg = [](Penalty p, measure::GainMethod m, bool local) {
      train::CriticalityOptions c;
      c.mode = CriticalityMode::kRegularizer;
      c.penalty = p;
      c.estimator = m;
      c.local_gradient = local;
      return c;
    };
    train::CriticalityOptions ctl;
    ctl.mode = CriticalityMode::kController;
    ctl.strength = 0.5;
    const std::vector<Variant> variants{
        {"closed_form_local", reg(Penalty::kLogGain, measure::GainMethod::kAnalytic, true)},
        {"closed_form_full", reg(Penalty::kLogGain, measure::GainMethod::kAnalytic, false)},
        {"hutchinson_local", reg(Penalty::kLogGain, measure::GainMethod::kHutchinson, true)},
        {"hutchinson_full", reg(Penalty::kLogGain, measure::GainMethod::kHutchinson, false)},
        {"lyapunov_local", reg(Penalty::kLyapunov, measure::GainMethod::kAuto, true)},
        {"closed_form_local_every4",
         [&] {
           auto c = reg(Penalty::kLogGain, measure::GainMethod::kAnalytic, true);
           c.every = 4;
           return c;
         }()},
        {"controller", ctl},
        {"jacobian_norm", {}, 0.01}};
    const double plain_s = median_seconds(o.repeats, device,
                                          [&] {
                                            for (int i = 0; i < steps; ++i) train_step();
                                          }) /
                           steps;
    nlohmann::json rows = nlohmann::json::object();
    for (const auto& v : variants) {
      train::CriticalityTraining crit(v.c, v.jacobian_reg, model);  // the trainer's own step logic
      std::int64_t n = 0;
      auto step = [&] {
        model->zero_grad(true);
        const auto pass = crit.forward(model, x, n);
        at::Tensor loss = torch::nn::functional::cross_entropy(pass.logits, y);
        auto figures =
            crit.add_penalties(model, pass, loss, n, /*total_steps=*/1, static_cast<std::uint64_t>(n));
        loss.backward();
        opt.step();
        crit.after_step(model, &figures);
        ++n;
      };
      const double s = median_seconds(o.repeats, device,
                                      [&] {
                                        for (int i = 0; i < steps; ++i) step();
                                      }) /
                       steps;
      rows[v.name] = {{"step_ms", s * 1e3}, {"over_plain", s / plain_s}};
    }
    out["criticality_step"] = {
        {"model", "784-1024x4-10 relu"},  {"batch", batch},
        {"plain_step_ms", plain_s * 1e3}, {"sub_batch", train::CriticalityOptions{}.sub_batch},
        {"goal_over_plain", 1.3},         {"variants", rows}};
  }

  // 3. Criticality measurement cost relative to one training step (same model, 256 Fashion-like probes).
  {
    measure::MeasureOptions mo;
    auto probes = torch::randn({batch, 1, 28, 28}, torch::TensorOptions().device(device));
    const double m_s = median_seconds(std::max(1, o.repeats / 2), device,
                                      [&] { measure::measure_criticality(model, probes, mo); });
    // Each part alone, beside the gains and the Lyapunov spectrum.
    const auto part_ms = [&](auto&& f) { return median_seconds(o.repeats, device, f) * 1e3; };
    const double gains_ms = part_ms([&] { measure::layer_gains(model, probes, mo.gains); });
    const double lyapunov_ms = part_ms([&] { measure::lyapunov_spectrum(model, probes, mo.lyapunov); });
    const double range_ms = part_ms([&] { measure::dynamic_range(model, probes, mo.dynamic_range); });
    const double branching_ms = part_ms([&] { measure::branching_parameter(model, probes, mo.branching); });
    mo.lyapunov.k = 1;
    mo.lyapunov.max_inputs = 32;
    mo.dynamic_range.max_inputs = 32;
    mo.dynamic_range.points = 61;
    mo.branching.max_inputs = 32;
    const double mon_s =
        median_seconds(o.repeats, device, [&] { measure::measure_criticality(model, probes, mo); });
    out["measure"] = {
        {"full_ms", m_s * 1e3},
        {"full_over_train_step", m_s / step_s},
        {"monitor_ms", mon_s * 1e3},
        {"monitor_over_train_step", mon_s / step_s},
        {"parts_ms",
         {{"gains", gains_ms},
          {"lyapunov", lyapunov_ms},
          {"dynamic_range", range_ms},
          {"branching", branching_ms}}},
        {"parts_over_train_step",
         {{"gains", gains_ms / 1e3 / step_s},
          {"lyapunov", lyapunov_ms / 1e3 / step_s},
          {"dynamic_range", range_ms / 1e3 / step_s},
          {"branching", branching_ms / 1e3 / step_s}}},
        {"probes", batch},
        {"full",
         "gains (analytic) + Lyapunov k=8 on 64 inputs + dynamic range 121 stimuli on 64 inputs + "
         "branching on 64 inputs (both in double precision)"},
        {"monitor",
         "gains + Lyapunov k=1 on 32 inputs + dynamic range 61 stimuli and branching on 32 inputs "
         "(what --monitor-every runs)"}};
  }

  // 4. Online (batch 1) SGD of a 784-100x3-10 ReLU MLP, on one core: hand-written path vs autograd.
  {
    const int saved = at::get_num_threads();
    configure_threads(1);
    auto net = nn::build_model(nn::mlp_spec(3, 100, Activation::kRelu), 2);
    net->to(device);
    const std::int64_t n = o.quick ? 500 : 5000;
    auto xs = torch::randn({n, 784}, torch::TensorOptions().device(device)) * 0.1;
    auto ys = torch::randint(0, 10, {n}, torch::TensorOptions().dtype(torch::kInt64));
    const auto* yp = ys.data_ptr<std::int64_t>();
    train::OnlineMlp fast(net, {.lr = 0.01});
    const double fast_s = median_seconds(o.repeats, device, [&] {
      for (std::int64_t i = 0; i < n; ++i) fast.step(xs[i], static_cast<double>(yp[i]));
    });
    torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.01));
    const std::int64_t n_slow = n / 5;
    auto ys_dev = ys.to(device);
    const double slow_s = median_seconds(std::max(1, o.repeats / 2), device, [&] {
      for (std::int64_t i = 0; i < n_slow; ++i) {
        net->zero_grad(/*set_to_none=*/true);
        auto loss = torch::nn::functional::cross_entropy(net->forward(xs.slice(0, i, i + 1)),
                                                         ys_dev.slice(0, i, i + 1));
        loss.backward();
        sgd.step();
      }
    });
    out["online"] = {{"model", "784-100x3-10 relu, batch 1, SGD"},
                     {"threads", 1},
                     {"examples_per_second", n / fast_s},
                     {"autograd_examples_per_second", n_slow / slow_s},
                     {"speedup_over_autograd", (n / fast_s) / (n_slow / slow_s)}};
    // The continual-learning methods' per-step work on the same path (experiment continual's loop).
    out["continual_methods"] =
        experiments::benchmark_continual_methods({"backprop", "l2", "shrink-perturb", "continual-backprop",
                                                  "redo", "criticality", "criticality-regularizer"},
                                                 o.quick ? 500 : 4000, device, std::max(1, o.repeats / 2));
    configure_threads(saved == 1 && o.threads == 0 ? 0 : saved);
  }
  configure_threads(o.threads);

  // 5. Power-law fitting (CSN): the full xmin scan on 10^6 discrete samples, and a 1,000-simulation bootstrap
  //    on 10^4 samples (each simulation re-scans xmin). Single timed round each: they are long.
  {
    // Correlation graph: 2,048 units x 1,000 samples, the Pearson matrix (one GEMM on standardised
    // activity) and a full theta sweep (one sort of all 2.1M edges plus one union-find pass).
    const std::int64_t units = 2048, samples = 1000;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    const auto z = at::normal(0, 1, {samples, 16}, gen).repeat_interleave(units / 16, 1);
    const auto act = (0.5 * z + at::normal(0, 1, {samples, units}, gen)).to(device);
    graph::Correlation c;
    const double corr_s = median_seconds(o.repeats, device, [&] { c = graph::correlate(act); });
    std::vector<double> thetas;
    for (double t = 0.01; t < 1; t += 0.01) thetas.push_back(t);
    std::vector<graph::WeightedEdge> edges;
    std::vector<graph::PercolationPoint> sweep;
    const double edges_s = median_seconds(
        o.repeats, device, [&] { edges = graph::correlation_edges(c, graph::EdgeSign::kAbsolute, 0.0, 0); });
    const double sweep_s =
        median_seconds(o.repeats, device, [&] { sweep = graph::percolation_sweep(units, edges, thetas); });
    const double gemm_flops = 2.0 * static_cast<double>(units) * units * samples;
    const double gflops = gemm_flops / corr_s / 1e9;
    out["correlation_graph"] = {{"units", units},
                                {"samples", samples},
                                {"correlation_ms", corr_s * 1e3},
                                {"correlation_gflops", gflops},
                                {"ratio_to_sgemm", gflops / out["sgemm_gflops"].get<double>()},
                                {"edges", edges.size()},
                                {"edge_extraction_ms", edges_s * 1e3},
                                {"theta_sweep_points", thetas.size()},
                                {"theta_sweep_ms", sweep_s * 1e3},
                                {"total_ms", (corr_s + edges_s + sweep_s) * 1e3}};
  }
  {
    std::mt19937_64 rng(11);
    const auto truth = stats::power_law_model(2.5, 1, true);
    const std::size_t n_big = o.quick ? 100'000 : 1'000'000, n_boot = o.quick ? 2'000 : 10'000;
    const int sims = o.quick ? 20 : 1000;
    const auto big = stats::sample_power_law(truth, n_big, rng);
    stats::PowerLawOptions po;
    po.discrete = true;
    auto t0 = Clock::now();
    const auto fit = stats::fit_power_law(big, po);
    const double fit_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto small = stats::sample_power_law(truth, n_boot, rng);
    po.bootstrap = sims;
    po.threads = o.threads;
    t0 = Clock::now();
    const auto boot = stats::fit_power_law(small, po);
    const double boot_s = std::chrono::duration<double>(Clock::now() - t0).count();
    out["powerlaw"] = {{"fit_samples", n_big},
                       {"fit_seconds", fit_s},
                       {"fit_samples_per_second", static_cast<double>(n_big) / fit_s},
                       {"fit_alpha", fit.alpha},
                       {"bootstrap_samples", n_boot},
                       {"bootstrap_simulations", sims},
                       {"bootstrap_seconds", boot_s},
                       {"bootstrap_simulations_per_second", sims / boot_s},
                       {"bootstrap_p", or_null(boot.p_value)}};
  }
  return out;
}

}  // namespace critlab::bench
