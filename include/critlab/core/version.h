// The critlab version (from CMake's project version). Torch-free, so the launcher can answer --version
// without loading libtorch.
#pragma once
#include <string>

namespace critlab {

std::string version();

}  // namespace critlab
