// SPDX-License-Identifier: BSD-3-Clause
// The small matrix product a team computes from its scratch tiles (attention and SSD chunk kernels):
// store(i, j, sum_{x < K} a(i, x) * b(j, x)) for i < M, j < N, deterministic (fixed summation order). The operands
// and the store are callables, so a tile may be read transposed, scaled or masked on the fly.
//
// Two kinds of arithmetic (TileMath): fp32 (IEEE multiply-adds, register-blocked) and tf32 (operands rounded to tf32,
// products summed in fp32). On CUDA (sm_80 and newer) the tf32 product runs on the tensor cores, one warp per 16 x 8
// output tile (mma.sync m16n8k8); elsewhere the register-blocked product runs on the rounded operands, which is the
// same arithmetic up to the order of the fp32 sums. The kernels take the tile math that follows the matmul precision
// (current_tile_math): fp32 in fp32 runs, tf32 in tf32 and bf16 runs.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/common/compat.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/common/views.hpp"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define SELECTIV_TEAM_PRODUCT_MMA 1
#endif

namespace selectiv {

using TeamMember = Kokkos::TeamPolicy<Exec>::member_type;

// x rounded to tf32 (10 mantissa bits; to nearest, ties away from zero, as cvt.rna.tf32.f32), as a float.
KOKKOS_INLINE_FUNCTION float round_to_tf32(float x) {
#ifdef SELECTIV_TEAM_PRODUCT_MMA
  std::uint32_t bits;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(bits) : "f"(x));
  return __uint_as_float(bits);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;  // inf and nan stay
  std::memcpy(&x, &bits, sizeof bits);
  return x;
#endif
}

// Each thread owns Block x Block outputs in registers, so every operand it loads feeds Block multiply-adds instead
// of one (these products are bound by scratch loads, not arithmetic). A thread's outputs are interleaved (rows i0,
// i0 + M/Block, ...; columns likewise), so neighbouring threads read neighbouring rows of b (distinct banks) and
// store neighbouring columns (coalesced). Every operand index stays inside [0, M) x [0, K) and [0, N) x [0, K).
template <int Block, class OperandA, class OperandB, class Store>
KOKKOS_INLINE_FUNCTION void blocked_team_product(const TeamMember& team, int M, int N, int K, const OperandA& a,
                                                 const OperandB& b, const Store& store) {
  const int row_groups = (M + Block - 1) / Block, col_groups = (N + Block - 1) / Block;
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, row_groups * col_groups), [&](const int group) {
    const int i0 = group / col_groups, j0 = group % col_groups;
    int rows[Block], cols[Block];
    for (int u = 0; u < Block; ++u) {
      rows[u] = kc::min(i0 + u * row_groups, M - 1);
      cols[u] = kc::min(j0 + u * col_groups, N - 1);
    }
    float acc[Block][Block] = {};
    for (int x = 0; x < K; ++x) {
      float a_x[Block], b_x[Block];
      for (int u = 0; u < Block; ++u) a_x[u] = a(rows[u], x);
      for (int w = 0; w < Block; ++w) b_x[w] = b(cols[w], x);
      for (int u = 0; u < Block; ++u)
        for (int w = 0; w < Block; ++w) acc[u][w] += a_x[u] * b_x[w];
    }
    for (int u = 0; u < Block; ++u) {
      const int i = i0 + u * row_groups;
      if (i >= M) continue;
      for (int w = 0; w < Block; ++w) {
        const int j = j0 + w * col_groups;
        if (j < N) store(i, j, acc[u][w]);
      }
    }
  });
}

// The largest register block (4 or 2) that still gives every thread of the team an output group; 1 otherwise.
template <class OperandA, class OperandB, class Store>
KOKKOS_INLINE_FUNCTION void fp32_team_product(const TeamMember& team, int M, int N, int K, const OperandA& a,
                                              const OperandB& b, const Store& store) {
  const int threads = team.team_size();
  if (((M + 3) / 4) * ((N + 3) / 4) >= threads) {
    blocked_team_product<4>(team, M, N, K, a, b, store);
  } else if (((M + 1) / 2) * ((N + 1) / 2) >= threads) {
    blocked_team_product<2>(team, M, N, K, a, b, store);
  } else {
    blocked_team_product<1>(team, M, N, K, a, b, store);
  }
}

#ifdef SELECTIV_TEAM_PRODUCT_MMA
// One warp per 16 x (8 Blocks) output tile: per 8-wide step of x, the warp's A fragment (16 x 8) feeds Blocks
// mma.sync.m16n8k8 tf32 instructions, one per 8-column block. Fragment layout (PTX ISA, mma.m16n8k8 .tf32): lane =
// 4 g + t holds a(g | g + 8, t | t + 4), b(col g, t | t + 4) and the outputs (g | g + 8, 2 t | 2 t + 1). Operands
// outside [0, M) x [0, K) and [0, N) x [0, K) read as 0 and are never evaluated. Needs warps of 32 consecutive team
// ranks (vector length 1).
template <int Blocks, class OperandA, class OperandB, class Store>
__device__ void mma_team_product(const TeamMember& team, int M, int N, int K, const OperandA& a, const OperandB& b,
                                 const Store& store) {
  const int lane = team.team_rank() % 32, warp = team.team_rank() / 32, warps = team.team_size() / 32;
  const int g = lane / 4, t = lane % 4;
  const int row_tiles = (M + 15) / 16, col_tiles = (N + 8 * Blocks - 1) / (8 * Blocks);
  auto bits = [](float x) { return __float_as_uint(round_to_tf32(x)); };
  for (int tile = warp; tile < row_tiles * col_tiles; tile += warps) {
    const int r0 = (tile / col_tiles) * 16 + g, r1 = r0 + 8, j0 = (tile % col_tiles) * 8 * Blocks;
    float acc[Blocks][4] = {};
    for (int x0 = 0; x0 < K; x0 += 8) {
      const int x_lo = x0 + t, x_hi = x0 + t + 4;
      const bool lo = x_lo < K, hi = x_hi < K;
      const std::uint32_t a0 = bits(r0 < M && lo ? a(r0, x_lo) : 0.0f), a1 = bits(r1 < M && lo ? a(r1, x_lo) : 0.0f),
                          a2 = bits(r0 < M && hi ? a(r0, x_hi) : 0.0f), a3 = bits(r1 < M && hi ? a(r1, x_hi) : 0.0f);
      for (int u = 0; u < Blocks; ++u) {
        if (j0 + 8 * u >= N) break;  // the same for the whole warp
        const int col = j0 + 8 * u + g;
        const std::uint32_t b0 = bits(col < N && lo ? b(col, x_lo) : 0.0f),
                            b1 = bits(col < N && hi ? b(col, x_hi) : 0.0f);
        asm volatile(
            "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};\n"
            : "+f"(acc[u][0]), "+f"(acc[u][1]), "+f"(acc[u][2]), "+f"(acc[u][3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
      }
    }
    for (int u = 0; u < Blocks; ++u) {
      const int col = j0 + 8 * u + 2 * t;
      if (r0 < M && col < N) store(r0, col, acc[u][0]);
      if (r0 < M && col + 1 < N) store(r0, col + 1, acc[u][1]);
      if (r1 < M && col < N) store(r1, col, acc[u][2]);
      if (r1 < M && col + 1 < N) store(r1, col + 1, acc[u][3]);
    }
  }
}
#endif

// store(i, j, sum_x a(i, x) b(j, x)) in the given tile math. tf32 on a CUDA team of whole warps: tensor cores, with
// the widest warp tile (16 x 32, 16 x 16 or 16 x 8) that still gives every warp a tile; elsewhere the
// register-blocked product of the tf32-rounded operands.
template <class OperandA, class OperandB, class Store>
KOKKOS_INLINE_FUNCTION void team_product(const TeamMember& team, TileMath math, int M, int N, int K, const OperandA& a,
                                         const OperandB& b, const Store& store) {
  if (math == TileMath::kFp32) {
    fp32_team_product(team, M, N, K, a, b, store);
    return;
  }
#ifdef SELECTIV_TEAM_PRODUCT_MMA
  if (team.team_size() % 32 == 0) {
    const int warps = team.team_size() / 32, row_tiles = (M + 15) / 16;
    if (row_tiles * ((N + 31) / 32) >= warps) {
      mma_team_product<4>(team, M, N, K, a, b, store);
    } else if (row_tiles * ((N + 15) / 16) >= warps) {
      mma_team_product<2>(team, M, N, K, a, b, store);
    } else {
      mma_team_product<1>(team, M, N, K, a, b, store);
    }
    return;
  }
#endif
  fp32_team_product(
      team, M, N, K, [&](int i, int x) { return round_to_tf32(a(i, x)); },
      [&](int j, int x) { return round_to_tf32(b(j, x)); }, store);
}

}  // namespace selectiv
