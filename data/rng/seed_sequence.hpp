// SPDX-License-Identifier: BSD-3-Clause
// numpy.random.SeedSequence (numpy >= 1.17, unchanged through 1.24 and 2.x) for a non-negative integer seed: the
// entropy pool mixing and generate_state(), which is how numpy.random.default_rng(seed) seeds its PCG64.
#pragma once

#include <cstdint>
#include <vector>

namespace selectiv::data {

class SeedSequence {
 public:
  // Entropy as numpy's _coerce_to_uint32_array makes it from a Python int: 32-bit words, least significant first
  // ([0] for the int 0). No spawn key (the default_rng(seed) case).
  explicit SeedSequence(std::vector<std::uint32_t> entropy_words);
  // SeedSequence(seed) for a Python int seed that fits in 64 bits.
  explicit SeedSequence(std::uint64_t seed);

  // generate_state(n_words, dtype=np.uint32).
  std::vector<std::uint32_t> generate_state32(std::size_t n_words) const;
  // generate_state(n_words, dtype=np.uint64): twice as many 32-bit words, paired little-endian.
  std::vector<std::uint64_t> generate_state64(std::size_t n_words) const;

  static constexpr std::size_t kPoolSize = 4;  // numpy's DEFAULT_POOL_SIZE

 private:
  std::uint32_t m_pool[kPoolSize];
};

// The Python int a*b (exact, up to 128 bits) as numpy splits an int into 32-bit entropy words, least significant
// first. The reference seeds every sample with default_rng(seed * idx).
std::vector<std::uint32_t> uint32_words_of_product(std::uint64_t a, std::uint64_t b);

}  // namespace selectiv::data
