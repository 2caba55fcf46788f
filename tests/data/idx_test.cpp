// The IDX reader and dataset plumbing on files written here: valid plain and gzipped files, and each kind of
// damage (wrong magic, truncation, trailing bytes, wrong rank) gives an Error naming the file.
#include "critlab/data/idx.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <fstream>

#include "critlab/core/error.h"
#include "critlab/data/dataset.h"
#include "test_util.h"

using namespace critlab;
namespace fs = std::filesystem;

namespace {
std::string idx_bytes(std::vector<std::int64_t> dims, std::uint8_t fill_base, std::uint8_t type = 0x08) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  std::int64_t n = 1;
  for (auto d : dims) {
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((d >> (8 * k)) & 0xff));
    n *= d;
  }
  for (std::int64_t i = 0; i < n; ++i) s.push_back(static_cast<char>((fill_base + i) % 10));
  return s;
}
void write_plain(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
void write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
std::string error_of(const fs::path& p, int ndims = 0) {
  try {
    data::read_idx(p, ndims);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Idx, ReadsPlainAndGzipped) {
  test::TempDir d;
  const auto bytes = idx_bytes({5, 3, 2}, 0);
  write_plain(d.path() / "a.idx", bytes);
  write_gz(d.path() / "a.idx.gz", bytes);
  for (const auto* name : {"a.idx", "a.idx.gz"}) {
    auto a = data::read_idx(d.path() / name, 3);
    EXPECT_EQ(a.dims, (std::vector<std::int64_t>{5, 3, 2}));
    ASSERT_EQ(a.values.size(), 30u);
    EXPECT_EQ(a.values[7], 7);
    EXPECT_EQ(a.values[13], 3);
  }
}

TEST(Idx, RejectsDamagedFilesNamingThem) {
  test::TempDir d;
  auto good = idx_bytes({4, 2, 2}, 0);
  auto bad_magic = good;
  bad_magic[0] = 0x1f;
  write_plain(d.path() / "magic.idx", bad_magic);
  EXPECT_NE(error_of(d.path() / "magic.idx").find("bad magic"), std::string::npos);
  EXPECT_NE(error_of(d.path() / "magic.idx").find("magic.idx"), std::string::npos);

  write_gz(d.path() / "trunc.gz", good.substr(0, good.size() - 3));
  EXPECT_NE(error_of(d.path() / "trunc.gz").find("truncated"), std::string::npos);
  write_plain(d.path() / "header.idx", good.substr(0, 6));
  EXPECT_NE(error_of(d.path() / "header.idx").find("truncated"), std::string::npos);
  write_plain(d.path() / "trailing.idx", good + "xx");
  EXPECT_NE(error_of(d.path() / "trailing.idx").find("trailing"), std::string::npos);
  write_plain(d.path() / "rank.idx", good);
  EXPECT_NE(error_of(d.path() / "rank.idx", 1).find("dimensions"), std::string::npos);
  write_plain(d.path() / "type.idx", idx_bytes({2}, 0, 0x0D));
  EXPECT_NE(error_of(d.path() / "type.idx").find("data type"), std::string::npos);
  EXPECT_NE(error_of(d.path() / "missing.idx").find("does not exist"), std::string::npos);
}

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
