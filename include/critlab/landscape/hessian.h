// The Hessian of a loss with respect to a network's parameters, seen only through Hessian-vector products,
// and the three things PyHessian (Yao et al. 2020) computes from them: the extreme eigenvalues, the trace and
// the spectral density.
//
// Hessian-vector products (HessianOperator). On a fixed batch, the loss L(theta) and its gradient
// g = dL/dtheta are computed once with a graph (create_graph); every product is then one more backward pass,
// H v = d(g . v)/dtheta (Pearlmutter 1994), the graph kept between products. Vectors are flat: the
// parameters in registration order, concatenated. In float32, or in float64 (the model converted for the
// operator's lifetime and restored afterwards).
//
// Extreme eigenvalues (lanczos_extremes): Lanczos with full re-orthogonalisation (classical Gram-Schmidt,
// twice) from a seeded Rademacher start. After step j the Ritz pairs (theta_i, x_i) of the tridiagonal T_j
// have residuals ||H x_i - theta_i x_i|| = |beta_j s_{j,i}| exactly (s: T's eigenvector), so convergence
// is tested on the residual: a Ritz pair counts as converged when its residual is at most
// tol * max_i |theta_i| (the spectral scale). Then |theta_i - lambda_i| <= residual and, away from other
// eigenvalues, <= residual^2 / gap (Parlett, The Symmetric Eigenvalue Problem, ch. 11). An invariant
// subspace (beta ~ 0) restarts from a fresh random vector orthogonal to the basis, so a Hessian of low rank
// still yields k eigenvalues. Largest algebraic first; the smallest (negative curvature) from the same basis.
//
// Trace (hutchinson_trace): tr H = E z^T H z for Rademacher z (Hutchinson 1989); the mean over m probes with
// its standard error sd / sqrt(m). Probes stop at `max_probes`, or earlier once at least `min_probes` were
// drawn and se <= rel_se * |mean|.
//
// Spectral density (spectral_density): stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani,
// Krishnan & Xiao 2019). For each of `vectors` Rademacher starts v (normalised), m Lanczos steps give
// nodes theta_k (T's eigenvalues) and weights tau_k^2 (squared first components of its eigenvectors):
// sum_k tau_k^2 f(theta_k) is the m-point Gauss quadrature of v^T f(H) v, exact for polynomials of degree
// < 2m. The density is the average over starts of sum_k tau_k^2 N(x; theta_k, s^2), s = sigma_rel times the
// node range, on a uniform grid; it integrates to 1. Its first two moments, sum tau^2 theta and
// sum tau^2 theta^2, are unbiased for tr(H)/n and tr(H^2)/n (exact quadrature for degree <= 2), reported with
// their standard errors over starts.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/core/status.h"
#include "critlab/nn/stack.h"

namespace critlab::landscape {

// The loss a landscape is measured on: mean cross-entropy of the logits, or the mean squared error against
// one-hot targets, 0.5 * mean_b ||f(x_b) - e_{y_b}||^2 (Cohen et al. 2021's MSE). Targets are class indices.
enum class LossKind { kCrossEntropy, kSquaredError };

}  // namespace critlab::landscape
namespace critlab {
CRITLAB_ENUM_NAMES(landscape::LossKind, "loss", {landscape::LossKind::kCrossEntropy, "cross-entropy"},
                   {landscape::LossKind::kSquaredError, "mse"})
}  // namespace critlab
namespace critlab::landscape {

// The loss of logits [B, classes] against class indices, and of `model` on a batch (train mode is not set:
// callers decide; landscape functions use eval mode).
at::Tensor batch_loss_from_logits(const at::Tensor& logits, const at::Tensor& labels, LossKind loss);
at::Tensor batch_loss(nn::LayerStack& model, const at::Tensor& inputs, const at::Tensor& labels,
                      LossKind loss);

// Parameters as one flat vector and back. Only the parameters that require gradients take part.
std::vector<at::Tensor> trainable_parameters(torch::nn::Module& model);
at::Tensor flatten(const std::vector<at::Tensor>& tensors);
// Splits a flat vector into tensors shaped like `like` (views into `flat`).
std::vector<at::Tensor> unflatten(const at::Tensor& flat, const std::vector<at::Tensor>& like);

// Saves a model's trainable parameters and restores their values when the scope ends, whatever happens in
// between; meanwhile they can be set to other values or offset along directions.
class ParameterScope {
 public:
  explicit ParameterScope(nn::LayerStack& model);
  ~ParameterScope();
  ParameterScope(const ParameterScope&) = delete;
  ParameterScope& operator=(const ParameterScope&) = delete;
  const std::vector<at::Tensor>& original() const { return saved_; }
  // theta = original + sum_k c_k d_k (each d_k shaped like the parameters).
  void offset(const std::vector<std::pair<double, const std::vector<at::Tensor>*>>& terms);
  void set(const std::vector<at::Tensor>& theta);

 private:
  std::vector<at::Tensor> params_, saved_;
};

class HessianOperator {
 public:
  // The Hessian of `loss` (a closure returning a scalar built from `params`) at the parameters' current
  // values. The loss and gradient are evaluated here, once; the parameters must not change in place while
  // the operator is used (autograd refuses: its saved tensors would be stale).
  HessianOperator(std::vector<at::Tensor> params, const std::function<at::Tensor()>& loss);
  // The Hessian of `model`'s loss on (inputs, labels), in eval mode; with `double_precision` the model runs
  // in float64 for the operator's lifetime (and is restored afterwards).
  static std::unique_ptr<HessianOperator> for_model(nn::LayerStack& model, const at::Tensor& inputs,
                                                    const at::Tensor& labels, LossKind loss,
                                                    bool double_precision);
  ~HessianOperator();
  HessianOperator(const HessianOperator&) = delete;
  HessianOperator& operator=(const HessianOperator&) = delete;

  std::int64_t dim() const { return dim_; }
  at::TensorOptions options() const;  // dtype and device of the flat vectors
  double loss() const { return loss_value_; }
  const at::Tensor& gradient() const { return gradient_flat_; }  // flat, detached
  // H v for a flat v of dim() numbers.
  at::Tensor apply(const at::Tensor& v);
  std::int64_t products() const { return products_; }  // Hessian-vector products computed so far
  // The operator as a function, for the solvers below.
  std::function<at::Tensor(const at::Tensor&)> as_function();

 private:
  HessianOperator() = default;
  void init(std::vector<at::Tensor> params, const std::function<at::Tensor()>& loss);
  std::vector<at::Tensor> params_, grads_;  // grads_ carry the graph
  at::Tensor gradient_flat_;
  double loss_value_ = 0;
  std::int64_t dim_ = 0, products_ = 0;
  struct Scopes;
  std::unique_ptr<Scopes> scopes_;  // eval mode and float64 for for_model
};

// A symmetric operator on flat vectors.
using SymmetricOperator = std::function<at::Tensor(const at::Tensor&)>;

struct LanczosOptions {
  int k = 1;                 // largest eigenvalues wanted
  bool smallest = false;     // also the smallest eigenvalue
  int max_iterations = 100;  // Lanczos steps at most (capped by the dimension)
  double tol = 1e-6;         // residual tolerance, relative to the spectral scale max |theta|
  bool vectors = false;      // keep the eigenvectors
  std::uint64_t seed = 0;    // the start vector, when `start` is not given
  at::Tensor start;          // a start vector (e.g. the previous top eigenvector: a warm start)
  bool IsValid(std::string* error) const;
};

struct EigenResult {
  std::vector<double> eigenvalues;  // the k largest, descending (fewer only if the dimension is smaller)
  std::vector<double> residuals;    // ||H x - theta x|| for each
  std::optional<double> smallest;   // the smallest eigenvalue, when asked for
  std::optional<double> smallest_residual;
  at::Tensor eigenvectors;  // [k, n] unit vectors, when asked for
  int iterations = 0;       // Lanczos steps (= operator applications)
  bool converged = false;
  Status status;  // no-convergence when a wanted pair's residual is above tol at max_iterations
};
EigenResult lanczos_extremes(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options,
                             const LanczosOptions& lanczos = {});

struct TraceOptions {
  int max_probes = 100;
  int min_probes = 10;
  double rel_se = 1e-2;  // stop once se <= rel_se * |trace| (after min_probes)
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};
struct TraceResult {
  std::optional<double> trace, se;
  int probes = 0;
  Status status;
};
TraceResult hutchinson_trace(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options,
                             const TraceOptions& trace = {});

struct DensityOptions {
  int vectors = 10;         // Rademacher starts
  int steps = 80;           // Lanczos steps per start (capped by the dimension)
  double sigma_rel = 0.01;  // Gaussian broadening, relative to the range of the nodes
  int grid = 1000;          // points of the density's grid
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};
struct DensityResult {
  std::vector<double> grid, values;                 // the density on its grid (integrates to 1)
  std::vector<std::vector<double>> nodes, weights;  // per start: Ritz values and their weights (sum 1)
  double moment1 = 0, moment1_se = 0;               // estimates of tr(H) / n and their standard errors
  double moment2 = 0, moment2_se = 0;               // ... of tr(H^2) / n
  double sigma = 0;                                 // the broadening used
  Status status;
};
DensityResult spectral_density(const SymmetricOperator& op, std::int64_t n, const at::TensorOptions& options,
                               const DensityOptions& density = {});

nlohmann::json to_json(const EigenResult& r);
// {trace, trace_se, trace_probes, trace_status, trace_message}: keys that sit beside an EigenResult's in one
// object (critlab landscape's "hessian").
nlohmann::json to_json(const TraceResult& r);
nlohmann::json to_json(const DensityResult& r);

}  // namespace critlab::landscape
