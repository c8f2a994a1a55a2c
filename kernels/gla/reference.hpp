// SPDX-License-Identifier: BSD-3-Clause
// The GLA recurrence on the host, token by token in double precision, forward and hand-derived backward through
// time: the slow, obviously-correct twin that the chunked kernels are tested against (README.md §1).
#pragma once

#include <vector>

namespace selectiv::gla {

// Sizes shared by every tensor of one call: batch, time, heads, key (state rows) and value (state columns) dims.
struct GlaSizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0;
};

// Row-major tensors: q, k, g (B, T, H, K); v, o (B, T, H, V); h0, ht (B, H, K, V). An empty h0 means a zero initial
// state. o and ht are resized and assigned.
//   S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T,   o_t = scale * S_t^T q_t,   ht = S_{T-1}
void gla_reference_fwd(std::vector<double>& o,                // (B, T, H, V)
                       std::vector<double>& ht,               // (B, H, K, V)
                       const std::vector<double>& q,          // (B, T, H, K)
                       const std::vector<double>& k,          // (B, T, H, K)
                       const std::vector<double>& v,          // (B, T, H, V)
                       const std::vector<double>& g,          // (B, T, H, K) log-decay, <= 0
                       const std::vector<double>& h0,         // (B, H, K, V) or empty
                       double scale, const GlaSizes& sizes);

// Gradients of a scalar loss given do = dL/do and dht = dL/dht (empty: zero). All five outputs are resized and
// assigned (dh0 always, also when h0 was empty). The states S_t are recomputed by a forward pass per (b, h).
void gla_reference_bwd(std::vector<double>& dq,               // (B, T, H, K)
                       std::vector<double>& dk,               // (B, T, H, K)
                       std::vector<double>& dv,               // (B, T, H, V)
                       std::vector<double>& dg,               // (B, T, H, K)
                       std::vector<double>& dh0,              // (B, H, K, V)
                       const std::vector<double>& do_,        // (B, T, H, V)
                       const std::vector<double>& dht,        // (B, H, K, V) or empty
                       const std::vector<double>& q,          // (B, T, H, K)
                       const std::vector<double>& k,          // (B, T, H, K)
                       const std::vector<double>& v,          // (B, T, H, V)
                       const std::vector<double>& g,          // (B, T, H, K)
                       const std::vector<double>& h0,         // (B, H, K, V) or empty
                       double scale, const GlaSizes& sizes);

}  // namespace selectiv::gla
