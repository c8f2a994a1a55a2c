// SPDX-License-Identifier: BSD-3-Clause
// team_stage: every element of a rows x cols block is put exactly once, with the value got for its own (r, f), for
// shapes smaller and larger than the team, widths that divide the team size and widths that do not, one row, one
// column, and an empty block. The team counts its puts in scratch and writes the count and value of each element out.
#include "kernels/common/team_stage.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "kernels/common/views.hpp"

namespace selectiv {
namespace {

using Policy = Kokkos::TeamPolicy<Exec>;
using ScratchInts = Kokkos::View<int*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchFloats = Kokkos::View<float*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;

struct Staged {
  std::vector<float> values;
  std::vector<int> puts;
};

// One team stages get(r, f) = 1000 r + f into scratch, counting the puts per element; both come back.
Staged stage_once(int rows, int cols) {
  const int n = rows * cols;
  Kokkos::View<float*, DeviceMem> values("values", n > 0 ? n : 1);
  Kokkos::View<int*, DeviceMem> puts("puts", n > 0 ? n : 1);
  const std::size_t bytes = ScratchFloats::shmem_size(n) + ScratchInts::shmem_size(n);
  Kokkos::parallel_for(
      "selectiv::test::team_stage", Policy(Exec(), 1, Kokkos::AUTO).set_scratch_size(1, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Policy::member_type& team) {
        ScratchFloats tile(team.team_scratch(1), n);
        ScratchInts count(team.team_scratch(1), n);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, n), [&](int e) { count(e) = 0; });
        team.team_barrier();
        team_stage(
            team, rows, cols, [&](int r, int f) { return 1000.0f * r + f; },
            [&](int r, int f, float value) {
              tile(r * cols + f) = value;
              Kokkos::atomic_add(&count(r * cols + f), 1);
            });
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, n), [&](int e) {
          values(e) = tile(e);
          puts(e) = count(e);
        });
      });
  Kokkos::fence();
  const auto host_values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  const auto host_puts = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), puts);
  Staged out;
  for (int e = 0; e < n; ++e) {
    out.values.push_back(host_values(e));
    out.puts.push_back(host_puts(e));
  }
  return out;
}

TEST(TeamStage, PutsEveryElementOnceWithItsOwnValue) {
  const int shapes[][2] = {{1, 1}, {3, 5}, {64, 16}, {64, 32}, {16, 33}, {37, 23}, {1, 300}, {300, 1}, {130, 64}};
  for (const auto& shape : shapes) {
    const int rows = shape[0], cols = shape[1];
    const Staged s = stage_once(rows, cols);
    for (int r = 0; r < rows; ++r) {
      for (int f = 0; f < cols; ++f) {
        ASSERT_EQ(s.puts[r * cols + f], 1) << "rows " << rows << " cols " << cols << " at " << r << ", " << f;
        ASSERT_EQ(s.values[r * cols + f], 1000.0f * r + f) << "rows " << rows << " cols " << cols;
      }
    }
  }
}

// The number of puts team_stage makes for a rows x cols block.
int puts_for(int rows, int cols) {
  Kokkos::View<int, DeviceMem> puts("puts");
  Kokkos::parallel_for(
      "selectiv::test::team_stage_count", Policy(Exec(), 1, Kokkos::AUTO),
      KOKKOS_LAMBDA(const Policy::member_type& team) {
        team_stage(
            team, rows, cols, [](int, int) { return 1.0f; },
            [&](int, int, float) { Kokkos::atomic_add(&puts(), 1); });
      });
  Kokkos::fence();
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), puts)();
}

TEST(TeamStage, EmptyBlocksPutNothing) {
  EXPECT_EQ(puts_for(0, 5), 0);
  EXPECT_EQ(puts_for(5, 0), 0);
  EXPECT_EQ(puts_for(7, 9), 63);
}

}  // namespace
}  // namespace selectiv
