// Up-front resource checks: a command whose inputs would need more memory than the machine has is refused
// before it allocates, with the estimate in the message, instead of failing inside an allocator (or being
// killed) minutes later.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace critlab {

// The machine's cores as std::thread reports them, at least 1: the most threads critlab ever runs at once.
int hardware_cores();

// Physical memory of this machine in bytes (sysconf); 0 if unknown.
std::uint64_t physical_memory_bytes();

// Throws critlab::Error "<what> would need about X GB, more than the Y GB this machine has; <fix>" when
// `bytes` exceeds 80% of physical memory (or 2^44 bytes where that is unknown).
void check_memory(double bytes, const std::string& what, const std::string& fix);

// "1.5 GB", "320 MB", "12 kB".
std::string format_bytes(double bytes);

// Runs job(k) for every k in [0, count) on `threads` threads (the caller's included), handing out indices one
// at a time, so a job must write its result by index. After each job `after(k)` (optional) runs under a lock
// (progress reports). The first exception stops the others at their next index and is rethrown after every
// thread is joined; where the system refuses a thread, the work runs on those already started.
void parallel_for(int count, int threads, const std::function<void(int)>& job,
                  const std::function<void(int)>& after = {});

}  // namespace critlab
