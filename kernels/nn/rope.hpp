// SPDX-License-Identifier: BSD-3-Clause
// Rotary position embedding on (B, T, H, hd) query/key tensors, forward and backward (the inverse rotation).
// Pairs are the two halves of the head: x1 = x[..., :hd/2], x2 = x[..., hd/2:], pair i = (x1[i], x2[i]).
// Angle of pair i at time step t (position = t = 0..T-1):
//   theta[t, i] = float(t) * inv_freq[i]     one float32 multiply, then cos/sin in float32 (kc::cos, kc::sin),
// which is how the reference computes it (t and the inv_freq buffer are float32 tensors, their outer product and
// its cos/sin are float32 ops). Take inv_freq from the reference's stored buffer (golden `L.rotary.inv_freq`) where
// there is one; rope_inv_freq() recomputes it the way PyTorch does.
#pragma once

#include <vector>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

enum class RopeConvention {
  // The reference TransformerDecoderLayer (golden/README.md §4.8, base 1000): rotation by -theta,
  //   y1 = x1 cos + x2 sin,  y2 = -x1 sin + x2 cos.
  reference_transformer,
  // The standard rotate-half form (fla RotaryEmbedding, RetNet, base 10000): rotation by +theta,
  //   y1 = x1 cos - x2 sin,  y2 = x2 cos + x1 sin.
  rotate_half,
};

// inv_freq[i] = 1 / base^(2i / hd), i = 0..hd/2-1, in float32 operations as PyTorch's
// 1.0 / (base ** (torch.arange(0, hd, 2).float() / hd)) (powf may differ from PyTorch's pow by an ulp).
std::vector<float> rope_inv_freq(int head_dim, float base);

// y = rotation of x. y may be x itself (in place).
void rope_fwd(const Exec& exec,
              View4 y,          // (B, T, H, hd)
              CView4 x,         // (B, T, H, hd), hd even
              CView1 inv_freq,  // (hd/2)
              RopeConvention convention);

// dx = inverse rotation of dy (the rotation is orthogonal, so its transpose is its inverse). dx may be dy itself.
void rope_bwd(const Exec& exec,
              View4 dx,         // (B, T, H, hd)
              CView4 dy,        // (B, T, H, hd)
              CView1 inv_freq,  // (hd/2)
              RopeConvention convention);

}  // namespace selectiv::nn
