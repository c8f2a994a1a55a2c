// SPDX-License-Identifier: BSD-3-Clause
// Batch expansion (reference-spec §2.8, §2.9): compact samples (per element: symbol, target, gap length; task-3
// distractor symbols as a ragged list) become the model's time series on the device, so the dense (B, T, V) input
// is never stored or copied from the host.
//
// Sample b, element e owns the window [start(b, e), start(b, e) + 1 + gap(b, e)), start(b, 0) = 0, windows back to
// back; the sample has steps(b) = E + sum_e gap(b, e) time steps. Within element e's window:
//   step start:            one-hot of symbol(b, e)
//   the gap(b, e) steps after it: all zeros, or (distractors) one-hot of the sample's next distractor symbols in order
//                          (element e's k-th distractor is distractor_symbol[offset[b] + start(b, e) - e + k])
//   every step:            target = target(b, e), mask = 1
// then noise * u is added to every entry (b, t, v) of every real step, with u in [0, 1) from
//   bits = Philox4x32-10(counter = {lo32(index), t, v / 4, (bits 32..47 of index) << 16 | 4 << 8 | split},
//                        key = {lo32(seed), hi32(seed)}),   u = (bits[v % 4] >> 8) * 2^-24,
// index = sample_index(b), the sample's generator index: the noise of a sample does not depend on its batch, its
// position in the batch, T, or the backend. Purpose 4 keeps these counters apart from the dataset generator's
// (data/tasks/counter_rng.hpp uses 1..3 in the same word). Steps t >= steps(b) are padding: inputs 0, target 0,
// mask 0 (as PadSequence pads after the noise was added).
#pragma once

#include <Random123/philox.h>

#include <cstdint>
#include <vector>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

struct ExpandParams {
  float noise = 0.0f;               // amplitude of the uniform noise (0: none)
  std::uint64_t seed = 0;           // dataset seed
  std::uint32_t split = 0;          // 0 train, 1 test, 2 heldout (keys the noise)
  bool gaps_are_distractors = false;  // task 3: gap steps show distractor symbols instead of zeros
};

// Expands B samples into T = inputs.extent(1) steps; T must be >= every sample's steps (throws
// std::invalid_argument otherwise, and for inconsistent shapes or ids out of range).
void expand_batch(const Exec& exec,
                  View3 inputs,                                    // (B, T, V) out
                  IView2 targets,                                  // (B, T) out
                  View2 mask,                                      // (B, T) out: 1 real step, 0 padding
                  IView2 window_start,                             // (B, E) out
                  IView2 window_length,                            // (B, E) out
                  DeviceView2<const int> symbol,                   // (B, E)
                  DeviceView2<const int> target,                   // (B, E)
                  DeviceView2<const int> gap,                      // (B, E)
                  DeviceView1<const std::int64_t> distractor_offset,  // (B + 1) into distractor_symbol
                  DeviceView1<const int> distractor_symbol,        // (M)
                  DeviceView1<const std::int64_t> sample_index,    // (B) generator index of each sample
                  const ExpandParams& params);

// The 4 x 32 noise bits of entries (t, 4 * block .. 4 * block + 3) of the sample with generator index `index`.
KOKKOS_INLINE_FUNCTION r123::Philox4x32::ctr_type expand_noise_bits(std::uint64_t seed, std::uint32_t split,
                                                                   std::int64_t index, std::int64_t t, int block) {
  const std::uint64_t i = static_cast<std::uint64_t>(index);
  const r123::Philox4x32::ctr_type counter = {
      {static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(block),
       static_cast<std::uint32_t>(((i >> 32) & 0xFFFFu) << 16) | (4u << 8) | split}};
  const r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  return r123::Philox4x32()(counter, key);
}

// The noise value u in [0, 1) of entry (t, v): (bits[v % 4] >> 8) * 2^-24 of block v / 4.
KOKKOS_INLINE_FUNCTION float expand_noise_uniform(std::uint64_t seed, std::uint32_t split, std::int64_t index,
                                                  std::int64_t t, int v) {
  return static_cast<float>(expand_noise_bits(seed, split, index, t, v / 4).v[v % 4] >> 8) * (1.0f / 16777216.0f);
}

// Host twin: serial, element by element, appending each element's steps as the reference's __getitem__ does.
// Vectors are row-major with the shapes of expand_batch; T is the padded length.
void expand_batch_reference(std::vector<float>& inputs,                // (B, T, V)
                            std::vector<int>& targets,                 // (B, T)
                            std::vector<float>& mask,                  // (B, T)
                            std::vector<int>& window_start,            // (B, E)
                            std::vector<int>& window_length,           // (B, E)
                            const std::vector<int>& symbol,            // (B, E)
                            const std::vector<int>& target,            // (B, E)
                            const std::vector<int>& gap,               // (B, E)
                            const std::vector<std::int64_t>& distractor_offset,  // (B + 1)
                            const std::vector<int>& distractor_symbol,           // (M)
                            const std::vector<std::int64_t>& sample_index,       // (B)
                            const ExpandParams& params, int B, int T, int E, int V);

}  // namespace selectiv::nn
