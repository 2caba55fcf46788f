#include "measure/tensor_util.h"

#include <torch/nn/module.h>
#include <torch/torch.h>

namespace critlab::measure {

DoublePrecisionScope::DoublePrecisionScope(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  const auto convert = [&](at::Tensor t) {
    if (!t.defined() || !t.is_floating_point() || t.scalar_type() == at::kDouble) return;
    saved_.emplace_back(t, t.scalar_type());
    t.set_data(t.to(at::kDouble));
  };
  for (auto& p : module.parameters()) convert(p);
  for (auto& b : module.buffers()) convert(b);
}

DoublePrecisionScope::~DoublePrecisionScope() {
  torch::NoGradGuard no_grad;
  for (auto& [t, dtype] : saved_) t.set_data(t.to(dtype));
}

}  // namespace critlab::measure
