// Two tiers of errors (see STYLE.md):
//  - critlab::Error: bad user input or an unusable environment. Its message names the thing and the fix;
//    the CLI prints it as one line on stderr and exits non-zero.
//  - CRITLAB_ASSERT: a broken internal invariant; throws InternalError with file and line.
#pragma once
#include <stdexcept>
#include <string>

namespace critlab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Training produced a non-finite loss. Distinct so the CLI can give it its own exit code.
class DivergenceError : public Error {
 public:
  explicit DivergenceError(const std::string& message) : Error(message) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

[[noreturn]] void throw_internal(const char* file, int line, const std::string& what);

}  // namespace critlab

#define CRITLAB_ASSERT(cond, msg)                                                                \
  do {                                                                                           \
    if (!(cond)) ::critlab::throw_internal(__FILE__, __LINE__, std::string(#cond ": ") + (msg)); \
  } while (0)
