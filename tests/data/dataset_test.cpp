// Dataset plumbing on top of the IDX reader: data-directory resolution, deterministic batching, stratified
// subsets and the Debian Fashion-MNIST files.
#include "critlab/data/dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;

TEST(Dataset, ResolvesDataDirInOrderAndFailsClearly) {
  test::TempDir d;
  EXPECT_EQ(data::resolve_data_dir(d.path().string()), d.path());
  try {
    data::resolve_data_dir("/nonexistent/critlab");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--data"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
}

TEST(Dataset, BatchOrderDependsOnlyOnSeedAndEpoch) {
  data::Dataset ds{torch::arange(100, torch::kFloat32).reshape({100, 1}),
                   torch::arange(100, torch::kInt64) % 10};
  data::BatchIterator a(ds, 32, 7, 3), b(ds, 32, 7, 3), c(ds, 32, 7, 4);
  EXPECT_EQ(a.num_batches(), 4);
  EXPECT_TRUE(torch::equal(a.batch(1).second, b.batch(1).second));
  EXPECT_FALSE(torch::equal(a.batch(0).second, c.batch(0).second));
  std::vector<float> seen;
  for (std::int64_t i = 0; i < a.num_batches(); ++i) {
    auto x = a.batch(i).first;
    for (std::int64_t j = 0; j < x.size(0); ++j) seen.push_back(x[j][0].item<float>());
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST(Dataset, StratifiedSubsetBalancesClasses) {
  data::Dataset ds{torch::zeros({200, 1}),
                   torch::cat({torch::zeros({150}, torch::kInt64), torch::arange(50, torch::kInt64) % 10})};
  auto sub = data::stratified_subset(ds, 20);
  auto counts = torch::bincount(sub.labels, {}, 10);
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c].item<std::int64_t>(), 2) << c;
}

TEST(Dataset, LoadsDebianFashionMnist) {
  auto fm = data::load_fashion_mnist(test::fashion_dir());
  EXPECT_EQ(fm.train.images.sizes(), (std::vector<std::int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(fm.test.size(), 10000);
  EXPECT_NEAR(fm.train.images.mean().item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(fm.train.images.std().item<double>(), 1.0, 1e-4);
  EXPECT_NEAR(fm.mean, 0.2860, 1e-3);  // the well-known Fashion-MNIST pixel statistics
  EXPECT_NEAR(fm.stdev, 0.3530, 1e-3);
}
