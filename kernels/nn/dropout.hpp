// SPDX-License-Identifier: BSD-3-Clause
// Dropout with a counter-based mask: element i of the call (seed, stream) is kept or dropped by a pure function of
// (seed, stream, i), so the mask does not depend on backend, thread count or launch shape, and the backward
// regenerates it instead of storing it.
//
// The mask, exactly (the host twin dropout_reference_* in reference_train.hpp computes the same thing per element):
//   block = i / 4, word = i % 4
//   bits  = Philox4x32-10(counter = {lo32(block), hi32(block), lo32(stream), hi32(stream)},
//                         key     = {lo32(seed), hi32(seed)})            (Random123's r123::Philox4x32)
//   element i is dropped  <=>  bits[word] < p * 2^32   (so P(drop) = ceil(p * 2^32) / 2^32, exact for p = 0 and 1)
//   kept elements are scaled by 1 / (1 - p), as torch.nn.functional.dropout in training mode.
// `stream` separates the calls that share one seed (for example update * n_sites + site); a caller that reuses
// (seed, stream) for two tensors gets the same mask on their common prefix.
#pragma once

#include <Random123/philox.h>

#include <cstdint>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

// y = x * keep / (1 - p), elementwise over the flat index i. y may be x itself (in place). 0 <= p <= 1; p = 1
// drops everything (y = 0).
void dropout_fwd(const Exec& exec, View1 y /*(n)*/, CView1 x /*(n)*/, float p, std::uint64_t seed,
                 std::uint64_t stream);
// dx = dy * keep / (1 - p) with the mask of the forward call (seed, stream). dx may be dy itself.
void dropout_bwd(const Exec& exec, View1 dx /*(n)*/, CView1 dy /*(n)*/, float p, std::uint64_t seed,
                 std::uint64_t stream);

// The same on a contiguous (B, T, D) activation, flat index i = (b * T + t) * D + d.
void dropout_fwd(const Exec& exec, View3 y /*(B, T, D)*/, CView3 x /*(B, T, D)*/, float p, std::uint64_t seed,
                 std::uint64_t stream);
void dropout_bwd(const Exec& exec, View3 dx /*(B, T, D)*/, CView3 dy /*(B, T, D)*/, float p, std::uint64_t seed,
                 std::uint64_t stream);

namespace detail {

// The 4 x 32 random bits of mask block `block` (elements 4*block .. 4*block+3) of the call (seed, stream).
KOKKOS_INLINE_FUNCTION r123::Philox4x32::ctr_type dropout_block_bits(std::uint64_t seed, std::uint64_t stream,
                                                                     std::uint64_t block) {
  const r123::Philox4x32::ctr_type counter = {
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), static_cast<std::uint32_t>(stream),
       static_cast<std::uint32_t>(stream >> 32)}};
  const r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  return r123::Philox4x32()(counter, key);
}

}  // namespace detail
}  // namespace selectiv::nn
