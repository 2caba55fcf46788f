// libFuzzer target: the IDX reader (data/idx.h) on arbitrary bytes, plain or gzipped, through the same
// code path as files (read_idx_bytes puts them in a memory file). Only critlab::Error may come out; any other
// exception, crash, leak or undefined behaviour is a finding. Seeds: fuzz/corpus/idx/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "critlab/core/error.h"
#include "critlab/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
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
