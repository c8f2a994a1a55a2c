// SPDX-License-Identifier: BSD-3-Clause
// LayerNorm, forward next to backward. One team per row for the row statistics; the parameter gradients are
// column sums in two deterministic passes (no atomics).
#include "kernels/nn/layer_norm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/reductions.hpp"

namespace selectiv::nn {
namespace {

using detail::column_sums;
using detail::Member;
using detail::require;
using detail::TeamPolicy;
using detail::vector_item;
using detail::vector_per_item;

}  // namespace

void layer_norm_fwd(const Exec& exec, View2 y, View1 mean, View1 rstd, CView2 x, CView1 w, CView1 b, float eps) {
  const int rows = static_cast<int>(x.extent(0)), dim = static_cast<int>(x.extent(1));
  require(y.extent(0) == x.extent(0) && y.extent(1) == x.extent(1), "layer_norm_fwd", "y must be (N, D) like x");
  require(mean.extent(0) == x.extent(0) && rstd.extent(0) == x.extent(0), "layer_norm_fwd", "mean, rstd must be (N)");
  require(w.extent(0) == x.extent(1) && b.extent(0) == x.extent(1), "layer_norm_fwd", "w, b must be (D)");
  if (dim == 0) return;
  Kokkos::parallel_for(
      "selectiv::layer_norm::fwd", vector_per_item(exec, rows), KOKKOS_LAMBDA(const Member& team) {
        const int r = vector_item(team);
        if (r >= rows) return;
        float sum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, dim), [&](int j, float& acc) { acc += x(r, j); }, sum);
        const float mu = sum / dim;
        // two passes: the variance from centred values (no cancellation for rows with a large mean)
        float sq = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, dim),
            [&](int j, float& acc) {
              const float c = x(r, j) - mu;
              acc += c * c;
            },
            sq);
        const float rs = 1.0f / kc::sqrt(sq / dim + eps);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, dim),
                             [&](int j) { y(r, j) = (x(r, j) - mu) * rs * w(j) + b(j); });
        Kokkos::single(Kokkos::PerThread(team), [&]() {
          mean(r) = mu;
          rstd(r) = rs;
        });
      });
}

void layer_norm_bwd(const Exec& exec, View2 dx, View1 dw, View1 db, CView1 mean, CView1 rstd, CView2 dy, CView2 x,
                    CView1 w) {
  const int rows = static_cast<int>(x.extent(0)), dim = static_cast<int>(x.extent(1));
  require(dx.extent(0) == x.extent(0) && dx.extent(1) == x.extent(1), "layer_norm_bwd", "dx must be (N, D) like x");
  require(dy.extent(0) == x.extent(0) && dy.extent(1) == x.extent(1), "layer_norm_bwd", "dy must be (N, D) like x");
  require(mean.extent(0) == x.extent(0) && rstd.extent(0) == x.extent(0), "layer_norm_bwd", "mean, rstd must be (N)");
  require(w.extent(0) == x.extent(1) && dw.extent(0) == x.extent(1) && db.extent(0) == x.extent(1), "layer_norm_bwd",
          "w, dw, db must be (D)");
  if (dim == 0) return;
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w
  Kokkos::parallel_for(
      "selectiv::layer_norm::bwd_input", vector_per_item(exec, rows), KOKKOS_LAMBDA(const Member& team) {
        const int r = vector_item(team);
        if (r >= rows) return;
        const float mu = mean(r), rs = rstd(r);
        float g_sum = 0.0f, gx_sum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, dim), [&](int j, float& acc) { acc += dy(r, j) * w(j); }, g_sum);
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, dim),
            [&](int j, float& acc) { acc += dy(r, j) * w(j) * (x(r, j) - mu) * rs; }, gx_sum);
        const float g_mean = g_sum / dim, gx_mean = gx_sum / dim;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, dim), [&](int j) {
          const float xhat = (x(r, j) - mu) * rs;
          dx(r, j) = rs * (dy(r, j) * w(j) - g_mean - xhat * gx_mean);
        });
      });
  // dw[j] += sum_r dy[r, j] * xhat[r, j] (column j < D),  db[j] += sum_r dy[r, j] (column D + j)
  column_sums(
      exec, "selectiv::layer_norm::bwd_params_partial", "selectiv::layer_norm::bwd_params", rows, 2 * dim,
      KOKKOS_LAMBDA(int r, int col) {
        const int j = col < dim ? col : col - dim;
        return col < dim ? dy(r, j) * (x(r, j) - mean(r)) * rstd(r) : dy(r, j);
      },
      KOKKOS_LAMBDA(int col, float total) {
        if (col < dim) {
          dw(col) += total;
        } else {
          db(col - dim) += total;
        }
      });
}

}  // namespace selectiv::nn
