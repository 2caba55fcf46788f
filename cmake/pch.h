// Precompiled once per build: the libtorch headers cost ~15 s per translation unit otherwise.
#pragma once
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
