// The header of a NumPy .npy file, parsed and written without libtorch (critlab_base):
//   "\x93NUMPY" <major> <minor> <header length: 2 bytes (v1) or 4 (v2, v3), little-endian> <header>
// where the header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ending in '\n'. The parser is a small iterative scanner (no regex, no recursion)
// with hard limits, so hostile headers fail with critlab::Error and cost little:
//  - a header longer than kMaxNpyHeaderBytes is rejected from its length field, before it is read;
//  - at most kMaxNpyDims shape entries, each a non-negative 64-bit integer;
//  - the data size (shape product x element size) is computed with overflow checks, and
//    check_npy_file_size compares it with the file's real size before anything is allocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace critlab::io {

struct NpyHeader {
  std::string descr;  // the dtype string, e.g. "<f4", "|u1"
  bool fortran_order = false;
  std::vector<std::int64_t> shape;  // () for a 0-d array
  std::size_t data_offset = 0;      // where the data starts: the preamble plus the header
};

inline constexpr std::size_t kMaxNpyHeaderBytes = 64 * 1024;  // numpy itself refuses headers over 10,000
inline constexpr std::size_t kMaxNpyDims = 32;                // numpy's NPY_MAXDIMS (1.x)

// Parses the header from the file's first bytes (at least the preamble and the whole header; the whole file
// is fine). `source_name` names the file in errors: "'<source_name>' is not a readable .npy file: <why>".
NpyHeader parse_npy_header(std::string_view file_prefix_or_whole_bytes, const std::string& source_name);

// The size of one element of a plain numeric descr ("<f4" -> 4, "|u1" -> 1; kinds b, i, u, f, c), or 0
// for anything else (structured, strings, objects, datetimes).
std::size_t npy_element_size(std::string_view descr);

// The data section's size in bytes: the shape's product times the element size. Throws when the descr is
// not a plain numeric type or the product does not fit in 63 bits (also when a zero dimension would hide the
// overflow of the others).
std::uint64_t npy_data_bytes(const NpyHeader& header, const std::string& source_name);

// Throws unless a file of `file_size` bytes holds exactly the data the header promises after data_offset.
void check_npy_file_size(const NpyHeader& header, std::uint64_t file_size, const std::string& source_name);

// The preamble and header numpy would write for such an array: version 1.0, or 2.0 when the header does not
// fit in 65,535 bytes; padded so that the data starts at a multiple of 64.
std::string format_npy_header(std::string_view descr, bool fortran_order,
                              std::span<const std::int64_t> shape);

}  // namespace critlab::io
