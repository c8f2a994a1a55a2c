// SPDX-License-Identifier: BSD-3-Clause
// Quad: four consecutive floats, loaded and stored with one 16-byte access per thread on a GPU where the address
// allows it. A scalar 4-byte load per thread reaches about 40 % of an H200's bandwidth, 16 bytes per thread all of it
// (docs: kokkos.md §4.3), so the memory-bound row kernels (norms) move their rows a quad per lane.
#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <initializer_list>

#include "kernels/common/views.hpp"

namespace kc {

struct alignas(16) Quad {
  float v[4];
};

// The quads that cover n floats (the last one partial when n is not a multiple of 4).
KOKKOS_INLINE_FUNCTION int quad_count(int n) { return (n + 3) / 4; }

KOKKOS_INLINE_FUNCTION float dot(const Quad& a, const Quad& b) {
  return a.v[0] * b.v[0] + a.v[1] * b.v[1] + a.v[2] * b.v[2] + a.v[3] * b.v[3];
}

// The rows of one operand of a row kernel: where they start and how many floats apart they lie (0: rows `width`
// floats apart, as in a contiguous tensor, or a single row).
struct QuadRows {
  const float* data;
  std::int64_t stride;
  QuadRows(const float* data_, std::int64_t stride_ = 0) : data(data_), stride(stride_) {}  // NOLINT: implicit
};

// True when rows of `width` floats move in whole 16-byte quads: `width` a multiple of 4, and every operand's data at a
// 16-byte boundary with a row stride of a multiple of 4 floats. An absent operand (null data) counts as aligned.
inline bool quads_aligned(std::int64_t width, std::initializer_list<QuadRows> operands) {
  if (width % 4 != 0) return false;
  for (const QuadRows& rows : operands)
    if (reinterpret_cast<std::uintptr_t>(rows.data) % 16 != 0 || rows.stride % 4 != 0) return false;
  return true;
}

// p[0 .. valid-1] (valid may exceed 4: the first four), 0 past `valid`. One 16-byte load on a GPU when `aligned`
// (p at a multiple of 4 floats of quads_aligned rows) and all four are valid.
KOKKOS_INLINE_FUNCTION Quad load_quad(const float* p, int valid, bool aligned) {
  Quad q;
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  if (aligned && valid >= 4) return *reinterpret_cast<const Quad*>(p);
#else
  (void)aligned;
#endif
  for (int i = 0; i < 4; ++i) q.v[i] = i < valid ? p[i] : 0.0f;
  return q;
}

// p[i] = q.v[i] for i < min(valid, 4); one 16-byte store on a GPU under the conditions of load_quad.
KOKKOS_INLINE_FUNCTION void store_quad(float* p, const Quad& q, int valid, bool aligned) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  if (aligned && valid >= 4) {
    *reinterpret_cast<Quad*>(p) = q;
    return;
  }
#else
  (void)aligned;
#endif
  for (int i = 0; i < 4 && i < valid; ++i) p[i] = q.v[i];
}

// One vector of lanes per row or group of a row kernel that reads a quad per lane, several per team (the lambda takes
// its item from nn::detail::vector_item): on a GPU the vector is the smallest power of two of lanes, up to a warp,
// that covers `quads` quads (16 lanes for a 64-float group; the reductions are warp shuffles), 256 threads a team; on
// a CPU one lane per item.
inline Kokkos::TeamPolicy<selectiv::Exec> quads_per_item(const selectiv::Exec& exec, int items, int quads) {
  using Policy = Kokkos::TeamPolicy<selectiv::Exec>;
  constexpr bool on_host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, selectiv::Exec::memory_space>::accessible;
  if (on_host) return Policy(exec, items, 1, 1);
  int lanes = 1;
  while (lanes < quads && lanes < 32) lanes *= 2;
  const int per_team = 256 / lanes;
  return Policy(exec, (items + per_team - 1) / per_team, per_team, lanes);
}

}  // namespace kc
