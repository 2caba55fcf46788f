#include "critlab/core/resources.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "critlab/core/error.h"

namespace critlab {

int hardware_cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.3g} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.3g} MB", bytes / 1e6);
  return fmt::format("{:.3g} kB", bytes / 1e3);
}

void check_memory(double bytes, const std::string& what, const std::string& fix) {
  const auto total = physical_memory_bytes();
  const double limit = total > 0 ? 0.8 * static_cast<double>(total) : 17592186044416.0;
  if (!(bytes <= limit))
    throw Error(fmt::format("{} would need about {}, more than the {} this machine has; {}", what,
                            format_bytes(bytes), format_bytes(total > 0 ? static_cast<double>(total) : limit),
                            fix));
}

void parallel_for(int count, int threads, const std::function<void(int)>& job,
                  const std::function<void(int)>& after) {
  std::atomic<int> next{0};
  std::mutex mutex;  // guards `failure` and `after`
  std::exception_ptr failure;
  auto worker = [&] {
    try {
      for (int k; (k = next++) < count;) {
        job(k);
        if (after) {
          const std::lock_guard<std::mutex> lock(mutex);
          after(k);
        }
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = std::current_exception();
      next = count;  // the others stop at their next index
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(std::max(0, threads - 1)));
  try {
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  } catch (const std::system_error&) {
  }
  worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace critlab
