// SPDX-License-Identifier: BSD-3-Clause
// Short causal depthwise convolution, forward next to backward. One thread per (b, run of kRunSteps consecutive
// steps, quad of 4 channels), consecutive threads on consecutive quads (16-byte coalesced accesses): it walks its
// steps in order and keeps the last W inputs (and, backward, pre-activation gradients) of its channels in registers,
// so every element is loaded once.
// The weight and bias gradients are column sums in two deterministic passes.
#include "kernels/nn/short_conv.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/nn/activations.hpp"

namespace selectiv::nn {
namespace {

// Widest kernel the register windows hold (one register per tap); every model here uses W = 4, which runs with
// windows of 4 slots (kernels of width 5 to 8 with 8).
constexpr int kMaxWidth = 8;
// Steps per thread: the backward recomputes W - 1 steps past its run for dx, so longer runs waste less; shorter
// ones put more threads in flight.
constexpr int kRunSteps = 32;
// Steps whose loads a thread issues together before it computes them (its loads in flight).
constexpr int kAhead = 4;

using detail::Member;
using detail::require;
using kc::Quad;

void check_shapes(const char* op, CView3 x, CView2 w, CView1 bias) {
  require(w.extent(0) == x.extent(2), op, "w must be (C, W) with C = x.extent(2)");
  require(w.extent(1) > 0, op, "the kernel width W must be positive");
  require(w.extent(1) <= static_cast<std::size_t>(kMaxWidth), op, "the kernel width W must be at most 8");
  require(bias.extent(0) == 0 || bias.extent(0) == x.extent(2), op, "bias must be (C) or empty");
}

void same_shape(const char* op, const char* name, CView3 a, CView3 x) {
  if (a.extent(0) != x.extent(0) || a.extent(1) != x.extent(1) || a.extent(2) != x.extent(2)) {
    throw std::invalid_argument(std::string("selectiv::nn::") + op + ": " + name + " must be (B, T, C) like x");
  }
}

// The runs of a (B, T, C) tensor: thread k <-> (b, run, quad of 4 channels), quad fastest. Each thread moves its
// 4 channels of a step with one 16-byte access (kernels/common/quad.hpp) where C is a multiple of 4.
struct Runs {
  int steps, channels, quads, runs;
  std::int64_t threads;
  Runs(int batch, int steps_, int channels_)
      : steps(steps_),
        channels(channels_),
        quads((channels_ + 3) / 4),
        runs((steps_ + kRunSteps - 1) / kRunSteps),
        threads(static_cast<std::int64_t>(batch) * runs * quads) {}
};

// A window of the last kSlots values of a channel, newest at slot kSlots - 1 (constant indices only, so it stays in
// registers).
template <int kSlots>
struct Window {
  float at[kSlots] = {};
  KOKKOS_INLINE_FUNCTION void push(float value) {
    for (int j = 0; j + 1 < kSlots; ++j) at[j] = at[j + 1];
    at[kSlots - 1] = value;
  }
  KOKKOS_INLINE_FUNCTION float dot(const Window& other) const {
    float acc = 0.0f;
    for (int j = 0; j < kSlots; ++j) acc += at[j] * other.at[j];
    return acc;
  }
};

// The windows of the 4 channels of a quad.
template <int kSlots>
using Windows = Window<kSlots>[4];

// The taps of channel c aligned with a window of inputs: slot kSlots - W + i holds w[c, i] (so dot with the input
// window x[t - kSlots + 1 .. t] is the convolution at t); reversed: slot kSlots - 1 - i holds w[c, i] (dot with the
// window dpre[t' - kSlots + 1 .. t'] is dx at t' - W + 1). Unused slots, and channels past C, are 0.
template <int kSlots>
KOKKOS_INLINE_FUNCTION void load_taps(Windows<kSlots>& out, const CView2& w, int c0, int valid, bool reversed) {
  const int width = static_cast<int>(w.extent(1));
  for (int q = 0; q < 4; ++q)
    for (int j = 0; j < kSlots; ++j) {
      const int i = reversed ? kSlots - 1 - j : j - (kSlots - width);
      out[q].at[j] = q < valid && i >= 0 && i < width ? w(c0 + q, i) : 0.0f;
    }
}

// The windows of x before step t0: x[b, t0 - kSlots + 1 .. t0 - 1, c] in slots 0 .. kSlots - 2 (0 before the
// sequence start); slot kSlots - 1 is for x[t0].
template <int kSlots>
KOKKOS_INLINE_FUNCTION void inputs_before(Windows<kSlots>& out, const CView3& x, int b, int t0, int c0, int valid,
                                          bool aligned) {
  for (int j = 1; j < kSlots; ++j) {
    const int t = t0 - kSlots + j;
    const Quad v = t >= 0 ? kc::load_quad(&x(b, t, c0), valid, aligned) : Quad{};
    for (int q = 0; q < 4; ++q) out[q].at[j - 1] = v.v[q];
  }
}

// Thread k's work: the first channel of its quad, its number of channels (up to 4: fewer in a last partial quad),
// the (b * runs + run) index of its run, the batch row and the run's steps t0 .. t1 - 1, and the bias of its channels
// (0 without one).
struct ThreadRun {
  int c0, valid, part, b, t0, t1;
  float bias[4];
  KOKKOS_INLINE_FUNCTION ThreadRun(std::int64_t k, const Runs& n, const CView1& bias_in) {
    c0 = static_cast<int>(k % n.quads) * 4;
    valid = n.channels - c0;
    part = static_cast<int>(k / n.quads);
    b = part / n.runs;
    t0 = part % n.runs * kRunSteps;
    t1 = t0 + kRunSteps < n.steps ? t0 + kRunSteps : n.steps;
    const bool has_bias = bias_in.extent(0) != 0;
    for (int q = 0; q < 4; ++q) bias[q] = has_bias && q < valid ? bias_in(c0 + q) : 0.0f;
  }
};

template <int kSlots>
void forward(const Exec& exec, View3 y, CView3 x, CView2 w, CView1 bias, bool apply_silu, const Runs& n, bool aligned) {
  Kokkos::parallel_for(
      "selectiv::short_conv::fwd", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n.threads),
      KOKKOS_LAMBDA(std::int64_t k) {
        const ThreadRun my(k, n, bias);
        const int b = my.b, t0 = my.t0, t1 = my.t1;
        Windows<kSlots> weights, xs;
        load_taps(weights, w, my.c0, my.valid, false);
        inputs_before(xs, x, b, t0, my.c0, my.valid, aligned);
        for (int ts = t0; ts < t1; ts += kAhead) {
          Quad in[kAhead];
          for (int a = 0; a < kAhead; ++a)
            in[a] = ts + a < t1 ? kc::load_quad(&x(b, ts + a, my.c0), my.valid, aligned) : Quad{};
          for (int a = 0; a < kAhead && ts + a < t1; ++a) {
            Quad out;
            for (int q = 0; q < 4; ++q) {
              xs[q].at[kSlots - 1] = in[a].v[q];
              const float pre = my.bias[q] + weights[q].dot(xs[q]);
              out.v[q] = apply_silu ? silu(pre) : pre;
              xs[q].push(0.0f);
            }
            kc::store_quad(&y(b, ts + a, my.c0), out, my.valid, aligned);
          }
        }
      });
}

// Per thread, steps t0 .. t1 + W - 2 in order: dpre[t] = dy[t] silu'(pre[t]) (pre recomputed; dy itself without the
// SiLU); dx[t - W + 1] = sum_i w[i] dpre[t - i] once dpre[t] is known (steps past the sequence end contribute 0); for
// its own steps t < t1, the sums dpre[t] x[t - W + 1 + i] of every tap i and dpre[t] (the bias), written per
// (b, run) as partials: (b * runs + run, slot, c), slot kMaxWidth - W + i for tap i and kMaxWidth for the bias.
template <int kSlots>
void backward_steps(const Exec& exec, View3 partial, View3 dx, CView3 dy, CView3 x, CView2 w, CView1 bias,
                    bool apply_silu, const Runs& n, bool aligned) {
  const bool want_dx = dx.size() != 0;
  const int width = static_cast<int>(w.extent(1));
  Kokkos::parallel_for(
      "selectiv::short_conv::bwd", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n.threads),
      KOKKOS_LAMBDA(std::int64_t k) {
        const ThreadRun my(k, n, bias);
        const int b = my.b, t0 = my.t0, t1 = my.t1;
        Windows<kSlots> weights, reversed, xs, dpre, sums;
        load_taps(weights, w, my.c0, my.valid, false);
        load_taps(reversed, w, my.c0, my.valid, true);
        float bias_sum[4] = {};
        inputs_before(xs, x, b, t0, my.c0, my.valid, aligned);
        const int t_end = t1 + width - 1;
        for (int ts = t0; ts < t_end; ts += kAhead) {
          Quad in[kAhead], grad[kAhead];
          for (int a = 0; a < kAhead; ++a) {
            const bool inside = ts + a < t_end && ts + a < n.steps;
            in[a] = inside ? kc::load_quad(&x(b, ts + a, my.c0), my.valid, aligned) : Quad{};
            grad[a] = inside ? kc::load_quad(&dy(b, ts + a, my.c0), my.valid, aligned) : Quad{};
          }
          for (int a = 0; a < kAhead && ts + a < t_end; ++a) {
            const int t = ts + a;
            Quad dx_out;
            for (int q = 0; q < 4; ++q) {
              xs[q].at[kSlots - 1] = in[a].v[q];
              const float g = grad[a].v[q];
              const float d = apply_silu && t < n.steps ? g * silu_grad(my.bias[q] + weights[q].dot(xs[q])) : g;
              dpre[q].push(d);
              if (t < t1) {
                for (int j = 0; j < kSlots; ++j) sums[q].at[j] += d * xs[q].at[j];
                bias_sum[q] += d;
              }
              dx_out.v[q] = reversed[q].dot(dpre[q]);
              xs[q].push(0.0f);
            }
            if (want_dx && t - width + 1 >= t0) kc::store_quad(&dx(b, t - width + 1, my.c0), dx_out, my.valid, aligned);
          }
        }
        for (int j = 0; j < kSlots; ++j) {
          Quad sum;
          for (int q = 0; q < 4; ++q) sum.v[q] = sums[q].at[j];
          kc::store_quad(&partial(my.part, kMaxWidth - kSlots + j, my.c0), sum, my.valid, aligned);
        }
        kc::store_quad(&partial(my.part, kMaxWidth, my.c0), Quad{{bias_sum[0], bias_sum[1], bias_sum[2], bias_sum[3]}},
                       my.valid, aligned);
      });
}

}  // namespace

void short_conv_fwd(const Exec& exec, View3 y, CView3 x, CView2 w, CView1 bias, bool apply_silu) {
  check_shapes("short_conv_fwd", x, w, bias);
  same_shape("short_conv_fwd", "y", y, x);
  const Runs n(static_cast<int>(x.extent(0)), static_cast<int>(x.extent(1)), static_cast<int>(x.extent(2)));
  const bool aligned = kc::quads_aligned(n.channels, {x.data(), y.data()});
  if (w.extent(1) <= 4) {
    forward<4>(exec, y, x, w, bias, apply_silu, n, aligned);
  } else {
    forward<kMaxWidth>(exec, y, x, w, bias, apply_silu, n, aligned);
  }
}

void short_conv_bwd(const Exec& exec, View3 dx, View2 dw, View1 dbias, CView3 dy, CView3 x, CView2 w, CView1 bias,
                    bool apply_silu) {
  check_shapes("short_conv_bwd", x, w, bias);
  same_shape("short_conv_bwd", "dy", dy, x);
  require(dw.extent(0) == w.extent(0) && dw.extent(1) == w.extent(1), "short_conv_bwd", "dw must be (C, W) like w");
  require(dbias.extent(0) == 0 || dbias.extent(0) == x.extent(2), "short_conv_bwd", "dbias must be (C) or empty");
  const bool want_dx = dx.size() != 0;
  if (want_dx) same_shape("short_conv_bwd", "dx", dx, x);
  const int batch = static_cast<int>(x.extent(0)), width = static_cast<int>(w.extent(1));
  const Runs n(batch, static_cast<int>(x.extent(1)), static_cast<int>(x.extent(2)));

  // 1. The steps of every run (backward_steps): dx and the per-run partial sums of the weight and bias gradients.
  const int parts = batch * n.runs;
  const View3 partial =
      workspace<View3>("selectiv::short_conv::bwd_partial", parts, kMaxWidth + 1, x.extent(2));  // (part, slot, c)
  const bool aligned = kc::quads_aligned(n.channels, {x.data(), dy.data(), dx.data(), partial.data()});
  if (width <= 4) {
    backward_steps<4>(exec, partial, dx, dy, x, w, bias, apply_silu, n, aligned);
  } else {
    backward_steps<kMaxWidth>(exec, partial, dx, dy, x, w, bias, apply_silu, n, aligned);
  }

  // 2. One team per (tap or bias, channel) adds the partials in part order.
  const bool want_dbias = dbias.extent(0) != 0;
  const int taps_out = want_dbias ? width + 1 : width, channels = n.channels;
  Kokkos::parallel_for(
      "selectiv::short_conv::bwd_params", detail::reduction_teams(exec, taps_out * channels, parts),
      KOKKOS_LAMBDA(const Member& team) {
        const int i = team.league_rank() / channels, c = team.league_rank() % channels;
        const int slot = i == width ? kMaxWidth : kMaxWidth - width + i;
        float total = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, parts), [&](int p, float& acc) { acc += partial(p, slot, c); }, total);
        Kokkos::single(Kokkos::PerTeam(team), [&]() {
          if (i == width) {
            dbias(c) += total;
          } else {
            dw(c, i) += total;
          }
        });
      });
}

}  // namespace selectiv::nn
