// In-memory image classification data (Fashion-MNIST), batching with deterministic shuffles, and probe sets.
//
// Images are float32 tensors [N, 1, 28, 28], normalised with the training set's mean and standard deviation
// (so the input has zero mean and unit variance per pixel on average); labels are int64 [N].
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"

namespace critlab::data {

// Where the Debian package dataset-fashion-mnist installs its files.
inline constexpr const char* kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Resolution order: the flag value (if non-empty), then $CRITLAB_DATA, then the Debian location.
// Throws critlab::Error naming the source of the path if the directory does not exist.
std::filesystem::path resolve_data_dir(const std::string& flag_value);

struct Dataset {
  at::Tensor images;  // [N, C, H, W] float32, normalised
  at::Tensor labels;  // [N] int64
  std::int64_t size() const { return labels.size(0); }
  std::int64_t num_classes = 10;
};

struct FashionMnist {
  Dataset train;
  Dataset test;
  float mean = 0;  // statistics of the raw training pixels in [0, 1], used for both splits
  float stdev = 1;
};

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir`, validating shapes and label range.
FashionMnist load_fashion_mnist(const std::filesystem::path& dir);

// The first `n` examples of a dataset, class-stratified: round-robin over classes in label order, so every
// class is equally represented (up to one). Deterministic.
Dataset stratified_subset(const Dataset& data, std::int64_t n);

// Standard normal inputs of the given per-example shape, from a seeded generator.
at::Tensor gaussian_probes(std::int64_t n, const std::vector<std::int64_t>& shape, std::uint64_t seed);

// Where a measuring command's probe inputs come from.
enum class ProbeSource { kFashion, kGaussian };

// n probe inputs for a model with per-example `input_shape`: class-stratified Fashion-MNIST test images
// (from `data_dir`, resolved as resolve_data_dir does) or N(0, 1) vectors drawn with `seed`. Throws
// critlab::Error when the images do not fit `input_shape`.
at::Tensor probe_inputs(ProbeSource source, std::int64_t n, const std::vector<std::int64_t>& input_shape,
                        const std::string& data_dir, std::uint64_t seed);

// Iterates over minibatches of a dataset in an order that depends only on (seed, epoch): resuming at an
// epoch boundary reproduces exactly the batches an uninterrupted run would have seen.
class BatchIterator {
 public:
  BatchIterator(const Dataset& data, std::int64_t batch_size, std::uint64_t seed, std::int64_t epoch,
                bool shuffle = true, bool drop_last = false);
  std::int64_t num_batches() const;
  // Fills the i-th batch (images, labels); i in [0, num_batches()).
  std::pair<at::Tensor, at::Tensor> batch(std::int64_t i) const;

 private:
  const Dataset& data_;
  std::int64_t batch_size_;
  bool drop_last_;
  at::Tensor order_;
};

}  // namespace critlab::data

namespace critlab {
CRITLAB_ENUM_NAMES(data::ProbeSource, "probe source", {data::ProbeSource::kFashion, "fashion"},
                   {data::ProbeSource::kGaussian, "gaussian"})
}  // namespace critlab
