// SPDX-License-Identifier: BSD-3-Clause
// LayerNorm, forward next to backward. One vector of lanes per row (a quad of columns per lane) for the row
// statistics; the parameter gradients are column sums in two deterministic passes (no atomics).
#include "kernels/nn/layer_norm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"

namespace selectiv::nn {
namespace {

using detail::column_sums;
using detail::Member;
using detail::require;
using detail::vector_item;

}  // namespace

void layer_norm_fwd(const Exec& exec, View2 y, View1 mean, View1 rstd, CView2 x, CView1 w, CView1 b, float eps) {
  const int rows = static_cast<int>(x.extent(0)), dim = static_cast<int>(x.extent(1));
  require(y.extent(0) == x.extent(0) && y.extent(1) == x.extent(1), "layer_norm_fwd", "y must be (N, D) like x");
  require(mean.extent(0) == x.extent(0) && rstd.extent(0) == x.extent(0), "layer_norm_fwd", "mean, rstd must be (N)");
  require(w.extent(0) == x.extent(1) && b.extent(0) == x.extent(1), "layer_norm_fwd", "w, b must be (D)");
  if (dim == 0) return;
  const int quads = kc::quad_count(dim);
  const std::int64_t x_stride = static_cast<std::int64_t>(x.stride_0()),
                     y_stride = static_cast<std::int64_t>(y.stride_0());
  const bool aligned = kc::quads_aligned(dim, {{x.data(), x_stride}, {y.data(), y_stride}, w.data(), b.data()});
  const float *x_data = x.data(), *w_data = w.data(), *b_data = b.data();
  float* y_data = y.data();
  Kokkos::parallel_for(
      "selectiv::layer_norm::fwd", kc::quads_per_item(exec, rows, quads), KOKKOS_LAMBDA(const Member& team) {
        const int r = vector_item(team);
        if (r >= rows) return;
        const float* x_row = x_data + r * x_stride;
        auto x_quad = [&](int u) { return kc::load_quad(x_row + 4 * u, dim - 4 * u, aligned); };
        float sum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const kc::Quad q = x_quad(u);
              acc += (q.v[0] + q.v[1]) + (q.v[2] + q.v[3]);
            },
            sum);
        const float mu = sum / dim;
        // two passes: the variance from centred values (no cancellation for rows with a large mean)
        float sq = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const kc::Quad q = x_quad(u);
              for (int i = 0; i < 4 && 4 * u + i < dim; ++i) acc += (q.v[i] - mu) * (q.v[i] - mu);
            },
            sq);
        const float rs = 1.0f / kc::sqrt(sq / dim + eps);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, quads), [&](int u) {
          const kc::Quad q = x_quad(u), wq = kc::load_quad(w_data + 4 * u, dim - 4 * u, aligned),
                         bq = kc::load_quad(b_data + 4 * u, dim - 4 * u, aligned);
          kc::Quad out;
          for (int i = 0; i < 4; ++i) out.v[i] = (q.v[i] - mu) * rs * wq.v[i] + bq.v[i];
          kc::store_quad(y_data + r * y_stride + 4 * u, out, dim - 4 * u, aligned);
        });
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
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w; a quad of columns per lane
  const int quads = kc::quad_count(dim);
  const std::int64_t x_stride = static_cast<std::int64_t>(x.stride_0()),
                     dy_stride = static_cast<std::int64_t>(dy.stride_0()),
                     dx_stride = static_cast<std::int64_t>(dx.stride_0());
  const bool aligned =
      kc::quads_aligned(dim, {{x.data(), x_stride}, {dy.data(), dy_stride}, {dx.data(), dx_stride}, w.data()});
  const float *x_data = x.data(), *dy_data = dy.data(), *w_data = w.data();
  float* dx_data = dx.data();
  Kokkos::parallel_for(
      "selectiv::layer_norm::bwd_input", kc::quads_per_item(exec, rows, quads), KOKKOS_LAMBDA(const Member& team) {
        const int r = vector_item(team);
        if (r >= rows) return;
        const float mu = mean(r), rs = rstd(r);
        // the quad u of g = dy w and of xhat
        auto g_quad = [&](int u) {
          kc::Quad g = kc::load_quad(dy_data + r * dy_stride + 4 * u, dim - 4 * u, aligned);
          const kc::Quad wq = kc::load_quad(w_data + 4 * u, dim - 4 * u, aligned);
          for (int i = 0; i < 4; ++i) g.v[i] *= wq.v[i];
          return g;
        };
        auto xhat_quad = [&](int u) {
          kc::Quad xh = kc::load_quad(x_data + r * x_stride + 4 * u, dim - 4 * u, aligned);
          for (int i = 0; i < 4; ++i) xh.v[i] = (xh.v[i] - mu) * rs;
          return xh;
        };
        float g_sum = 0.0f, gx_sum = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const kc::Quad g = g_quad(u);
              acc += (g.v[0] + g.v[1]) + (g.v[2] + g.v[3]);
            },
            g_sum);
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads), [&](int u, float& acc) { acc += kc::dot(g_quad(u), xhat_quad(u)); },
            gx_sum);
        const float g_mean = g_sum / dim, gx_mean = gx_sum / dim;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, quads), [&](int u) {
          const kc::Quad g = g_quad(u), xh = xhat_quad(u);
          kc::Quad out;
          for (int i = 0; i < 4; ++i) out.v[i] = rs * (g.v[i] - g_mean - xh.v[i] * gx_mean);
          kc::store_quad(dx_data + r * dx_stride + 4 * u, out, dim - 4 * u, aligned);
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
