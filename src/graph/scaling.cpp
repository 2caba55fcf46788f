#include "critlab/graph/scaling.h"
