#include "critlab/landscape/hessian.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/stats/describe.h"
#include "measure/tensor_util.h"

namespace critlab::landscape {

namespace {

// Seeds for the i-th probe of a stream seeded with `seed` (splitmix64's increment), so probes are independent
// of how many were drawn before and of the device.
std::uint64_t probe_seed(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

at::Tensor unit_rademacher(std::int64_t n, const at::TensorOptions& options, std::uint64_t seed) {
  return measure::rademacher({n}, options, seed) / std::sqrt(static_cast<double>(n));
}

double dot_value(const at::Tensor& a, const at::Tensor& b) { return at::dot(a, b).item<double>(); }

// Lanczos with full re-orthogonalisation. The basis lives in the rows of q [capacity, n].
class Lanczos {
 public:
  Lanczos(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options, int capacity)
      : op_(op), q_(at::zeros({capacity, n}, options)) {}

  // Starts from `v` (normalised here). Returns false if v is zero after orthogonalisation.
  bool start(at::Tensor v) {
    if (size_ > 0) v = orthogonalise(v);
    const double norm = v.norm().item<double>();
    if (!(norm > 1e-12) || size_ >= q_.size(0)) return false;
    q_[size_].copy_(v / norm);
    ++size_;
    return true;
  }

  // One step on the newest basis vector: alpha_j and beta_j = ||r_j|| (the residual coupling to the next
  // vector), then q_{j+1} unless the basis is full or the Krylov space is invariant (breakdown()).
  double step() {
    const std::int64_t j = size_ - 1;
    at::Tensor w = op_(q_[j]);
    if (!at::isfinite(w).all().item<bool>())
      throw Error("a Hessian-vector product is not finite: the loss or the network has diverged");
    const double a = dot_value(w, q_[j]);
    alpha_.push_back(a);
    w = orthogonalise(w);
    const double b = w.norm().item<double>();
    scale_ = std::max({scale_, std::abs(a), b});
    beta_.push_back(b);
    breakdown_ = b <= 1e-10 * std::max(scale_, 1e-300);
    if (!breakdown_ && size_ < q_.size(0)) {
      q_[size_].copy_(w / b);
      ++size_;
    }
    return b;
  }
  // The last step found an invariant subspace: continue only from a new start().
  bool breakdown() const { return breakdown_; }
  // The last beta, as T's coupling: zero after a breakdown (the blocks of T decouple).
  void decouple() { beta_.back() = 0; }

  int steps() const { return static_cast<int>(alpha_.size()); }

  // Eigen-decomposition of the tridiagonal T of the steps so far: eigenvalues ascending, eigenvectors as
  // columns; double, CPU.
  std::pair<at::Tensor, at::Tensor> ritz() const {
    const auto m = static_cast<std::int64_t>(alpha_.size());
    at::Tensor t = at::zeros({m, m}, at::kDouble);
    auto acc = t.accessor<double, 2>();
    for (std::int64_t i = 0; i < m; ++i) {
      acc[i][i] = alpha_[i];
      if (i + 1 < m) acc[i][i + 1] = acc[i + 1][i] = beta_[i];
    }
    auto [values, vectors] = at::linalg_eigh(t);
    return {values, vectors};
  }

  // Ritz vectors for the columns of s (T's eigenvectors, [m, k]): [k, n].
  at::Tensor ritz_vectors(const at::Tensor& s) const {
    const auto m = s.size(0);
    return at::matmul(s.t().to(q_.options()), q_.narrow(0, 0, m));
  }

 private:
  // w minus its projection on the basis, twice (classical Gram-Schmidt with re-orthogonalisation).
  at::Tensor orthogonalise(at::Tensor w) const {
    const at::Tensor basis = q_.narrow(0, 0, size_);
    for (int pass = 0; pass < 2; ++pass) w = w - at::matmul(at::matmul(basis, w), basis);
    return w;
  }

  const SymmetricOperator& op_;
  at::Tensor q_;
  std::int64_t size_ = 0;
  std::vector<double> alpha_, beta_;
  double scale_ = 0;
  bool breakdown_ = false;
};

template <typename Options>
void validate(const Options& o) {
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
}

void check_dimension(std::int64_t n) {
  if (n < 1) throw Error("the operator has no dimensions: the model has no trainable parameters");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Loss and flat vectors

at::Tensor batch_loss(nn::LayerStack& model, const at::Tensor& inputs, const at::Tensor& labels,
                      LossKind loss) {
  return batch_loss_from_logits(model->forward(inputs), labels, loss);
}

at::Tensor batch_loss_from_logits(const at::Tensor& logits, const at::Tensor& labels, LossKind loss) {
  if (logits.dim() != 2)
    throw Error(fmt::format("the model's output must be [batch, classes], got {} dims", logits.dim()));
  if (loss == LossKind::kCrossEntropy) return torch::nn::functional::cross_entropy(logits, labels);
  const at::Tensor target = torch::one_hot(labels, logits.size(1)).to(logits.dtype());
  return 0.5 * (logits - target).pow(2).sum(1).mean();
}

std::vector<at::Tensor> trainable_parameters(torch::nn::Module& model) {
  std::vector<at::Tensor> out;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

at::Tensor flatten(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) flat.push_back(t.reshape(-1));
  return flat.empty() ? at::Tensor() : at::cat(flat);
}

std::vector<at::Tensor> unflatten(const at::Tensor& flat, const std::vector<at::Tensor>& like) {
  std::vector<at::Tensor> out;
  std::int64_t offset = 0;
  for (const auto& t : like) {
    out.push_back(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
  if (offset != flat.numel())
    throw Error(
        fmt::format("a flat vector of {} numbers does not fit parameters of {}", flat.numel(), offset));
  return out;
}

ParameterScope::ParameterScope(nn::LayerStack& model) : params_(trainable_parameters(*model)) {
  torch::NoGradGuard ng;
  for (const auto& p : params_) saved_.push_back(p.detach().clone());
}

ParameterScope::~ParameterScope() {
  torch::NoGradGuard ng;
  for (std::size_t i = 0; i < params_.size(); ++i) params_[i].copy_(saved_[i]);
}

void ParameterScope::offset(const std::vector<std::pair<double, const std::vector<at::Tensor>*>>& terms) {
  torch::NoGradGuard ng;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    params_[i].copy_(saved_[i]);
    for (const auto& [c, d] : terms)
      if (c != 0) params_[i].add_((*d)[i].to(params_[i].options()), c);
  }
}

void ParameterScope::set(const std::vector<at::Tensor>& theta) {
  torch::NoGradGuard ng;
  for (std::size_t i = 0; i < params_.size(); ++i) params_[i].copy_(theta.at(i));
}

// ---------------------------------------------------------------------------------------------------------
// Hessian-vector products

struct HessianOperator::Scopes {
  explicit Scopes(nn::LayerStack& model, bool double_precision) : eval(*model) {
    if (double_precision) dbl = std::make_unique<measure::DoublePrecisionScope>(*model);
  }
  nn::EvalModeGuard eval;
  std::unique_ptr<measure::DoublePrecisionScope> dbl;
};

HessianOperator::HessianOperator(std::vector<at::Tensor> params, const std::function<at::Tensor()>& loss) {
  init(std::move(params), loss);
}

HessianOperator::~HessianOperator() {
  // The graph refers to the parameters in their current dtype: release it before the scopes restore them.
  grads_.clear();
  scopes_.reset();
}

std::unique_ptr<HessianOperator> HessianOperator::for_model(nn::LayerStack& model, const at::Tensor& inputs,
                                                            const at::Tensor& labels, LossKind loss,
                                                            bool double_precision) {
  if (inputs.size(0) < 1) throw Error("the Hessian needs at least one example");
  std::unique_ptr<HessianOperator> op(new HessianOperator());
  op->scopes_ = std::make_unique<Scopes>(model, double_precision);
  const at::Tensor x = double_precision ? inputs.to(at::kDouble) : inputs;
  op->init(trainable_parameters(*model), [&] { return batch_loss(model, x, labels, loss); });
  return op;
}

void HessianOperator::init(std::vector<at::Tensor> params, const std::function<at::Tensor()>& loss) {
  params_ = std::move(params);
  if (params_.empty()) throw Error("the model has no trainable parameters: no Hessian");
  for (const auto& p : params_) dim_ += p.numel();
  torch::AutoGradMode grad_mode(true);
  const at::Tensor value = loss();
  if (value.numel() != 1) throw Error("the loss must be a scalar");
  loss_value_ = value.item<double>();
  if (!std::isfinite(loss_value_)) throw Error("the loss is not finite: the network has diverged");
  grads_ = torch::autograd::grad({value}, params_, {}, /*retain_graph=*/true, /*create_graph=*/true,
                                 /*allow_unused=*/true);
  std::vector<at::Tensor> detached;
  for (std::size_t i = 0; i < grads_.size(); ++i)
    detached.push_back(grads_[i].defined() ? grads_[i].detach() : at::zeros_like(params_[i]));
  gradient_flat_ = flatten(detached);
}

at::TensorOptions HessianOperator::options() const { return params_.front().options().requires_grad(false); }

at::Tensor HessianOperator::apply(const at::Tensor& v) {
  if (v.dim() != 1 || v.numel() != dim_)
    throw Error(
        fmt::format("a Hessian-vector product needs a vector of {} numbers, got {}", dim_, v.numel()));
  ++products_;
  torch::AutoGradMode grad_mode(true);
  const auto parts = unflatten(v.to(options()), params_);
  at::Tensor g_dot_v;
  for (std::size_t i = 0; i < grads_.size(); ++i) {
    if (!grads_[i].defined() || !grads_[i].requires_grad()) continue;
    at::Tensor term = (grads_[i] * parts[i]).sum();
    g_dot_v = g_dot_v.defined() ? g_dot_v + term : term;
  }
  if (!g_dot_v.defined()) return at::zeros({dim_}, options());  // the loss is linear in the parameters
  auto hv = torch::autograd::grad({g_dot_v}, params_, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                  /*allow_unused=*/true);
  for (std::size_t i = 0; i < hv.size(); ++i)
    if (!hv[i].defined()) hv[i] = at::zeros_like(params_[i]);
  return flatten(hv).detach();
}

std::function<at::Tensor(const at::Tensor&)> HessianOperator::as_function() {
  return [this](const at::Tensor& v) { return apply(v); };
}

// ---------------------------------------------------------------------------------------------------------
// Extreme eigenvalues

bool LanczosOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (k < 1 || k > 1000) return fail(fmt::format("top-k must be in [1, 1000], got {}", k));
  if (max_iterations < 1 || max_iterations > 100000)
    return fail(fmt::format("lanczos max_iterations must be in [1, 100000], got {}", max_iterations));
  if (!(tol > 0 && tol < 1)) return fail(fmt::format("lanczos tol must be in (0, 1), got {}", tol));
  return true;
}

EigenResult lanczos_extremes(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options,
                             const LanczosOptions& o) {
  validate(o);
  check_dimension(n);
  if (o.k > n) throw Error(fmt::format("top-k = {} is more than the {} parameters of the model", o.k, n));
  torch::NoGradGuard no_grad;
  const int capacity = static_cast<int>(std::min<std::int64_t>(o.max_iterations, n));
  Lanczos lz(op, n, options, capacity);
  std::uint64_t restarts = 0;
  if (o.start.defined() && o.start.numel() != n)
    throw Error(fmt::format("the Lanczos start vector has {} numbers, the operator {}", o.start.numel(), n));
  if (!o.start.defined() || !lz.start(o.start.to(options).reshape({n})))
    lz.start(unit_rademacher(n, options, probe_seed(o.seed, restarts)));
  EigenResult r;
  at::Tensor values, vectors;
  std::vector<double> res;
  bool done = false;
  while (!done) {
    const double beta = lz.step();
    const bool breakdown = lz.breakdown();
    std::tie(values, vectors) = lz.ritz();
    const auto m = values.size(0);
    res.assign(m, 0);
    const auto vec = vectors.accessor<double, 2>();
    for (std::int64_t i = 0; i < m; ++i) res[i] = std::abs(beta * vec[m - 1][i]);
    const auto val = values.accessor<double, 1>();
    double scale = 0;
    for (std::int64_t i = 0; i < m; ++i) scale = std::max(scale, std::abs(val[i]));
    bool converged = m >= o.k;
    for (std::int64_t i = 0; converged && i < o.k; ++i) converged = res[m - 1 - i] <= o.tol * scale;
    if (o.smallest) converged = converged && res[0] <= o.tol * scale;
    r.iterations = lz.steps();
    if (converged) {
      r.converged = true;
      done = true;
    } else if (lz.steps() >= capacity) {
      done = true;
    } else if (breakdown) {  // invariant subspace: continue from a fresh direction orthogonal to it
      lz.decouple();
      bool restarted = false;
      for (int attempt = 0; attempt < 3 && !restarted; ++attempt)
        restarted = lz.start(unit_rademacher(n, options, probe_seed(o.seed, ++restarts)));
      if (!restarted) {  // the whole space is spanned: every Ritz value is exact
        r.converged = true;
        done = true;
      }
    }
  }
  const auto m = values.size(0);
  const auto val = values.accessor<double, 1>();
  const int k = static_cast<int>(std::min<std::int64_t>(o.k, m));
  for (int i = 0; i < k; ++i) {
    r.eigenvalues.push_back(val[m - 1 - i]);
    r.residuals.push_back(res[m - 1 - i]);
  }
  if (o.smallest) {
    r.smallest = val[0];
    r.smallest_residual = res[0];
  }
  if (o.vectors) {
    using namespace at::indexing;
    at::Tensor s = vectors.index({Slice(), Slice(m - k, m)}).flip(1);
    r.eigenvectors = lz.ritz_vectors(s);
  }
  if (!r.converged)
    r.status = make_status(StatusCode::kNoConvergence,
                           fmt::format("Lanczos stopped after {} steps with a residual above {} of the "
                                       "spectral scale; raise --max-iterations",
                                       r.iterations, o.tol));
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Trace

bool TraceOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (max_probes < 2 || max_probes > 1000000)
    return fail(fmt::format("trace probes must be in [2, 1000000], got {}", max_probes));
  if (min_probes < 2 || min_probes > max_probes)
    return fail(
        fmt::format("trace min_probes must be in [2, max_probes = {}], got {}", max_probes, min_probes));
  if (!(rel_se >= 0 && rel_se < 1))
    return fail(fmt::format("trace rel_se must be in [0, 1), got {}", rel_se));
  return true;
}

TraceResult hutchinson_trace(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options,
                             const TraceOptions& o) {
  validate(o);
  check_dimension(n);
  torch::NoGradGuard no_grad;
  TraceResult r;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < o.max_probes; ++i) {
    const at::Tensor z = measure::rademacher({n}, options, probe_seed(o.seed, i));
    const double q = dot_value(z, op(z));
    if (!std::isfinite(q)) {
      r.status = make_status(StatusCode::kNonFinite, "a probe's z^T H z is not finite");
      return r;
    }
    sum += q;
    sum_sq += q * q;
    r.probes = i + 1;
    const double mean = sum / r.probes;
    const double var = r.probes > 1 ? std::max(0.0, (sum_sq - r.probes * mean * mean) / (r.probes - 1)) : 0;
    r.trace = mean;
    r.se = std::sqrt(var / r.probes);
    if (r.probes >= o.min_probes && *r.se <= o.rel_se * std::abs(mean)) break;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Spectral density

bool DensityOptions::IsValid(std::string* error) const {
  const auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (vectors < 1 || vectors > 10000)
    return fail(fmt::format("density vectors must be in [1, 10000], got {}", vectors));
  if (steps < 2 || steps > 10000)
    return fail(fmt::format("density steps must be in [2, 10000], got {}", steps));
  if (!(sigma_rel > 0 && sigma_rel < 1))
    return fail(fmt::format("density sigma must be in (0, 1), got {}", sigma_rel));
  if (grid < 10 || grid > 1000000)
    return fail(fmt::format("density grid must be in [10, 1000000], got {}", grid));
  return true;
}

DensityResult spectral_density(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options,
                               const DensityOptions& o) {
  validate(o);
  check_dimension(n);
  torch::NoGradGuard no_grad;
  DensityResult r;
  const int steps = static_cast<int>(std::min<std::int64_t>(o.steps, n));
  std::vector<double> m1, m2;
  double lo = INFINITY, hi = -INFINITY;
  for (int v = 0; v < o.vectors; ++v) {
    Lanczos lz(op, n, options, steps);
    lz.start(unit_rademacher(n, options, probe_seed(o.seed, v)));
    do lz.step();
    while (lz.steps() < steps && !lz.breakdown());
    auto [values, vectors] = lz.ritz();
    const auto val = values.accessor<double, 1>();
    const auto vec = vectors.accessor<double, 2>();
    std::vector<double> nodes, weights;
    double a = 0, b = 0;
    for (std::int64_t i = 0; i < values.size(0); ++i) {
      nodes.push_back(val[i]);
      weights.push_back(vec[0][i] * vec[0][i]);
      a += weights.back() * val[i];
      b += weights.back() * val[i] * val[i];
      lo = std::min(lo, val[i]);
      hi = std::max(hi, val[i]);
    }
    m1.push_back(a);
    m2.push_back(b);
    r.nodes.push_back(std::move(nodes));
    r.weights.push_back(std::move(weights));
  }
  const auto m1s = stats::mean_sd(m1), m2s = stats::mean_sd(m2);
  const double root_n = std::sqrt(static_cast<double>(m1.size()));
  r.moment1 = m1s.mean;
  r.moment2 = m2s.mean;
  r.moment1_se = m1.size() > 1 ? m1s.sd / root_n : NAN;  // no spread from one start
  r.moment2_se = m2.size() > 1 ? m2s.sd / root_n : NAN;
  const double range = hi - lo > 0 ? hi - lo : std::max(1.0, std::abs(hi));
  r.sigma = o.sigma_rel * range;
  const double from = lo - 5 * r.sigma, to = hi + 5 * r.sigma;
  const double norm = 1.0 / (o.vectors * r.sigma * std::sqrt(2 * M_PI));
  for (int g = 0; g < o.grid; ++g) {
    const double x = from + (to - from) * g / (o.grid - 1);
    double y = 0;
    for (std::size_t v = 0; v < r.nodes.size(); ++v)
      for (std::size_t i = 0; i < r.nodes[v].size(); ++i) {
        const double d = (x - r.nodes[v][i]) / r.sigma;
        y += r.weights[v][i] * std::exp(-0.5 * d * d);
      }
    r.grid.push_back(x);
    r.values.push_back(y * norm);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// JSON

nlohmann::json to_json(const EigenResult& r) {
  nlohmann::json j;
  j["eigenvalues"] = r.eigenvalues;
  j["residuals"] = r.residuals;
  j["smallest"] = or_null(r.smallest);
  j["smallest_residual"] = or_null(r.smallest_residual);
  j["iterations"] = r.iterations;
  j["converged"] = r.converged;
  put_status(j, r.status);
  return j;
}

nlohmann::json to_json(const TraceResult& r) {
  return {{"trace", or_null(r.trace)},
          {"trace_se", or_null(r.se)},
          {"trace_probes", r.probes},
          {"trace_status", to_string(r.status.code)},
          {"trace_message", r.status.message}};
}

nlohmann::json to_json(const DensityResult& r) {
  nlohmann::json j;
  j["grid"] = r.grid;
  j["values"] = r.values;
  j["sigma"] = r.sigma;
  j["vectors"] = r.nodes.size();
  j["moment1"] = r.moment1;
  j["moment1_se"] = finite_or_null(r.moment1_se);
  j["moment2"] = r.moment2;
  j["moment2_se"] = finite_or_null(r.moment2_se);
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::landscape
