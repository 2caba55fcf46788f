#include "critlab/nn/torchscript.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"

namespace critlab::nn {

namespace {

// The first line of a libtorch error, without its C++ stack trace; for an error raised inside the TorchScript
// interpreter, the line that names the Python-level exception (e.g. "RuntimeError: mat1 and mat2 ...").
std::string first_line(const std::string& what) {
  std::size_t at = 0;
  for (const char* kind : {"RuntimeError: ", "ValueError: ", "AssertionError: ", "IndexError: "})
    if (const auto k = what.find(kind); k != std::string::npos) {
      at = k;
      break;
    }
  std::string s = what.substr(at, what.find('\n', at) - at);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

std::string type_name(const torch::jit::Module& m) {
  const auto& name = m.type()->name();
  return name ? name->name() : "Module";
}

// torch.nn.Sequential, scripted. TorchScript mangles the class of every module scripted after the first of
// its kind in a process ("__torch__.torch.nn.modules.container.___torch_mangle_3.Sequential"), so the test is
// the unqualified name plus the container module's prefix, not the exact qualified name.
bool is_sequential(const torch::jit::Module& m) {
  const auto& name = m.type()->name();
  return name && name->name() == "Sequential" &&
         name->qualifiedName().rfind("__torch__.torch.nn.modules.container.", 0) == 0;
}

// One block of an imported network: one or more consecutive foreign modules run in sequence. Their
// parameters and buffers are registered with this torch::nn::Module under sanitised names (the same tensors,
// not copies), so .to(device), parameters(), weights() and DoublePrecisionScope reach them.
class ForeignBlockImpl : public BlockImpl {
 public:
  explicit ForeignBlockImpl(std::vector<ForeignModule> parts) : parts_(std::move(parts)) {
    for (const auto& part : parts_) {
      const std::string prefix = "m" + part.name + "_";
      for (const auto& [name, p] : part.parameters)
        register_parameter(sanitise(prefix + name), p, p.requires_grad());
      for (const auto& [name, b] : part.buffers)
        if (b.defined()) register_buffer(sanitise(prefix + name), b);
    }
  }

  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor h = x;
    for (const auto& part : parts_) h = part.forward(h);
    return h;
  }

  // The original name of one of this block's tensors, "" if it owns none such.
  std::string original_name(const at::Tensor& t) const {
    for (const auto& part : parts_) {
      for (const auto& [name, p] : part.parameters)
        if (p.is_same(t)) return part.name + "." + name;
      for (const auto& [name, b] : part.buffers)
        if (b.is_same(t)) return part.name + "." + name;
    }
    return "";
  }

  std::string describe() const override {
    std::string s;
    for (std::size_t i = 0; i < parts_.size(); ++i)
      s += (i ? "+" : "") + fmt::format("{}:{}", parts_[i].name, parts_[i].type);
    return s;
  }

  void train(bool on) override {
    torch::nn::Module::train(on);
    for (auto& p : parts_)
      if (p.train) p.train(on);
  }

 private:
  static std::string sanitise(std::string s) {
    for (char& c : s)
      if (c == '.') c = '_';
    return s;
  }

  std::vector<ForeignModule> parts_;
};

ForeignModule foreign(torch::jit::Module m, const std::string& name) {
  ForeignModule f;
  f.name = name;
  f.type = type_name(m);
  for (const auto& p : m.named_parameters(/*recurse=*/true)) f.parameters.emplace_back(p.name, p.value);
  for (const auto& b : m.named_buffers(/*recurse=*/true)) f.buffers.emplace_back(b.name, b.value);
  f.forward = [m, name](const at::Tensor& x) mutable {
    const c10::IValue out = m.forward({x});
    if (!out.isTensor())
      throw Error(
          fmt::format("the imported module {} returns a {}, not a tensor: critlab measures networks "
                      "whose stages map one tensor to one tensor",
                      name, out.tagKind()));
    return out.toTensor();
  };
  f.train = [m](bool on) mutable { m.train(on); };
  return f;
}

}  // namespace

std::string foreign_tensor_name(const BlockImpl& block, const at::Tensor& tensor) {
  const auto* f = dynamic_cast<const ForeignBlockImpl*>(&block);
  return f ? f->original_name(tensor) : "";
}

bool holds_weight_matrix(const ForeignModule& m) {
  for (const auto& [name, p] : m.parameters)
    if (p.dim() >= 2) return true;
  return false;
}

ImportedModel assemble_imported(const std::string& source, const std::string& top_type,
                                std::vector<ForeignModule> children, bool chain) {
  ImportedModel m;
  m.file = source;
  m.stack = LayerStack();
  if (chain) {
    m.layout = "chain";
    std::vector<std::vector<ForeignModule>> groups;
    bool seen_weight = false;
    for (auto& child : children) {
      const bool weight = holds_weight_matrix(child);
      // A new block at each weight-bearing child, except the first, which takes any leading children.
      if (groups.empty() || (weight && seen_weight)) groups.emplace_back();
      seen_weight = seen_weight || weight;
      groups.back().push_back(std::move(child));
    }
    for (auto& g : groups) m.stack->append(std::make_shared<ForeignBlockImpl>(std::move(g)));
    if (groups.size() >= 2)
      m.stack->block(groups.size() - 1)->set_readout(true);
    else
      m.notes.push_back("the Sequential has a single weight-bearing stage: it is measured as one block");
  } else {
    m.layout = "single-block";
    m.stack->append(std::make_shared<ForeignBlockImpl>(std::move(children)));
    m.notes.push_back(fmt::format(
        "the top-level module ({}) is not an nn.Sequential, so the network is measured as one block, input "
        "to output; export an nn.Sequential of stages to measure it block by block",
        top_type));
  }
  for (std::size_t b = 0; b < m.stack->size(); ++b) m.blocks.push_back(m.stack->block(b)->describe());
  if (m.stack->parameters().empty())
    throw Error(fmt::format("{}: the network has no parameters: nothing to measure", source));
  m.notes.push_back("measured in eval mode: batch norm uses its running statistics, dropout is off");
  m.stack->eval();
  return m;
}

ImportedModel import_torchscript(const std::string& path, const c10::Device& device) {
  if (!std::filesystem::is_regular_file(path))
    throw Error(fmt::format("{}: no such file (a TorchScript model saved with torch.jit.save)", path));
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device);
  } catch (const std::exception& e) {
    throw Error(
        fmt::format("{}: cannot be loaded as TorchScript ({}); critlab reads files written by "
                    "torch.jit.save with PyTorch 1.13 or older",
                    path, first_line(e.what())));
  }
  if (!module.find_method("forward"))
    throw Error(
        fmt::format("{}: the TorchScript module has no forward method (a saved state dict or tensor "
                    "archive, not a scripted network)",
                    path));
  module.eval();
  std::vector<ForeignModule> children;
  const bool chain = is_sequential(module) && module.named_children().size() > 0;
  if (chain)
    for (const auto& child : module.named_children()) children.push_back(foreign(child.value, child.name));
  else
    children.push_back(foreign(module, "model"));
  return assemble_imported(path, type_name(module), std::move(children), chain);
}

std::vector<std::int64_t> infer_input_shape(ImportedModel& model) {
  for (std::size_t b = 0; b < model.stack->size(); ++b)
    for (const auto& p : model.stack->block(b)->named_parameters(/*recurse=*/true)) {
      if (p.value().dim() == 2) return {p.value().size(1)};  // a Linear layer's [out, in]
      if (p.value().dim() >= 3) return {};                   // a convolution: H and W cannot be told
    }
  return {};
}

void check_input_shape(ImportedModel& model, const std::vector<std::int64_t>& input_shape,
                       const c10::Device& device) {
  for (auto d : input_shape)
    if (d <= 0)
      throw Error(
          fmt::format("an input shape must have positive sizes, got {}", fmt::join(input_shape, ",")));
  std::vector<std::int64_t> shape{1};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  EvalModeGuard eval(*model.stack);
  torch::NoGradGuard no_grad;
  const auto dtype = model.stack->parameters().front().scalar_type();
  try {
    model.stack->forward(torch::zeros(shape, torch::TensorOptions().device(device).dtype(dtype)));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(
        fmt::format("{}: the network rejects inputs of shape [{}] ({}); give inputs of the shape it expects "
                    "(on the command line: --input-shape)",
                    model.file, fmt::join(shape, ","), first_line(e.what())));
  }
}

nlohmann::json to_json(const ImportedModel& m) {
  return {{"file", m.file}, {"layout", m.layout}, {"blocks", m.blocks}, {"notes", m.notes}};
}

}  // namespace critlab::nn
