// SPDX-License-Identifier: BSD-3-Clause
// RMSNorm (plain, eps outside the sqrt, swish-gated either order), forward next to backward. One implementation
// serves every variant: a vector of lanes per (row, group) for the norm, a quad (16 bytes) per lane, two deterministic
// passes for dw.
#include "kernels/nn/rms_norm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/nn/activations.hpp"

namespace selectiv::nn {
namespace {

using detail::column_sums;
using detail::Member;
using detail::require;
using detail::vector_item;
using kc::quads_per_item;

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

// The rows of one (N, D) operand as raw pointers for quad access (kernels/common/quad.hpp); `data` is null for an
// absent operand.
template <class T>
struct Rows {
  T* data;
  std::int64_t stride;
  KOKKOS_INLINE_FUNCTION T* at(int r, int c) const { return data + r * stride + c; }
};
template <class ViewType>
Rows<typename ViewType::value_type> rows_of(const ViewType& x) {
  return {x.data(), x.data() != nullptr ? static_cast<std::int64_t>(x.stride(0)) : 0};
}
template <class T>
kc::QuadRows quad_rows(const Rows<T>& x) {
  return {x.data, x.stride};
}

void forward(const Exec& exec, View2 y, View2 rstd, CView2 x, CView2 gate, CView1 w, const RmsNormSpec& spec,
             int mode) {
  const int rows = static_cast<int>(x.extent(0));
  const int group = spec.group_size, groups = static_cast<int>(x.extent(1)) / group, quads = (group + 3) / 4;
  const float eps = spec.eps;
  const bool eps_inside = spec.eps_placement == RmsEps::inside_sqrt;
  const Rows<const float> xr = rows_of(x), gr = rows_of(gate);
  const Rows<float> yr = rows_of(y);
  const float* w_data = w.data();
  const bool quad_ok = kc::quads_aligned(group, {quad_rows(xr), quad_rows(gr), quad_rows(yr), w_data});
  Kokkos::parallel_for(
      "selectiv::rms_norm::fwd", quads_per_item(exec, rows * groups, quads), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        // v: what is normalised (x, or x * silu(gate) when the gate comes first), the quad of columns 4u..
        auto v_quad = [&](int u) {
          kc::Quad v = kc::load_quad(xr.at(r, c0 + 4 * u), group - 4 * u, quad_ok);
          if (mode == kGateBeforeNorm) {
            const kc::Quad g = kc::load_quad(gr.at(r, c0 + 4 * u), group - 4 * u, quad_ok);
            for (int i = 0; i < 4; ++i) v.v[i] *= silu(g.v[i]);
          }
          return v;
        };
        float sq = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const kc::Quad v = v_quad(u);
              for (int i = 0; i < 4; ++i) acc += v.v[i] * v.v[i];
            },
            sq);
        const float ms = sq / group;
        const float rs = eps_inside ? 1.0f / kc::sqrt(ms + eps) : 1.0f / (kc::sqrt(ms) + eps);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, quads), [&](int u) {
          kc::Quad out = v_quad(u);
          const kc::Quad wq = kc::load_quad(w_data + 4 * u, group - 4 * u, quad_ok);
          for (int i = 0; i < 4; ++i) out.v[i] *= rs * wq.v[i];
          if (mode == kGateAfterNorm) {
            const kc::Quad g = kc::load_quad(gr.at(r, c0 + 4 * u), group - 4 * u, quad_ok);
            for (int i = 0; i < 4; ++i) out.v[i] *= silu(g.v[i]);
          }
          kc::store_quad(yr.at(r, c0 + 4 * u), out, group - 4 * u, quad_ok);
        });
        Kokkos::single(Kokkos::PerThread(team), [&]() { rstd(r, gi) = rs; });
      });
}

// The backward's terms of one quad of a group: x, the gate (when there is one), dy * w, v and n.
struct GradTerms {
  kc::Quad x, g, dyw, v, n;
};

void backward(const Exec& exec, View2 dx, View2 dgate, View1 dw, CView2 rstd, CView2 dy, CView2 x, CView2 gate,
              CView1 w, const RmsNormSpec& spec, int mode) {
  const int rows = static_cast<int>(x.extent(0));
  const int group = spec.group_size, groups = static_cast<int>(x.extent(1)) / group, quads = (group + 3) / 4;
  const bool eps_inside = spec.eps_placement == RmsEps::inside_sqrt;
  const Rows<const float> xr = rows_of(x), gr = rows_of(gate), dyr = rows_of(dy);
  const Rows<float> dxr = rows_of(dx), dgr = rows_of(dgate);
  const float* w_data = w.data();
  const bool quad_ok =
      kc::quads_aligned(group, {quad_rows(xr), quad_rows(gr), quad_rows(dyr), quad_rows(dxr), quad_rows(dgr), w_data});
  // Per group, with v the normalised vector, r its factor and n_j = dy_j * w_j * (silu(g_j) after the norm, else 1):
  //   dv_i = r n_i - c v_i,  c = r^3 S / G (eps inside), r^2 S / (G s) (eps outside; s = sqrt(mean v^2)),
  //   S = sum_j n_j v_j.  Then dx, dgate follow from v = x or v = x * silu(g).
  Kokkos::parallel_for(
      "selectiv::rms_norm::bwd_input", quads_per_item(exec, rows * groups, quads), KOKKOS_LAMBDA(const Member& team) {
        const int item = vector_item(team);
        if (item >= rows * groups) return;
        const int r = item / groups, gi = item % groups, c0 = gi * group;
        const float rs = rstd(r, gi);
        auto terms = [&](int u) {
          const int valid = group - 4 * u;
          GradTerms t = {};
          t.x = kc::load_quad(xr.at(r, c0 + 4 * u), valid, quad_ok);
          t.dyw = kc::load_quad(dyr.at(r, c0 + 4 * u), valid, quad_ok);
          const kc::Quad wq = kc::load_quad(w_data + 4 * u, valid, quad_ok);
          if (mode != kNoGate) t.g = kc::load_quad(gr.at(r, c0 + 4 * u), valid, quad_ok);
          for (int i = 0; i < 4; ++i) {
            t.dyw.v[i] *= wq.v[i];
            t.v.v[i] = mode == kGateBeforeNorm ? t.x.v[i] * silu(t.g.v[i]) : t.x.v[i];
            t.n.v[i] = mode == kGateAfterNorm ? t.dyw.v[i] * silu(t.g.v[i]) : t.dyw.v[i];
          }
          return t;
        };
        float s_nv = 0.0f, s_vv = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, quads),
            [&](int u, float& acc) {
              const GradTerms t = terms(u);
              for (int i = 0; i < 4; ++i) acc += t.n.v[i] * t.v.v[i];
            },
            s_nv);
        if (!eps_inside) {
          Kokkos::parallel_reduce(
              Kokkos::ThreadVectorRange(team, quads),
              [&](int u, float& acc) {
                const GradTerms t = terms(u);
                for (int i = 0; i < 4; ++i) acc += t.v.v[i] * t.v.v[i];
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
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, quads), [&](int u) {
          const GradTerms t = terms(u);
          kc::Quad dxq = {}, dgq = {};
          for (int i = 0; i < 4; ++i) {
            const float dv = rs * t.n.v[i] - c * t.v.v[i];
            dxq.v[i] = mode == kGateBeforeNorm ? dv * silu(t.g.v[i]) : dv;
            if (mode == kGateBeforeNorm) dgq.v[i] = dv * t.x.v[i] * silu_grad(t.g.v[i]);
            if (mode == kGateAfterNorm) dgq.v[i] = t.dyw.v[i] * t.x.v[i] * rs * silu_grad(t.g.v[i]);
          }
          kc::store_quad(dxr.at(r, c0 + 4 * u), dxq, group - 4 * u, quad_ok);
          if (mode != kNoGate) kc::store_quad(dgr.at(r, c0 + 4 * u), dgq, group - 4 * u, quad_ok);
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
