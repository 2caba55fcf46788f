// TorchScript import: any network saved with torch.jit.save, seen as a LayerStack so that every measure works
// on it unchanged (DESIGN.md: measures ask the stack).
//
// Where the block boundaries are. A network is measured block by block when its top-level module is an
// nn.Sequential (torch.nn.modules.container.Sequential); critlab's convention for exporters is an
// nn.Sequential of stages (a ResNet as Sequential(stem, layer1, ..., layer4, head), for instance). Its
// children are grouped into blocks: a block starts at each child that holds a weight matrix (a parameter with
// two or more dimensions: Linear, Conv2d, a whole stage), and every child without one (Tanh, ReLU, BatchNorm,
// Dropout, pooling, Flatten, ...) joins the block before it, so that a flat Sequential written the usual way
// (Linear, Tanh, Linear, Tanh, ...; Conv2d, BatchNorm2d, ReLU, ...) is measured per layer, a block being an
// affine map with what follows it, as in critlab's own models. Children before the first weight matrix join
// the first block. The last block is the readout when there are two or more. Any other module is measured as
// one block, input to output (layout "single-block"), and the report says so.
//
// The imported network runs in eval mode for every measure (batch norm with its running statistics, dropout
// off); its parameters stay the file's, on the requested device.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "critlab/nn/stack.h"

namespace critlab::nn {

struct ImportedModel {
  LayerStack stack{nullptr};
  std::string file;
  std::string layout;  // "chain" (a Sequential, measured block by block) or "single-block"
  std::vector<std::string>
      blocks;                      // per block, its describe(): the children it holds, e.g. "0:Linear+1:Tanh"
  std::vector<std::string> notes;  // what a reader of the report should know (eval mode, one block, ...)
};

// One top-level child of a network from outside critlab (a TorchScript submodule, or an eager nn.Module
// called through Python by the Python module): how to run it and which tensors it owns.
struct ForeignModule {
  std::string name;                                            // its name in the parent, e.g. "0" or "layer1"
  std::string type;                                            // its class, e.g. "Linear"
  std::function<at::Tensor(const at::Tensor&)> forward;        // one tensor to one tensor
  std::function<void(bool)> train;                             // sets its training mode (may be empty)
  std::vector<std::pair<std::string, at::Tensor>> parameters;  // its own, recursively (the tensors, shared)
  std::vector<std::pair<std::string, at::Tensor>> buffers;
};

// Whether the module owns a parameter of two or more dimensions (a weight matrix or kernel).
bool holds_weight_matrix(const ForeignModule& m);

// The stack of a foreign network, by the rules above: `chain` groups `children` (the top-level Sequential's,
// in order) into blocks; otherwise `children` is the whole network, measured as one block. `source` names
// it in errors and the report (a file, or "python"); `top_type` is the top-level class. Puts it in eval mode.
// Throws critlab::Error when it has no parameters.
ImportedModel assemble_imported(const std::string& source, const std::string& top_type,
                                std::vector<ForeignModule> children, bool chain);

// The name a foreign block's tensor has in the original network (e.g. "layer1.0.conv1.weight"), or "" when
// `block` is not a foreign block or does not own `tensor`. (The block registers its tensors under sanitised
// names, since torch::nn::Module names cannot hold dots.)
std::string foreign_tensor_name(const BlockImpl& block, const at::Tensor& tensor);

// Loads a TorchScript file onto `device`. Throws critlab::Error with one line naming the file and the reason
// when it cannot be loaded (not TorchScript, truncated, saved by a newer PyTorch, an unknown op) or holds no
// callable forward.
ImportedModel import_torchscript(const std::string& path, const c10::Device& device);

// The input shape (without the batch dimension) that the network's first weight matrix implies when it is a
// Linear layer ({in_features}); empty when it cannot be told (a convolution needs --input-shape).
std::vector<std::int64_t> infer_input_shape(ImportedModel& model);

// Runs one example of `input_shape` through the network; throws critlab::Error naming the shape and the
// network's complaint when it rejects it.
void check_input_shape(ImportedModel& model, const std::vector<std::int64_t>& input_shape,
                       const c10::Device& device);

// {file, layout, blocks[], notes[]}
nlohmann::json to_json(const ImportedModel& m);

}  // namespace critlab::nn
