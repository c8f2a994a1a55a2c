// SPDX-License-Identifier: BSD-3-Clause
// numpy.random.PCG64 (numpy >= 1.17): a 128-bit LCG with the XSL-RR 64-bit output, seeded from a SeedSequence the
// way numpy's PCG64(seed) is, and numpy's next_uint32 buffering (one 64-bit draw serves two 32-bit draws, low half
// first; the spare half is kept across calls).
#pragma once

#include <cstdint>

#include "data/rng/seed_sequence.hpp"

namespace selectiv::data {

struct Uint128 {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
};

class Pcg64 {
 public:
  // numpy.random.PCG64(seed_sequence): generate_state(4, uint64) -> state seed (words 0,1) and stream (words 2,3).
  explicit Pcg64(const SeedSequence& seed_sequence);
  // pcg_setseq_128_srandom_r(initstate, initseq) of the PCG reference; as numpy's pcg64_set_seed.
  Pcg64(Uint128 initstate, Uint128 initseq);

  std::uint64_t next_uint64();   // step, then XSL-RR of the new state
  std::uint32_t next_uint32();   // buffered halves of next_uint64
  double next_double();          // (next_uint64 >> 11) * 2^-53, in [0, 1)

  Uint128 state() const { return m_state; }       // as PCG64().state['state']['state']
  Uint128 increment() const { return m_inc; }     // as PCG64().state['state']['inc']
  bool has_uint32() const { return m_has_uint32; }
  std::uint32_t buffered_uint32() const { return m_uinteger; }

 private:
  void step();

  Uint128 m_state;
  Uint128 m_inc;
  bool m_has_uint32 = false;
  std::uint32_t m_uinteger = 0;
};

}  // namespace selectiv::data
