// SPDX-License-Identifier: BSD-3-Clause
// L2 normalisation per group, forward next to backward: one team per (row, group).
#include "kernels/nn/l2_norm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/reductions.hpp"

namespace selectiv::nn {
namespace {

using detail::Member;
using detail::require;
using detail::TeamPolicy;
using detail::vector_item;
using detail::vector_per_item;

void check_shapes(const char* op, CView2 a, CView2 rstd, CView2 x, int group_size) {
  require(group_size > 0, op, "group_size must be positive");
  require(x.extent(1) % group_size == 0, op, "the last dimension must be a multiple of group_size");
  require(a.extent(0) == x.extent(0) && a.extent(1) == x.extent(1), op, "outputs and gradients must be (N, D) like x");
  require(rstd.extent(0) == x.extent(0) && rstd.extent(1) == x.extent(1) / group_size, op,
          "rstd must be (N, D / group_size)");
}

}  // namespace

void l2_norm_fwd(const Exec& exec, View2 y, View2 rstd, CView2 x, int group_size, float eps) {
  check_shapes("l2_norm_fwd", y, rstd, x, group_size);
  const int rows = static_cast<int>(x.extent(0)), groups = static_cast<int>(x.extent(1)) / group_size;
  const int group = group_size;
  Kokkos::parallel_for(
      "selectiv::l2_norm::fwd", vector_per_item(exec, rows * groups), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        float sq = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, group),
            [&](int j, float& acc) {
              const float v = x(r, c0 + j);
              acc += v * v;
            },
            sq);
        const float rs = 1.0f / kc::sqrt(sq + eps);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, group), [&](int j) { y(r, c0 + j) = x(r, c0 + j) * rs; });
        Kokkos::single(Kokkos::PerThread(team), [&]() { rstd(r, gi) = rs; });
      });
}

void l2_norm_bwd(const Exec& exec, View2 dx, CView2 rstd, CView2 dy, CView2 x, int group_size) {
  check_shapes("l2_norm_bwd", dx, rstd, x, group_size);
  check_shapes("l2_norm_bwd", dy, rstd, x, group_size);
  const int rows = static_cast<int>(x.extent(0)), groups = static_cast<int>(x.extent(1)) / group_size;
  const int group = group_size;
  // y = x r, dr/dx_i = -r^3 x_i  =>  dx_i = r dy_i - r^3 x_i sum_j dy_j x_j
  Kokkos::parallel_for(
      "selectiv::l2_norm::bwd", vector_per_item(exec, rows * groups), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        const float rs = rstd(r, gi);
        float dot = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, group), [&](int j, float& acc) { acc += dy(r, c0 + j) * x(r, c0 + j); },
            dot);
        const float c = rs * rs * rs * dot;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, group),
                             [&](int j) { dx(r, c0 + j) = rs * dy(r, c0 + j) - c * x(r, c0 + j); });
      });
}

}  // namespace selectiv::nn
