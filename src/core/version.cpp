#include "critlab/core/version.h"

#ifndef CRITLAB_VERSION
#define CRITLAB_VERSION "dev"
#endif

namespace critlab {

std::string version() { return CRITLAB_VERSION; }

}  // namespace critlab
