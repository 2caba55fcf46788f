// Facts about the running process that every run records: versions, BLAS library, threads, device.
#pragma once
#include <string>

#include <c10/core/Device.h>
#include <nlohmann/json_fwd.hpp>

namespace critlab {

// The critlab version string (from CMake).
std::string version();

// Path of the BLAS library actually mapped into this process (libblas.so.3 resolved through
// /proc/self/maps), and a short name: "openblas", "reference", "mkl" or "unknown".
struct BlasInfo {
  std::string library;
  std::string name;
};
BlasInfo blas_info();

// "auto" -> CUDA when available, else CPU; "cpu"; "cuda"/"cuda:N" (error if unavailable).
c10::Device resolve_device(const std::string& spec);

// Sets libtorch's intra-op threads and OpenBLAS's threads; 0 means all cores. Returns the count used.
int configure_threads(int threads);

// {critlab, libtorch, blas, blas_library, threads, device, hostname}.
nlohmann::json runtime_metadata(const c10::Device& device, int threads);

}  // namespace critlab
