#include "critlab/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdlib>

#include "critlab/core/error.h"
#include "critlab/data/idx.h"

namespace critlab::data {

namespace fs = std::filesystem;

fs::path resolve_data_dir(const std::string& flag_value) {
  std::string source;
  fs::path dir;
  if (!flag_value.empty()) {
    dir = flag_value;
    source = "--data";
  } else if (const char* env = std::getenv("CRITLAB_DATA"); env && *env) {
    dir = env;
    source = "$CRITLAB_DATA";
  } else {
    dir = kDebianFashionMnistDir;
    source = "the Debian default";
  }
  if (!fs::is_directory(dir))
    throw Error(
        fmt::format("data directory '{}' (from {}) does not exist; install Debian's dataset-fashion-mnist "
                    "(scripts/setup.sh) or pass --data DIR",
                    dir.string(), source));
  return dir;
}

namespace {
fs::path find_file(const fs::path& dir, const std::string& stem) {
  for (const std::string suffix : {".gz", ""}) {
    fs::path p = dir / (stem + suffix);
    if (fs::exists(p)) return p;
  }
  throw Error(fmt::format("data directory '{}' has no '{}' or '{}.gz'; is it a Fashion-MNIST directory?",
                          dir.string(), stem, stem));
}

std::pair<at::Tensor, at::Tensor> load_split(const fs::path& dir, const std::string& prefix) {
  const auto img_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const auto lab_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  IdxArray img = read_idx(img_path, 3);
  IdxArray lab = read_idx(lab_path, 1);
  if (img.dims[0] != lab.dims[0])
    throw Error(fmt::format("'{}' holds {} images but '{}' holds {} labels", img_path.string(), img.dims[0],
                            lab_path.string(), lab.dims[0]));
  auto images = torch::from_blob(img.values.data(), {img.dims[0], 1, img.dims[1], img.dims[2]}, torch::kUInt8)
                    .to(torch::kFloat32)
                    .div_(255.0f);
  auto labels = torch::from_blob(lab.values.data(), {lab.dims[0]}, torch::kUInt8).to(torch::kInt64);
  const auto max_label = labels.max().item<std::int64_t>();
  if (max_label > 9)
    throw Error(
        fmt::format("'{}' has label {}; Fashion-MNIST labels are 0..9", lab_path.string(), max_label));
  return {images, labels};
}
}  // namespace

FashionMnist load_fashion_mnist(const fs::path& dir) {
  FashionMnist out;
  auto [train_x, train_y] = load_split(dir, "train");
  auto [test_x, test_y] = load_split(dir, "t10k");
  if (train_x.sizes().slice(1) != test_x.sizes().slice(1))
    throw Error(fmt::format("train and test images in '{}' have different shapes", dir.string()));
  out.mean = train_x.mean().item<float>();
  out.stdev = train_x.std().item<float>();
  out.train = {(train_x - out.mean) / out.stdev, train_y};
  out.test = {(test_x - out.mean) / out.stdev, test_y};
  return out;
}

Dataset stratified_subset(const Dataset& data, std::int64_t n) {
  n = std::min(n, data.size());
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(data.num_classes));
  auto labels = data.labels.to(torch::kCPU).contiguous();
  const auto* y = labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < data.size(); ++i) by_class[static_cast<std::size_t>(y[i])].push_back(i);
  std::vector<std::int64_t> picked;
  for (std::size_t round = 0; static_cast<std::int64_t>(picked.size()) < n; ++round) {
    bool any = false;
    for (auto& c : by_class) {
      if (round < c.size() && static_cast<std::int64_t>(picked.size()) < n) {
        picked.push_back(c[round]);
        any = true;
      }
    }
    if (!any) break;
  }
  auto idx = torch::tensor(picked, torch::kInt64).to(data.labels.device());
  return {data.images.index_select(0, idx), data.labels.index_select(0, idx), data.num_classes};
}

at::Tensor gaussian_probes(std::int64_t n, const std::vector<std::int64_t>& shape, std::uint64_t seed) {
  std::vector<std::int64_t> full{n};
  full.insert(full.end(), shape.begin(), shape.end());
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(full, gen, torch::TensorOptions().dtype(torch::kFloat32));
}

BatchIterator::BatchIterator(const Dataset& data, std::int64_t batch_size, std::uint64_t seed,
                             std::int64_t epoch, bool shuffle, bool drop_last)
    : data_(data), batch_size_(batch_size), drop_last_(drop_last) {
  if (batch_size <= 0) throw Error("batch_size must be positive, got " + std::to_string(batch_size));
  if (shuffle) {
    // One generator per (seed, epoch): the order never depends on what ran before.
    auto gen =
        at::make_generator<at::CPUGeneratorImpl>(seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    order_ = at::randperm(data.size(), gen, torch::kInt64);
  } else {
    order_ = torch::arange(data.size(), torch::kInt64);
  }
  order_ = order_.to(data.labels.device());
}

std::int64_t BatchIterator::num_batches() const {
  const auto n = data_.size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

std::pair<at::Tensor, at::Tensor> BatchIterator::batch(std::int64_t i) const {
  const auto start = i * batch_size_;
  const auto end = std::min(start + batch_size_, data_.size());
  auto idx = order_.slice(0, start, end);
  return {data_.images.index_select(0, idx), data_.labels.index_select(0, idx)};
}

at::Tensor probe_inputs(ProbeSource source, std::int64_t n, const std::vector<std::int64_t>& input_shape,
                        const std::string& data_dir, std::uint64_t seed) {
  if (source == ProbeSource::kGaussian) return gaussian_probes(n, input_shape, seed);
  const auto data = load_fashion_mnist(resolve_data_dir(data_dir));
  auto probes = stratified_subset(data.test, n).images;
  if (std::vector<std::int64_t>(probes.sizes().begin() + 1, probes.sizes().end()) != input_shape)
    throw Error("the model's input shape does not match Fashion-MNIST images; use gaussian probes");
  return probes;
}

}  // namespace critlab::data
