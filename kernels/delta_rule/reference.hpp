// SPDX-License-Identifier: BSD-3-Clause
// The (gated) delta rule with n Householder sub-steps per token on the host, token by token in double precision,
// forward and hand-derived backward: the slow, obviously-correct twin the device kernels are tested against
// (README.md §1). One op covers DeltaNet (no gate, n = 1), Gated DeltaNet (gate, n = 1) and Gated DeltaProduct
// (gate, n = 4). Keys and queries arrive already l2-normalised (the mixers normalise them).
#pragma once

#include <vector>

namespace selectiv::delta_rule {

// Sizes shared by every tensor of one call: batch, time (tokens), heads, key (state rows) and value (state columns)
// dims, and n = Householder sub-steps per token. Sub-step tensors have n * T rows in time: row t * n + j is
// sub-step j of token t (the channel layout (j * H + head) * K + e of a (B, T, n * H * K) projection seen as
// (B, T * n, H, K)).
struct DeltaSizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0, n = 1;
};

// Row-major tensors: q (B, T, H, K); k (B, T*n, H, K); v (B, T*n, H, V); beta (B, T*n, H); g (B, T, H) or empty
// (no decay); o (B, T, H, V); h0, ht (B, H, K, V), h0 empty means a zero initial state. o and ht are assigned.
// Per token t:  S <- exp(g_t) S;  for j: u = v_{t,j} - S^T k_{t,j};  S <- S + k_{t,j} (beta_{t,j} u)^T;
//               o_t = scale * S^T q_t.
void delta_reference_fwd(std::vector<double>& o,           // (B, T, H, V)
                         std::vector<double>& ht,          // (B, H, K, V)
                         const std::vector<double>& q,     // (B, T, H, K)
                         const std::vector<double>& k,     // (B, T*n, H, K)
                         const std::vector<double>& v,     // (B, T*n, H, V)
                         const std::vector<double>& beta,  // (B, T*n, H)
                         const std::vector<double>& g,     // (B, T, H) log-decay <= 0, or empty
                         const std::vector<double>& h0,    // (B, H, K, V) or empty
                         double scale, const DeltaSizes& sizes);

// Gradients of a scalar loss given do and dht (empty: zero). All outputs are resized and assigned; dg is left
// empty when g is empty, dh0 is always produced. The states are recomputed by a forward pass per (b, h).
void delta_reference_bwd(std::vector<double>& dq,           // (B, T, H, K)
                         std::vector<double>& dk,           // (B, T*n, H, K)
                         std::vector<double>& dv,           // (B, T*n, H, V)
                         std::vector<double>& dbeta,        // (B, T*n, H)
                         std::vector<double>& dg,           // (B, T, H) or empty
                         std::vector<double>& dh0,          // (B, H, K, V)
                         const std::vector<double>& do_,    // (B, T, H, V)
                         const std::vector<double>& dht,    // (B, H, K, V) or empty
                         const std::vector<double>& q,      // (B, T, H, K)
                         const std::vector<double>& k,      // (B, T*n, H, K)
                         const std::vector<double>& v,      // (B, T*n, H, V)
                         const std::vector<double>& beta,   // (B, T*n, H)
                         const std::vector<double>& g,      // (B, T, H) or empty
                         const std::vector<double>& h0,     // (B, H, K, V) or empty
                         double scale, const DeltaSizes& sizes);

}  // namespace selectiv::delta_rule
