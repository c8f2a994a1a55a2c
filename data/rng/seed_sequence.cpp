// SPDX-License-Identifier: BSD-3-Clause
// numpy SeedSequence: hash every entropy word into a 4-word pool, cross-mix the pool, then hash the pool cyclically
// into as many output words as asked. All arithmetic is on uint32 and wraps, as numpy's Cython code does.
#include "data/rng/seed_sequence.hpp"

#include <stdexcept>

namespace selectiv::data {
namespace {

// Constants of numpy's bit_generator.pyx (SeedSequence).
constexpr std::uint32_t kInitA = 0x43b0d7e5u;
constexpr std::uint32_t kMultA = 0x931e8875u;
constexpr std::uint32_t kInitB = 0x8b51f9ddu;
constexpr std::uint32_t kMultB = 0x58f38dedu;
constexpr std::uint32_t kMixMultL = 0xca01f9ddu;
constexpr std::uint32_t kMixMultR = 0x4973f715u;
constexpr unsigned kXShift = 16;  // half the bits of a uint32

// Hashes one word; the multiplier evolves with every call (hash_const is in-out).
std::uint32_t hash_word(std::uint32_t value, std::uint32_t& hash_const) {
  value ^= hash_const;
  hash_const *= kMultA;
  value *= hash_const;
  value ^= value >> kXShift;
  return value;
}

std::uint32_t mix_words(std::uint32_t x, std::uint32_t y) {
  std::uint32_t result = kMixMultL * x - kMixMultR * y;
  result ^= result >> kXShift;
  return result;
}

std::vector<std::uint32_t> words_of(std::uint64_t value) {
  if (value == 0) return {0u};
  std::vector<std::uint32_t> words;
  for (; value != 0; value >>= 32) words.push_back(static_cast<std::uint32_t>(value));
  return words;
}

}  // namespace

SeedSequence::SeedSequence(std::uint64_t seed) : SeedSequence(words_of(seed)) {}

SeedSequence::SeedSequence(std::vector<std::uint32_t> entropy) {
  if (entropy.empty()) throw std::invalid_argument("SeedSequence: empty entropy");
  std::uint32_t hash_const = kInitA;
  // 1. The first kPoolSize entropy words (zeros past the end) hashed into the pool.
  for (std::size_t i = 0; i < kPoolSize; ++i) {
    m_pool[i] = hash_word(i < entropy.size() ? entropy[i] : 0u, hash_const);
  }
  // 2. Every pool word mixed into every other one, so late words affect early ones.
  for (std::size_t src = 0; src < kPoolSize; ++src) {
    for (std::size_t dst = 0; dst < kPoolSize; ++dst) {
      if (src != dst) m_pool[dst] = mix_words(m_pool[dst], hash_word(m_pool[src], hash_const));
    }
  }
  // 3. Entropy words beyond the pool size mixed into every pool word.
  for (std::size_t src = kPoolSize; src < entropy.size(); ++src) {
    for (std::size_t dst = 0; dst < kPoolSize; ++dst) {
      m_pool[dst] = mix_words(m_pool[dst], hash_word(entropy[src], hash_const));
    }
  }
}

std::vector<std::uint32_t> SeedSequence::generate_state32(std::size_t n_words) const {
  std::vector<std::uint32_t> state(n_words);
  std::uint32_t hash_const = kInitB;
  for (std::size_t i = 0; i < n_words; ++i) {
    std::uint32_t value = m_pool[i % kPoolSize] ^ hash_const;
    hash_const *= kMultB;
    value *= hash_const;
    value ^= value >> kXShift;
    state[i] = value;
  }
  return state;
}

std::vector<std::uint64_t> SeedSequence::generate_state64(std::size_t n_words) const {
  const std::vector<std::uint32_t> words = generate_state32(2 * n_words);
  std::vector<std::uint64_t> state(n_words);
  for (std::size_t i = 0; i < n_words; ++i) {
    state[i] = static_cast<std::uint64_t>(words[2 * i]) | (static_cast<std::uint64_t>(words[2 * i + 1]) << 32);
  }
  return state;
}

std::vector<std::uint32_t> uint32_words_of_product(std::uint64_t a, std::uint64_t b) {
  // Schoolbook product of the 32-bit halves into four 32-bit words.
  const std::uint64_t a_words[2] = {a & 0xffffffffu, a >> 32};
  const std::uint64_t b_words[2] = {b & 0xffffffffu, b >> 32};
  std::uint32_t product[4] = {0, 0, 0, 0};
  for (int i = 0; i < 2; ++i) {
    std::uint64_t carry = 0;
    for (int j = 0; j < 2; ++j) {
      const std::uint64_t t = a_words[i] * b_words[j] + product[i + j] + carry;  // < 2^64, cannot overflow
      product[i + j] = static_cast<std::uint32_t>(t);
      carry = t >> 32;
    }
    product[i + 2] = static_cast<std::uint32_t>(carry);
  }
  std::vector<std::uint32_t> words(product, product + 4);
  while (words.size() > 1 && words.back() == 0) words.pop_back();
  return words;
}

}  // namespace selectiv::data
