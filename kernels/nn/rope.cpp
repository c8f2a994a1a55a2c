// SPDX-License-Identifier: BSD-3-Clause
// Rotary position embedding, forward and backward; see rope.hpp.
#include "kernels/nn/rope.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {
namespace {

void check_shapes(const char* op, const View4& out, const CView4& in, const CView1& inv_freq) {
  for (int k = 0; k < 4; ++k) {
    if (out.extent(k) != in.extent(k)) {
      throw std::invalid_argument(std::string(op) + ": input and output shapes differ in dimension " +
                                  std::to_string(k));
    }
  }
  const std::size_t head_dim = in.extent(3);
  if (head_dim % 2 != 0) throw std::invalid_argument(std::string(op) + ": head dim must be even");
  if (inv_freq.extent(0) != head_dim / 2) {
    throw std::invalid_argument(std::string(op) + ": inv_freq has " + std::to_string(inv_freq.extent(0)) +
                                " entries, head dim / 2 is " + std::to_string(head_dim / 2));
  }
}

// out = R(sin_sign * theta) in, pairwise: out1 = in1 cos + sin_sign * in2 sin, out2 = -sin_sign * in1 sin + in2 cos.
// sin_sign = +1 rotates by -theta (the reference convention), -1 by +theta. One thread per pair, so in place is safe.
void rotate_pairs(const Exec& exec, const char* label, View4 out, CView4 in, CView1 inv_freq, float sin_sign) {
  const std::int64_t n_time = static_cast<std::int64_t>(in.extent(1));
  const std::int64_t n_heads = static_cast<std::int64_t>(in.extent(2));
  const std::int64_t half = static_cast<std::int64_t>(in.extent(3) / 2);
  const std::int64_t n_pairs = static_cast<std::int64_t>(in.extent(0)) * n_time * n_heads * half;
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n_pairs),
      KOKKOS_LAMBDA(const std::int64_t pair) {
        const std::int64_t i = pair % half;
        const std::int64_t h = (pair / half) % n_heads;
        const std::int64_t t = (pair / (half * n_heads)) % n_time;
        const std::int64_t b = pair / (half * n_heads * n_time);
        const float theta = static_cast<float>(t) * inv_freq(i);
        const float cos_theta = kc::cos(theta);
        const float sin_theta = sin_sign * kc::sin(theta);
        const float x1 = in(b, t, h, i);
        const float x2 = in(b, t, h, i + half);
        out(b, t, h, i) = x1 * cos_theta + x2 * sin_theta;
        out(b, t, h, i + half) = -x1 * sin_theta + x2 * cos_theta;
      });
}

float forward_sin_sign(RopeConvention convention) {
  return convention == RopeConvention::reference_transformer ? 1.0f : -1.0f;
}

}  // namespace

std::vector<float> rope_inv_freq(int head_dim, float base) {
  if (head_dim <= 0 || head_dim % 2 != 0) throw std::invalid_argument("rope_inv_freq: head dim must be even and > 0");
  std::vector<float> inv_freq(static_cast<std::size_t>(head_dim / 2));
  for (int i = 0; i < head_dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq[static_cast<std::size_t>(i)] = 1.0f / std::pow(base, exponent);
  }
  return inv_freq;
}

void rope_fwd(const Exec& exec, View4 y, CView4 x, CView1 inv_freq, RopeConvention convention) {
  check_shapes("rope_fwd", y, x, inv_freq);
  rotate_pairs(exec, "selectiv::rope::fwd", y, x, inv_freq, forward_sin_sign(convention));
}

void rope_bwd(const Exec& exec, View4 dx, CView4 dy, CView1 inv_freq, RopeConvention convention) {
  check_shapes("rope_bwd", dx, dy, inv_freq);
  rotate_pairs(exec, "selectiv::rope::bwd", dx, dy, inv_freq, -forward_sin_sign(convention));
}

}  // namespace selectiv::nn
