// SPDX-License-Identifier: BSD-3-Clause
// CPython's `random` module as the reference grammar generator uses it: random.seed(int) (MT19937 init_by_array
// over the int's 32-bit words), getrandbits(k), _randbelow(n) (getrandbits rejection) and random.sample(population,
// k) (the pool/set algorithm; the same outputs in CPython 3.6 to 3.13, checked).
#pragma once

#include <cstdint>
#include <vector>

namespace selectiv::data {

class PythonRandom {
 public:
  // random.Random(seed) / random.seed(seed) for a non-negative int seed (CPython seeds with abs(seed)).
  explicit PythonRandom(std::uint64_t seed) { seed_with(seed); }
  void seed_with(std::uint64_t seed);

  std::uint32_t next_uint32();            // MT19937 genrand_uint32 (tempered)
  std::uint64_t getrandbits(int k);       // random.getrandbits(k), 0 <= k <= 64
  std::uint64_t randbelow(std::uint64_t n);  // random._randbelow(n), n >= 1: uniform in [0, n)

  // random.sample(range(n), k): k distinct indices into a population of n, in selection order.
  std::vector<std::size_t> sample_indices(std::size_t n, std::size_t k);
  // random.sample(population, k).
  template <typename T>
  std::vector<T> sample(const std::vector<T>& population, std::size_t k) {
    std::vector<T> result;
    result.reserve(k);
    for (std::size_t index : sample_indices(population.size(), k)) result.push_back(population[index]);
    return result;
  }

 private:
  static constexpr int kN = 624;
  void init_genrand(std::uint32_t s);
  void init_by_array(const std::vector<std::uint32_t>& key);
  void regenerate();

  std::uint32_t m_mt[kN];
  int m_index = kN + 1;
};

}  // namespace selectiv::data
