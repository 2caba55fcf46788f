#include "critlab/experiments/phase_diagram.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/experiments/protocol.h"
#include "critlab/graph/scaling.h"
#include "critlab/io/files.h"
#include "critlab/io/json_fields.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/landscape/hessian.h"
#include "critlab/nn/model.h"
#include "critlab/stats/describe.h"

namespace critlab::experiments {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// What a cell trains: its parameters, the loss on a batch of training indices, and the evaluation.
struct Problem {
  std::vector<at::Tensor> params;
  std::int64_t n_train = 0;
  std::function<at::Tensor(const at::Tensor& idx)> loss_on;  // mean loss on training examples idx
  // Loss and accuracy (NaN for the quadratic) on the evaluation examples of `split` ("train" / "test").
  std::function<std::pair<double, double>(bool test)> evaluate;
  std::function<at::Tensor()> sharpness_loss;  // the loss on the fixed sharpness batch
  nn::LayerStack model{nullptr};               // fashion-mnist only (eval/train mode)
};

struct Data {
  data::Dataset train, eval_train, eval_test;
};

// X with X^T X / n = V diag(linspace(1, 0.01)) V^T exactly: X = sqrt(n) U diag(sqrt(s)) V^T with U's columns
// and V orthonormal (QR of Gaussian matrices), fixed by the generator.
std::pair<at::Tensor, at::Tensor> quadratic_data(std::int64_t dim, std::int64_t n) {
  auto gen = at::detail::createCPUGenerator(0);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto U = std::get<0>(at::linalg_qr(at::randn({n, dim}, gen, opts)));
  const auto V = std::get<0>(at::linalg_qr(at::randn({dim, dim}, gen, opts)));
  const auto s = torch::linspace(1.0, 0.01, dim, opts);
  const auto X = std::sqrt(static_cast<double>(n)) * U.mm(torch::diag(s.sqrt())).mm(V.t());
  const auto w_star = at::randn({dim, 1}, gen, opts);
  const auto y = X.mm(w_star) + 0.01 * at::randn({n, 1}, gen, opts);
  return {X.to(torch::kFloat32), y.to(torch::kFloat32)};
}

Problem make_problem(const PhaseDiagramOptions& o, const Data& data, std::uint64_t seed,
                     const c10::Device& device) {
  Problem p;
  if (o.task == PhaseTask::kQuadratic) {
    auto [X, y] = quadratic_data(o.quadratic_dim, o.quadratic_samples);
    X = X.to(device), y = y.to(device);
    auto gen = at::detail::createCPUGenerator(seed);
    auto w = (at::randn({o.quadratic_dim, 1}, gen, torch::kFloat32) / std::sqrt(o.quadratic_dim))
                 .to(device)
                 .requires_grad_(true);
    p.params = {w};
    p.n_train = o.quadratic_samples;
    p.loss_on = [X, y, w](const at::Tensor& idx) {
      const auto r = X.index_select(0, idx).mm(w) - y.index_select(0, idx);
      return 0.5 * r.pow(2).mean();
    };
    p.evaluate = [X, y, w](bool) {
      torch::NoGradGuard ng;
      return std::pair<double, double>{(0.5 * (X.mm(w) - y).pow(2).mean()).item<double>(), kNaN};
    };
    p.sharpness_loss = [X, y, w] { return 0.5 * (X.mm(w) - y).pow(2).mean(); };
    return p;
  }
  p.model = nn::build_model(nn::mlp_spec(o.depth, o.width, o.activation), seed);
  p.model->to(device);
  p.params = landscape::trainable_parameters(*p.model);
  p.n_train = data.train.size();
  auto model = p.model;
  const auto x = data.train.images, y = data.train.labels;
  p.loss_on = [model, x, y](const at::Tensor& idx) mutable {
    return torch::cross_entropy_loss(model->forward(x.index_select(0, idx)), y.index_select(0, idx));
  };
  const auto tx = data.eval_train.images, ty = data.eval_train.labels, vx = data.eval_test.images,
             vy = data.eval_test.labels;
  p.evaluate = [model, tx, ty, vx, vy](bool test) mutable {
    torch::NoGradGuard ng;
    const auto logits = model->forward(test ? vx : tx);
    const auto& labels = test ? vy : ty;
    return std::pair<double, double>{torch::cross_entropy_loss(logits, labels).item<double>(),
                                     logits.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>()};
  };
  const auto n = std::min<std::int64_t>(o.sharpness_examples, data.train.size());
  const auto sx = x.slice(0, 0, n), sy = y.slice(0, 0, n);
  p.sharpness_loss = [model, sx, sy]() mutable { return torch::cross_entropy_loss(model->forward(sx), sy); };
  return p;
}

struct Cell {
  std::int64_t batch;
  double lr;
  std::uint64_t seed;
  fs::path dir;
};

// The shortest text that reads back as the same double: distinct learning rates never share a directory.
std::string lr_name(double lr) { return fmt::format("{}", lr); }

// One training run and its late-time measurements.
nlohmann::json run_cell(const Cell& c, const PhaseDiagramOptions& o, const Data& data,
                        const c10::Device& device) {
  torch::manual_seed(c.seed);
  auto p = make_problem(o, data, c.seed, device);
  if (p.model) p.model->train();
  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json r{{"batch_size", c.batch}, {"lr", c.lr}, {"seed", c.seed}};
  const double initial_loss = p.evaluate(false).first;
  r["initial_loss"] = finite_or_null(initial_loss);

  // The sketch: `sketch` Gaussian directions of unit length over all parameters.
  std::int64_t P = 0;
  for (const auto& t : p.params) P += t.numel();
  auto sketch_gen = at::detail::createCPUGenerator(c.seed + 7919);
  auto S = at::randn({o.sketch, P}, sketch_gen, torch::kFloat32);
  S = (S / S.norm(2, 1, true)).to(device);
  at::Tensor sum = torch::zeros({P}, torch::TensorOptions().dtype(torch::kFloat64).device(device)),
             sum2 = torch::zeros_like(sum);
  std::vector<at::Tensor> sketched;

  // SGD: shuffled epochs (full batch when B >= n); plain or heavy-ball momentum.
  std::mt19937_64 rng(c.seed);
  std::vector<std::int64_t> order(static_cast<std::size_t>(p.n_train));
  std::iota(order.begin(), order.end(), 0);
  std::size_t cursor = order.size();
  const std::int64_t B = std::min(c.batch, p.n_train);
  std::vector<at::Tensor> velocity;
  for (const auto& t : p.params) velocity.push_back(torch::zeros_like(t));
  std::vector<double> losses;
  std::string status = "converged";
  std::int64_t steps_done = 0;
  for (std::int64_t step = 0; step < o.steps; ++step) {
    std::vector<std::int64_t> batch;
    if (B >= p.n_train) {
      batch = order;
    } else {
      if (cursor + static_cast<std::size_t>(B) > order.size()) {
        std::shuffle(order.begin(), order.end(), rng);
        cursor = 0;
      }
      batch.assign(order.begin() + static_cast<std::ptrdiff_t>(cursor),
                   order.begin() + static_cast<std::ptrdiff_t>(cursor) + B);
      cursor += static_cast<std::size_t>(B);
    }
    const auto idx = torch::tensor(batch, torch::kInt64).to(device);
    for (auto& t : p.params)
      if (t.grad().defined()) t.mutable_grad().zero_();
    const auto loss = p.loss_on(idx);
    const double lv = loss.item<double>();
    losses.push_back(lv);
    if (!std::isfinite(lv) || lv > o.divergence_ratio * initial_loss) {
      status = "diverged";
      break;
    }
    loss.backward();
    {
      torch::NoGradGuard ng;
      for (std::size_t i = 0; i < p.params.size(); ++i) {
        if (o.momentum > 0) {
          velocity[i].mul_(o.momentum).add_(p.params[i].grad());
          p.params[i].sub_(c.lr * velocity[i]);
        } else {
          p.params[i].sub_(c.lr * p.params[i].grad());
        }
      }
    }
    ++steps_done;
    if (step >= o.steps - o.window) {
      torch::NoGradGuard ng;
      const auto theta = landscape::flatten(p.params);  // under no_grad: no graph
      const auto td = theta.to(torch::kFloat64);
      sum.add_(td);
      sum2.add_(td * td);
      sketched.push_back(S.mv(theta).to(torch::kCPU, torch::kFloat64));
    }
  }
  r["steps_done"] = steps_done;
  const auto [train_loss, train_acc] = p.evaluate(false);
  const auto [test_loss, test_acc] = p.evaluate(true);
  if (status == "converged" && !(std::isfinite(train_loss) && train_loss <= o.converged_ratio * initial_loss))
    status = std::isfinite(train_loss) ? "not-converged" : "diverged";
  r["status"] = status;
  r["converged"] = status == "converged";
  r["train_loss"] = finite_or_null(train_loss);
  r["test_loss"] = finite_or_null(test_loss);
  r["train_accuracy"] = finite_or_null(train_acc);
  r["test_accuracy"] = finite_or_null(test_acc);
  {
    // The late-window training loss (minibatch losses of the last `window` steps).
    const auto w = std::min<std::size_t>(losses.size(), static_cast<std::size_t>(o.window));
    double s = 0;
    for (std::size_t i = losses.size() - w; i < losses.size(); ++i) s += losses[i];
    r["window_loss"] = w ? finite_or_null(s / static_cast<double>(w)) : nlohmann::json(nullptr);
  }

  // Sharpness against the stability threshold.
  const double threshold = (2 + 2 * o.momentum) / c.lr;
  r["threshold"] = threshold;
  r["sharpness"] = nullptr;
  r["sharpness_ratio"] = nullptr;
  if (std::isfinite(train_loss)) {
    if (p.model) p.model->eval();
    landscape::HessianOperator H(p.params, p.sharpness_loss);
    landscape::LanczosOptions lo;
    lo.max_iterations = o.sharpness_iterations;
    lo.tol = 1e-3;
    lo.seed = c.seed;
    const auto e = landscape::lanczos_extremes(H.as_function(), H.dim(), H.options(), lo);
    if (!e.eigenvalues.empty() && std::isfinite(e.eigenvalues[0])) {
      r["sharpness"] = e.eigenvalues[0];
      r["sharpness_ratio"] = e.eigenvalues[0] / threshold;
      r["sharpness_residual"] = e.residuals[0];
    }
  } else {
    r["sharpness_status"] = "non-finite";
  }

  // The late window: total fluctuation, PCs of the sketched trajectory, flux.
  const auto W = static_cast<std::int64_t>(sketched.size());
  r["window_steps"] = W;
  r["fluctuation"] = nullptr;
  r["flux"] = nullptr;
  std::vector<std::vector<double>> traj;
  if (W == o.window && W >= 3) {
    torch::NoGradGuard ng;
    const double w = static_cast<double>(W);
    const auto var = (sum2 - sum * sum / w) / (w - 1);
    const double total = var.clamp_min(0).sum().item<double>();
    r["fluctuation"] = finite_or_null(total);
    auto Y = torch::stack(sketched);  // [W, sketch]
    const bool finite = torch::isfinite(Y).all().item<bool>();
    if (finite) {
      Y = Y - Y.mean(0, true);
      // The window's linear trend (training still moving the weights) is not a fluctuation; with `detrend`
      // it is taken out before the PCs, and its share of the window's variance is reported either way.
      auto tc = torch::arange(W, torch::kFloat64);
      tc = (tc - tc.mean()).unsqueeze(1);                 // [W, 1]
      const auto slope = tc.t().mm(Y) / tc.pow(2).sum();  // [1, sketch]
      const auto trend = tc.mm(slope);
      const double total_ss = Y.pow(2).sum().item<double>();
      r["trend_share"] = total_ss > 0 ? finite_or_null(trend.pow(2).sum().item<double>() / total_ss)
                                      : nlohmann::json(nullptr);
      if (o.detrend) Y = Y - trend;
      const auto C = Y.t().mm(Y) / (w - 1);
      const auto [evals, evecs] = at::linalg_eigh(C);  // ascending
      const auto k = std::min<std::int64_t>(o.components, o.sketch);
      auto V = evecs.flip({1}).slice(1, 0, k).clone();  // descending
      // A fixed sign: each component's largest loading positive.
      for (std::int64_t j = 0; j < k; ++j) {
        const auto col = V.select(1, j);
        if (col.index({col.abs().argmax()}).item<double>() < 0) col.neg_();
      }
      const auto Z = Y.mm(V);  // [W, k]
      const auto ev = evals.flip({0});
      const double all = ev.clamp_min(0).sum().item<double>();
      std::vector<double> pc_var;
      for (std::int64_t j = 0; j < k; ++j) pc_var.push_back(ev[j].item<double>());
      r["pc_variance"] = pc_var;
      r["pc_explained"] = all > 0 ? finite_or_null(std::accumulate(pc_var.begin(), pc_var.end(), 0.0) / all)
                                  : nlohmann::json(nullptr);
      traj.assign(static_cast<std::size_t>(k), std::vector<double>(static_cast<std::size_t>(W)));
      const auto Za = Z.accessor<double, 2>();
      for (std::int64_t t = 0; t < W; ++t)
        for (std::int64_t j = 0; j < k; ++j)
          traj[static_cast<std::size_t>(j)][static_cast<std::size_t>(t)] = Za[t][j];
      std::vector<std::string> names;
      for (std::int64_t j = 0; j < k; ++j) names.push_back(fmt::format("pc{}", j + 1));
      auto fo = o.flux;
      fo.dt = 1;
      fo.seed = c.seed;
      const auto f = landscape::analyze_flux(traj, fo, names);
      r["flux"] = landscape::to_json(f);
      // trajectory.csv: the projected window, for `critlab flux --trajectory ... --dt 1`.
      std::string csv = "step";
      for (const auto& n : names) csv += "," + n;
      csv += "\n";
      for (std::int64_t t = 0; t < W; ++t) {
        csv += std::to_string(o.steps - W + t + 1);
        for (std::int64_t j = 0; j < k; ++j)
          csv += fmt::format(",{:.9g}", traj[static_cast<std::size_t>(j)][static_cast<std::size_t>(t)]);
        csv += "\n";
      }
      io::write_atomic(c.dir / "trajectory.csv", csv);
    } else {
      r["flux_status"] = "non-finite";
    }
  } else {
    r["flux_status"] = "diverged before the late window";
  }
  r["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// The order parameters, by name, from a cell's result (NaN where absent or null).
const std::vector<std::pair<std::string, std::string>> kOrderParameters{
    {"converged", "converged fraction"},
    {"train_loss", "final training loss"},
    {"test_loss", "final test loss"},
    {"train_accuracy", "final training accuracy"},
    {"test_accuracy", "final test accuracy"},
    {"fluctuation", "late weight fluctuation (total variance)"},
    {"trend_share", "share of the window's sketched variance in its linear trend"},
    {"sharpness_ratio", "sharpness lambda_max / (2/eta)"},
    {"ep_grid", "entropy production (grid, PCs 1-2)"},
    {"tur_bound", "entropy production (TUR bound, PCs)"},
    {"area_rate", "area rate L_12 / (sd_1 sd_2), PCs 1-2, per step"},
    {"flux_share", "flux share of the drift (grid)"},
};

double value_of(const nlohmann::json& r, const std::string& name) {
  auto get = [](const nlohmann::json& j, const char* k) {
    return j.contains(k) && j.at(k).is_number() ? j.at(k).get<double>() : kNaN;
  };
  if (name == "converged") return r.at("converged").get<bool>() ? 1.0 : 0.0;
  if (name == "ep_grid" || name == "tur_bound" || name == "area_rate" || name == "flux_share") {
    if (!r.contains("flux") || r.at("flux").is_null()) return kNaN;
    const auto& f = r.at("flux");
    if (name == "ep_grid") return get(f.at("entropy_production"), "grid");
    if (name == "tur_bound") return get(f.at("entropy_production"), "tur_bound");
    if (name == "flux_share")
      return f.contains("drift_decomposition") ? get(f.at("drift_decomposition"), "flux_share") : kNaN;
    // L_12 in units of the two PCs' standard deviations: a dimensionless rotation rate per step.
    if (!f.at("area_rate").is_array() || !f.at("area_rate")[0][1].is_number() || !r.contains("pc_variance"))
      return kNaN;
    const auto& v = r.at("pc_variance");
    const double scale = std::sqrt(v[0].get<double>() * v[1].get<double>());
    return scale > 0 ? f.at("area_rate")[0][1].get<double>() / scale : kNaN;
  }
  return get(r, name.c_str());
}

// d ln eta / d ln B between two located boundaries.
double log_slope(double b0, double eta0, double b1, double eta1) {
  return std::log(eta1 / eta0) / std::log(b1 / b0);
}

// kappa of eta_c = c B^kappa: graph::fit_scaling (least squares in log-log, with its t interval) from three
// batch sizes on; from two, the line through them (no interval).
struct Kappa {
  std::optional<double> kappa, low, high, log_c;
};
Kappa fit_kappa(const std::vector<double>& batch, const std::vector<double>& eta) {
  Kappa k;
  if (batch.size() >= 3) {
    const auto f = graph::fit_scaling(batch, eta);
    if (!f.exponent) return k;
    k.kappa = f.exponent;
    k.low = f.exponent_lo;
    k.high = f.exponent_hi;
    k.log_c = std::log(*f.prefactor);
  } else if (batch.size() == 2) {
    k.kappa = log_slope(batch[0], eta[0], batch[1], eta[1]);
    k.log_c = std::log(eta[0]) - *k.kappa * std::log(batch[0]);
  }
  return k;
}

}  // namespace

bool PhaseDiagramOptions::IsValid(std::string* error) const {
  auto fail = [&](std::string m) {
    *error = std::move(m);
    return false;
  };
  if (lrs.empty()) return fail("--lrs: give at least one learning rate");
  for (double lr : lrs)
    if (!(lr > 0) || !std::isfinite(lr))
      return fail(fmt::format("--lrs: {} is not a positive learning rate", lr));
  for (std::size_t i = 1; i < lrs.size(); ++i)
    if (!(lrs[i] > lrs[i - 1])) return fail("--lrs must be strictly increasing");
  if (batch_sizes.empty()) return fail("--batch-sizes: give at least one batch size");
  for (auto b : batch_sizes)
    if (b < 1) return fail(fmt::format("--batch-sizes: {} is not a positive batch size", b));
  for (std::size_t i = 1; i < batch_sizes.size(); ++i)
    if (!(batch_sizes[i] > batch_sizes[i - 1])) return fail("--batch-sizes must be strictly increasing");
  if (seeds < 1 || seeds > 1000) return fail("--seeds must be in [1, 1000]");
  if (steps < 1) return fail("--steps must be at least 1");
  if (window < 3 || window > steps) return fail(fmt::format("--window must be in [3, --steps = {}]", steps));
  if (!(momentum >= 0 && momentum < 1)) return fail("--momentum must be in [0, 1)");
  if (!(converged_ratio > 0 && converged_ratio < 1)) return fail("--converged-ratio must be in (0, 1)");
  if (!(divergence_ratio > 1)) return fail("--divergence-ratio must be above 1");
  if (depth < 1 || width < 1) return fail("--depth and --width must be positive");
  if (train_examples < 10 || train_examples > 60000) return fail("--train-examples must be in [10, 60000]");
  if (eval_examples < 10 || eval_examples > 10000) return fail("--eval-examples must be in [10, 10000]");
  if (quadratic_dim < 2 || quadratic_samples < quadratic_dim)
    return fail("--quadratic-dim must be at least 2 and --quadratic-samples at least the dimension");
  if (sketch < 2 || components < 2 || components > sketch)
    return fail("--sketch must be at least 2 and --components in [2, --sketch]");
  if (sharpness_examples < 1 || sharpness_iterations < 2)
    return fail("--sharpness-examples must be positive and --sharpness-iterations at least 2");
  if (boundary_bootstrap < 0) return fail("--boundary-bootstrap must be non-negative");
  std::string e;
  if (!flux.IsValid(&e)) return fail("flux: " + e);
  return true;
}

nlohmann::json to_json(const PhaseDiagramOptions& o) {
  nlohmann::json j{{"task", to_string(o.task)},
                   {"lrs", o.lrs},
                   {"batch_sizes", o.batch_sizes},
                   {"seeds", o.seeds},
                   {"first_seed", o.first_seed},
                   {"steps", o.steps},
                   {"window", o.window},
                   {"momentum", o.momentum},
                   {"converged_ratio", o.converged_ratio},
                   {"divergence_ratio", o.divergence_ratio},
                   {"sketch", o.sketch},
                   {"components", o.components},
                   {"sharpness_examples", o.sharpness_examples},
                   {"sharpness_iterations", o.sharpness_iterations},
                   {"flux", landscape::to_json(o.flux)},
                   {"boundary_bootstrap", o.boundary_bootstrap},
                   {"detrend", o.detrend},
                   {"fit_max_batch", o.fit_max_batch}};
  if (o.task == PhaseTask::kFashionMnist) {
    j["model"] = {{"depth", o.depth}, {"width", o.width}, {"activation", to_string(o.activation)}};
    j["train_examples"] = o.train_examples;
    j["eval_examples"] = o.eval_examples;
  } else {
    j["quadratic"] = {{"dim", o.quadratic_dim}, {"samples", o.quadratic_samples}, {"lambda_max", 1.0}};
  }
  return j;
}

Crossing locate_crossing(const std::vector<double>& lrs, const std::vector<double>& f) {
  Crossing c;
  if (lrs.empty() || f.size() != lrs.size()) {
    c.status = make_status(StatusCode::kInsufficientData, "no learning rates");
    return c;
  }
  if (f[0] < 0.5) {
    c.status = make_status(StatusCode::kNotFound,
                           fmt::format("no learning rate converged in half the seeds: eta_c < {:g}", lrs[0]));
    return c;
  }
  for (std::size_t i = 0; i + 1 < lrs.size(); ++i)
    if (f[i] >= 0.5 && f[i + 1] < 0.5) {
      const double a = std::log(lrs[i]), b = std::log(lrs[i + 1]);
      c.eta_c = std::exp(a + (f[i] - 0.5) / (f[i] - f[i + 1]) * (b - a));
      c.below = lrs[i];
      c.above = lrs[i + 1];
      return c;
    }
  c.status = make_status(
      StatusCode::kNotFound,
      fmt::format("every learning rate converged in half the seeds or more: eta_c > {:g}", lrs.back()));
  return c;
}

PhaseDiagramSummary run_phase_diagram(const fs::path& out, const PhaseDiagramOptions& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
  const auto t0 = std::chrono::steady_clock::now();
  io::DirectoryLock lock(out, "an experiment writes there");
  io::remove_stale_temporaries(out, /*recursive=*/true);
  // More seeds extend the grid; the boundary analysis may change under finished cells.
  open_experiment_dir(out, to_json(o), {"seeds", "fit_max_batch", "boundary_bootstrap"});
  const c10::Device device = resolve_device(o.device);
  const int threads = configure_threads(o.threads);
  io::write_json(out / "runtime.json", runtime_metadata(device, threads));

  Data data;
  if (o.task == PhaseTask::kFashionMnist) {
    auto fm = data::load_fashion_mnist(data::resolve_data_dir(o.data_dir));
    auto train = data::stratified_subset(fm.train, o.train_examples);
    auto eval_train = data::stratified_subset(train, std::min(o.eval_examples, o.train_examples));
    auto eval_test = data::stratified_subset(fm.test, o.eval_examples);
    data.train = {train.images.to(device), train.labels.to(device), train.num_classes};
    data.eval_train = {eval_train.images.to(device), eval_train.labels.to(device), eval_train.num_classes};
    data.eval_test = {eval_test.images.to(device), eval_test.labels.to(device), eval_test.num_classes};
  }

  std::vector<Cell> cells;
  for (const auto B : o.batch_sizes)
    for (const double lr : o.lrs)
      for (std::int64_t s = 0; s < o.seeds; ++s) {
        const auto seed = o.first_seed + static_cast<std::uint64_t>(s);
        cells.push_back(
            {B, lr, seed,
             out / "cells" / fmt::format("B-{}", B) / ("lr-" + lr_name(lr)) / fmt::format("seed-{}", seed)});
      }
  PhaseDiagramSummary summary;
  summary.cells = static_cast<std::int64_t>(cells.size());
  std::vector<nlohmann::json> results;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& c = cells[i];
    const auto result_path = c.dir / "result.json";
    report_progress(o.progress, "phase-diagram", static_cast<std::int64_t>(i), summary.cells,
                    fmt::format("B {} lr {:g} seed {}", c.batch, c.lr, c.seed));
    if (fs::exists(result_path)) {
      auto previous = io::read_json(result_path);
      const io::JsonFields f(previous, result_path.string());
      if (f.integer("batch_size") != c.batch || f.number("lr") != c.lr ||
          f.unsigned_integer("seed") != c.seed)
        throw Error(fmt::format("'{}' belongs to another cell; the experiment directory is damaged",
                                result_path.string()));
      f.string("status");
      f.boolean("converged");
      f.integer("steps_done");
      results.push_back(std::move(previous));
      ++summary.reused;
      continue;
    }
    fs::create_directories(c.dir);
    auto r = run_cell(c, o, data, device);
    io::write_json(result_path, r);  // the commit point of the cell
    results.push_back(std::move(r));
    ++summary.computed;
    if (o.kill_after_cells >= 0 && summary.computed >= o.kill_after_cells) std::_Exit(137);
  }
  report_progress(o.progress, "phase-diagram", summary.cells, summary.cells);

  // cells.csv
  {
    std::string csv = "batch_size,lr,seed,status";
    for (const auto& [name, _] : kOrderParameters) csv += "," + name;
    csv += ",sharpness,steps_done\n";
    for (const auto& r : results) {
      csv += fmt::format("{},{},{},{}", r.at("batch_size").get<std::int64_t>(),
                         lr_name(r.at("lr").get<double>()), r.at("seed").get<std::uint64_t>(),
                         r.at("status").get<std::string>());
      for (const auto& [name, _] : kOrderParameters) csv += "," + io::csv_number(value_of(r, name));
      csv += "," + io::csv_number(value_of(r, "sharpness")) + "," +
             std::to_string(r.at("steps_done").get<std::int64_t>()) + "\n";
    }
    io::write_atomic(out / "cells.csv", csv);
  }

  // Per (eta, B): means over seeds (converged cells only for the flux and fluctuation figures, which mean
  // nothing on a diverging trajectory; every cell for the converged fraction and the losses).
  const auto nB = o.batch_sizes.size(), nL = o.lrs.size();
  std::map<std::string, std::vector<double>> grid;  // name -> [B][lr]
  std::vector<std::vector<std::vector<double>>> conv(nB, std::vector<std::vector<double>>(nL));  // seeds
  for (const auto& [name, _] : kOrderParameters) grid[name].assign(nB * nL, kNaN);
  for (std::size_t b = 0; b < nB; ++b)
    for (std::size_t l = 0; l < nL; ++l) {
      std::map<std::string, std::vector<double>> vals;
      for (const auto& r : results) {
        if (r.at("batch_size").get<std::int64_t>() != o.batch_sizes[b] ||
            r.at("lr").get<double>() != o.lrs[l])
          continue;
        const bool converged = r.at("converged").get<bool>();
        conv[b][l].push_back(converged ? 1.0 : 0.0);
        for (const auto& [name, _] : kOrderParameters) {
          const bool needs_convergence = name != "converged" && name != "train_loss" && name != "test_loss" &&
                                         name != "train_accuracy" && name != "test_accuracy";
          if (needs_convergence && !converged) continue;
          vals[name].push_back(value_of(r, name));
        }
      }
      for (const auto& [name, _] : kOrderParameters) grid[name][b * nL + l] = stats::mean_sd(vals[name]).mean;
    }
  {
    std::string csv = "batch_size,lr,cells";
    for (const auto& [name, _] : kOrderParameters) csv += "," + name;
    csv += "\n";
    for (std::size_t b = 0; b < nB; ++b)
      for (std::size_t l = 0; l < nL; ++l) {
        csv += fmt::format("{},{},{}", o.batch_sizes[b], lr_name(o.lrs[l]), conv[b][l].size());
        for (const auto& [name, _] : kOrderParameters) csv += "," + io::csv_number(grid[name][b * nL + l]);
        csv += "\n";
      }
    io::write_atomic(out / "phase.csv", csv);
  }

  // The boundary per B, its seed-bootstrap interval, and the fit eta_c = c B^kappa.
  std::mt19937_64 rng(o.first_seed + 104729);
  const std::int64_t R = o.boundary_bootstrap;
  std::vector<std::vector<double>> boot_eta(nB, std::vector<double>(static_cast<std::size_t>(R), kNaN));
  for (std::size_t b = 0; b < nB; ++b) {
    BoundaryRow row;
    row.batch_size = o.batch_sizes[b];
    std::vector<double> f(nL);
    bool complete = true;
    for (std::size_t l = 0; l < nL; ++l) {
      f[l] = stats::mean_sd(conv[b][l]).mean;
      complete &= !conv[b][l].empty();
    }
    if (!complete) {
      row.status = make_status(StatusCode::kInsufficientData, "cells of this batch size are missing");
      summary.boundary.push_back(row);
      continue;
    }
    const auto c = locate_crossing(o.lrs, f);
    row.eta_c = c.eta_c;
    row.below = c.below;
    row.above = c.above;
    row.status = c.status;
    std::vector<double> found;
    for (std::int64_t s = 0; s < R; ++s) {
      std::vector<double> fb(nL);
      for (std::size_t l = 0; l < nL; ++l) {
        const auto& v = conv[b][l];
        double sum = 0;
        for (std::size_t k = 0; k < v.size(); ++k) sum += v[rng() % v.size()];
        fb[l] = sum / static_cast<double>(v.size());
      }
      const auto cb = locate_crossing(o.lrs, fb);
      if (cb.eta_c) {
        found.push_back(*cb.eta_c);
        boot_eta[b][static_cast<std::size_t>(s)] = *cb.eta_c;
      }
    }
    row.bootstrap_found = R > 0 ? static_cast<double>(found.size()) / static_cast<double>(R) : 0;
    if (row.eta_c && found.size() >= 10) {
      const auto ci = stats::percentile_interval(std::move(found), 0.95);
      row.low = ci[0];
      row.high = ci[1];
    }
    summary.boundary.push_back(row);
  }
  {
    std::vector<double> x, y;
    auto& fit = summary.fit;
    fit.max_batch = o.fit_max_batch;
    const auto in_fit = [&](std::int64_t B) { return o.fit_max_batch <= 0 || B <= o.fit_max_batch; };
    for (const auto& row : summary.boundary)
      if (row.eta_c && in_fit(row.batch_size))
        x.push_back(static_cast<double>(row.batch_size)), y.push_back(*row.eta_c);
    const BoundaryRow* previous = nullptr;
    for (const auto& row : summary.boundary) {
      if (!row.eta_c) continue;
      if (previous)
        fit.local_kappa.emplace_back(row.batch_size,
                                     log_slope(static_cast<double>(previous->batch_size), *previous->eta_c,
                                               static_cast<double>(row.batch_size), *row.eta_c));
      previous = &row;
    }
    fit.points = static_cast<std::int64_t>(x.size());
    if (x.size() < 2) {
      fit.status =
          make_status(StatusCode::kInsufficientData,
                      fmt::format("eta_c was located at {} batch size(s); the fit needs 2", x.size()));
    } else {
      const auto f = fit_kappa(x, y);
      fit.kappa = f.kappa;
      fit.log_c = f.log_c;
      fit.kappa_low = f.low;
      fit.kappa_high = f.high;
      std::vector<double> kb;
      for (std::int64_t s = 0; s < R; ++s) {
        // A resample counts when it locates eta_c at exactly the batch sizes of the fit.
        std::vector<double> xb, yb;
        bool same = true;
        for (std::size_t b = 0; b < nB; ++b) {
          const bool fitted = in_fit(o.batch_sizes[b]) && summary.boundary[b].eta_c.has_value();
          const double e = boot_eta[b][static_cast<std::size_t>(s)];
          if (fitted != std::isfinite(e) && in_fit(o.batch_sizes[b])) same = false;
          if (fitted && std::isfinite(e))
            xb.push_back(static_cast<double>(o.batch_sizes[b])), yb.push_back(e);
        }
        if (same && xb.size() == x.size()) {
          const auto fb = fit_kappa(xb, yb);
          if (fb.kappa && std::isfinite(*fb.kappa)) kb.push_back(*fb.kappa);
        }
      }
      if (kb.size() >= 10) {
        const auto ci = stats::percentile_interval(std::move(kb), 0.95);
        fit.kappa_boot_low = ci[0];
        fit.kappa_boot_high = ci[1];
      }
      if (x.size() < 3) fit.status.message = "two batch sizes: kappa has no t interval";
    }
  }
  {
    std::string csv = "batch_size,eta_c,low,high,grid_below,grid_above,bootstrap_found,status\n";
    for (const auto& row : summary.boundary)
      csv += fmt::format("{},{},{},{},{},{},{:.4g},{}\n", row.batch_size,
                         io::csv_number(row.eta_c.value_or(kNaN)), io::csv_number(row.low.value_or(kNaN)),
                         io::csv_number(row.high.value_or(kNaN)), io::csv_number(row.below.value_or(kNaN)),
                         io::csv_number(row.above.value_or(kNaN)), row.bootstrap_found,
                         to_string(row.status.code));
    io::write_atomic(out / "boundary.csv", csv);
  }

  // Heat maps over (eta, B): one per order parameter, with the located boundary marked.
  const auto plots = out / "plots";
  for (const auto& [name, title] : kOrderParameters) {
    std::vector<float> v;
    bool log_scale = name == "train_loss" || name == "test_loss" || name == "fluctuation";
    for (double x : grid[name]) v.push_back(static_cast<float>(log_scale ? std::log10(x) : x));
    io::HeatmapOptions h;
    h.title = title + (log_scale ? " (log10)" : "");
    h.xlabel = "learning rate";
    h.ylabel = "batch size";
    for (double lr : o.lrs) h.xtick_labels.push_back(lr_name(lr));
    for (auto b : o.batch_sizes) h.ytick_labels.push_back(std::to_string(b));
    h.cblabel = name;
    h.diverging = name == "area_rate";
    if (name == "converged") h.cb_lo = 0, h.cb_hi = 1, h.contours = {0.5};
    io::plot_heatmap(plots, "phase_" + name, v, static_cast<std::int64_t>(nB), static_cast<std::int64_t>(nL),
                     h);
  }
  // eta_c against B (log-log) with the fit.
  {
    io::Table t;
    t.columns = {"batch_size", "eta_c", "fit"};
    for (const auto& row : summary.boundary)
      t.add_row({static_cast<double>(row.batch_size), row.eta_c.value_or(kNaN),
                 summary.fit.kappa ? std::exp(*summary.fit.log_c) *
                                         std::pow(static_cast<double>(row.batch_size), *summary.fit.kappa)
                                   : kNaN});
    io::plot_lines(plots, "eta_c", t, "batch_size",
                   {{"eta_c", "eta_c (converged fraction 1/2)"}, {"fit", "c B^kappa"}},
                   {.title = "Convergence boundary",
                    .xlabel = "batch size",
                    .ylabel = "eta_c",
                    .logx = true,
                    .logy = true});
  }

  // summary.json and summary.md
  nlohmann::json boundary = nlohmann::json::array();
  for (const auto& row : summary.boundary) {
    nlohmann::json j{{"batch_size", row.batch_size},
                     {"eta_c", or_null(row.eta_c)},
                     {"low", or_null(row.low)},
                     {"high", or_null(row.high)},
                     {"grid_below", or_null(row.below)},
                     {"grid_above", or_null(row.above)},
                     {"bootstrap_found", row.bootstrap_found}};
    put_status(j, row.status);
    boundary.push_back(j);
  }
  nlohmann::json fit{
      {"kappa", or_null(summary.fit.kappa)},
      {"kappa_t_interval", summary.fit.kappa_low
                               ? nlohmann::json{*summary.fit.kappa_low, *summary.fit.kappa_high}
                               : nlohmann::json(nullptr)},
      {"kappa_bootstrap_interval",
       summary.fit.kappa_boot_low ? nlohmann::json{*summary.fit.kappa_boot_low, *summary.fit.kappa_boot_high}
                                  : nlohmann::json(nullptr)},
      {"log_c", or_null(summary.fit.log_c)},
      {"points", summary.fit.points},
      {"max_batch",
       summary.fit.max_batch > 0 ? nlohmann::json(summary.fit.max_batch) : nlohmann::json(nullptr)},
      {"local_kappa", [&] {
         auto a = nlohmann::json::array();
         for (const auto& [B, k] : summary.fit.local_kappa) a.push_back({{"batch_size", B}, {"kappa", k}});
         return a;
       }()}};
  put_status(fit, summary.fit.status);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json order = nlohmann::json::object();
  for (const auto& [name, _] : kOrderParameters) {
    nlohmann::json m = nlohmann::json::array();
    for (std::size_t b = 0; b < nB; ++b) {
      nlohmann::json row = nlohmann::json::array();
      for (std::size_t l = 0; l < nL; ++l) row.push_back(finite_or_null(grid[name][b * nL + l]));
      m.push_back(row);
    }
    order[name] = m;
  }
  io::write_json(out / "summary.json", {{"cells", summary.cells},
                                        {"computed", summary.computed},
                                        {"reused", summary.reused},
                                        {"seconds", summary.seconds},
                                        {"lrs", o.lrs},
                                        {"batch_sizes", o.batch_sizes},
                                        {"boundary", boundary},
                                        {"fit", fit},
                                        {"order_parameters", order},
                                        {"order_parameters_layout",
                                         "[batch size][learning rate], means over seeds "
                                         "(flux, fluctuation and sharpness: converged cells only)"}});
  std::string md = fmt::format(
      "# phase-diagram: convergence over (learning rate, batch size)\n\n"
      "Task {}; plain SGD{} for {} steps; late window {} steps; {} seed(s) per cell. Converged: final "
      "training loss "
      "finite and at most {:g} x the initial loss.\n\n## Boundary\n\n| B | eta_c | 95% CI (seeds) | grid "
      "step "
      "| status |\n|---|---|---|---|---|\n",
      to_string(o.task), o.momentum > 0 ? fmt::format(" (momentum {:g})", o.momentum) : "", o.steps, o.window,
      o.seeds, o.converged_ratio);
  for (const auto& row : summary.boundary)
    md += fmt::format(
        "| {} | {} | {} | {} | {} |\n", row.batch_size, row.eta_c ? fmt::format("{:.4g}", *row.eta_c) : "–",
        row.low ? fmt::format("[{:.4g}, {:.4g}]", *row.low, *row.high) : "–",
        row.below ? fmt::format("({:g}, {:g})", *row.below, *row.above) : "–", row.status.to_string());
  md +=
      summary.fit.kappa
          ? fmt::format(
                "\neta_c(B) = c B^kappa: kappa = {:.3f}{}{} ({} batch sizes{}; linear scaling predicts 1 at "
                "small B)\n",
                *summary.fit.kappa,
                summary.fit.kappa_low ? fmt::format(", t interval [{:.3f}, {:.3f}]", *summary.fit.kappa_low,
                                                    *summary.fit.kappa_high)
                                      : "",
                summary.fit.kappa_boot_low
                    ? fmt::format(", seed bootstrap [{:.3f}, {:.3f}]", *summary.fit.kappa_boot_low,
                                  *summary.fit.kappa_boot_high)
                    : "",
                summary.fit.points,
                summary.fit.max_batch > 0 ? fmt::format(", B <= {}", summary.fit.max_batch) : "")
          : "\nkappa: " + summary.fit.status.to_string() + "\n";
  if (!summary.fit.local_kappa.empty()) {
    md += "\nLocal slopes d ln eta_c / d ln B:";
    for (const auto& [B, k] : summary.fit.local_kappa) md += fmt::format(" {:.2f} (to B = {}),", k, B);
    md.back() = '\n';
  }
  md += "\n## Order parameters (mean over seeds; flux and fluctuation over converged cells)\n\n| B | eta |";
  for (const auto& [name, _] : kOrderParameters) md += " " + name + " |";
  md += "\n|---|---|";
  for (std::size_t k = 0; k < kOrderParameters.size(); ++k) md += "---|";
  md += "\n";
  for (std::size_t b = 0; b < nB; ++b)
    for (std::size_t l = 0; l < nL; ++l) {
      md += fmt::format("| {} | {:g} |", o.batch_sizes[b], o.lrs[l]);
      for (const auto& [name, _] : kOrderParameters) {
        const double v = grid[name][b * nL + l];
        md += std::isfinite(v) ? fmt::format(" {:.4g} |", v) : " – |";
      }
      md += "\n";
    }
  io::write_atomic(out / "summary.md", md);
  summary.summary_md = out / "summary.md";
  return summary;
}

}  // namespace critlab::experiments
