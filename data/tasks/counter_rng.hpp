// SPDX-License-Identifier: BSD-3-Clause
// The counter-based draws of dataset generation: every gap, gap length and distractor is a pure function of
// (seed, purpose, split, sample index, element, draw number), never of global state, thread count or order.
//
// Exactly: bits = Philox4x32-10(counter = {lo32(sample), element, draw / 2, hi16(sample) << 16 | purpose << 8 |
// split}, key = {lo32(seed), hi32(seed)}); with a = bits[2 * (draw % 2)], b = bits[2 * (draw % 2) + 1],
// u = (((a << 32) | b) >> 11) * 2^-53, a double in [0, 1) with 53 random bits.
#pragma once

#include <Random123/philox.h>

#include <cstdint>

#include "data/tasks/task_spec.hpp"

namespace selectiv::data {

enum class DrawPurpose : std::uint8_t {
  kGapOccurs = 1,   // does element e have a gap (gap_prob)
  kGapLength = 2,   // the delay U(train_gap_min, train_gap_max)
  kDistractor = 3,  // which forbidden symbol fills distractor step k of element e
};

inline double counter_uniform(std::uint64_t seed, DrawPurpose purpose, Split split, std::int64_t sample,
                              std::int64_t element, std::uint32_t draw) {
  const std::uint64_t s = static_cast<std::uint64_t>(sample);
  const r123::Philox4x32::ctr_type counter = {
      {static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(element), draw / 2,
       static_cast<std::uint32_t>(((s >> 32) & 0xFFFFu) << 16) |
           (static_cast<std::uint32_t>(purpose) << 8) | static_cast<std::uint32_t>(split)}};
  const r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  const r123::Philox4x32::ctr_type bits = r123::Philox4x32()(counter, key);
  const unsigned half = 2 * (draw % 2);
  const std::uint64_t word = (static_cast<std::uint64_t>(bits.v[half]) << 32) | bits.v[half + 1];
  return static_cast<double>(word >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace selectiv::data
