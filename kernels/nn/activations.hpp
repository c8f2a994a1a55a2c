// SPDX-License-Identifier: BSD-3-Clause
// Elementwise activations: the scalar forms (usable inside any kernel) and flat fwd/bwd entry points.
// Gradients: dx = dy * f'(x), assigned. Every bwd takes the forward input x (not the output).
#pragma once

#include <cstddef>
#include <stdexcept>

#include "kernels/common/compat.hpp"
#include "kernels/common/views.hpp"

namespace selectiv::nn {

// PyTorch's softplus returns x itself above this input (beta = 1).
constexpr float kSoftplusThreshold = 20.0f;

// --- scalar forms, host and device ---------------------------------------------------------------------------
// sigmoid(x) = 1 / (1 + e^-x). The sigmoid family goes through e = e^-|x| (never overflows) and never forms
// 1 - sigmoid(x) by subtraction, so tails keep full relative precision.
KOKKOS_INLINE_FUNCTION float sigmoid(float x) {
  const float e = kc::exp(-kc::fabs(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
// sigmoid'(x) = sigmoid(x) sigmoid(-x) = e / (1 + e)^2
KOKKOS_INLINE_FUNCTION float sigmoid_grad(float x) {
  const float e = kc::exp(-kc::fabs(x));
  const float d = 1.0f + e;
  return e / (d * d);
}
// silu(x) = x * sigmoid(x);  silu'(x) = sigmoid(x) (1 + x sigmoid(-x))
KOKKOS_INLINE_FUNCTION float silu(float x) { return x * sigmoid(x); }
KOKKOS_INLINE_FUNCTION float silu_grad(float x) {
  const float e = kc::exp(-kc::fabs(x));
  const float inv = 1.0f / (1.0f + e);
  const float s_pos = x >= 0.0f ? inv : e * inv;  // sigmoid(x)
  const float s_neg = x >= 0.0f ? e * inv : inv;  // sigmoid(-x)
  return s_pos * (1.0f + x * s_neg);
}
// softplus(x) = log(1 + e^x); x itself above the threshold (as PyTorch)
KOKKOS_INLINE_FUNCTION float softplus(float x) { return x > kSoftplusThreshold ? x : kc::log1p(kc::exp(x)); }
KOKKOS_INLINE_FUNCTION float softplus_grad(float x) { return x > kSoftplusThreshold ? 1.0f : sigmoid(x); }
// logsigmoid(x) = log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|): no overflow for any x
KOKKOS_INLINE_FUNCTION float logsigmoid(float x) { return (x < 0.0f ? x : 0.0f) - kc::log1p(kc::exp(-kc::fabs(x))); }
KOKKOS_INLINE_FUNCTION float logsigmoid_grad(float x) { return sigmoid(-x); }

// --- flat entry points: y, x, dx, dy are (n); y may alias x and dx may alias dy --------------------------------
void sigmoid_fwd(const Exec& exec, View1 y, CView1 x);
void sigmoid_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x);
void silu_fwd(const Exec& exec, View1 y, CView1 x);
void silu_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x);
void softplus_fwd(const Exec& exec, View1 y, CView1 x);
void softplus_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x);
// y = scale * logsigmoid(x), dx = scale * dy * logsigmoid'(x) (GLA's gate: scale 1/16, one pass)
void logsigmoid_fwd(const Exec& exec, View1 y, CView1 x, float scale = 1.0f);
void logsigmoid_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x, float scale = 1.0f);

// Any contiguous device tensor seen as one flat (n) vector over the same memory. The result is unmanaged: the
// caller keeps `v` alive while it is used.
template <class ViewType>
DeviceView1<typename ViewType::value_type> as_flat(const ViewType& v) {
  if (!v.span_is_contiguous()) throw std::invalid_argument("selectiv::nn::as_flat: view is not contiguous");
  return DeviceView1<typename ViewType::value_type>(v.data(), v.size());
}

}  // namespace selectiv::nn
