// SPDX-License-Identifier: BSD-3-Clause
// The small matrix product a team computes from its scratch tiles (attention, SSD and delta-rule chunk kernels):
// store(i, j, sum_{x < K} a(i, x) * b(j, x)) for i < M, j < N, deterministic (fixed summation order). The operands
// and the store are callables, so a tile may be read transposed, scaled or masked on the fly.
#pragma once

#include "kernels/common/compat.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {

using TeamMember = Kokkos::TeamPolicy<Exec>::member_type;

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
KOKKOS_INLINE_FUNCTION void team_product(const TeamMember& team, int M, int N, int K, const OperandA& a,
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

}  // namespace selectiv
