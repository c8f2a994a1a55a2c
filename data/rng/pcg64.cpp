// SPDX-License-Identifier: BSD-3-Clause
// PCG64 (O'Neill's pcg_setseq_128_xsl_rr_64) with portable 128-bit arithmetic on two uint64 halves.
#include "data/rng/pcg64.hpp"

#include <vector>

namespace selectiv::data {
namespace {

// PCG's default 128-bit multiplier.
constexpr Uint128 kMultiplier{2549297995355413924ULL, 4865540595714422341ULL};

// Full 64x64 -> 128-bit product.
Uint128 multiply_64(std::uint64_t x, std::uint64_t y) {
  const std::uint64_t x0 = x & 0xffffffffULL, x1 = x >> 32;
  const std::uint64_t y0 = y & 0xffffffffULL, y1 = y >> 32;
  const std::uint64_t p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
  const std::uint64_t middle = (p00 >> 32) + (p10 & 0xffffffffULL) + (p01 & 0xffffffffULL);
  return Uint128{p11 + (p10 >> 32) + (p01 >> 32) + (middle >> 32), (middle << 32) | (p00 & 0xffffffffULL)};
}

// a * b mod 2^128.
Uint128 multiply(Uint128 a, Uint128 b) {
#if defined(__SIZEOF_INT128__)
  // The compiler's 64x64 -> 128-bit multiply instruction; same value as the portable branch.
  __extension__ using uint128 = unsigned __int128;
  const uint128 low_product = static_cast<uint128>(a.low) * b.low;
  Uint128 product{static_cast<std::uint64_t>(low_product >> 64), static_cast<std::uint64_t>(low_product)};
#else
  Uint128 product = multiply_64(a.low, b.low);
#endif
  product.high += a.high * b.low + a.low * b.high;
  return product;
}

// a + b mod 2^128.
Uint128 add(Uint128 a, Uint128 b) {
  Uint128 sum{a.high + b.high, a.low + b.low};
  if (sum.low < b.low) ++sum.high;
  return sum;
}

std::uint64_t rotate_right(std::uint64_t value, unsigned rot) {
  return (value >> rot) | (value << ((64u - rot) & 63u));
}

}  // namespace

Pcg64::Pcg64(Uint128 initstate, Uint128 initseq) {
  m_state = Uint128{0, 0};
  m_inc = Uint128{(initseq.high << 1) | (initseq.low >> 63), (initseq.low << 1) | 1u};  // odd increment
  step();
  m_state = add(m_state, initstate);
  step();
}

Pcg64::Pcg64(const SeedSequence& seed_sequence)
    : Pcg64([&] {
        const std::vector<std::uint64_t> words = seed_sequence.generate_state64(4);
        return Pcg64(Uint128{words[0], words[1]}, Uint128{words[2], words[3]});
      }()) {}

void Pcg64::step() { m_state = add(multiply(m_state, kMultiplier), m_inc); }

std::uint64_t Pcg64::next_uint64() {
  step();
  return rotate_right(m_state.high ^ m_state.low, static_cast<unsigned>(m_state.high >> 58));
}

std::uint32_t Pcg64::next_uint32() {
  if (m_has_uint32) {
    m_has_uint32 = false;
    return m_uinteger;
  }
  const std::uint64_t next = next_uint64();
  m_has_uint32 = true;
  m_uinteger = static_cast<std::uint32_t>(next >> 32);
  return static_cast<std::uint32_t>(next);
}

double Pcg64::next_double() { return static_cast<double>(next_uint64() >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace selectiv::data
