// SPDX-License-Identifier: BSD-3-Clause
// Short causal depthwise convolution, forward next to backward. Elementwise kernels over (B, T, C) with C
// fastest (coalesced); the weight and bias gradients are column sums in two deterministic passes.
#include "kernels/nn/short_conv.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/reductions.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/nn/activations.hpp"

namespace selectiv::nn {
namespace {

// Widest kernel the weight-gradient pass holds sums for (one register per tap); every model here uses W = 4.
constexpr int kMaxWidth = 8;

using detail::Member;
using detail::require;
using detail::TeamPolicy;

// f(b, t, c) for every element of a (B, T, C) tensor: one warp per (b, t) row, its lanes across the channels
// (coalesced), so no element needs 64-bit index arithmetic (the flat form's divisions were the kernels' cost).
template <class F>
void for_each_element(const Exec& exec, const char* label, int batch, int steps, int channels, const F& f) {
  const int rows = batch * steps;
  Kokkos::parallel_for(
      label, detail::vector_per_item(exec, rows), KOKKOS_LAMBDA(const Member& team) {
        const int row = detail::vector_item(team);
        if (row >= rows) return;
        const int b = row / steps, t = row % steps;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, channels), [&](int c) { f(b, t, c); });
      });
}

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

// bias[c] + sum_i w[c, i] x[b, t - W + 1 + i, c], the taps before t = 0 left out
KOKKOS_INLINE_FUNCTION float conv_at(const CView3& x, const CView2& w, const CView1& bias, bool has_bias, int b, int t,
                                     int c) {
  const int width = static_cast<int>(w.extent(1));
  float acc = has_bias ? bias(c) : 0.0f;
  const int first = t - width + 1;
  for (int i = first < 0 ? -first : 0; i < width; ++i) acc += w(c, i) * x(b, first + i, c);
  return acc;
}

}  // namespace

void short_conv_fwd(const Exec& exec, View3 y, CView3 x, CView2 w, CView1 bias, bool apply_silu) {
  check_shapes("short_conv_fwd", x, w, bias);
  same_shape("short_conv_fwd", "y", y, x);
  const int batch = static_cast<int>(x.extent(0)), steps = static_cast<int>(x.extent(1));
  const int channels = static_cast<int>(x.extent(2));
  const bool has_bias = bias.extent(0) != 0;
  for_each_element(
      exec, "selectiv::short_conv::fwd", batch, steps, channels, KOKKOS_LAMBDA(int b, int t, int c) {
        const float pre = conv_at(x, w, bias, has_bias, b, t, c);
        y(b, t, c) = apply_silu ? silu(pre) : pre;
      });
}

void short_conv_bwd(const Exec& exec, View3 dx, View2 dw, View1 dbias, CView3 dy, CView3 x, CView2 w, CView1 bias,
                    bool apply_silu) {
  check_shapes("short_conv_bwd", x, w, bias);
  same_shape("short_conv_bwd", "dy", dy, x);
  require(dw.extent(0) == w.extent(0) && dw.extent(1) == w.extent(1), "short_conv_bwd", "dw must be (C, W) like w");
  require(dbias.extent(0) == 0 || dbias.extent(0) == x.extent(2), "short_conv_bwd", "dbias must be (C) or empty");
  const int batch = static_cast<int>(x.extent(0)), steps = static_cast<int>(x.extent(1));
  const int channels = static_cast<int>(x.extent(2)), width = static_cast<int>(w.extent(1));
  const bool has_bias = bias.extent(0) != 0;

  // 1. dpre = dy * silu'(pre), pre recomputed; without the SiLU dpre is dy itself.
  CView3 dpre = dy;
  if (apply_silu) {
    const View3 buffer = workspace<View3>("selectiv::short_conv::dpre", x.extent(0), x.extent(1), x.extent(2));
    for_each_element(
        exec, "selectiv::short_conv::bwd_activation", batch, steps, channels, KOKKOS_LAMBDA(int b, int t, int c) {
          buffer(b, t, c) = dy(b, t, c) * silu_grad(conv_at(x, w, bias, has_bias, b, t, c));
        });
    dpre = buffer;
  }

  // 2. dx[b, t, c] = sum_i w[c, i] dpre[b, t + W - 1 - i, c], the taps past the last step left out
  if (dx.size() != 0) {
    same_shape("short_conv_bwd", "dx", dx, x);
    for_each_element(
        exec, "selectiv::short_conv::bwd_input", batch, steps, channels, KOKKOS_LAMBDA(int b, int t, int c) {
          float acc = 0.0f;
          for (int i = 0; i < width; ++i) {
            const int tau = t + width - 1 - i;
            if (tau < steps) acc += w(c, i) * dpre(b, tau, c);
          }
          dx(b, t, c) = acc;
        });
  }

  // 3. dw[c, i] += sum_{b,t} dpre[b, t, c] x[b, t - W + 1 + i, c], dbias[c] += sum_{b,t} dpre[b, t, c]. Pass 1: one
  //    thread per (chunk of kRowsPerChunk (b, t) rows, channel), consecutive threads on consecutive channels, holding
  //    all W + 1 sums, so it reads each dpre and x element of its rows once (one thread per (chunk, tap) re-read dpre
  //    for every tap); pass 2: one team per (tap, channel) adds the chunks' partials in chunk order.
  constexpr int kRowsPerChunk = 32;
  const int rows = batch * steps, chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  const View3 partial =
      workspace<View3>("selectiv::short_conv::bwd_params_partial", chunks, width + 1, x.extent(2));  // (chunk, tap, c)
  Kokkos::parallel_for(
      "selectiv::short_conv::bwd_params_partial",
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, std::int64_t(chunks) * channels),
      KOKKOS_LAMBDA(std::int64_t k) {
        const int c = static_cast<int>(k % channels), chunk = static_cast<int>(k / channels);
        const int begin = chunk * kRowsPerChunk, end = begin + kRowsPerChunk < rows ? begin + kRowsPerChunk : rows;
        float tap_sums[kMaxWidth] = {};
        float bias_sum = 0.0f;
        for (int r = begin; r < end; ++r) {
          const int b = r / steps, t = r % steps;
          const float d = dpre(b, t, c);
          for (int i = 0; i < kMaxWidth; ++i) {
            const int tau = t + i - width + 1;
            if (i < width && tau >= 0) tap_sums[i] += d * x(b, tau, c);
          }
          bias_sum += d;
        }
        for (int i = 0; i < kMaxWidth; ++i) {
          if (i < width) partial(chunk, i, c) = tap_sums[i];
        }
        partial(chunk, width, c) = bias_sum;
      });
  const bool want_dbias = dbias.extent(0) != 0;
  const int taps = want_dbias ? width + 1 : width;
  Kokkos::parallel_for(
      "selectiv::short_conv::bwd_params", detail::reduction_teams(exec, taps * channels, chunks),
      KOKKOS_LAMBDA(const Member& team) {
        const int i = team.league_rank() / channels, c = team.league_rank() % channels;
        float total = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, chunks), [&](int chunk, float& acc) { acc += partial(chunk, i, c); }, total);
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
