// Fast standard normal draws for work that needs very many of them: shrink-and-perturb adds a fresh
// N(0, s^2) to every parameter after every example (100,000 draws per step for a 784-100x3-10 MLP), where
// libtorch's normal_ (mt19937 and Box-Muller, about 4.4 ns a draw here) cost 8 to 24 training steps.
//
// The generator is xoshiro256++ (Blackman & Vigna, "Scrambled linear pseudorandom number generators", ACM
// TOMS 47, 2021), seeded through splitmix64; the normal draws are Marsaglia & Tsang's ziggurat (J. Stat.
// Softw. 5(8), 2000) with 256 layers in numpy's single-precision form: each 32-bit half of a 64-bit output
// gives 8 bits of layer, a sign bit and 23 bits of abscissa, so two float draws cost one generator step
// and, 99% of the time, a table lookup, a multiply and a compare. The rejections and the tail beyond
// r = 3.654 are exact (Marsaglia's tail method), so the draws are standard normal up to float32 resolution.
// tests/core/random_test.cpp checks the moments, the Kolmogorov-Smirnov distance to Phi and the tail.
#pragma once
#include <cstdint>

namespace critlab {

class NormalSampler {
 public:
  explicit NormalSampler(std::uint64_t seed);

  // n draws of mean + sd * Z into out.
  void fill(float* out, std::int64_t n, float mean, float sd);
  // out[i] += sd * Z_i: noise added in place, without a buffer of draws.
  void add(float* out, std::int64_t n, float sd);
  float next();  // one standard normal draw
  std::uint64_t next_u64();
  double uniform();  // in [0, 1), 53 bits

 private:
  template <typename Put>
  void each(std::int64_t n, Put&& put);
  std::uint64_t s_[4];
  std::uint32_t spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace critlab
