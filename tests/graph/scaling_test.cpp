#include "critlab/graph/scaling.h"

#include <gtest/gtest.h>
