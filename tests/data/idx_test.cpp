// The IDX reader on files written here: valid plain and gzipped files, and each kind of damage (wrong magic,
// truncation, trailing bytes, wrong rank, a corrupted gzip CRC, absurd or overflowing sizes) gives an Error
// naming the file, quickly and without allocating what the header claims.
#include "critlab/data/idx.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <fstream>

#include "critlab/core/error.h"
#include "test_util.h"

using namespace critlab;
namespace fs = std::filesystem;

namespace {
std::string idx_header(const std::vector<std::int64_t>& dims, std::uint8_t type = 0x08) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (auto d : dims)
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((d >> (8 * k)) & 0xff));
  return s;
}
std::string idx_bytes(const std::vector<std::int64_t>& dims, std::uint8_t fill_base,
                      std::uint8_t type = 0x08) {
  std::string s = idx_header(dims, type);
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  for (std::int64_t i = 0; i < n; ++i) s.push_back(static_cast<char>((fill_base + i) % 10));
  return s;
}
void write_plain(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
void write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
std::string error_of(const fs::path& p, int ndims = 0) {
  try {
    data::read_idx(p, ndims);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}
// Expects read_idx to fail with `what` in the message, in under a second and with the peak resident memory
// grown by less than 64 MiB (allocating what the header claims would touch gigabytes).
void expect_fails_fast(const fs::path& p, const std::string& what) {
  const long rss0 = peak_rss_kb();
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err = error_of(p);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(err.find(what), std::string::npos) << err;
  EXPECT_NE(err.find(p.filename().string()), std::string::npos) << err;
  EXPECT_LT(secs, 1.0) << err;
  EXPECT_LT(peak_rss_kb() - rss0, 64 * 1024) << err;
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
  const auto m = data::read_idx_bytes(slurp(d.path() / "a.idx.gz"), "memory", 3);
  EXPECT_EQ(m.values, data::read_idx(d.path() / "a.idx").values);
}

TEST(Idx, ReadsMoreThanOneChunk) {  // 3 MiB: the reader grows its buffer chunk by chunk
  test::TempDir d;
  const auto bytes = idx_bytes({3, 1024, 1024}, 4);
  write_gz(d.path() / "big.gz", bytes);
  const auto a = data::read_idx(d.path() / "big.gz");
  ASSERT_EQ(a.values.size(), 3u << 20);
  EXPECT_EQ(a.values.back(), static_cast<std::uint8_t>(bytes.back()));
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
  write_gz(d.path() / "cut.gz", good);
  const std::string cut = slurp(d.path() / "cut.gz");
  write_plain(d.path() / "cut.gz", cut.substr(0, cut.size() - 12));  // the compressed stream itself cut short
  EXPECT_NE(error_of(d.path() / "cut.gz").find("truncated: the gzip stream ends early"), std::string::npos)
      << error_of(d.path() / "cut.gz");
  write_plain(d.path() / "trunc.idx", good.substr(0, good.size() - 3));
  EXPECT_NE(error_of(d.path() / "trunc.idx").find("truncated"), std::string::npos);
  write_plain(d.path() / "header.idx", good.substr(0, 6));
  EXPECT_NE(error_of(d.path() / "header.idx").find("truncated"), std::string::npos);
  write_plain(d.path() / "trailing.idx", good + "xx");
  EXPECT_NE(error_of(d.path() / "trailing.idx").find("trailing"), std::string::npos);
  write_gz(d.path() / "trailing.gz", good + "xx");
  EXPECT_NE(error_of(d.path() / "trailing.gz").find("trailing"), std::string::npos);
  write_plain(d.path() / "rank.idx", good);
  EXPECT_NE(error_of(d.path() / "rank.idx", 1).find("dimensions"), std::string::npos);
  write_plain(d.path() / "type.idx", idx_bytes({2}, 0, 0x0D));
  EXPECT_NE(error_of(d.path() / "type.idx").find("data type"), std::string::npos);
  EXPECT_NE(error_of(d.path() / "missing.idx").find("does not exist"), std::string::npos);
  EXPECT_NE(error_of(d.path()).find("directory"), std::string::npos);
}

// A gzip whose compressed data has one flipped byte: the CRC in its trailer no longer matches. Before,
// reading stopped before the trailer and such a file was accepted with changed values.
TEST(Idx, RejectsGzipWithBadCrc) {
  test::TempDir d;
  // 256 KiB of noisy bytes, like images.
  std::string good = idx_header({64, 64, 64});
  std::uint32_t x = 12345;
  for (int i = 0; i < 64 * 64 * 64; ++i) {
    x = x * 1664525u + 1013904223u;
    good.push_back(static_cast<char>((x >> 24) & 0x3f));
  }
  write_gz(d.path() / "good.gz", good);
  ASSERT_EQ(data::read_idx(d.path() / "good.gz").values.size(), 64u * 64 * 64);
  const std::string gz = slurp(d.path() / "good.gz");
  ASSERT_GT(gz.size(), 1000u);
  // Flip bits near the end of the compressed data. Unless a flip leaves the inflated bytes as they were
  // (checked here without the trailer), the file must be rejected. The old reader accepted the flips of bit 1
  // 69 bytes from the end and of bit 7 70 bytes from the end, which inflate to one byte more: the CRC error
  // came only on its read for trailing bytes, whose -1 it ignored.
  int changed = 0;
  for (std::size_t back = 9; back < 81; ++back)
    for (const int bit : {1, 7}) {
      std::string bad = gz;
      bad[gz.size() - back] = static_cast<char>(bad[gz.size() - back] ^ (1 << bit));
      std::string inflated(good.size() + 64, '\0');
      z_stream z{};
      inflateInit2(&z, 16 + MAX_WBITS);
      z.next_in = reinterpret_cast<Bytef*>(bad.data());
      z.avail_in = static_cast<uInt>(bad.size() - 8);  // without the trailer: inflate must not check it
      z.next_out = reinterpret_cast<Bytef*>(inflated.data());
      z.avail_out = static_cast<uInt>(inflated.size());
      inflate(&z, Z_NO_FLUSH);
      inflated.resize(z.total_out);
      inflateEnd(&z);
      if (inflated == good) continue;
      ++changed;
      write_plain(d.path() / "crc.gz", bad);
      const std::string err = error_of(d.path() / "crc.gz");
      EXPECT_FALSE(err.empty()) << "accepted with bit " << bit << " of byte " << back
                                << " from the end flipped";
      EXPECT_NE(err.find("crc.gz"), std::string::npos) << err;
    }
  EXPECT_GT(changed, 100);  // most flips change the data
  // Stored (level 0) gzip: the flipped byte is a data byte, so the file decodes to wrong values of the right
  // length.
  gzFile f = gzopen((d.path() / "stored.gz").c_str(), "wb0");
  gzwrite(f, good.data(), static_cast<unsigned>(good.size()));
  gzclose(f);
  std::string stored = slurp(d.path() / "stored.gz");
  ASSERT_GT(stored.size(), good.size());
  stored[stored.size() - 8 - 100] ^= 0x04;
  write_plain(d.path() / "stored.gz", stored);
  EXPECT_NE(error_of(d.path() / "stored.gz").find("incorrect data check"), std::string::npos);
  // A damaged trailer alone (the stored CRC itself) is caught as well.
  std::string bad_trailer = gz;
  bad_trailer[gz.size() - 6] = static_cast<char>(bad_trailer[gz.size() - 6] ^ 0x10);
  write_plain(d.path() / "trailer.gz", bad_trailer);
  EXPECT_NE(error_of(d.path() / "trailer.gz").find("incorrect data check"), std::string::npos);
}

// Headers that promise far more than the file holds fail at once, before anything of that size is allocated.
TEST(Idx, ClaimedSizesAreCheckedBeforeAllocating) {
  test::TempDir d;
  // 16 GB of images (250,000 x 256 x 256): over the 2 GiB cap.
  write_gz(d.path() / "huge.gz", idx_header({250000, 256, 256}) + std::string(100, '\1'));
  expect_fails_fast(d.path() / "huge.gz", "more than the");
  // A label count of 0xFFFFFFFF.
  write_plain(d.path() / "labels.idx", idx_header({0xFFFFFFFFll}) + std::string(10, '\2'));
  expect_fails_fast(d.path() / "labels.idx", "more than the");
  // Under the cap (1.9 GB) but with 100 bytes of data: a plain file fails on its size, a gzip when the stream
  // ends; neither allocates the 1.9 GB.
  write_plain(d.path() / "short.idx", idx_header({1900000000}) + std::string(100, '\3'));
  expect_fails_fast(d.path() / "short.idx", "truncated");
  write_gz(d.path() / "short.gz", idx_header({1900000000}) + std::string(100, '\3'));
  expect_fails_fast(d.path() / "short.gz", "truncated");
  // Four dimensions of 0xFFFFFFFF: the product overflows 64 bits (undefined behaviour before).
  write_plain(d.path() / "overflow.idx",
              idx_header({0xFFFFFFFFll, 0xFFFFFFFFll, 0xFFFFFFFFll, 0xFFFFFFFFll}) + "x");
  expect_fails_fast(d.path() / "overflow.idx", "more than the");
}
