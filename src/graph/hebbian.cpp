#include "critlab/graph/hebbian.h"
