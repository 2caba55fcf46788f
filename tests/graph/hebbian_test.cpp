#include "critlab/graph/hebbian.h"

#include <gtest/gtest.h>
