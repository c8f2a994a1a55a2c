// SPDX-License-Identifier: BSD-3-Clause
// The Gated DeltaNet decay gate g = -exp(A_log) softplus(x + dt_bias), forward and backward.
#include "kernels/delta_rule/decay_gate.hpp"

#include <stdexcept>

#include "kernels/common/compat.hpp"
#include "kernels/common/reductions.hpp"

namespace selectiv::delta_rule {
namespace {

// PyTorch's softplus (beta 1, threshold 20) and its derivative sigmoid(x) = 1 / (1 + e^-x).
constexpr float kSoftplusThreshold = 20.0f;
KOKKOS_INLINE_FUNCTION float softplus(float x) { return x > kSoftplusThreshold ? x : kc::log1p(kc::exp(x)); }
KOKKOS_INLINE_FUNCTION float softplus_grad(float x) {
  if (x > kSoftplusThreshold) return 1.0f;
  const float e = kc::exp(-kc::fabs(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

struct GateForward {
  View2 g;
  CView2 x;
  CView1 A_log, dt_bias;
  int H;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int row = i / H, h = i % H;
    g(row, h) = -kc::exp(A_log(h)) * softplus(x(row, h) + dt_bias(h));
  }
};

struct GateBackward {
  View2 dx;
  CView2 dg, x;
  CView1 A_log, dt_bias;
  int H;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int row = i / H, h = i % H;
    dx(row, h) = -kc::exp(A_log(h)) * softplus_grad(x(row, h) + dt_bias(h)) * dg(row, h);
  }
};

void require_shapes(const CView2& a, const CView2& x, const CView1& A_log, const CView1& dt_bias) {
  if (a.extent(0) != x.extent(0) || a.extent(1) != x.extent(1) || A_log.extent(0) != x.extent(1) ||
      dt_bias.extent(0) != x.extent(1))
    throw std::invalid_argument("selectiv::delta_rule::decay_gate: inconsistent extents");
}

}  // namespace

void decay_gate_fwd(const Exec& exec, View2 g, CView2 x, CView1 A_log, CView1 dt_bias) {
  require_shapes(g, x, A_log, dt_bias);
  const int H = static_cast<int>(x.extent(1));
  Kokkos::parallel_for("selectiv::delta_rule::decay_gate::fwd",
                       Kokkos::RangePolicy<Exec>(exec, 0, static_cast<int>(x.extent(0)) * H),
                       GateForward{g, x, A_log, dt_bias, H});
}

void decay_gate_bwd(const Exec& exec, View2 dx, View1 dA_log, View1 ddt_bias, CView2 dg, CView2 x, CView1 A_log,
                    CView1 dt_bias) {
  require_shapes(dx, x, A_log, dt_bias);
  require_shapes(dg, x, dA_log, ddt_bias);
  const int N = static_cast<int>(x.extent(0)), H = static_cast<int>(x.extent(1));
  Kokkos::parallel_for("selectiv::delta_rule::decay_gate::bwd_input", Kokkos::RangePolicy<Exec>(exec, 0, N * H),
                       GateBackward{dx, dg, x, A_log, dt_bias, H});
  // dA_log[h] += sum_n dg g (dg/dA_log = g) in columns 0 .. H - 1, ddt_bias[h] += sum_n dx in H .. 2H - 1: column sums
  // over all N rows in two deterministic passes (one team per head left most of the GPU idle).
  nn::detail::column_sums(
      exec, "selectiv::delta_rule::decay_gate::bwd_parameters_partial",
      "selectiv::delta_rule::decay_gate::bwd_parameters", N, 2 * H,
      KOKKOS_LAMBDA(int row, int col) {
        if (col >= H) return dx(row, col - H);
        return dg(row, col) * (-kc::exp(A_log(col)) * softplus(x(row, col) + dt_bias(col)));
      },
      KOKKOS_LAMBDA(int col, float total) {
        if (col < H) {
          dA_log(col) += total;
        } else {
          ddt_bias(col - H) += total;
        }
      });
}

}  // namespace selectiv::delta_rule
