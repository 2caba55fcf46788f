// libFuzzer target: the .npy header parser (io/npy_header.h) on arbitrary bytes taken as a whole file. Only
// critlab::Error may come out; any other exception, crash, leak or undefined behaviour is a finding. A header
// that parses is also written back with format_npy_header and must parse to the same values (a trap if not).
// Seeds: fuzz/corpus/npy_header/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "critlab/core/error.h"
#include "critlab/io/npy_header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace critlab::io;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  NpyHeader h;
  try {
    h = parse_npy_header(bytes, "fuzz-input");
  } catch (const critlab::Error&) {
    return 0;
  }
  if (h.data_offset > size || h.shape.size() > kMaxNpyDims || h.descr.empty()) __builtin_trap();
  try {
    const std::uint64_t n = npy_data_bytes(h, "fuzz-input");
    check_npy_file_size(h, size, "fuzz-input");
    if (size - h.data_offset != n) __builtin_trap();
  } catch (const critlab::Error&) {
  }
  // Round trip through the writer (descrs the writer cannot quote are not written by critlab).
  if (h.descr.find('\'') == std::string::npos) {
    const std::string again = format_npy_header(h.descr, h.fortran_order, h.shape);
    try {
      const NpyHeader back = parse_npy_header(again, "round-trip");
      if (back.descr != h.descr || back.fortran_order != h.fortran_order || back.shape != h.shape ||
          back.data_offset != again.size() || again.size() % 64 != 0)
        __builtin_trap();
    } catch (const critlab::Error&) {
      // Only a descr too long for any header may fail to come back.
      if (h.descr.size() < 60000) __builtin_trap();
    }
  }
  return 0;
}
