// SPDX-License-Identifier: BSD-3-Clause
// L2 normalisation per group, forward next to backward: one vector of lanes per (row, group), a quad per lane.
#include "kernels/nn/l2_norm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"

namespace selectiv::nn {
namespace {

using detail::Member;
using detail::require;
using detail::vector_item;
using kc::quads_per_item;

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
  const int group = group_size, quads = (group + 3) / 4;
  const std::int64_t x_stride = static_cast<std::int64_t>(x.stride(0)),
                     y_stride = static_cast<std::int64_t>(y.stride(0));
  const bool aligned = kc::quads_aligned(group, {{x.data(), x_stride}, {y.data(), y_stride}});
  const float* x_data = x.data();
  float* y_data = y.data();
  Kokkos::parallel_for(
      "selectiv::l2_norm::fwd", quads_per_item(exec, rows * groups, quads), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        const float* x_row = x_data + r * x_stride + c0;
        float sq = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const kc::Quad q = kc::load_quad(x_row + 4 * u, group - 4 * u, aligned);
              for (int i = 0; i < 4; ++i) acc += q.v[i] * q.v[i];
            },
            sq);
        const float rs = 1.0f / kc::sqrt(sq + eps);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, quads), [&](int u) {
          kc::Quad q = kc::load_quad(x_row + 4 * u, group - 4 * u, aligned);
          for (int i = 0; i < 4; ++i) q.v[i] *= rs;
          kc::store_quad(y_data + r * y_stride + c0 + 4 * u, q, group - 4 * u, aligned);
        });
        Kokkos::single(Kokkos::PerThread(team), [&]() { rstd(r, gi) = rs; });
      });
}

void l2_norm_bwd(const Exec& exec, View2 dx, CView2 rstd, CView2 dy, CView2 x, int group_size) {
  check_shapes("l2_norm_bwd", dx, rstd, x, group_size);
  check_shapes("l2_norm_bwd", dy, rstd, x, group_size);
  const int rows = static_cast<int>(x.extent(0)), groups = static_cast<int>(x.extent(1)) / group_size;
  const int group = group_size, quads = (group + 3) / 4;
  const std::int64_t x_stride = static_cast<std::int64_t>(x.stride(0)),
                     dy_stride = static_cast<std::int64_t>(dy.stride(0)),
                     dx_stride = static_cast<std::int64_t>(dx.stride(0));
  const bool aligned = kc::quads_aligned(group, {{x.data(), x_stride}, {dy.data(), dy_stride}, {dx.data(), dx_stride}});
  const float *x_data = x.data(), *dy_data = dy.data();
  float* dx_data = dx.data();
  // y = x r, dr/dx_i = -r^3 x_i  =>  dx_i = r dy_i - r^3 x_i sum_j dy_j x_j
  Kokkos::parallel_for(
      "selectiv::l2_norm::bwd", quads_per_item(exec, rows * groups, quads), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        const float *x_row = x_data + r * x_stride + c0, *dy_row = dy_data + r * dy_stride + c0;
        const float rs = rstd(r, gi);
        float dot = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const kc::Quad xq = kc::load_quad(x_row + 4 * u, group - 4 * u, aligned);
              const kc::Quad dyq = kc::load_quad(dy_row + 4 * u, group - 4 * u, aligned);
              for (int i = 0; i < 4; ++i) acc += dyq.v[i] * xq.v[i];
            },
            dot);
        const float c = rs * rs * rs * dot;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, quads), [&](int u) {
          const kc::Quad xq = kc::load_quad(x_row + 4 * u, group - 4 * u, aligned);
          kc::Quad q = kc::load_quad(dy_row + 4 * u, group - 4 * u, aligned);
          for (int i = 0; i < 4; ++i) q.v[i] = rs * q.v[i] - c * xq.v[i];
          kc::store_quad(dx_data + r * dx_stride + c0 + 4 * u, q, group - 4 * u, aligned);
        });
      });
}

}  // namespace selectiv::nn
