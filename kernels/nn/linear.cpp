// SPDX-License-Identifier: BSD-3-Clause
// Linear layer, forward next to backward: the products through kc::gemm, the bias with plain kernels (its gradient
// through the deterministic column sums of kernels/common/reductions.hpp).
#include "kernels/nn/linear.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat_blas.hpp"
#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"

namespace selectiv::nn {

using detail::require;

void linear_fwd(const Exec& exec, View2 y, CView2 x, CView2 w, CView1 b) {
  const auto rows = x.extent(0), in = x.extent(1), out = w.extent(0);
  require(w.extent(1) == in, "linear_fwd", "w must be (out, in) with in = x.extent(1)");
  require(y.extent(0) == rows && y.extent(1) == out, "linear_fwd", "y must be (N, out)");
  const bool has_bias = b.extent(0) != 0;
  require(!has_bias || b.extent(0) == out, "linear_fwd", "b must be (out) or empty");
  if (has_bias) {  // y rows = b, a quad of columns per thread (16-byte accesses where the rows allow it)
    const int cols = static_cast<int>(out), quads = kc::quad_count(cols);
    const std::int64_t stride = static_cast<std::int64_t>(y.stride_0());
    const bool aligned = kc::quads_aligned(cols, {{y.data(), stride}, b.data()});
    float* y_data = y.data();
    const float* b_data = b.data();
    Kokkos::parallel_for(
        "selectiv::linear::fwd_bias",
        Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, static_cast<std::int64_t>(rows) * quads),
        KOKKOS_LAMBDA(std::int64_t i) {
          const std::int64_t r = i / quads;
          const int c = 4 * static_cast<int>(i - r * quads);
          kc::store_quad(y_data + r * stride + c, kc::load_quad(b_data + c, cols - c, aligned), cols - c, aligned);
        });
  }
  // y = x W^T + (b broadcast, or nothing)
  kc::gemm(exec, "N", "T", 1.0f, x, w, has_bias ? 1.0f : 0.0f, y);
}

void linear_bwd(const Exec& exec, View2 dx, View2 dw, View1 db, CView2 dy, CView2 x, CView2 w, bool accumulate_dx) {
  const auto rows = x.extent(0), in = x.extent(1), out = w.extent(0);
  require(w.extent(1) == in, "linear_bwd", "w must be (out, in) with in = x.extent(1)");
  require(dy.extent(0) == rows && dy.extent(1) == out, "linear_bwd", "dy must be (N, out)");
  require(dw.extent(0) == out && dw.extent(1) == in, "linear_bwd", "dw must be (out, in)");
  if (dx.size() != 0) {
    require(dx.extent(0) == rows && dx.extent(1) == in, "linear_bwd", "dx must be (N, in) or empty");
    kc::gemm(exec, "N", "N", 1.0f, dy, w, accumulate_dx ? 1.0f : 0.0f, dx);  // dx (+)= dy W
  }
  kc::gemm(exec, "T", "N", 1.0f, dy, x, 1.0f, dw);  // dw += dy^T x
  if (db.size() != 0) {
    require(db.extent(0) == out, "linear_bwd", "db must be (out) or empty");
    // db[j] += sum_r dy[r, j]: coalesced partial sums over row chunks, then one team per feature (fixed order)
    detail::column_sums(
        exec, "selectiv::linear::bwd_bias_partial", "selectiv::linear::bwd_bias", static_cast<int>(rows),
        static_cast<int>(out), KOKKOS_LAMBDA(int r, int j) { return dy(r, j); },
        KOKKOS_LAMBDA(int j, float total) { db(j) += total; });
  }
}

}  // namespace selectiv::nn
