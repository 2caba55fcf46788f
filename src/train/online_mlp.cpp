#include "critlab/train/online_mlp.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "critlab/core/error.h"
#include "critlab/nn/activation.h"
#include "critlab/nn/blocks.h"

namespace critlab::train {

namespace {

// phi'(z) of a hidden layer from its pre-activation z and output h.
at::Tensor derivative(Activation act, const at::Tensor& z, const at::Tensor& h) {
  switch (act) {
    case Activation::kRelu:
      return (z > 0).to(z.scalar_type());
    case Activation::kTanh:
      return 1 - h * h;
    case Activation::kLinear:
      return torch::ones_like(z);
    default:
      return nn::activate_grad(act, z);
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CRITLAB_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CRITLAB_VECTOR_CLONES
#endif

// The backward and the SGD step of one layer for one example in one pass over its weights (CPU, float32):
// g_prev = W^T g with the weights before the step (skipped when g_prev is null: the first layer), then
// W_i <- beta_i W_i - lr u_i a^T and b <- beta b - lr u, row by row, where u is `update` (the gradient the
// step applies, which the criticality regulariser changes; null: g itself) and beta_i is `row_beta[i]` (the
// regulariser's row scaling; null: beta, the weight decay). The op-by-op form (mv, mul, addr, add) read W
// three or four times and dispatched an op each; here W is read and written once. A row with g_i = u_i = 0
// (a ReLU unit that was off) is only scaled. Compiled for AVX-512, AVX2 + FMA and the baseline; the loader
// picks the machine's.
CRITLAB_VECTOR_CLONES
void backward_and_step(float* __restrict w, float* __restrict b, const float* __restrict g,
                       const float* __restrict update, const float* __restrict a, float* __restrict g_prev,
                       std::int64_t rows, std::int64_t cols, float beta, const float* __restrict row_beta,
                       float lr) {
  if (g_prev)
    for (std::int64_t j = 0; j < cols; ++j) g_prev[j] = 0.0f;
  for (std::int64_t i = 0; i < rows; ++i) {
    float* __restrict wi = w + i * cols;
    const float gi = g[i], ui = update ? update[i] : gi, bi = row_beta ? row_beta[i] : beta;
    b[i] = beta * b[i] - lr * ui;
    if (gi == 0.0f && ui == 0.0f) {
      if (bi != 1.0f)
        for (std::int64_t j = 0; j < cols; ++j) wi[j] *= bi;
      continue;
    }
    const float s = -lr * ui;
    if (g_prev) {
      for (std::int64_t j = 0; j < cols; ++j) {
        const float wij = wi[j];
        g_prev[j] += wij * gi;
        wi[j] = bi * wij + s * a[j];
      }
    } else {
      for (std::int64_t j = 0; j < cols; ++j) wi[j] = bi * wi[j] + s * a[j];
    }
  }
}

// sum_j w_j^2 of one row, in 16 interleaved float partial sums (which vectorise; one running sum would wait
// on each addition in turn), added up in double.
CRITLAB_VECTOR_CLONES
double row_sq_norm(const float* __restrict w, std::int64_t cols) {
  float part[16] = {};
  std::int64_t j = 0;
  for (; j + 16 <= cols; j += 16)
    for (int k = 0; k < 16; ++k) part[k] += w[j + k] * w[j + k];
  double sum = 0;
  for (; j < cols; ++j) sum += static_cast<double>(w[j]) * w[j];
  for (float p : part) sum += p;
  return sum;
}

// phi'(z) of one unit from its pre-activation z and output h, for the activations the scalar paths handle
// (relu, tanh, linear: has_second_derivative).
double unit_derivative(Activation act, float z, float h) {
  return act == Activation::kRelu   ? (z > 0 ? 1.0 : 0.0)
         : act == Activation::kTanh ? 1.0 - static_cast<double>(h) * h
                                    : 1.0;
}

bool has_second_derivative(Activation act) {
  return act == Activation::kRelu || act == Activation::kTanh || act == Activation::kLinear;
}

}  // namespace

bool OnlineOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(lr > 0) || !std::isfinite(lr)) return fail("the learning rate must be positive");
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) return fail("Adam's betas must be in [0, 1)");
  if (!(eps > 0)) return fail("Adam's eps must be positive");
  if (!(weight_decay >= 0)) return fail("the weight decay must be >= 0");
  if (!(criticality_strength >= 0)) return fail("the criticality strength must be >= 0");
  if (criticality_strength > 0 && adam)
    return fail("the online criticality regulariser runs with SGD only; drop --adam or the regulariser");
  if (!(target_gain > 0)) return fail("the target gain must be positive");
  return true;
}

OnlineMlp::OnlineMlp(nn::LayerStack& model, const OnlineOptions& options) : o_(options) {
  std::string err;
  if (!o_.IsValid(&err)) throw Error(err);
  for (std::size_t l = 0; l < model->size(); ++l) {
    auto dense = nn::plain_dense_view(*model->block(l));
    if (!dense)
      throw Error("the online fast path needs a plain MLP (dense layers, no normalisation, no residual)");
    weights_.push_back(dense->weight);
    biases_.push_back(dense->bias);
    acts_.push_back(dense->activation);
    if (o_.criticality_strength > 0 && l + 1 < model->size() && !has_second_derivative(dense->activation))
      throw Error(
          fmt::format("the online criticality regulariser supports relu, tanh and linear layers, not {}",
                      to_string(dense->activation)));
  }
  if (o_.loss == OnlineLoss::kSquaredError && weights_.back().size(0) != 1)
    throw Error("squared-error online learning needs a single output unit");
  // The fused backward-and-step kernel: plain SGD on contiguous float32 CPU parameters.
  fused_ = !o_.adam;
  for (std::size_t l = 0; l < weights_.size(); ++l)
    fused_ = fused_ && weights_[l].is_cpu() && weights_[l].scalar_type() == at::kFloat &&
             weights_[l].is_contiguous() && biases_[l].defined() && biases_[l].is_contiguous() &&
             biases_[l].scalar_type() == at::kFloat;
  row_beta_.resize(weights_.size());
  update_.resize(weights_.size());
  const auto opts = weights_.front().options().requires_grad(false);
  a_.push_back(torch::empty({weights_.front().size(1)}, opts));
  for (const auto& w : weights_) {
    z_.push_back(torch::empty({w.size(0)}, opts));
    a_.push_back(torch::empty({w.size(0)}, opts));
    g_.push_back(torch::empty({w.size(0)}, opts));
    if (o_.adam) {
      m_w_.push_back(torch::zeros_like(w, opts));
      v_w_.push_back(torch::zeros_like(w, opts));
      grad_w_.push_back(torch::zeros_like(w, opts));
      m_b_.push_back(torch::zeros({w.size(0)}, opts));
      v_b_.push_back(torch::zeros({w.size(0)}, opts));
    }
  }
}

bool OnlineMlp::regulariser_rows(std::size_t l) {
  // The closed-form criticality regulariser of the op-by-op path below, as per-row numbers for the fused
  // kernel: n_i = |W_i|^2, c_i = phi'(z_i)^2, G = sum_i c_i n_i / fan_out, k = 2 lambda ln(G / t^2) / (G
  // fan_out); rows scale by 1 - lr wd - 2 lr k c_i and, for tanh, the applied gradient gains
  // 2 k phi'_i (-2 h_i phi'_i) n_i (phi'' = -2 h phi').
  const at::Tensor& w = weights_[l];
  const auto rows = w.size(0), cols = w.size(1);
  const float* wp = w.data_ptr<float>();
  const float* z = z_[l].data_ptr<float>();
  const float* h = a_[l + 1].data_ptr<float>();
  const float* g = g_[l].data_ptr<float>();
  auto& beta = row_beta_[l];
  auto& update = update_[l];
  beta.resize(static_cast<std::size_t>(rows));
  update.resize(static_cast<std::size_t>(rows));
  std::vector<double> n(static_cast<std::size_t>(rows)), phi1(static_cast<std::size_t>(rows));
  double G = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const double sq = row_sq_norm(wp + i * cols, cols);
    const double d = unit_derivative(acts_[l], z[i], h[i]);
    n[static_cast<std::size_t>(i)] = sq;
    phi1[static_cast<std::size_t>(i)] = d;
    G += d * d * sq;
  }
  const double fan_out = static_cast<double>(rows);
  G /= fan_out;
  const double t2 = o_.target_gain * o_.target_gain;
  if (!(G > 0 && std::isfinite(G))) return false;
  const double k = 2 * o_.criticality_strength * std::log(G / t2) / (G * fan_out);
  const double lr = o_.lr, wd = o_.weight_decay;
  for (std::size_t i = 0; i < static_cast<std::size_t>(rows); ++i) {
    const double c = phi1[i] * phi1[i];
    beta[i] = static_cast<float>(1 - lr * wd - lr * k * 2 * c);
    update[i] =
        static_cast<float>(g[i] + k * 2 * phi1[i] * (-2 * static_cast<double>(h[i]) * phi1[i]) * n[i]);
  }
  return true;
}

double OnlineMlp::step(const at::Tensor& x, double target, bool* correct) {
  c10::InferenceMode guard;  // no autograd dispatch at all: this path does its own derivatives
  ++steps_;
  const std::size_t L = weights_.size();
  a_[0].copy_(x.reshape({-1}));
  for (std::size_t l = 0; l < L; ++l) {
    at::addmv_out(z_[l], biases_[l], weights_[l], a_[l]);
    if (l + 1 < L) {
      if (acts_[l] == Activation::kRelu)
        at::clamp_min_out(a_[l + 1], z_[l], 0);
      else
        a_[l + 1].copy_(nn::activate(acts_[l], z_[l]));
    }
  }
  at::Tensor& out = z_[L - 1];
  at::Tensor& g = g_[L - 1];
  double loss;
  if (o_.loss == OnlineLoss::kCrossEntropy) {
    // Softmax cross-entropy: g_L = softmax(z_L) - onehot(label).
    const auto label = static_cast<std::int64_t>(target);
    at::_softmax_out(g, out, 0, false);
    double p_label;
    if (g.is_cpu() && g.scalar_type() == at::kFloat) {  // direct access: at batch 1 each tensor op's dispatch
                                                        // costs more than the arithmetic
      float* p = g.data_ptr<float>();
      p_label = p[label];
      p[label] -= 1.0f;
    } else {
      p_label = g[label].item<double>();
      g[label].sub_(1.0);
    }
    loss = -std::log(std::max(p_label, 1e-30));
    if (correct) *correct = out.argmax().item<std::int64_t>() == label;
  } else {
    const double diff = out.item<double>() - target;
    loss = diff * diff;
    g.fill_(2 * diff);
    if (correct) *correct = false;
  }
  // Backward, updating each layer right after its input gradient has been taken with the old weights.
  const double lr = o_.lr, wd = o_.weight_decay;
  if (fused_) {
    for (std::size_t l = L; l-- > 0;) {
      at::Tensor& w = weights_[l];
      const float* update = nullptr;
      const float* row_beta = nullptr;
      if (o_.criticality_strength > 0 && l + 1 < L && regulariser_rows(l)) {
        row_beta = row_beta_[l].data();
        if (acts_[l] == Activation::kTanh) update = update_[l].data();
      }
      backward_and_step(w.data_ptr<float>(), biases_[l].data_ptr<float>(), g_[l].data_ptr<float>(), update,
                        a_[l].data_ptr<float>(), l > 0 ? g_[l - 1].data_ptr<float>() : nullptr, w.size(0),
                        w.size(1), static_cast<float>(1.0 - lr * wd), row_beta, static_cast<float>(lr));
      // Written through raw pointers: tell autograd's version counters, as an in-place op would.
      w.unsafeGetTensorImpl()->bump_version();
      biases_[l].unsafeGetTensorImpl()->bump_version();
      if (l > 0) {
        float* gp = g_[l - 1].data_ptr<float>();
        const std::int64_t n = g_[l - 1].numel();
        if (acts_[l - 1] == Activation::kRelu) {
          const float* z = z_[l - 1].data_ptr<float>();
          for (std::int64_t j = 0; j < n; ++j) gp[j] = z[j] > 0 ? gp[j] : 0.0f;
        } else {
          g_[l - 1].mul_(nn::activate_grad(acts_[l - 1], z_[l - 1]));
        }
      }
    }
    return loss;
  }
  const double bc1 = 1 - std::pow(o_.beta1, static_cast<double>(steps_));
  const double bc2 = 1 - std::pow(o_.beta2, static_cast<double>(steps_));
  for (std::size_t l = L; l-- > 0;) {
    if (l > 0) {
      at::mv_out(g_[l - 1], weights_[l].t(), g_[l]);
      if (acts_[l - 1] == Activation::kRelu)
        g_[l - 1].mul_(z_[l - 1] > 0);
      else
        g_[l - 1].mul_(nn::activate_grad(acts_[l - 1], z_[l - 1]));
    }
    at::Tensor& w = weights_[l];
    at::Tensor& b = biases_[l];
    at::Tensor gl = g_[l];
    if (o_.adam) {
      at::outer_out(grad_w_[l], gl, a_[l]);
      if (wd > 0) grad_w_[l].add_(w, wd);
      const at::Tensor gb = wd > 0 ? gl + wd * b : gl;
      auto adam = [&](at::Tensor& p, at::Tensor& m, at::Tensor& v, const at::Tensor& grad) {
        m.mul_(o_.beta1).add_(grad, 1 - o_.beta1);
        v.mul_(o_.beta2).addcmul_(grad, grad, 1 - o_.beta2);
        p.addcdiv_(m, (v.sqrt() / std::sqrt(bc2)).add_(o_.eps), -lr / bc1);
      };
      adam(w, m_w_[l], v_w_[l], grad_w_[l]);
      adam(b, m_b_[l], v_b_[l], gb);
      continue;
    }
    if (o_.criticality_strength > 0 && l + 1 < L) {
      const at::Tensor phi1 = derivative(acts_[l], z_[l], a_[l + 1]);
      const at::Tensor c = phi1 * phi1;
      const at::Tensor n = w.square().sum(1);
      const double fan_out = static_cast<double>(w.size(0));
      const double G = (c * n).sum().item<double>() / fan_out;
      const double t2 = o_.target_gain * o_.target_gain;
      if (G > 0 && std::isfinite(G)) {
        const double k = 2 * o_.criticality_strength * std::log(G / t2) / (G * fan_out);
        w.mul_((1 - lr * wd - lr * k * 2 * c).unsqueeze(1));
        if (acts_[l] == Activation::kTanh)
          gl = gl + k * 2 * phi1 * (-2 * a_[l + 1] * phi1) * n;  // phi'' = -2 h phi'
        w.addr_(gl, a_[l], 1.0, -lr);
        if (wd > 0) b.mul_(1 - lr * wd);
        b.add_(gl, -lr);
        continue;
      }
    }
    // (1 - lr wd) W - lr g a^T in one pass over W (addr's beta), the weight decay folded in.
    w.addr_(gl, a_[l], 1.0 - lr * wd, -lr);
    if (wd > 0) b.mul_(1 - lr * wd);
    b.add_(gl, -lr);
  }
  return loss;
}

std::vector<at::Tensor> OnlineMlp::hidden_activations() const { return {a_.begin() + 1, a_.end() - 1}; }

std::vector<at::Tensor> OnlineMlp::hidden_preactivations() const { return {z_.begin(), z_.end() - 1}; }

std::vector<at::Tensor> OnlineMlp::hidden_row_sq_norms() const {
  c10::InferenceMode guard;
  std::vector<at::Tensor> n;
  for (std::size_t l = 0; l + 1 < weights_.size(); ++l)
    n.push_back(weights_[l].square().sum(1).to(torch::kFloat64).cpu());
  return n;
}

std::vector<double> OnlineMlp::hidden_gain_sq(const std::vector<at::Tensor>& row_sq_norms) const {
  c10::InferenceMode guard;
  CRITLAB_ASSERT(row_sq_norms.size() + 1 == weights_.size(),
                 "hidden_gain_sq: one row-norm vector per hidden layer");
  std::vector<double> out;
  for (std::size_t l = 0; l + 1 < weights_.size(); ++l) {
    const double* n = row_sq_norms[l].data_ptr<double>();
    const auto units = z_[l].numel();
    double sum = 0;
    if (z_[l].is_cpu() && z_[l].scalar_type() == at::kFloat && has_second_derivative(acts_[l])) {
      // Direct loops: a handful of tensor ops per layer would cost as much as the training step itself.
      const float* z = z_[l].data_ptr<float>();
      const float* h = a_[l + 1].data_ptr<float>();
      for (std::int64_t i = 0; i < units; ++i) {
        const double d = unit_derivative(acts_[l], z[i], h[i]);
        sum += d * d * n[i];
      }
    } else {
      const at::Tensor phi1 = derivative(acts_[l], z_[l], a_[l + 1]).to(torch::kFloat64).cpu();
      sum = (phi1 * phi1 * row_sq_norms[l]).sum().item<double>();
    }
    out.push_back(sum / static_cast<double>(units));
  }
  return out;
}

std::vector<at::Tensor> OnlineMlp::state_tensors() const {
  std::vector<at::Tensor> s;
  for (std::size_t l = 0; l < m_w_.size(); ++l) s.insert(s.end(), {m_w_[l], v_w_[l], m_b_[l], v_b_[l]});
  return s;
}

void OnlineMlp::zero_state_slice(const at::Tensor& param, std::int64_t dim, std::int64_t index) {
  if (!o_.adam) return;
  c10::InferenceMode guard;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    if (param.is_same(weights_[l])) m_w_[l].select(dim, index).zero_(), v_w_[l].select(dim, index).zero_();
    if (param.is_same(biases_[l])) m_b_[l].select(dim, index).zero_(), v_b_[l].select(dim, index).zero_();
  }
}

}  // namespace critlab::train
