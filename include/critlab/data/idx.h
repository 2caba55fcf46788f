// Reader for the IDX format of (Fashion-)MNIST (LeCun et al.): a big-endian header
//   magic = 0x00 0x00 <type> <ndims>, then ndims uint32 sizes, then the data, row-major.
// Files may be gzipped or plain (zlib's gzread handles both). Only unsigned-byte data (type 0x08) is read,
// which is what (Fashion-)MNIST uses. Every check failure throws critlab::Error naming the file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace critlab::data {

struct IdxArray {
  std::vector<std::int64_t> dims;    // e.g. {60000, 28, 28}
  std::vector<std::uint8_t> values;  // product(dims) bytes
};

// Reads an IDX file. `expected_ndims` (>0) is checked against the header's dimension count.
IdxArray read_idx(const std::filesystem::path& path, int expected_ndims = 0);

}  // namespace critlab::data
