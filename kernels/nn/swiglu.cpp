// SPDX-License-Identifier: BSD-3-Clause
// SwiGLU with a learned scalar beta, forward and backward; see swiglu.hpp.
#include "kernels/nn/swiglu.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::nn {
namespace {

void check_shapes(const char* op, std::size_t n_rows, std::size_t n_features, const CView2& u, const CView1& beta) {
  if (u.extent(0) != n_rows || u.extent(1) != 2 * n_features) {
    throw std::invalid_argument(std::string(op) + ": u must be (N, 2F) = (" + std::to_string(n_rows) + ", " +
                                std::to_string(2 * n_features) + "), got (" + std::to_string(u.extent(0)) + ", " +
                                std::to_string(u.extent(1)) + ")");
  }
  if (beta.extent(0) != 1) throw std::invalid_argument(std::string(op) + ": beta must hold exactly one value");
}

KOKKOS_INLINE_FUNCTION float sigmoid(float x) { return 1.0f / (1.0f + kc::exp(-x)); }

}  // namespace

void swiglu_fwd(const Exec& exec, View2 out, CView2 u, CView1 beta) {
  check_shapes("swiglu_fwd", out.extent(0), out.extent(1), u, beta);
  const std::int64_t n_features = static_cast<std::int64_t>(out.extent(1));
  const std::int64_t n = static_cast<std::int64_t>(out.extent(0)) * n_features;
  Kokkos::parallel_for(
      "selectiv::swiglu::fwd", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n),
      KOKKOS_LAMBDA(const std::int64_t index) {
        const std::int64_t row = index / n_features;
        const std::int64_t f = index % n_features;
        const float u1 = u(row, f);
        const float u2 = u(row, f + n_features);
        out(row, f) = u1 * sigmoid(beta(0) * u1) * u2;
      });
}

void swiglu_bwd(const Exec& exec, View2 du, View1 dbeta, CView2 dout, CView2 u, CView1 beta) {
  check_shapes("swiglu_bwd", dout.extent(0), dout.extent(1), u, beta);
  if (du.extent(0) != u.extent(0) || du.extent(1) != u.extent(1)) {
    throw std::invalid_argument("swiglu_bwd: du and u shapes differ");
  }
  if (dbeta.extent(0) != 1) throw std::invalid_argument("swiglu_bwd: dbeta must hold exactly one value");
  const std::int64_t n_features = static_cast<std::int64_t>(dout.extent(1));
  const std::int64_t n = static_cast<std::int64_t>(dout.extent(0)) * n_features;
  const Kokkos::View<double, DeviceMem, Kokkos::MemoryUnmanaged> dbeta_sum(
      static_cast<double*>(workspace_bytes("selectiv::swiglu::dbeta_sum", sizeof(double))));
  Kokkos::parallel_reduce(
      "selectiv::swiglu::bwd", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n),
      KOKKOS_LAMBDA(const std::int64_t index, double& dbeta_partial) {
        const std::int64_t row = index / n_features;
        const std::int64_t f = index % n_features;
        const float b = beta(0);
        const float u1 = u(row, f);
        const float u2 = u(row, f + n_features);
        const float g = dout(row, f);
        const float s = sigmoid(b * u1);
        const float ds = s * (1.0f - s);  // d sigmoid(z) / dz
        du(row, f) = g * u2 * (s + b * u1 * ds);
        du(row, f + n_features) = g * u1 * s;
        dbeta_partial += static_cast<double>(g * u2 * u1 * u1 * ds);
      },
      dbeta_sum);
  Kokkos::parallel_for(
      "selectiv::swiglu::accumulate_dbeta", Kokkos::RangePolicy<Exec>(exec, 0, 1),
      KOKKOS_LAMBDA(const int) { dbeta(0) += static_cast<float>(dbeta_sum()); });
}

}  // namespace selectiv::nn
