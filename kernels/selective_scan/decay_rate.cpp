// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/selective_scan/decay_rate.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::selective_scan {
namespace {

struct RateForward {
  float* A;
  const float* A_log;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const { A[i] = -kc::exp(A_log[i]); }
};

struct RateBackward {
  float* dA_log;
  const float* dA;
  const float* A;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const { dA_log[i] += dA[i] * A[i]; }
};

void require_same_shape(const CView2& a, const CView2& b, const char* what) {
  if (a.extent(0) != b.extent(0) || a.extent(1) != b.extent(1))
    throw std::invalid_argument(std::string("selectiv::selective_scan::") + what + ": shapes differ");
}

}  // namespace

void decay_rate_fwd(const Exec& exec, View2 A, CView2 A_log) {
  require_same_shape(A, A_log, "decay_rate_fwd");
  Kokkos::parallel_for("selectiv::selective_scan::decay_rate_fwd",
                       Kokkos::RangePolicy<Exec>(exec, 0, static_cast<int>(A.size())),
                       RateForward{A.data(), A_log.data()});
}

void decay_rate_bwd(const Exec& exec, View2 dA_log, CView2 dA, CView2 A) {
  require_same_shape(dA_log, dA, "decay_rate_bwd");
  require_same_shape(dA, A, "decay_rate_bwd");
  Kokkos::parallel_for("selectiv::selective_scan::decay_rate_bwd",
                       Kokkos::RangePolicy<Exec>(exec, 0, static_cast<int>(dA.size())),
                       RateBackward{dA_log.data(), dA.data(), A.data()});
}

}  // namespace selectiv::selective_scan
