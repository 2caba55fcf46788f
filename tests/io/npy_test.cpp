// write_npy -> read_npy round trips (float, half, uint8; 0-d to 3-d) and damaged files: a truncated data
// section, trailing bytes and a huge claimed shape are clear errors, found from the file size before the
// tensor is allocated.
#include "critlab/io/npy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;
namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_plain(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
std::string error_of(const fs::path& p) {
  try {
    io::read_npy(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Npy, WriteReadRoundTripsFloatHalfAndBytes) {
  test::TempDir d;
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {7}, {2, 3, 4}, {0, 5}};
  for (const auto type : {torch::kFloat, torch::kHalf, torch::kByte})
    for (const auto& shape : shapes) {
      const auto t = (torch::rand(shape, torch::kDouble) * 200).to(type);
      io::write_npy(d.path() / "a.npy", t);
      const auto back = io::read_npy(d.path() / "a.npy");
      EXPECT_EQ(back.scalar_type(), t.scalar_type());
      EXPECT_EQ(back.sizes(), t.sizes());
      EXPECT_TRUE(back.equal(t)) << c10::toString(type);
    }
}

TEST(Npy, DamagedDataIsAClearError) {
  test::TempDir d;
  io::write_npy(d.path() / "a.npy", torch::arange(100, torch::kFloat).reshape({10, 10}));
  const std::string good = slurp(d.path() / "a.npy");
  write_plain(d.path() / "short.npy", good.substr(0, good.size() - 5));
  const std::string err = error_of(d.path() / "short.npy");
  EXPECT_NE(err.find("short.npy"), std::string::npos) << err;
  EXPECT_NE(err.find("truncated data: the header promises 400 bytes"), std::string::npos) << err;
  write_plain(d.path() / "long.npy", good + "xyz");
  EXPECT_NE(error_of(d.path() / "long.npy").find("3 bytes after"), std::string::npos);
  // The header promises 10^12 float32; the file holds 400 bytes: no 4 TB allocation, an error.
  std::string huge = good;
  const auto at = huge.find("(10, 10)");
  ASSERT_NE(at, std::string::npos);
  huge.replace(at, 8, "(10**12)");  // not a literal numpy writes: a clear error too
  write_plain(d.path() / "expr.npy", huge);
  EXPECT_NE(error_of(d.path() / "expr.npy").find("expr.npy"), std::string::npos);
  huge = good;
  huge.replace(at, 8, "(1000000, 1000000)");
  huge.erase(huge.find("}") + 2, 10);  // keep the header length: drop ten of the padding spaces
  write_plain(d.path() / "huge.npy", huge);
  EXPECT_NE(error_of(d.path() / "huge.npy").find("truncated data"), std::string::npos)
      << error_of(d.path() / "huge.npy");
  EXPECT_NE(error_of(d.path() / "missing.npy").find("cannot open"), std::string::npos);
}
