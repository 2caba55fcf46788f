// The Hessian instruments against exact references: a quadratic with a chosen spectrum (eigenvalues, trace,
// the density's moments) and a small MLP whose full Hessian autograd can build row by row.
#include "critlab/landscape/hessian.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/nn/model.h"
#include "test_util.h"

namespace critlab::landscape {
namespace {

// A = Q diag(lambda) Q^T with a seeded random orthogonal Q: the top five well separated, a bulk in
// [-2, 20] and one negative eigenvalue at -5.
struct Quadratic {
  at::Tensor a, lambda;
  explicit Quadratic(std::int64_t n) {
    torch::manual_seed(7);
    at::Tensor q = std::get<0>(at::linalg_qr(torch::randn({n, n}, at::kDouble)));
    lambda = torch::rand({n}, at::kDouble) * 22 - 2;
    lambda[0] = 100;
    lambda[1] = 80;
    lambda[2] = 60;
    lambda[3] = 50;
    lambda[4] = 45;
    lambda[5] = -5;
    a = at::matmul(q * lambda, q.t());
    a = 0.5 * (a + a.t());
  }
};

TEST(Hessian, QuadraticTopEigenvaluesTraceAndDensityMomentsMatchTheChosenSpectrum) {
  const std::int64_t n = 300;
  const Quadratic quad(n);
  at::Tensor theta = torch::randn({n}, at::kDouble).requires_grad_(true);
  const at::Tensor a = quad.a;
  HessianOperator h({theta}, [&] { return 0.5 * at::dot(theta, at::mv(a, theta)); });
  ASSERT_EQ(h.dim(), n);

  LanczosOptions lo;
  lo.k = 5;
  lo.smallest = true;
  lo.tol = 1e-9;
  lo.max_iterations = n;
  lo.vectors = true;
  const auto eig = lanczos_extremes(h.as_function(), n, h.options(), lo);
  ASSERT_TRUE(eig.status.ok()) << eig.status.to_string();
  const double top[] = {100, 80, 60, 50, 45};
  ASSERT_EQ(eig.eigenvalues.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(eig.eigenvalues[i] / top[i], 1, 1e-6) << i;
  ASSERT_TRUE(eig.smallest);
  EXPECT_NEAR(*eig.smallest / -5, 1, 1e-6);
  // The Ritz vector of the top eigenvalue is an eigenvector: ||A x - 100 x|| small.
  const at::Tensor x = eig.eigenvectors[0];
  EXPECT_NEAR(x.norm().item<double>(), 1, 1e-9);
  EXPECT_LT((at::mv(a, x) - 100 * x).norm().item<double>(), 1e-5);
  EXPECT_LT(eig.iterations, n);  // converged before spanning the whole space

  TraceOptions to;
  to.max_probes = 200;
  to.min_probes = 200;
  const auto tr = hutchinson_trace(h.as_function(), n, h.options(), to);
  ASSERT_TRUE(tr.trace && tr.se);
  const double exact_trace = a.trace().item<double>();
  EXPECT_GT(*tr.se, 0);
  EXPECT_LT(std::abs(*tr.trace - exact_trace), 3 * *tr.se) << *tr.trace << " vs " << exact_trace;
  // ... and its SE is the right size: Var(z^T A z) = 2 sum_{i != j} A_ij^2 for Rademacher z.
  const double offdiag = (a.pow(2).sum() - a.diagonal().pow(2).sum()).item<double>();
  EXPECT_NEAR(*tr.se / std::sqrt(2 * offdiag / 200), 1, 0.25);

  DensityOptions d;
  d.vectors = 30;
  d.steps = 40;
  const auto dens = spectral_density(h.as_function(), n, h.options(), d);
  const double m1 = exact_trace / n, m2 = at::matmul(a, a).trace().item<double>() / n;
  EXPECT_LT(std::abs(dens.moment1 - m1), 3 * dens.moment1_se) << dens.moment1 << " vs " << m1;
  EXPECT_LT(std::abs(dens.moment2 - m2), 3 * dens.moment2_se) << dens.moment2 << " vs " << m2;
  double integral = 0;
  for (std::size_t i = 1; i < dens.grid.size(); ++i)
    integral += 0.5 * (dens.values[i] + dens.values[i - 1]) * (dens.grid[i] - dens.grid[i - 1]);
  EXPECT_NEAR(integral, 1, 1e-3);
  // The quadrature weights of each start sum to 1, and its nodes lie inside the spectrum.
  for (std::size_t v = 0; v < dens.nodes.size(); ++v) {
    double w = 0;
    for (std::size_t i = 0; i < dens.nodes[v].size(); ++i) {
      w += dens.weights[v][i];
      EXPECT_GE(dens.nodes[v][i], -5 - 1e-6);
      EXPECT_LE(dens.nodes[v][i], 100 + 1e-6);
    }
    EXPECT_NEAR(w, 1, 1e-9);
  }
}

TEST(Hessian, LowRankOperatorRestartsAndFindsTheZeroEigenvalues) {
  // Rank 2 in 50 dimensions: the Krylov space of one start is invariant after two steps.
  const std::int64_t n = 50;
  torch::manual_seed(3);
  const at::Tensor u = torch::randn({n, 2}, at::kDouble);
  const at::Tensor q = std::get<0>(at::linalg_qr(u));
  const auto op = [&](const at::Tensor& v) {
    return at::mv(q, at::mv(q.t(), v) * torch::tensor({7.0, 3.0}, at::kDouble));
  };
  LanczosOptions lo;
  lo.k = 4;
  lo.smallest = true;
  const auto eig = lanczos_extremes(op, n, at::TensorOptions().dtype(at::kDouble), lo);
  ASSERT_TRUE(eig.status.ok()) << eig.status.to_string();
  EXPECT_NEAR(eig.eigenvalues[0], 7, 1e-9);
  EXPECT_NEAR(eig.eigenvalues[1], 3, 1e-9);
  EXPECT_NEAR(eig.eigenvalues[2], 0, 1e-9);
  EXPECT_NEAR(eig.eigenvalues[3], 0, 1e-9);
  EXPECT_NEAR(*eig.smallest, 0, 1e-9);
}

TEST(Hessian, TooFewIterationsReportNoConvergence) {
  const Quadratic quad(200);
  const at::Tensor a = quad.a;
  const auto op = [&](const at::Tensor& v) { return at::mv(a, v); };
  LanczosOptions lo;
  lo.k = 5;
  lo.max_iterations = 6;
  const auto eig = lanczos_extremes(op, 200, at::TensorOptions().dtype(at::kDouble), lo);
  EXPECT_FALSE(eig.converged);
  EXPECT_EQ(eig.status.code, StatusCode::kNoConvergence);
  EXPECT_EQ(eig.eigenvalues.size(), 5u);  // the Ritz values are still reported, with their residuals
}

TEST(Hessian, BadOptionsAndShapesAreRefused) {
  const auto op = [](const at::Tensor& v) { return v; };
  const auto dbl = at::TensorOptions().dtype(at::kDouble);
  LanczosOptions lo;
  lo.k = 11;
  EXPECT_NE(test::error_of([&] { lanczos_extremes(op, 10, dbl, lo); }).find("more than the 10 parameters"),
            std::string::npos);
  lo.k = 0;
  EXPECT_NE(test::error_of([&] { lanczos_extremes(op, 10, dbl, lo); }).find("top-k"), std::string::npos);
  TraceOptions to;
  to.max_probes = 1;
  EXPECT_NE(test::error_of([&] { hutchinson_trace(op, 10, dbl, to); }).find("probes"), std::string::npos);
  at::Tensor theta = torch::zeros({3}, at::kDouble).requires_grad_(true);
  HessianOperator h({theta}, [&] { return theta.pow(2).sum(); });
  EXPECT_NE(test::error_of([&] { h.apply(torch::zeros({4}, at::kDouble)); }).find("vector of 3 numbers"),
            std::string::npos);
  // Exact: the Hessian of sum theta^2 is 2 I.
  EXPECT_TRUE(at::allclose(h.apply(torch::ones({3}, at::kDouble)), torch::full({3}, 2.0, at::kDouble)));
}

// A tanh MLP 8-20-20-3 (663 parameters) with biases, cross-entropy on 64 random examples, in float64.
struct SmallMlp {
  nn::LayerStack model{nullptr};
  at::Tensor x, y;
  SmallMlp() {
    nn::ModelSpec spec;
    spec.depth = 2;
    spec.width = 20;
    spec.activation = Activation::kTanh;
    spec.init = Init::kGaussian;
    spec.sigma_w = 1.5;
    spec.sigma_b = 0.3;
    spec.input_shape = {8};
    spec.num_classes = 3;
    model = nn::build_model(spec, 11);
    torch::manual_seed(5);
    x = torch::randn({64, 8});
    y = torch::randint(0, 3, {64}, at::kLong);
  }
};

TEST(Hessian, SmallMlpLanczosMatchesTheFullAutogradHessianAndFiniteDifferences) {
  SmallMlp net;
  auto h = HessianOperator::for_model(net.model, net.x, net.y, LossKind::kCrossEntropy, true);
  const std::int64_t n = h->dim();
  ASSERT_LE(n, 2000);
  ASSERT_EQ(h->options().dtype(), at::kDouble);

  // The full Hessian, one row per gradient entry (an independent path: grad of each g_i, not of g . v).
  auto params = trainable_parameters(*net.model);
  at::Tensor full = at::zeros({n, n}, at::kDouble);
  {
    const at::Tensor loss = batch_loss(net.model, net.x.to(at::kDouble), net.y, LossKind::kCrossEntropy);
    auto g = torch::autograd::grad({loss}, params, {}, true, true);
    const at::Tensor gf = flatten(g);
    for (std::int64_t i = 0; i < n; ++i) {
      auto row = torch::autograd::grad({gf[i]}, params, {}, true, false, true);
      for (std::size_t p = 0; p < row.size(); ++p)
        if (!row[p].defined()) row[p] = at::zeros_like(params[p]);
      full[i] = flatten(row);
    }
  }
  EXPECT_LT((full - full.t()).abs().max().item<double>(), 1e-10);
  const at::Tensor exact = at::linalg_eigvalsh(full).flip(0);

  LanczosOptions lo;
  lo.k = 5;
  lo.smallest = true;
  lo.tol = 1e-8;
  lo.max_iterations = 300;
  const auto eig = lanczos_extremes(h->as_function(), n, h->options(), lo);
  ASSERT_TRUE(eig.status.ok()) << eig.status.to_string();
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(eig.eigenvalues[i] / exact[i].item<double>(), 1, 1e-4) << i;
  EXPECT_NEAR(*eig.smallest, exact[n - 1].item<double>(), 1e-4 * exact[0].item<double>());
  EXPECT_LT(exact[n - 1].item<double>(), 0);  // this network has negative curvature

  // The trace by Hutchinson within 3 SE of the exact one.
  TraceOptions to;
  to.max_probes = 300;
  to.min_probes = 300;
  const auto tr = hutchinson_trace(h->as_function(), n, h->options(), to);
  EXPECT_LT(std::abs(*tr.trace - full.trace().item<double>()), 3 * *tr.se);

  // H v against central differences of the gradient (this moves the parameters: the operator's graph is
  // not used afterwards), (g(theta + e v) - g(theta - e v)) / 2e.
  torch::manual_seed(9);
  const at::Tensor v = torch::randn({n}, at::kDouble);
  const at::Tensor hv = h->apply(v);
  EXPECT_LT((hv - at::mv(full, v)).norm().item<double>(), 1e-10 * hv.norm().item<double>());
  const double eps = 1e-5;
  const auto grad_at = [&](double s) {
    torch::NoGradGuard ng;
    const auto parts = unflatten(v, params);
    for (std::size_t p = 0; p < params.size(); ++p) params[p].add_(s * parts[p]);
    torch::AutoGradMode on(true);
    const at::Tensor loss = batch_loss(net.model, net.x.to(at::kDouble), net.y, LossKind::kCrossEntropy);
    auto g = flatten(torch::autograd::grad({loss}, params));
    torch::NoGradGuard ng2;
    for (std::size_t p = 0; p < params.size(); ++p) params[p].sub_(s * parts[p]);
    return g;
  };
  const at::Tensor fd = (grad_at(eps) - grad_at(-eps)) / (2 * eps);
  EXPECT_LT((hv - fd).norm().item<double>(), 1e-5 * hv.norm().item<double>());
}

TEST(Hessian, FloatOperatorAgreesWithDoubleAndTheModelIsRestored) {
  SmallMlp net;
  const auto before = flatten(trainable_parameters(*net.model)).clone();
  double top64 = 0;
  {
    auto h = HessianOperator::for_model(net.model, net.x, net.y, LossKind::kSquaredError, true);
    LanczosOptions lo;
    lo.max_iterations = 200;
    lo.tol = 1e-8;
    top64 = lanczos_extremes(h->as_function(), h->dim(), h->options(), lo).eigenvalues.at(0);
  }
  EXPECT_EQ(net.model->parameters()[0].dtype(), at::kFloat);  // restored
  EXPECT_TRUE(at::equal(flatten(trainable_parameters(*net.model)), before));
  auto h = HessianOperator::for_model(net.model, net.x, net.y, LossKind::kSquaredError, false);
  ASSERT_EQ(h->options().dtype(), at::kFloat);
  LanczosOptions lo;
  lo.max_iterations = 200;
  lo.tol = 1e-5;
  const double top32 = lanczos_extremes(h->as_function(), h->dim(), h->options(), lo).eigenvalues.at(0);
  EXPECT_NEAR(top32 / top64, 1, 1e-4);
}

}  // namespace
}  // namespace critlab::landscape
