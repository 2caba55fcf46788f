// libFuzzer target for the number reader (io/numbers.h): any input must give numbers or critlab::Error;
// any other exception, a crash or a sanitizer report is a finding. Seeds: fuzz/corpus/numbers/.
//   clang++-14 -std=c++20 -fsanitize=fuzzer,address,undefined -Iinclude fuzz/numbers_fuzz.cpp \
//       src/io/numbers.cpp src/io/files.cpp src/core/error.cpp -lfmt -o /tmp/numbers_fuzz
//   /tmp/numbers_fuzz -max_total_time=120 /tmp/numbers_corpus fuzz/corpus/numbers
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "critlab/core/error.h"
#include "critlab/io/numbers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const char* column : {"", "1", "size"}) {
    try {
      const auto values = critlab::io::parse_number_column(text, "fuzz", column);
      if (values.empty()) __builtin_trap();  // the reader promises at least one number or an error
    } catch (const critlab::Error&) {
    }
  }
  return 0;
}
