// SPDX-License-Identifier: BSD-3-Clause
// RMSNorm (plain, eps outside the sqrt, swish-gated either order), forward next to backward. One implementation
// serves every variant: a team per (row, group) for the norm, two deterministic passes for dw.
#include "kernels/nn/rms_norm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/nn/activations.hpp"

namespace selectiv::nn {
namespace {

using detail::column_sums;
using detail::Member;
using detail::require;
using detail::TeamPolicy;
using detail::vector_item;
using detail::vector_per_item;

enum Gate : int { kNoGate = 0, kGateAfterNorm = 1, kGateBeforeNorm = 2 };

int gate_mode(GateOrder order) { return order == GateOrder::norm_then_gate ? kGateAfterNorm : kGateBeforeNorm; }

void check_shapes(const char* op, CView2 x, CView2 rstd, CView1 w, const RmsNormSpec& spec) {
  require(spec.group_size > 0, op, "group_size must be positive");
  require(x.extent(1) % spec.group_size == 0, op, "the last dimension must be a multiple of group_size");
  require(w.extent(0) == static_cast<std::size_t>(spec.group_size), op, "w must be (group_size)");
  require(rstd.extent(0) == x.extent(0) && rstd.extent(1) == x.extent(1) / spec.group_size, op,
          "rstd must be (N, D / group_size)");
}

void same_shape(const char* op, const char* name, CView2 a, CView2 x) {
  if (a.extent(0) != x.extent(0) || a.extent(1) != x.extent(1)) {
    throw std::invalid_argument(std::string("selectiv::nn::") + op + ": " + name + " must be (N, D) like x");
  }
}

void forward(const Exec& exec, View2 y, View2 rstd, CView2 x, CView2 gate, CView1 w, const RmsNormSpec& spec,
             int mode) {
  const int rows = static_cast<int>(x.extent(0));
  const int group = spec.group_size, groups = static_cast<int>(x.extent(1)) / group;
  const float eps = spec.eps;
  const bool eps_inside = spec.eps_placement == RmsEps::inside_sqrt;
  Kokkos::parallel_for(
      "selectiv::rms_norm::fwd", vector_per_item(exec, rows * groups), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        // v: what is normalised (x, or x * silu(gate) when the gate comes first)
        auto v = [&](int j) { return mode == kGateBeforeNorm ? x(r, c0 + j) * silu(gate(r, c0 + j)) : x(r, c0 + j); };
        float sq = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, group),
            [&](int j, float& acc) {
              const float vj = v(j);
              acc += vj * vj;
            },
            sq);
        const float ms = sq / group;
        const float rs = eps_inside ? 1.0f / kc::sqrt(ms + eps) : 1.0f / (kc::sqrt(ms) + eps);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, group), [&](int j) {
          const float out = v(j) * rs * w(j);
          y(r, c0 + j) = mode == kGateAfterNorm ? out * silu(gate(r, c0 + j)) : out;
        });
        Kokkos::single(Kokkos::PerThread(team), [&]() { rstd(r, gi) = rs; });
      });
}

void backward(const Exec& exec, View2 dx, View2 dgate, View1 dw, CView2 rstd, CView2 dy, CView2 x, CView2 gate,
              CView1 w, const RmsNormSpec& spec, int mode) {
  const int rows = static_cast<int>(x.extent(0));
  const int group = spec.group_size, groups = static_cast<int>(x.extent(1)) / group;
  const float eps = spec.eps;
  const bool eps_inside = spec.eps_placement == RmsEps::inside_sqrt;
  // Per group, with v the normalised vector, r its factor and n_j = dy_j * w_j * (silu(g_j) after the norm, else 1):
  //   dv_i = r n_i - c v_i,  c = r^3 S / G (eps inside), r^2 S / (G s) (eps outside; s = sqrt(mean v^2)),
  //   S = sum_j n_j v_j.  Then dx, dgate follow from v = x or v = x * silu(g).
  Kokkos::parallel_for(
      "selectiv::rms_norm::bwd_input", vector_per_item(exec, rows * groups), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        const float rs = rstd(r, gi);
        auto v = [&](int j) { return mode == kGateBeforeNorm ? x(r, c0 + j) * silu(gate(r, c0 + j)) : x(r, c0 + j); };
        auto n = [&](int j) {
          const float g = dy(r, c0 + j) * w(j);
          return mode == kGateAfterNorm ? g * silu(gate(r, c0 + j)) : g;
        };
        float s_nv = 0.0f, s_vv = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, group), [&](int j, float& acc) { acc += n(j) * v(j); }, s_nv);
        if (!eps_inside) {
          Kokkos::parallel_reduce(
              Kokkos::ThreadVectorRange(team, group),
              [&](int j, float& acc) {
                const float vj = v(j);
                acc += vj * vj;
              },
              s_vv);
        }
        float c = 0.0f;
        if (eps_inside) {
          c = rs * rs * rs * s_nv / group;
        } else {
          const float s = kc::sqrt(s_vv / group);
          c = s > 0.0f ? rs * rs * s_nv / (group * s) : 0.0f;  // v = 0: the norm's gradient is taken as 0
        }
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, group), [&](int j) {
          const int col = c0 + j;
          const float dv = rs * n(j) - c * v(j);
          if (mode == kGateBeforeNorm) {
            const float g = gate(r, col);
            dx(r, col) = dv * silu(g);
            dgate(r, col) = dv * x(r, col) * silu_grad(g);
          } else if (mode == kGateAfterNorm) {
            const float g = gate(r, col);
            dx(r, col) = dv;
            dgate(r, col) = dy(r, col) * x(r, col) * rs * w(j) * silu_grad(g);
          } else {
            dx(r, col) = dv;
          }
        });
      });
  // dw[j] += sum over rows and groups of dy * v * r * (silu(g) after the norm, else 1)
  column_sums(
      exec, "selectiv::rms_norm::bwd_weight_partial", "selectiv::rms_norm::bwd_weight", rows * groups, group,
      KOKKOS_LAMBDA(int k, int j) {
        const int r = k / groups, gi = k % groups, col = gi * group + j;
        const float vj = mode == kGateBeforeNorm ? x(r, col) * silu(gate(r, col)) : x(r, col);
        const float term = dy(r, col) * vj * rstd(r, gi);
        return mode == kGateAfterNorm ? term * silu(gate(r, col)) : term;
      },
      KOKKOS_LAMBDA(int j, float total) { dw(j) += total; });
}

}  // namespace

void rms_norm_fwd(const Exec& exec, View2 y, View2 rstd, CView2 x, CView1 w, const RmsNormSpec& spec) {
  check_shapes("rms_norm_fwd", x, rstd, w, spec);
  same_shape("rms_norm_fwd", "y", y, x);
  forward(exec, y, rstd, x, CView2(), w, spec, kNoGate);
}

void rms_norm_bwd(const Exec& exec, View2 dx, View1 dw, CView2 rstd, CView2 dy, CView2 x, CView1 w,
                  const RmsNormSpec& spec) {
  check_shapes("rms_norm_bwd", x, rstd, w, spec);
  same_shape("rms_norm_bwd", "dx", dx, x);
  same_shape("rms_norm_bwd", "dy", dy, x);
  require(dw.extent(0) == w.extent(0), "rms_norm_bwd", "dw must be (group_size)");
  backward(exec, dx, View2(), dw, rstd, dy, x, CView2(), w, spec, kNoGate);
}

void gated_rms_norm_fwd(const Exec& exec, View2 y, View2 rstd, CView2 x, CView2 gate, CView1 w, const RmsNormSpec& spec,
                        GateOrder order) {
  check_shapes("gated_rms_norm_fwd", x, rstd, w, spec);
  same_shape("gated_rms_norm_fwd", "y", y, x);
  same_shape("gated_rms_norm_fwd", "gate", gate, x);
  forward(exec, y, rstd, x, gate, w, spec, gate_mode(order));
}

void gated_rms_norm_bwd(const Exec& exec, View2 dx, View2 dgate, View1 dw, CView2 rstd, CView2 dy, CView2 x,
                        CView2 gate, CView1 w, const RmsNormSpec& spec, GateOrder order) {
  check_shapes("gated_rms_norm_bwd", x, rstd, w, spec);
  same_shape("gated_rms_norm_bwd", "dx", dx, x);
  same_shape("gated_rms_norm_bwd", "dgate", dgate, x);
  same_shape("gated_rms_norm_bwd", "dy", dy, x);
  same_shape("gated_rms_norm_bwd", "gate", gate, x);
  require(dw.extent(0) == w.extent(0), "gated_rms_norm_bwd", "dw must be (group_size)");
  backward(exec, dx, dgate, dw, rstd, dy, x, gate, w, spec, gate_mode(order));
}

}  // namespace selectiv::nn
