// SPDX-License-Identifier: BSD-3-Clause
// Short causal depthwise convolution, forward next to backward. One thread per (b, run of kRunSteps consecutive
// steps, channel), consecutive threads on consecutive channels (coalesced): it walks its steps in order and keeps
// the last kMaxWidth inputs (and, backward, pre-activation gradients) in registers, so every element is loaded once.
// The weight and bias gradients are column sums in two deterministic passes.
#include "kernels/nn/short_conv.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/reductions.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/nn/activations.hpp"

namespace selectiv::nn {
namespace {

// Widest kernel the register windows hold (one register per tap); every model here uses W = 4.
constexpr int kMaxWidth = 8;
// Steps per thread: the backward recomputes W - 1 steps past its run for dx, so longer runs waste less; shorter
// ones put more threads in flight.
constexpr int kRunSteps = 32;

using detail::Member;
using detail::require;

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

// The runs of a (B, T, C) tensor: thread k <-> (b, run, c), c fastest.
struct Runs {
  int steps, channels, runs;
  std::int64_t threads;
  Runs(int batch, int steps_, int channels_)
      : steps(steps_),
        channels(channels_),
        runs((steps_ + kRunSteps - 1) / kRunSteps),
        threads(static_cast<std::int64_t>(batch) * runs * channels_) {}
};

// A window of the last kMaxWidth values of a channel, newest at slot kMaxWidth - 1 (constant indices only, so it
// stays in registers).
struct Window {
  float at[kMaxWidth] = {};
  KOKKOS_INLINE_FUNCTION void push(float value) {
    for (int j = 0; j + 1 < kMaxWidth; ++j) at[j] = at[j + 1];
    at[kMaxWidth - 1] = value;
  }
  KOKKOS_INLINE_FUNCTION float dot(const Window& other) const {
    float acc = 0.0f;
    for (int j = 0; j < kMaxWidth; ++j) acc += at[j] * other.at[j];
    return acc;
  }
};

// The taps of channel c aligned with a window of inputs: slot kMaxWidth - W + i holds w[c, i] (so dot with the input
// window x[t - kMaxWidth + 1 .. t] is the convolution at t); reversed: slot kMaxWidth - 1 - i holds w[c, i] (dot with
// the window dpre[t' - kMaxWidth + 1 .. t'] is dx at t' - W + 1). Unused slots are 0.
KOKKOS_INLINE_FUNCTION Window taps(const CView2& w, int c, bool reversed) {
  const int width = static_cast<int>(w.extent(1));
  Window out;
  for (int j = 0; j < kMaxWidth; ++j) {
    const int i = reversed ? kMaxWidth - 1 - j : j - (kMaxWidth - width);
    out.at[j] = i >= 0 && i < width ? w(c, i) : 0.0f;
  }
  return out;
}

// The window of x before step t0: x[b, t0 - kMaxWidth + 1 .. t0 - 1, c] in slots 0 .. kMaxWidth - 2 (0 before the
// sequence start); slot kMaxWidth - 1 is for x[t0].
KOKKOS_INLINE_FUNCTION Window inputs_before(const CView3& x, int b, int t0, int c) {
  Window out;
  for (int j = 1; j < kMaxWidth; ++j) {
    const int t = t0 - kMaxWidth + j;
    out.at[j - 1] = t >= 0 ? x(b, t, c) : 0.0f;
  }
  return out;
}

}  // namespace

void short_conv_fwd(const Exec& exec, View3 y, CView3 x, CView2 w, CView1 bias, bool apply_silu) {
  check_shapes("short_conv_fwd", x, w, bias);
  same_shape("short_conv_fwd", "y", y, x);
  const Runs n(static_cast<int>(x.extent(0)), static_cast<int>(x.extent(1)), static_cast<int>(x.extent(2)));
  const bool has_bias = bias.extent(0) != 0;
  Kokkos::parallel_for(
      "selectiv::short_conv::fwd", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n.threads),
      KOKKOS_LAMBDA(std::int64_t k) {
        const int c = static_cast<int>(k % n.channels), run = static_cast<int>(k / n.channels % n.runs);
        const int b = static_cast<int>(k / n.channels / n.runs), t0 = run * kRunSteps;
        const int t1 = t0 + kRunSteps < n.steps ? t0 + kRunSteps : n.steps;
        const Window weights = taps(w, c, false);
        const float b_c = has_bias ? bias(c) : 0.0f;
        Window xs = inputs_before(x, b, t0, c);
        for (int t = t0; t < t1; ++t) {
          xs.at[kMaxWidth - 1] = x(b, t, c);
          const float pre = b_c + weights.dot(xs);
          y(b, t, c) = apply_silu ? silu(pre) : pre;
          xs.push(0.0f);
        }
      });
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
  const bool has_bias = bias.extent(0) != 0;

  // 1. Per thread, steps t0 .. t1 + W - 2 in order: dpre[t] = dy[t] silu'(pre[t]) (pre recomputed; dy itself
  //    without the SiLU); dx[t - W + 1] = sum_i w[i] dpre[t - i] once dpre[t] is known (steps past the sequence end
  //    contribute 0); for its own steps t < t1, the sums dpre[t] x[t - W + 1 + i] of every tap i and dpre[t] (the
  //    bias), written per (b, run) as partials: (b * runs + run, slot, c), slot kMaxWidth - W + i for tap i and
  //    kMaxWidth for the bias.
  const int parts = batch * n.runs;
  const View3 partial =
      workspace<View3>("selectiv::short_conv::bwd_partial", parts, kMaxWidth + 1, x.extent(2));  // (part, slot, c)
  Kokkos::parallel_for(
      "selectiv::short_conv::bwd", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n.threads),
      KOKKOS_LAMBDA(std::int64_t k) {
        const int c = static_cast<int>(k % n.channels), part = static_cast<int>(k / n.channels);
        const int run = part % n.runs, b = part / n.runs, t0 = run * kRunSteps;
        const int t1 = t0 + kRunSteps < n.steps ? t0 + kRunSteps : n.steps;
        const Window weights = taps(w, c, false), reversed = taps(w, c, true);
        const float b_c = has_bias ? bias(c) : 0.0f;
        Window xs = inputs_before(x, b, t0, c), dpre;
        Window sums;
        float bias_sum = 0.0f;
        for (int t = t0; t < t1 + width - 1; ++t) {
          float d = 0.0f;
          if (t < n.steps) {
            xs.at[kMaxWidth - 1] = x(b, t, c);
            d = apply_silu ? dy(b, t, c) * silu_grad(b_c + weights.dot(xs)) : dy(b, t, c);
          }
          dpre.push(d);
          if (t < t1) {
            for (int j = 0; j < kMaxWidth; ++j) sums.at[j] += d * xs.at[j];
            bias_sum += d;
          }
          if (want_dx && t - width + 1 >= t0) dx(b, t - width + 1, c) = reversed.dot(dpre);
          xs.push(0.0f);
        }
        for (int j = 0; j < kMaxWidth; ++j) partial(part, j, c) = sums.at[j];
        partial(part, kMaxWidth, c) = bias_sum;
      });

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
