#include "critlab/core/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "critlab/core/error.h"
#include "critlab/core/resources.h"

namespace critlab {

BlasInfo blas_info() {
  BlasInfo info{"", "unknown"};
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    std::string path = line.substr(pos);
    auto base = path.substr(path.rfind('/') + 1);
    bool is_blas = base.rfind("libblas.so", 0) == 0 || base.rfind("libopenblas", 0) == 0 ||
                   base.rfind("libmkl_rt", 0) == 0 || base.rfind("libblis", 0) == 0;
    if (!is_blas) continue;
    info.library = path;
    if (path.find("openblas") != std::string::npos)
      info.name = "openblas";
    else if (path.find("mkl") != std::string::npos)
      info.name = "mkl";
    else if (path.find("blis") != std::string::npos)
      info.name = "blis";
    else if (path.find("/blas/") != std::string::npos)
      info.name = "reference";
    if (info.name == "openblas" || info.name == "mkl") break;  // the fast one wins if several are mapped
  }
  return info;
}

c10::Device resolve_device(const std::string& spec) {
  if (spec == "auto")
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(spec);
  } catch (const std::exception&) {
    throw Error("unknown device '" + spec + "'; use auto, cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw Error("device '" + spec + "' requested but this libtorch build sees no CUDA GPU; use --device cpu");
  return device;
}

namespace {
bool omp_waits_passively() {
  const char* p = std::getenv("OMP_WAIT_POLICY");
  return p && (std::string(p) == "PASSIVE" || std::string(p) == "passive");
}
}  // namespace

void reexec_with_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  unsetenv("OMP_WAIT_POLICY");  // the exec failed: this process's libgomp never saw the policy
}

int configure_threads(int threads) {
  if (threads < 0) throw Error("threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  // More threads than cores only oversubscribe them (and a huge count exhausts memory in OpenBLAS's pool).
  const int cores = hardware_cores();
  const int n = threads == 0 ? cores : std::min(threads, cores);
  using SetThreads = void (*)(int);
  auto* set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_blas) set_blas(n);
  // With a busy-waiting OpenMP pool beside OpenBLAS, libtorch's pool must stay at 1 thread (see runtime.h).
  at::set_num_threads(!set_blas || omp_waits_passively() ? n : 1);
  return n;
}

std::size_t configure_allocator() {
#if defined(__GLIBC__)
  for (const std::size_t threshold : {std::size_t{64} << 20, std::size_t{32} << 20})
    if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(threshold)) == 1) {
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
      return threshold;
    }
#endif
  return 0;
}

nlohmann::json runtime_metadata(const c10::Device& device, int threads) {
  auto blas = blas_info();
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return {{"critlab", version()},   {"libtorch", TORCH_VERSION},
          {"blas", blas.name},      {"blas_library", blas.library},
          {"threads", threads},     {"torch_intra_op_threads", at::get_num_threads()},
          {"device", device.str()}, {"hostname", host}};
}

}  // namespace critlab
