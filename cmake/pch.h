// Precompiled once per build: the libtorch headers cost ~15 s per translation unit otherwise.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <string>
#include <vector>
#include <filesystem>
