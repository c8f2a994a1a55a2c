// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/attention/shapes.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/workspace.hpp"

namespace selectiv::attention {

void require_shape_of_q(const CView4& x, const CView4& q, const char* op, const char* name) {
  for (int r = 0; r < 4; ++r) {
    if (x.extent(r) != q.extent(r)) {
      throw std::invalid_argument(std::string(op) + ": " + name + " must have the shape (B, T, H, D) of q");
    }
  }
}

AttentionShape attention_shape(const CView4& q, const CView4& k, const CView4& v, const CView4& o, const CView3& lse,
                               const char* op) {
  require_shape_of_q(k, q, op, "k");
  require_shape_of_q(v, q, op, "v");
  require_shape_of_q(o, q, op, "o");
  if (lse.extent(0) != q.extent(0) || lse.extent(1) != q.extent(2) || lse.extent(2) != q.extent(1)) {
    throw std::invalid_argument(std::string(op) + ": lse must have the shape (B, H, T)");
  }
  return AttentionShape{static_cast<int>(q.extent(0)), static_cast<int>(q.extent(1)), static_cast<int>(q.extent(2)),
                        static_cast<int>(q.extent(3))};
}

View3 output_gradient_dots(const Exec& exec, const char* label, const CView4& do_, const CView4& o) {
  const int B = static_cast<int>(o.extent(0)), T = static_cast<int>(o.extent(1)), H = static_cast<int>(o.extent(2));
  const int D = static_cast<int>(o.extent(3));
  const View3 delta = workspace<View3>(label, B, H, T);
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<Exec>(exec, 0, B * T * H), KOKKOS_LAMBDA(const int i) {
        const int h = i % H, t = i / H % T, b = i / H / T;
        float acc = 0.0f;
        for (int d = 0; d < D; ++d) acc += do_(b, t, h, d) * o(b, t, h, d);
        delta(b, h, t) = acc;
      });
  return delta;
}

}  // namespace selectiv::attention
