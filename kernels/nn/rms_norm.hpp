// SPDX-License-Identifier: BSD-3-Clause
// RMSNorm over consecutive groups of G channels of the last dimension, one weight vector (G) shared by all groups
// (G = head dim: per-head norm; G = D: the whole row). Variants:
//   standard        y = x / sqrt(mean(x^2) + eps) * w                    (fla, mamba_ssm; eps 1e-5)
//   eps outside     y = x / (||x||_2 * G^-1/2 + eps) * w                 (the reference Transformer; eps 1e-8)
//   gated, norm first  y = RMSNorm(x) * w * silu(g)                      (fla FusedRMSNormGated, swish gate)
//   gated, gate first  y = RMSNorm(x * silu(g)) * w                      (Mamba2, norm_before_gate=False)
// The forward saves rstd per (row, group): the factor r with y = v * r * w (v = x, or x * silu(g) gate first).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::nn {

enum class RmsEps {
  inside_sqrt,   // r = 1 / sqrt(mean(v^2) + eps)
  outside_sqrt,  // r = 1 / (sqrt(mean(v^2)) + eps)
};

enum class GateOrder {
  norm_then_gate,  // RMSNorm(x) * w * silu(g)
  gate_then_norm,  // RMSNorm(x * silu(g)) * w
};

struct RmsNormSpec {
  int group_size = 0;  // G; D must be a multiple of it
  float eps = 1e-5f;
  RmsEps eps_placement = RmsEps::inside_sqrt;

  static RmsNormSpec standard(int group_size, float eps = 1e-5f) {
    return RmsNormSpec{group_size, eps, RmsEps::inside_sqrt};
  }
  // The reference Transformer's RMSNorm: x / (||x|| * G^-1/2 + eps) * w.
  static RmsNormSpec eps_outside_sqrt(int group_size, float eps = 1e-8f) {
    return RmsNormSpec{group_size, eps, RmsEps::outside_sqrt};
  }
};

void rms_norm_fwd(const Exec& exec,
                  View2 y,     // (N, D)
                  View2 rstd,  // (N, D / G) saved for the backward
                  CView2 x,    // (N, D)
                  CView1 w,    // (G)
                  const RmsNormSpec& spec);

// dx assigned, dw += (reduced over rows and groups).
void rms_norm_bwd(const Exec& exec,
                  View2 dx,     // (N, D)
                  View1 dw,     // (G)
                  CView2 rstd,  // (N, D / G) from the forward
                  CView2 dy,    // (N, D)
                  CView2 x,     // (N, D)
                  CView1 w,     // (G)
                  const RmsNormSpec& spec);

void gated_rms_norm_fwd(const Exec& exec,
                        View2 y,      // (N, D)
                        View2 rstd,   // (N, D / G) saved for the backward
                        CView2 x,     // (N, D)
                        CView2 gate,  // (N, D)
                        CView1 w,     // (G)
                        const RmsNormSpec& spec, GateOrder order);

// dx and dgate assigned, dw +=.
void gated_rms_norm_bwd(const Exec& exec,
                        View2 dx,     // (N, D)
                        View2 dgate,  // (N, D)
                        View1 dw,     // (G)
                        CView2 rstd,  // (N, D / G) from the forward
                        CView2 dy,    // (N, D)
                        CView2 x,     // (N, D)
                        CView2 gate,  // (N, D)
                        CView1 w,     // (G)
                        const RmsNormSpec& spec, GateOrder order);

}  // namespace selectiv::nn
