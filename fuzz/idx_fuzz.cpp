// libFuzzer target: the IDX reader (data/idx.h) on arbitrary bytes, plain or gzipped, through the same
// code path as files (read_idx_bytes puts them in a memory file). Only critlab::Error may come out; any other
// exception, crash, leak or undefined behaviour is a finding. Seeds: fuzz/corpus/idx/.
//
// zlib is not instrumented, so the fuzzer cannot see its way through a gzip stream. Two input forms let it
// mutate what is inside one: an input starting with 'G' is the IDX bytes after it, gzipped here; one starting
// with 'C' is the same with one byte of the compressed stream (at the offset in its next two bytes) flipped,
// which exercises the CRC and length checks. Every other input is the file itself (IDX files start with 0x00,
// gzip files with 0x1f).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "critlab/core/error.h"
#include "critlab/data/idx.h"

namespace {
std::string gzip(std::string_view raw) {
  std::string out(compressBound(static_cast<uLong>(raw.size())) + 64, '\0');
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) __builtin_trap();
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) __builtin_trap();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string file;
  if (!bytes.empty() && bytes[0] == 'G') {
    file = gzip(bytes.substr(1));
    bytes = file;
  } else if (bytes.size() >= 3 && bytes[0] == 'C') {
    const std::size_t at = static_cast<std::uint8_t>(bytes[1]) |
                           (static_cast<std::size_t>(static_cast<std::uint8_t>(bytes[2])) << 8);
    file = gzip(bytes.substr(3));
    file[at % file.size()] = static_cast<char>(file[at % file.size()] ^ 0x01);
    bytes = file;
  }
  try {
    const auto a = critlab::data::read_idx_bytes(bytes, "fuzz-input");
    std::int64_t n = 1;
    for (const auto d : a.dims) n *= d;
    if (a.dims.empty() || a.dims.size() > 4 || static_cast<std::size_t>(n) != a.values.size())
      __builtin_trap();
  } catch (const critlab::Error&) {
  }
  return 0;
}
