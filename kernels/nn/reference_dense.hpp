// SPDX-License-Identifier: BSD-3-Clause
// Host reference twins of the dense ops (linear, layer_norm, rms_norm, l2_norm, short_conv, activations): serial,
// double precision, written straight from the formulas and never optimised. They are the oracles the device
// kernels are tested against; finite differences test their backward passes.
//
// Tensors are row-major std::vector<double> with the shapes of the device twins (see each op's header). Assigned
// outputs (y, dx, dgate, saved statistics) are resized here; accumulated outputs (dw, db, dbias) must already have
// their size and are added to. An empty bias/gate/db vector means "none"/"skip", as an empty view does.
#pragma once

#include <vector>

#include "kernels/nn/rms_norm.hpp"

namespace selectiv::nn {

using HostTensor = std::vector<double>;

// --- linear: y (N, out) = x (N, in) W^T (out, in) + b (out) ---------------------------------------------------
void linear_reference_fwd(HostTensor& y, const HostTensor& x, const HostTensor& w, const HostTensor& b, int rows,
                          int in, int out);
void linear_reference_bwd(HostTensor& dx, HostTensor& dw, HostTensor& db, const HostTensor& dy, const HostTensor& x,
                          const HostTensor& w, int rows, int in, int out);

// --- layer_norm over the last dim D of (N, D), biased variance; mean, rstd (N) --------------------------------
void layer_norm_reference_fwd(HostTensor& y, HostTensor& mean, HostTensor& rstd, const HostTensor& x,
                              const HostTensor& w, const HostTensor& b, int rows, int dim, double eps);
// Recomputes the statistics from x.
void layer_norm_reference_bwd(HostTensor& dx, HostTensor& dw, HostTensor& db, const HostTensor& dy, const HostTensor& x,
                              const HostTensor& w, int rows, int dim, double eps);

// --- rms_norm over groups of spec.group_size of (N, D), weight (G); rstd (N, D / G) ----------------------------
// gate empty: plain RMSNorm (order ignored); else the swish gate in the given order.
void rms_norm_reference_fwd(HostTensor& y, HostTensor& rstd, const HostTensor& x, const HostTensor& gate,
                            const HostTensor& w, int rows, int dim, const RmsNormSpec& spec, GateOrder order);
// Recomputes the statistics from x; dgate is left empty when there is no gate.
void rms_norm_reference_bwd(HostTensor& dx, HostTensor& dgate, HostTensor& dw, const HostTensor& dy,
                            const HostTensor& x, const HostTensor& gate, const HostTensor& w, int rows, int dim,
                            const RmsNormSpec& spec, GateOrder order);

// --- l2_norm over groups of G of (N, D): y = x / sqrt(sum x^2 + eps); rstd (N, D / G) --------------------------
void l2_norm_reference_fwd(HostTensor& y, HostTensor& rstd, const HostTensor& x, int rows, int dim, int group,
                           double eps);
void l2_norm_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x, int rows, int dim, int group,
                           double eps);

// --- short causal depthwise conv: x, y (B, T, C), w (C, W), bias (C) or empty ----------------------------------
void short_conv_reference_fwd(HostTensor& y, const HostTensor& x, const HostTensor& w, const HostTensor& bias,
                              int batch, int steps, int channels, int width, bool apply_silu);
void short_conv_reference_bwd(HostTensor& dx, HostTensor& dw, HostTensor& dbias, const HostTensor& dy,
                              const HostTensor& x, const HostTensor& w, const HostTensor& bias, int batch, int steps,
                              int channels, int width, bool apply_silu);

// --- activations, elementwise on flat vectors: dx = dy * f'(x) ------------------------------------------------
void sigmoid_reference_fwd(HostTensor& y, const HostTensor& x);
void sigmoid_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x);
void silu_reference_fwd(HostTensor& y, const HostTensor& x);
void silu_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x);
void softplus_reference_fwd(HostTensor& y, const HostTensor& x);  // x above 20: x (PyTorch threshold)
void softplus_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x);
void logsigmoid_reference_fwd(HostTensor& y, const HostTensor& x);
void logsigmoid_reference_bwd(HostTensor& dx, const HostTensor& dy, const HostTensor& x);

}  // namespace selectiv::nn
