// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/selective_scan/gate.hpp"

#include <cstdint>
#include <stdexcept>

#include "kernels/nn/activations.hpp"

namespace selectiv::selective_scan {
namespace {

// B * T * Din exceeds 2^31 for long evaluation sequences: 64-bit indices.
using FlatPolicy = Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>;

struct GateForward {
  View1 out;
  CView1 y, z;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const { out(i) = y(i) * nn::silu(z(i)); }
};

struct GateBackward {
  View1 dy, dz;
  CView1 dout, y, z;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const {
    const float g = dout(i);
    dz(i) = g * y(i) * nn::silu_grad(z(i));
    dy(i) = g * nn::silu(z(i));
  }
};

}  // namespace

void silu_gate_fwd(const Exec& exec, View1 out, CView1 y, CView1 z) {
  if (out.extent(0) != y.extent(0) || out.extent(0) != z.extent(0))
    throw std::invalid_argument("selectiv::selective_scan::silu_gate_fwd: sizes differ");
  Kokkos::parallel_for("selectiv::selective_scan::silu_gate_fwd",
                       FlatPolicy(exec, 0, static_cast<std::int64_t>(out.extent(0))), GateForward{out, y, z});
}

void silu_gate_bwd(const Exec& exec, View1 dy, View1 dz, CView1 dout, CView1 y, CView1 z) {
  const std::size_t n = dout.extent(0);
  if (dy.extent(0) != n || dz.extent(0) != n || y.extent(0) != n || z.extent(0) != n)
    throw std::invalid_argument("selectiv::selective_scan::silu_gate_bwd: sizes differ");
  Kokkos::parallel_for("selectiv::selective_scan::silu_gate_bwd",
                       FlatPolicy(exec, 0, static_cast<std::int64_t>(n)), GateBackward{dy, dz, dout, y, z});
}

}  // namespace selectiv::selective_scan
