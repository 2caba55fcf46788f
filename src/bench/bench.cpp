#include "critlab/bench/bench.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/experiments/continual.h"
#include "critlab/graph/correlation.h"
#include "critlab/graph/percolation.h"
#include "critlab/io/files.h"
#include "critlab/io/numbers.h"
#include "critlab/io/processes.h"
#include "critlab/measure/criticality.h"
#include "critlab/nn/model.h"
#include "critlab/stats/compare.h"
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

// Seconds one call of fn takes, the device's queued work included.
template <typename F>
double seconds_of(const c10::Device& d, F&& fn) {
  const auto t0 = Clock::now();
  fn();
  sync(d);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The upper median (the middle value; of an even count, the larger of the two middle ones).
double median_of(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Median seconds of `repeats` calls of fn (after one warm-up call).
template <typename F>
double median_seconds(int repeats, const c10::Device& d, F&& fn) {
  fn();
  sync(d);
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) t.push_back(seconds_of(d, fn));
  return median_of(std::move(t));
}

// The R side of the power-law comparison: poweRlaw (Gillespie, J. Stat. Softw. 64, 2015) on its own copy of
// Moby Dick's word frequencies, written out for critlab to read. Each phase is timed inside R, after the
// package has loaded: the CSN fit (estimate_xmin), the likelihood-ratio comparisons with the alternatives
// poweRlaw offers for discrete data, and bootstrap_p. Prints "key value" lines.
constexpr const char* kPoweRlawScript = R"(
args <- commandArgs(TRUE)
out <- args[1]; sims <- as.integer(args[2]); threads <- as.integer(args[3])
if (!suppressWarnings(requireNamespace("poweRlaw", quietly = TRUE))) {
  cat("the R package poweRlaw is not installed (apt-get install r-cran-powerlaw)\n", file = stderr())
  quit(status = 3)
}
suppressMessages(library(poweRlaw))
data("moby", package = "poweRlaw", envir = environment())
writeLines(format(moby, scientific = FALSE, trim = TRUE), file.path(out, "moby.txt"))
el <- function() proc.time()[["elapsed"]]
t0 <- el(); m <- displ$new(moby); m$setXmin(estimate_xmin(m)); fit_s <- el() - t0
cmp <- function(alt) {
  a <- alt$new(moby); a$setXmin(m$getXmin()); a$setPars(estimate_pars(a))
  compare_distributions(m, a)$test_statistic
}
t0 <- el(); r <- c(cmp(dislnorm), cmp(disexp), cmp(dispois)); cmp_s <- el() - t0
t0 <- el(); bs <- suppressMessages(bootstrap_p(m, no_of_sims = sims, threads = threads, seed = 1)); boot_s <- el() - t0
res <- c(xmin = m$getXmin(), alpha = m$getPars(), fit_seconds = fit_s, comparisons_seconds = cmp_s,
         R_lognormal = r[1], R_exponential = r[2], R_poisson = r[3], bootstrap_seconds = boot_s,
         bootstrap_p = bs$p)
cat(sprintf("%s %.17g\n", names(res), res), sep = "")
)";

// The Python side of the training comparison: the same MLP (784-1024x4-10 ReLU), batch, loss and optimiser
// (SGD, lr 0.01, momentum 0.9) as critlab's step, written as a PyTorch user writes it, timed at 1..max
// threads (torch.set_num_threads). Prints "step_ms_threads_<t> <ms>" lines, the median of `repeats` rounds of
// `steps` steps after one warm-up step.
constexpr const char* kPyTorchTrainScript = R"(
import sys, time
try:
    import torch
except Exception as e:
    sys.stderr.write("torch is not importable: %s\n" % e)
    sys.exit(3)
steps, repeats, max_threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(1)
dims = [784, 1024, 1024, 1024, 1024, 10]
layers = [torch.nn.Flatten()]
for i in range(5):
    layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
    if i < 4:
        layers.append(torch.nn.ReLU())
model = torch.nn.Sequential(*layers)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = torch.randn(256, 1, 28, 28), torch.randint(0, 10, (256,))
def step():
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
for t in range(1, max_threads + 1):
    torch.set_num_threads(t)
    step()
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
    times.sort()
    print("step_ms_threads_%d %.17g" % (t, times[len(times) // 2] * 1e3))
)";

// The first executable `name` on PATH, or "".
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto p = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

// A fresh temporary directory, removed with everything in it at the end of the scope; empty if none could be
// made.
struct ScratchDir {
  std::filesystem::path dir;
  ScratchDir() {
    std::string t = (std::filesystem::temp_directory_path() / "critlab-bench-XXXXXX").string();
    if (mkdtemp(t.data())) dir = t;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Writes `script` to dir/file_name and runs `command` + that file + `args`, with `timeout_s`. Returns the
// "key value" lines the script printed, or nothing with *failure saying why (its own last line of stderr,
// a timeout, a program that could not be run).
std::optional<std::map<std::string, double>> run_keyed_script(const std::vector<std::string>& command,
                                                              const std::string& script,
                                                              const std::string& file_name,
                                                              const std::vector<std::string>& args,
                                                              const std::filesystem::path& dir,
                                                              double timeout_s, std::string* failure) {
  io::write_atomic(dir / file_name, script);
  io::ProcessJob job{command, dir / (file_name + ".out"), dir / (file_name + ".err")};
  job.argv.push_back((dir / file_name).string());
  job.argv.insert(job.argv.end(), args.begin(), args.end());
  io::ProcessResult result;
  io::run_processes({job}, 1, timeout_s, [&](std::size_t, const io::ProcessResult& r) { result = r; });
  if (result.exit_code != 0) {
    *failure = io::describe_child_failure(job, result, io::read_file_or_empty(job.stderr_path), timeout_s);
    return std::nullopt;
  }
  std::map<std::string, double> values;
  std::stringstream lines(io::read_file_or_empty(job.stdout_path));
  std::string key;
  double value;
  while (lines >> key >> value) values[key] = value;
  if (values.empty()) {
    *failure = "it printed no results";
    return std::nullopt;
  }
  return values;
}

// A discrete CSN fit and its default comparisons, each timed.
struct TimedFit {
  stats::PowerLawFit fit;
  std::vector<stats::Comparison> comparisons;
  double fit_seconds = 0, compare_seconds = 0;
};
TimedFit timed_discrete_fit(const std::vector<double>& data) {
  stats::PowerLawOptions po;
  po.discrete = true;
  TimedFit t;
  const c10::Device cpu(c10::kCPU);
  t.fit_seconds = seconds_of(cpu, [&] { t.fit = stats::fit_power_law(data, po); });
  t.compare_seconds = seconds_of(cpu, [&] { t.comparisons = stats::compare_all(data, t.fit); });
  return t;
}

// critlab against poweRlaw on Moby Dick's word counts (CSN's example, 18,855 words), side by side in one
// run: the fit, the default comparisons and the bootstrap. R's bootstrap takes about 0.6 s per simulation on
// 2 cores, so it runs `r_sims` simulations and critlab `sims`; the ratio is per simulation. Without R or
// poweRlaw the figures are null and the status says why.
nlohmann::json compare_with_powerlaw_r(int sims, int r_sims, int threads) {
  nlohmann::json out{{"data", "moby (poweRlaw's copy, discrete)"},
                     {"critlab", nullptr},
                     {"poweRlaw", nullptr},
                     {"poweRlaw_over_critlab", nullptr}};
  const std::string rscript = find_on_path("Rscript");
  if (rscript.empty()) {
    put_status(out,
               make_status(StatusCode::kNotRun,
                           "Rscript is not installed (apt-get install r-cran-powerlaw for the comparison)"));
    return out;
  }
  const ScratchDir scratch;
  if (scratch.dir.empty()) {
    put_status(out, make_status(StatusCode::kNotRun, "cannot create a temporary directory"));
    return out;
  }
  const auto& dir = scratch.dir;
  std::string failure;
  const auto got = run_keyed_script(
      {rscript}, kPoweRlawScript, "powerlaw.R",
      {dir.string(), std::to_string(r_sims), std::to_string(std::max(1, threads))}, dir, 1800, &failure);
  if (!got) {
    put_status(out, make_status(StatusCode::kNotRun, "poweRlaw: " + failure));
    return out;
  }
  const auto& r = *got;
  const auto data = io::read_number_column(dir / "moby.txt");
  const auto [fit, comparisons, fit_s, cmp_s] = timed_discrete_fit(data);
  stats::PowerLawOptions po;
  po.discrete = true;
  po.bootstrap = sims;
  po.threads = threads;
  stats::PowerLawFit boot;
  const double boot_s = seconds_of(c10::Device(c10::kCPU), [&] { boot = stats::fit_power_law(data, po); });
  nlohmann::json c{{"xmin", fit.xmin},
                   {"alpha", fit.alpha},
                   {"fit_seconds", fit_s},
                   {"comparisons", nlohmann::json::object()},
                   {"comparisons_seconds", cmp_s},
                   {"bootstrap_simulations", sims},
                   {"bootstrap_seconds", boot_s},
                   {"bootstrap_seconds_per_simulation", boot_s / sims},
                   {"bootstrap_p", or_null(boot.p_value)}};
  for (const auto& cmp : comparisons) c["comparisons"][cmp.against] = or_null(cmp.R);
  // poweRlaw's figure `k` divided by `by`, or null where R did not print it.
  const auto r_over = [&](const char* k, double by) {
    const auto it = r.find(k);
    return it != r.end() && by > 0 ? nlohmann::json(it->second / by) : nlohmann::json(nullptr);
  };
  const auto at = [&](const char* k) { return r_over(k, 1.0); };
  nlohmann::json pr{{"xmin", at("xmin")},
                    {"alpha", at("alpha")},
                    {"fit_seconds", at("fit_seconds")},
                    {"comparisons",
                     {{"lognormal", at("R_lognormal")},
                      {"exponential", at("R_exponential")},
                      {"poisson", at("R_poisson")}}},
                    {"comparisons_seconds", at("comparisons_seconds")},
                    {"bootstrap_simulations", r_sims},
                    {"bootstrap_seconds", at("bootstrap_seconds")},
                    {"bootstrap_seconds_per_simulation", r_over("bootstrap_seconds", r_sims)},
                    {"bootstrap_p", at("bootstrap_p")}};
  out["critlab"] = c;
  out["poweRlaw"] = pr;
  out["poweRlaw_over_critlab"] = {
      {"fit", r_over("fit_seconds", fit_s)},
      {"comparisons", r_over("comparisons_seconds", cmp_s)},
      {"bootstrap_per_simulation", r_over("bootstrap_seconds", r_sims * boot_s / sims)}};
  out["note"] =
      "R's comparisons are poweRlaw's discrete alternatives (lognormal, exponential, Poisson); critlab's add "
      "the stretched exponential and the truncated power law. Times exclude start-up (R's library load, "
      "critlab's launcher).";
  put_status(out, r.contains("bootstrap_p")
                      ? make_status(StatusCode::kOk, "")
                      : make_status(StatusCode::kNotRun, "poweRlaw printed no results"));
  return out;
}

// critlab's batch-256 step against the same step in PyTorch-in-Python (Debian's python3-torch, same libtorch
// version and BLAS), in this run: Python at every thread count up to the cores, with OpenMP's wait policy as
// a Python user has it (unset) and as critlab sets it (PASSIVE); the best of those is the comparison.
nlohmann::json compare_with_pytorch(double critlab_step_s, int steps, int repeats, int max_threads) {
  nlohmann::json out{{"critlab_step_ms", critlab_step_s * 1e3},
                     {"pytorch_settings_ms", nlohmann::json::object()},
                     {"pytorch_best_step_ms", nullptr},
                     {"pytorch_best_setting", nullptr},
                     {"critlab_speedup", nullptr}};
  std::string python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : find_on_path("python3");
  const ScratchDir scratch;
  if (python.empty() || scratch.dir.empty()) {
    put_status(out, make_status(StatusCode::kNotRun, python.empty() ? "python3 is not installed"
                                                                    : "cannot create a temporary directory"));
    return out;
  }
  std::string failure;
  double best = HUGE_VAL;
  for (const std::string policy : {"unset", "PASSIVE"}) {
    std::vector<std::string> command{"/usr/bin/env"};
    command.push_back(policy == "unset" ? "-u" : "OMP_WAIT_POLICY=PASSIVE");
    if (policy == "unset") command.push_back("OMP_WAIT_POLICY");
    command.push_back(python);
    const auto got = run_keyed_script(
        command, kPyTorchTrainScript, "train.py",
        {std::to_string(steps), std::to_string(repeats), std::to_string(std::max(1, max_threads))},
        scratch.dir, 900, &failure);
    if (!got) continue;
    for (const auto& [key, ms] : *got) {
      const std::string setting =
          "omp_wait_policy_" + policy + "/" + key.substr(std::string("step_ms_").size());
      out["pytorch_settings_ms"][setting] = ms;
      if (ms < best) {
        best = ms;
        out["pytorch_best_setting"] = setting;
      }
    }
  }
  if (!std::isfinite(best)) {
    put_status(out, make_status(StatusCode::kNotRun, "PyTorch in Python: " + failure));
    return out;
  }
  out["pytorch_best_step_ms"] = best;
  out["critlab_speedup"] = best / (critlab_step_s * 1e3);
  put_status(out, make_status(StatusCode::kOk, ""));
  return out;
}

// Rounds of a then b, one after the other (after one warm-up call of each): the medians of each and the
// median of the rounds' ratios b / a. On a shared machine whose speed drifts, pairing keeps the ratio steady
// where two separate medians would not.
struct PairedRatio {
  double a_seconds = 0, b_seconds = 0, ratio = 0;
};
template <typename A, typename B>
PairedRatio median_paired_ratio(int repeats, const c10::Device& d, A&& a, B&& b) {
  seconds_of(d, a);
  seconds_of(d, b);
  std::vector<double> ta, tb, r;
  for (int i = 0; i < repeats; ++i) {
    ta.push_back(seconds_of(d, a));
    tb.push_back(seconds_of(d, b));
    r.push_back(tb.back() / ta.back());
  }
  return {median_of(std::move(ta)), median_of(std::move(tb)), median_of(std::move(r))};
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
  if (device.is_cpu()) {
    out["mlp_train_vs_pytorch"] = compare_with_pytorch(step_s, steps, o.repeats, threads);
  } else {
    out["mlp_train_vs_pytorch"] = nlohmann::json::object();
    put_status(out["mlp_train_vs_pytorch"],
               make_status(StatusCode::kNotRun, "the PyTorch-in-Python comparison runs on the CPU only"));
  }

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
      // Rounds of plain and regularised steps taken in turn, so that a slow spell of the machine falls on
      // both: the ratio is the median of the rounds' ratios.
      const auto paired = median_paired_ratio(
          o.repeats, device,
          [&] {
            for (int i = 0; i < steps; ++i) train_step();
          },
          [&] {
            for (int i = 0; i < steps; ++i) step();
          });
      rows[v.name] = {{"step_ms", paired.b_seconds / steps * 1e3},
                      {"paired_plain_step_ms", paired.a_seconds / steps * 1e3},
                      {"over_plain", paired.ratio}};
    }
    out["criticality_step"] = {
        {"model", "784-1024x4-10 relu"},  {"batch", batch},
        {"plain_step_ms", plain_s * 1e3}, {"sub_batch", train::CriticalityOptions{}.sub_batch},
        {"goal_over_plain", 1.2},         {"variants", rows}};
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
    const double input_response_ms =
        part_ms([&] { measure::input_response(model, probes, mo.input_response); });
    mo = measure::monitor_measure_options();
    const double mon_s =
        median_seconds(o.repeats, device, [&] { measure::measure_criticality(model, probes, mo); });
    out["measure"] = {{"full_ms", m_s * 1e3},
                      {"full_over_train_step", m_s / step_s},
                      {"monitor_ms", mon_s * 1e3},
                      {"monitor_over_train_step", mon_s / step_s},
                      {"parts_ms",
                       {{"gains", gains_ms},
                        {"lyapunov", lyapunov_ms},
                        {"dynamic_range", range_ms},
                        {"branching", branching_ms},
                        {"input_response", input_response_ms}}},
                      {"parts_over_train_step",
                       {{"gains", gains_ms / 1e3 / step_s},
                        {"lyapunov", lyapunov_ms / 1e3 / step_s},
                        {"dynamic_range", range_ms / 1e3 / step_s},
                        {"branching", branching_ms / 1e3 / step_s},
                        {"input_response", input_response_ms / 1e3 / step_s}}},
                      {"probes", batch},
                      {"full",
                       "gains (analytic) + Lyapunov k=8 on 64 inputs + dynamic range (layer maps at 34 "
                       "perturbation sizes on 32 inputs, in float) + branching on 64 inputs (in double); "
                       "input_response (the finite-depth scan, off by default, in double) is timed alone"},
                      {"monitor",
                       "gains + Lyapunov k=1 on 32 inputs + dynamic range (23 perturbation sizes on 16 "
                       "inputs) and branching on 32 inputs (what --monitor-every runs)"}};
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
    const auto [fit, big_comparisons, fit_s, big_cmp_s] = timed_discrete_fit(big);
    stats::PowerLawOptions po;
    po.discrete = true;
    const auto small = stats::sample_power_law(truth, n_boot, rng);
    po.bootstrap = sims;
    po.threads = o.threads;
    stats::PowerLawFit boot;
    const double boot_s = seconds_of(c10::Device(c10::kCPU), [&] { boot = stats::fit_power_law(small, po); });
    out["powerlaw"] = {{"fit_samples", n_big},
                       {"fit_seconds", fit_s},
                       {"fit_samples_per_second", static_cast<double>(n_big) / fit_s},
                       {"fit_alpha", fit.alpha},
                       {"comparisons_seconds", big_cmp_s},
                       {"comparisons", big_comparisons.size()},
                       {"bootstrap_samples", n_boot},
                       {"bootstrap_simulations", sims},
                       {"bootstrap_seconds", boot_s},
                       {"bootstrap_simulations_per_second", sims / boot_s},
                       {"bootstrap_p", or_null(boot.p_value)}};
    out["powerlaw_vs_poweRlaw"] = compare_with_powerlaw_r(o.quick ? 50 : 1000, o.quick ? 2 : 20, threads);
  }
  return out;
}

}  // namespace critlab::bench
