// SPDX-License-Identifier: BSD-3-Clause
// MT19937 (Matsumoto & Nishimura 2002 reference algorithm, as CPython's _randommodule.c uses it) and the parts of
// CPython's random.py built on it. Reimplemented from the published algorithms.
#include "data/rng/python_random.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace selectiv::data {

void PythonRandom::init_genrand(std::uint32_t s) {
  m_mt[0] = s;
  for (int i = 1; i < kN; ++i) {
    m_mt[i] = 1812433253u * (m_mt[i - 1] ^ (m_mt[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  }
  m_index = kN;
}

void PythonRandom::init_by_array(const std::vector<std::uint32_t>& key) {
  init_genrand(19650218u);
  int i = 1;
  std::size_t j = 0;
  for (std::size_t k = std::max<std::size_t>(kN, key.size()); k > 0; --k) {
    m_mt[i] = (m_mt[i] ^ ((m_mt[i - 1] ^ (m_mt[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<std::uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      m_mt[0] = m_mt[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    m_mt[i] = (m_mt[i] ^ ((m_mt[i - 1] ^ (m_mt[i - 1] >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
    ++i;
    if (i >= kN) {
      m_mt[0] = m_mt[kN - 1];
      i = 1;
    }
  }
  m_mt[0] = 0x80000000u;  // non-zero initial state
}

void PythonRandom::seed_with(std::uint64_t seed) {
  // The int's 32-bit words, least significant first; the int 0 is one zero word.
  std::vector<std::uint32_t> key;
  for (std::uint64_t rest = seed; rest != 0; rest >>= 32) key.push_back(static_cast<std::uint32_t>(rest));
  if (key.empty()) key.push_back(0u);
  init_by_array(key);
}

void PythonRandom::regenerate() {
  constexpr int kM = 397;
  constexpr std::uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;
  for (int k = 0; k < kN; ++k) {
    const std::uint32_t y = (m_mt[k] & kUpper) | (m_mt[(k + 1) % kN] & kLower);
    m_mt[k] = m_mt[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? kMatrixA : 0u);
  }
  m_index = 0;
}

std::uint32_t PythonRandom::next_uint32() {
  if (m_index >= kN) regenerate();
  std::uint32_t y = m_mt[m_index++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

std::uint64_t PythonRandom::getrandbits(int k) {
  if (k < 0 || k > 64) throw std::invalid_argument("getrandbits: k must be in [0, 64]");
  if (k == 0) return 0;
  if (k <= 32) return next_uint32() >> (32 - k);
  // 32-bit words from least to most significant; the last word keeps only its top (k - 32) bits.
  const std::uint64_t low = next_uint32();
  const std::uint64_t high = next_uint32() >> (64 - k);
  return low | (high << 32);
}

std::uint64_t PythonRandom::randbelow(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("randbelow: n must be positive");
  int bits = 0;  // n.bit_length()
  for (std::uint64_t rest = n; rest != 0; rest >>= 1) ++bits;
  std::uint64_t r = getrandbits(bits);
  while (r >= n) r = getrandbits(bits);
  return r;
}

std::vector<std::size_t> PythonRandom::sample_indices(std::size_t n, std::size_t k) {
  if (k > n) throw std::invalid_argument("sample: sample larger than population");
  std::vector<std::size_t> result(k);
  // CPython picks the cheaper bookkeeping: a copy of the population when it is smaller than a k-element set.
  std::size_t set_size = 21;
  if (k > 5) {
    set_size += static_cast<std::size_t>(
        std::pow(4.0, std::ceil(std::log(static_cast<double>(k) * 3.0) / std::log(4.0))));
  }
  if (n <= set_size) {
    // Partial Fisher-Yates: pool[0, n-i) holds the not yet selected items.
    std::vector<std::size_t> pool(n);
    for (std::size_t i = 0; i < n; ++i) pool[i] = i;
    for (std::size_t i = 0; i < k; ++i) {
      const auto j = static_cast<std::size_t>(randbelow(n - i));
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    // Rejection against the set of indices selected so far.
    std::unordered_set<std::size_t> selected;
    for (std::size_t i = 0; i < k; ++i) {
      auto j = static_cast<std::size_t>(randbelow(n));
      while (selected.count(j) != 0) j = static_cast<std::size_t>(randbelow(n));
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

}  // namespace selectiv::data
