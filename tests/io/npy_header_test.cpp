// The torch-free .npy header parser: headers as numpy writes them round-trip, and hostile headers (a 60 KB
// descr or a 20,000-entry shape, which overflowed the stack of the old std::regex parser; a v2 header length
// of 0xFFFFFFF0, which allocated 4.3 GB; an overflowing shape product; data shorter than the shape) fail with
// a clear critlab::Error.
#include "critlab/io/npy_header.h"

#include <gtest/gtest.h>

#include <string>

#include "critlab/core/error.h"

using namespace critlab;
using io::NpyHeader;

namespace {
// A v1 or v2 preamble around a header dict given as text (no padding).
std::string npy(const std::string& dict, int version = 1) {
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(version));
  out.push_back('\0');
  const int len_bytes = version == 1 ? 2 : 4;
  for (int k = 0; k < len_bytes; ++k) out.push_back(static_cast<char>((dict.size() >> (8 * k)) & 0xff));
  return out + dict;
}
std::string error_of(const std::string& bytes) {
  try {
    const auto h = io::parse_npy_header(bytes, "x.npy");
    io::check_npy_file_size(h, bytes.size(), "x.npy");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
#define EXPECT_ERROR(bytes, text)                             \
  do {                                                        \
    const std::string err_ = error_of(bytes);                 \
    EXPECT_NE(err_.find(text), std::string::npos) << err_;    \
    EXPECT_NE(err_.find("x.npy"), std::string::npos) << err_; \
  } while (0)
}  // namespace

TEST(NpyHeader, ParsesWhatNumpyWrites) {
  // Verbatim numpy 1.24 headers (np.save), v1, padded to 64 bytes.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  const std::string f4 = npy(dict + "\n");
  ASSERT_EQ(f4.size(), 128u);
  const auto h = io::parse_npy_header(f4, "a.npy");
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(h.data_offset, f4.size());
  EXPECT_EQ(io::npy_data_bytes(h, "a.npy"), 96u);

  const auto scalar =
      io::parse_npy_header(npy("{'descr': '<f2', 'fortran_order': True, 'shape': (), }\n"), "s");
  EXPECT_EQ(scalar.descr, "<f2");
  EXPECT_TRUE(scalar.fortran_order);
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(io::npy_data_bytes(scalar, "s"), 2u);  // a 0-d array holds one element

  const std::string v2dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }\n";
  const auto v2 = io::parse_npy_header(npy(v2dict, 2), "v");
  EXPECT_EQ(v2.shape, (std::vector<std::int64_t>{7}));
  EXPECT_EQ(v2.data_offset, 12u + v2dict.size());
  // Whitespace, double quotes, another key order, Python 2 longs and no trailing comma are all Python
  // literals.
  const auto odd =
      io::parse_npy_header(npy("{ \"shape\" : ( 3L ,5 ) ,\"fortran_order\":False,'descr':'<i8' }  \n"), "o");
  EXPECT_EQ(odd.shape, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(odd.descr, "<i8");
  EXPECT_EQ(io::npy_data_bytes(odd, "o"), 120u);
}

TEST(NpyHeader, FormatRoundTrips) {
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {5}, {2, 3, 4}, {0, 7}, {1, 1, 1, 1, 1, 1, 1}};
  for (const auto* descr : {"<f4", "<f2", "|u1", "<f8", "|b1"})
    for (const bool fortran : {false, true})
      for (const auto& shape : shapes) {
        const std::string bytes = io::format_npy_header(descr, fortran, shape);
        ASSERT_EQ(bytes.size() % 64, 0u) << bytes;
        EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
        EXPECT_EQ(bytes.back(), '\n');
        const NpyHeader h = io::parse_npy_header(bytes, "r");
        EXPECT_EQ(h.descr, descr);
        EXPECT_EQ(h.fortran_order, fortran);
        EXPECT_EQ(h.shape, shape);
        EXPECT_EQ(h.data_offset, bytes.size());
      }
  // The writer's exact text for a vector, as numpy writes it.
  const std::vector<std::int64_t> five{5};
  EXPECT_NE(io::format_npy_header("<f4", false, five)
                .find("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"),
            std::string::npos);
}

// Both crashed `critlab graph` with a segmentation fault (std::regex recursion); now each is an Error.
TEST(NpyHeader, LongHeadersFailWithoutCrashing) {
  const std::string long_descr =
      npy("{'descr': '" + std::string(60000, 'f') + "', 'fortran_order': False, 'shape': (3,), }\n");
  EXPECT_ERROR(long_descr, "unsupported dtype 'ffff");
  EXPECT_LT(error_of(long_descr).size(), 300u);  // the message shows the start of the descr, not 60 KB

  std::string shape = "(";
  for (int i = 0; i < 20000; ++i) shape += "1, ";
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "), }\n", 2),
               "more than 32 dimensions");
  // 32 dimensions are fine.
  shape = "(";
  for (int i = 0; i < 32; ++i) shape += "1, ";
  const auto h =
      io::parse_npy_header(npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "), }\n"), "x");
  EXPECT_EQ(h.shape.size(), 32u);
}

TEST(NpyHeader, HugeHeaderLengthIsRejectedBeforeReading) {
  std::string bytes("\x93NUMPY\x02\x00\xf0\xff\xff\xff", 12);  // v2, 0xFFFFFFF0 bytes of header
  bytes += "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n";
  EXPECT_ERROR(bytes, "the header claims 4294967280 bytes; at most 65536");
  EXPECT_ERROR(std::string("\x93NUMPY\x01\x00\x40\x00{'descr'", 17), "truncated header");
}

TEST(NpyHeader, ShapeProductOverflowAndShortDataAreErrors) {
  EXPECT_ERROR(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"),
               "overflows");
  EXPECT_ERROR(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }\n"),
               "overflows");  // a zero dimension does not hide it
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n"),
               "64 bits");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }\n"), "negative");
  // 1,000,000 float32 promised, 12 bytes present: fails on the size, before anything is allocated.
  const std::string shortd =
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }\n") + "abcdefghijkl";
  EXPECT_ERROR(shortd, "truncated data: the header promises 4000000 bytes");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n") + "abcdefgh",
               "4 bytes after");
}

TEST(NpyHeader, MalformedHeadersAreErrors) {
  EXPECT_ERROR("not a numpy file at all", "bad magic");
  EXPECT_ERROR(std::string("\x93NUMPY\x07\x00\x00\x00", 10), "unknown format version 7");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False}\n"), "no shape");
  EXPECT_ERROR(npy("{'descr': '<f4', 'shape': (1,)}\n"), "no fortran_order");
  EXPECT_ERROR(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n"), "twice");
  EXPECT_ERROR(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}\n"), "structured");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}\n"), "True or False");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n"),
               "unknown header key");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing\n"),
               "after its closing");
  EXPECT_ERROR(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,"), "header ends");
  EXPECT_ERROR(npy("{'descr': '<f4"), "unterminated");
  EXPECT_ERROR(npy("{'descr': '', 'fortran_order': False, 'shape': (1,)}\n"), "empty");
  EXPECT_ERROR(npy("{'descr': 'O', 'fortran_order': False, 'shape': (1,)}\n") + "12345678",
               "unsupported dtype 'O'");
}
