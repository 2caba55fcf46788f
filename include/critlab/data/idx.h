// Reader for the IDX format of (Fashion-)MNIST (LeCun et al.): a big-endian header
//   magic = 0x00 0x00 <type> <ndims>, then ndims uint32 sizes, then the data, row-major.
// Files may be gzipped or plain (zlib's gzread handles both). Only unsigned-byte data (type 0x08) is read,
// which is what (Fashion-)MNIST uses. Every check failure throws critlab::Error naming the file.
//
// Damaged or hostile files fail cleanly and cheaply:
//  - the header's sizes must multiply to at most kMaxIdxBytes (checked without overflow);
//  - a plain file must hold exactly the bytes its header promises (compared with the file size before
//    anything is allocated); a gzipped one is inflated in growing chunks, so memory follows the data that is
//    really there and a truncated stream fails as soon as it ends;
//  - a gzipped file is read to the end of its stream, so its CRC and length trailer are checked, and data
//    after the promised bytes (inside the stream, or in a plain file) is an error.
// (zlib itself ignores bytes after the end of the last gzip member that are not a gzip header.)
// No torch: this is part of critlab_base.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace critlab::data {

struct IdxArray {
  std::vector<std::int64_t> dims;    // e.g. {60000, 28, 28}
  std::vector<std::uint8_t> values;  // product(dims) bytes
};

// The largest data section accepted: 2 GiB (Fashion-MNIST's training images are 47 MB, EMNIST's 550 MB).
inline constexpr std::int64_t kMaxIdxBytes = std::int64_t{1} << 31;

// Reads an IDX file. `expected_ndims` (>0) is checked against the header's dimension count.
IdxArray read_idx(const std::filesystem::path& path, int expected_ndims = 0);

// The same reader over bytes in memory (plain or gzipped), for the fuzzer and the tests. The bytes are copied
// into an anonymous memory file (Linux memfd_create) that zlib reads like any file, so memory and disk go
// through one code path. `source_name` names the bytes in errors.
IdxArray read_idx_bytes(std::string_view bytes, const std::string& source_name, int expected_ndims = 0);

}  // namespace critlab::data
