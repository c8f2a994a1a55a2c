// SPDX-License-Identifier: BSD-3-Clause
// The numpy.random.Generator methods the reference data generator calls, over PCG64, with numpy 1.17-1.26 (and 2.x)
// algorithms so that the same seed gives the same numbers:
//   default_rng(seed), random(), integers(low, high) (int64 default dtype, Lemire), permutation(n),
//   choice(pop_size, size, replace=False) without p.
#pragma once

#include <cstdint>
#include <vector>

#include "data/rng/pcg64.hpp"

namespace selectiv::data {

class NumpyGenerator {
 public:
  explicit NumpyGenerator(const SeedSequence& seed_sequence) : m_bits(seed_sequence) {}
  // numpy.random.default_rng(seed) for a non-negative Python int seed, here given as its 32-bit words (least
  // significant first; see uint32_words_of_product) or as a 64-bit value.
  static NumpyGenerator default_rng(std::uint64_t seed) { return NumpyGenerator(SeedSequence(seed)); }
  static NumpyGenerator default_rng(std::vector<std::uint32_t> seed_words) {
    return NumpyGenerator(SeedSequence(std::move(seed_words)));
  }

  // Generator.random(): 53-bit double in [0, 1).
  double random() { return m_bits.next_double(); }

  // Generator.integers(low, high) with size=None, dtype=int64, endpoint=False: uniform in [low, high).
  std::int64_t integers(std::int64_t low, std::int64_t high);
  // Generator.integers(low, high, size=n): the same draws as n scalar calls.
  std::vector<std::int64_t> integers(std::int64_t low, std::int64_t high, std::size_t size);

  // Generator.permutation(n) (= shuffle(arange(n))): Fisher-Yates from the back, index j by masked rejection.
  std::vector<std::int64_t> permutation(std::int64_t n);

  // Generator.choice(pop_size, size, replace=False, p=None, shuffle=shuffle): indices into the population.
  // Floyd's algorithm (then a Lemire Fisher-Yates shuffle of the result) unless pop_size > 10000 and size exceeds
  // pop_size / 50 (pop_size / 20 without shuffle), where numpy shuffles the tail of arange(pop_size) instead.
  std::vector<std::int64_t> choice_without_replacement(std::int64_t pop_size, std::int64_t size, bool shuffle = true);

  // numpy's random_bounded_uint64(off=0, rng, use_masked=false): uniform in [0, rng] (inclusive). Ranges that fit
  // in 32 bits use Lemire's method on next_uint32 (buffered halves), wider ranges on next_uint64.
  std::uint64_t bounded_uint64(std::uint64_t rng);
  // numpy's random_interval(max): uniform in [0, max] by masked rejection (32-bit draws when max fits 32 bits).
  std::uint64_t interval(std::uint64_t max);

  Pcg64& bit_generator() { return m_bits; }

 private:
  // In-place Fisher-Yates over data[first..n) from the back (numpy's _shuffle_int), j = bounded_uint64(i).
  void shuffle_int_lemire(std::vector<std::int64_t>& data, std::int64_t first);

  Pcg64 m_bits;
};

}  // namespace selectiv::data
