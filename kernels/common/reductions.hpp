// SPDX-License-Identifier: BSD-3-Clause
// Reduction building blocks shared by the dense ops of kernels/nn: the team shape of a reduction, deterministic
// two-pass column sums (the parameter gradients of norms and convolutions), and the shape check that throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/views.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::nn::detail {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;

inline void require(bool ok, const char* op, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("selectiv::nn::") + op + ": " + what);
}

// One team per reduced row, group or column: one thread on a CPU; on a GPU a power of two from 32 to 256 threads, so
// short reductions do not leave most of a wide team idle.
inline TeamPolicy reduction_teams(const Exec& exec, int league, std::int64_t width) {
  constexpr bool on_host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Exec::memory_space>::accessible;
  if (on_host) return TeamPolicy(exec, league, 1);
  int threads = 32;
  while (threads < width && threads < 256) threads *= 2;
  return TeamPolicy(exec, league, threads);
}

// One vector of lanes per reduced row or group, several per team: on a GPU a warp (32 lanes: the reductions are warp
// shuffles, no team barrier; consecutive lanes read consecutive columns) and 8 warps per team; on a CPU one lane per
// team. The lambda takes its item from vector_item(team) (which may reach past the last item in the last team), and
// uses ThreadVectorRange and Kokkos::single(Kokkos::PerThread(team)). Measured against a team per item:
// bench/README.md.
inline TeamPolicy vector_per_item(const Exec& exec, int items) {
  constexpr bool on_host = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Exec::memory_space>::accessible;
  if (on_host) return TeamPolicy(exec, items, 1, 1);
  constexpr int kWarpsPerTeam = 8;
  return TeamPolicy(exec, (items + kWarpsPerTeam - 1) / kWarpsPerTeam, kWarpsPerTeam, 32);
}
KOKKOS_INLINE_FUNCTION int vector_item(const Member& team) {
  return team.league_rank() * team.team_size() + team.team_rank();
}

// sink(col, total) with total = sum over rows r < rows of term(r, col), for every col < cols; deterministic (fixed
// order, no atomics) and coalesced. Pass 1: one thread per (chunk of kRowsPerChunk rows, col), consecutive threads on
// consecutive cols, writes a partial sum; pass 2: one team per col adds the partials of all chunks.
template <class Term, class Sink>
void column_sums(const Exec& exec, const char* partial_label, const char* total_label, int rows, int cols, Term term,
                 Sink sink) {
  // Short chunks give a GPU enough threads in flight to hide memory latency (256 rows per chunk left an H200 at
  // about 12 warps per SM for the norms' weight gradients; measured in bench/README.md).
  constexpr int kRowsPerChunk = 32;
  const int chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  if (cols == 0) return;
  const View2 partial = workspace<View2>(partial_label, chunks, cols);
  Kokkos::parallel_for(
      partial_label, Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, std::int64_t(chunks) * cols),
      KOKKOS_LAMBDA(std::int64_t k) {
        const int chunk = static_cast<int>(k / cols), col = static_cast<int>(k % cols);
        const int begin = chunk * kRowsPerChunk;
        const int end = begin + kRowsPerChunk < rows ? begin + kRowsPerChunk : rows;
        float acc = 0.0f;
        for (int r = begin; r < end; ++r) acc += term(r, col);
        partial(chunk, col) = acc;
      });
  Kokkos::parallel_for(
      total_label, reduction_teams(exec, cols, chunks), KOKKOS_LAMBDA(const Member& team) {
        const int col = team.league_rank();
        float total = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, chunks), [&](int chunk, float& acc) { acc += partial(chunk, col); }, total);
        Kokkos::single(Kokkos::PerTeam(team), [&]() { sink(col, total); });
      });
}

}  // namespace selectiv::nn::detail
