// SPDX-License-Identifier: BSD-3-Clause
// kc::gemm: KokkosBlas::gemm over the project's LayoutRight float matrices, spelled once for Kokkos Kernels 3.4
// (no execution-space overload) and >= 4 (exec-space overload), with shapes checked and the K == 0 case defined.
#pragma once

#include <KokkosBlas3_gemm.hpp>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/kernel_profiler.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/common/views.hpp"

namespace kc {

namespace detail {

inline bool gemm_transposes(const char* trans) {
  const char t = trans[0];
  if (t == 'N' || t == 'n') return false;
  if (t == 'T' || t == 't' || t == 'C' || t == 'c') return true;  // real matrices: 'C' is 'T'
  throw std::invalid_argument(std::string("kc::gemm: transpose flag must start with N or T, got \"") + trans + "\"");
}

// C = beta * C: what gemm means when the inner dimension is empty (Kokkos Kernels 3.4 returns without scaling).
inline void gemm_scale_only(const selectiv::Exec& exec, float beta, const selectiv::View2& c) {
  const int cols = static_cast<int>(c.extent(1));
  const std::int64_t count = static_cast<std::int64_t>(c.extent(0)) * cols;
  Kokkos::parallel_for(
      "selectiv::gemm::scale_only",
      Kokkos::RangePolicy<selectiv::Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, count),
      KOKKOS_LAMBDA(std::int64_t i) {
        float& value = c(i / cols, i % cols);
        value = beta == 0.0f ? 0.0f : beta * value;
      });
}

}  // namespace detail

// C = alpha * op(A) * op(B) + beta * C, op(X) = X ("N") or X^T ("T"), in the current matmul precision
// (kernels/common/precision.hpp).
//   op(A): (M, K), op(B): (K, N), C: (M, N); all LayoutRight float in the default memory space.
// Throws std::invalid_argument when the shapes do not agree. K == 0 gives C = beta * C; beta == 0 overwrites C.
// On Kokkos Kernels 3.4 the work runs on the default instance (3.4 has no execution-space overload); every
// caller there passes that instance anyway (Serial).
inline void gemm(const selectiv::Exec& exec, const char* trans_a, const char* trans_b, float alpha,
                 const selectiv::CView2& a, const selectiv::CView2& b, float beta, const selectiv::View2& c) {
  const bool ta = detail::gemm_transposes(trans_a);
  const bool tb = detail::gemm_transposes(trans_b);
  const auto m = ta ? a.extent(1) : a.extent(0);
  const auto k = ta ? a.extent(0) : a.extent(1);
  const auto kb = tb ? b.extent(1) : b.extent(0);
  const auto n = tb ? b.extent(0) : b.extent(1);
  if (k != kb || c.extent(0) != m || c.extent(1) != n) {
    std::ostringstream os;
    os << "kc::gemm: shapes do not agree: op(A) " << m << "x" << k << ", op(B) " << kb << "x" << n << ", C "
       << c.extent(0) << "x" << c.extent(1) << " (trans " << trans_a << trans_b << ")";
    throw std::invalid_argument(os.str());
  }
  if (m == 0 || n == 0) return;
  if (k == 0) {
    detail::gemm_scale_only(exec, beta, c);
    return;
  }
  // Under selectiv bench --profile each GEMM is a region named by its transposes and shape (m x n x k).
  const bool named = selectiv::kernel_profiling_active();
  if (named) {
    Kokkos::Profiling::pushRegion(std::string("selectiv::gemm[") + (ta ? 'T' : 'N') + (tb ? 'T' : 'N') + " " +
                                  std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + "]");
  }
  if (!selectiv::bf16_gemm_if_selected(exec, ta, tb, alpha, a, b, beta, c)) {
#if KOKKOS_VERSION >= 40000
    KokkosBlas::gemm(exec, trans_a, trans_b, alpha, a, b, beta, c);
#else
    (void)exec;
    KokkosBlas::gemm(trans_a, trans_b, alpha, a, b, beta, c);
#endif
  }
  if (named) Kokkos::Profiling::popRegion();
}

}  // namespace kc
