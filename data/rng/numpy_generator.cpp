// SPDX-License-Identifier: BSD-3-Clause
// numpy Generator methods over PCG64 (numpy/random/_generator.pyx, _bounded_integers.pyx.in and
// src/distributions/distributions.c semantics; reimplemented, not copied).
#include "data/rng/numpy_generator.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_set>
#include <utility>

namespace selectiv::data {
namespace {

// Lemire's nearly-divisionless bounded draw in [0, rng] from 32-bit words (rng < 2^32 - 1).
std::uint32_t lemire_uint32(Pcg64& bits, std::uint32_t rng) {
  const std::uint32_t rng_excl = rng + 1;
  std::uint64_t m = static_cast<std::uint64_t>(bits.next_uint32()) * rng_excl;
  std::uint32_t leftover = static_cast<std::uint32_t>(m);
  if (leftover < rng_excl) {
    const std::uint32_t threshold = (0xffffffffu - rng) % rng_excl;  // 2^32 mod rng_excl
    while (leftover < threshold) {
      m = static_cast<std::uint64_t>(bits.next_uint32()) * rng_excl;
      leftover = static_cast<std::uint32_t>(m);
    }
  }
  return static_cast<std::uint32_t>(m >> 32);
}

// High and low 64-bit halves of x * y.
std::pair<std::uint64_t, std::uint64_t> multiply_64(std::uint64_t x, std::uint64_t y) {
  const std::uint64_t x0 = x & 0xffffffffULL, x1 = x >> 32;
  const std::uint64_t y0 = y & 0xffffffffULL, y1 = y >> 32;
  const std::uint64_t p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
  const std::uint64_t middle = (p00 >> 32) + (p10 & 0xffffffffULL) + (p01 & 0xffffffffULL);
  return {p11 + (p10 >> 32) + (p01 >> 32) + (middle >> 32), (middle << 32) | (p00 & 0xffffffffULL)};
}

// Lemire's bounded draw in [0, rng] from 64-bit words (2^32 - 1 < rng < 2^64 - 1).
std::uint64_t lemire_uint64(Pcg64& bits, std::uint64_t rng) {
  const std::uint64_t rng_excl = rng + 1;
  auto m = multiply_64(bits.next_uint64(), rng_excl);
  if (m.second < rng_excl) {
    const std::uint64_t threshold = (~std::uint64_t{0} - rng) % rng_excl;
    while (m.second < threshold) m = multiply_64(bits.next_uint64(), rng_excl);
  }
  return m.first;
}

}  // namespace

std::uint64_t NumpyGenerator::bounded_uint64(std::uint64_t rng) {
  if (rng == 0) return 0;
  if (rng < 0xffffffffULL) return lemire_uint32(m_bits, static_cast<std::uint32_t>(rng));
  if (rng == 0xffffffffULL) return m_bits.next_uint32();
  if (rng == ~std::uint64_t{0}) return m_bits.next_uint64();
  return lemire_uint64(m_bits, rng);
}

std::uint64_t NumpyGenerator::interval(std::uint64_t max) {
  if (max == 0) return 0;
  std::uint64_t mask = max;  // smallest all-ones mask >= max
  for (unsigned shift = 1; shift < 64; shift *= 2) mask |= mask >> shift;
  std::uint64_t value = 0;
  if (max <= 0xffffffffULL) {
    do value = m_bits.next_uint32() & mask; while (value > max);
  } else {
    do value = m_bits.next_uint64() & mask; while (value > max);
  }
  return value;
}

std::int64_t NumpyGenerator::integers(std::int64_t low, std::int64_t high) {
  if (low >= high) throw std::invalid_argument("integers: low >= high");
  // The closed range [low, high - 1], as numpy's _rand_int64 forms it (unsigned, so no overflow).
  const std::uint64_t rng = static_cast<std::uint64_t>(high) - 1u - static_cast<std::uint64_t>(low);
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + bounded_uint64(rng));
}

std::vector<std::int64_t> NumpyGenerator::integers(std::int64_t low, std::int64_t high, std::size_t size) {
  std::vector<std::int64_t> out(size);
  for (auto& value : out) value = integers(low, high);
  return out;
}

std::vector<std::int64_t> NumpyGenerator::permutation(std::int64_t n) {
  if (n < 0) throw std::invalid_argument("permutation: negative n");
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<std::int64_t>(interval(static_cast<std::uint64_t>(i)));
    std::swap(values[static_cast<std::size_t>(i)], values[static_cast<std::size_t>(j)]);
  }
  return values;
}

void NumpyGenerator::shuffle_int_lemire(std::vector<std::int64_t>& data, std::int64_t first) {
  for (auto i = static_cast<std::int64_t>(data.size()) - 1; i >= first; --i) {
    const auto j = static_cast<std::int64_t>(bounded_uint64(static_cast<std::uint64_t>(i)));
    std::swap(data[static_cast<std::size_t>(i)], data[static_cast<std::size_t>(j)]);
  }
}

std::vector<std::int64_t> NumpyGenerator::choice_without_replacement(std::int64_t pop_size, std::int64_t size,
                                                                     bool shuffle) {
  if (pop_size < 0 || size < 0 || size > pop_size) {
    throw std::invalid_argument("choice: need 0 <= size <= pop_size without replacement");
  }
  const std::int64_t cutoff = shuffle ? 50 : 20;
  if (pop_size > 10000 && size > pop_size / cutoff) {
    // Tail shuffle: shuffle positions pop_size-1 .. max(pop_size-size, 1) of arange, keep the last `size`.
    std::vector<std::int64_t> all(static_cast<std::size_t>(pop_size));
    for (std::int64_t i = 0; i < pop_size; ++i) all[static_cast<std::size_t>(i)] = i;
    shuffle_int_lemire(all, std::max<std::int64_t>(pop_size - size, 1));
    return std::vector<std::int64_t>(all.end() - size, all.end());
  }
  // Floyd's algorithm: for j = pop_size-size .. pop_size-1 take a draw in [0, j], or j itself when the draw was
  // already taken. numpy keeps the taken values in an open-addressing hash set; only membership matters.
  std::vector<std::int64_t> chosen;
  chosen.reserve(static_cast<std::size_t>(size));
  std::unordered_set<std::int64_t> taken;
  for (std::int64_t j = pop_size - size; j < pop_size; ++j) {
    const auto value = static_cast<std::int64_t>(bounded_uint64(static_cast<std::uint64_t>(j)));
    const bool fresh = taken.insert(value).second;
    if (!fresh) taken.insert(j);  // j itself was never drawable before (earlier draws are < j)
    chosen.push_back(fresh ? value : j);
  }
  if (shuffle) shuffle_int_lemire(chosen, 1);
  return chosen;
}

}  // namespace selectiv::data
