// SPDX-License-Identifier: BSD-3-Clause
// How a team copies a rows x cols block from global memory into its scratch tiles (attention, SSD and GLA chunk
// kernels): put(r, f, get(r, f)) for r < rows, f < cols. Consecutive threads take consecutive f, so
// when f is the contiguous index of the global source the loads are coalesced.
#pragma once

#include <type_traits>

#include "kernels/common/compat.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {

// Loads a thread issues before it stores any of them. The scratch stores go through generic pointers that the
// compiler cannot tell apart from the global loads, so a plain load-store loop waits out each load's latency in turn
// (measured on an H200: the training step of Gated DeltaNet at d = 256, whose delta-rule kernels staged their tiles
// then, went from 90.3 to 79.0 ms with 4).
constexpr int kTeamStageBatch = 4;

// Each thread walks its elements r * cols + f in steps of the team size, advancing (r, f) without an integer
// division per element, and loads kTeamStageBatch elements before it stores them.
template <class Member, class Get, class Put>
KOKKOS_INLINE_FUNCTION void team_stage(const Member& team, int rows, int cols, const Get& get, const Put& put) {
  if (rows <= 0 || cols <= 0) return;
  const int threads = team.team_size(), row_step = threads / cols, col_step = threads % cols;
  using Value = std::decay_t<decltype(get(0, 0))>;
  int r = team.team_rank() / cols, f = team.team_rank() % cols;
  while (r < rows) {
    Value values[kTeamStageBatch];
    int at_r[kTeamStageBatch], at_f[kTeamStageBatch];
    for (int u = 0; u < kTeamStageBatch; ++u) {
      at_r[u] = r;
      at_f[u] = f;
      values[u] = r < rows ? get(r, f) : Value(0);
      r += row_step;
      f += col_step;
      if (f >= cols) {
        f -= cols;
        ++r;
      }
    }
    for (int u = 0; u < kTeamStageBatch; ++u) {
      if (at_r[u] < rows) put(at_r[u], at_f[u], values[u]);
    }
  }
}

}  // namespace selectiv
