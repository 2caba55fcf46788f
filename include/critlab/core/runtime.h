// Facts about the running process that every run records: versions, BLAS library, threads, device.
#pragma once
#include <c10/core/Device.h>

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "critlab/core/version.h"

namespace critlab {

// Path of the BLAS library actually mapped into this process (libblas.so.3 resolved through
// /proc/self/maps), and a short name: "openblas", "reference", "mkl" or "unknown".
struct BlasInfo {
  std::string library;
  std::string name;
};
BlasInfo blas_info();

// "auto" -> CUDA when available, else CPU; "cpu"; "cuda"/"cuda:N" (error if unavailable).
c10::Device resolve_device(const std::string& spec);

// Sets OpenBLAS's threads and libtorch's intra-op (OpenMP) threads; 0 means all cores, and no more than the
// machine's cores are ever used. Returns the count.
//
// libgomp's default busy-wait steals the cores OpenBLAS's threads need: on 2 cores a 256x1024x1024 addmm
// took 4.1 ms with both pools at 2 threads and 1.9 ms with OMP_WAIT_POLICY=PASSIVE. libgomp reads that
// variable before main, so programs set it and re-exec themselves (see reexec_with_passive_openmp). Unless
// the policy is passive, libtorch's pool is kept at 1 thread.
int configure_threads(int threads);

// If OMP_WAIT_POLICY is unset, sets it to PASSIVE and re-executes the program with the same arguments
// (call first thing in main). Returns only if nothing was done or the exec failed.
void reexec_with_passive_openmp(char** argv);

// Keeps freed tensor memory in the process instead of returning it to the system after every step. glibc
// serves blocks above its mmap threshold (dynamic, from 128 KiB) by mmap and trims the heap's top above
// its trim threshold, so a training step's multi-megabyte gradients and activations were mapped, faulted in
// page by page and unmapped again on every step: 13.6 s of system time in 57 s of a regularised-training
// benchmark. With the threshold at 64 MiB (32 MiB where glibc refuses more) and trimming only above 1 GiB,
// the 784-1024x4-10 step went from 55 to 48.5 ms and the regularised one from 63-73 to 56 ms. Programs
// call it first thing in main (critlab-engine does); a library never changes its host's allocator itself.
// Returns the mmap threshold in force, in bytes, or 0 where the C library offers no such setting.
std::size_t configure_allocator();

// {critlab, libtorch, blas, blas_library, threads, device, hostname}.
nlohmann::json runtime_metadata(const c10::Device& device, int threads);

}  // namespace critlab
