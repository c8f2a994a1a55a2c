// SPDX-License-Identifier: BSD-3-Clause
// The Mamba2 SSD scan on the host, token by token in double precision, forward and hand-derived backward through
// time: the slow, obviously-correct twin that the chunked kernels are tested against (README.md §1).
#pragma once

#include <vector>

namespace selectiv::ssd {

// Sizes shared by every tensor of one call: batch, time, heads, head dim (state rows) and state size N (columns).
struct SsdSizes {
  int B = 0, T = 0, H = 0, P = 0, N = 0;
  int xbc_width() const { return H * P + 2 * N; }
};

// Row-major tensors. xbc (B, T, H*P + 2N) packs [x | B | C] as the Mamba2 conv output does: x_t[h][p] at column
// h*P + p, B_t[n] at H*P + n, C_t[n] at H*P + N + n (B and C shared by all heads). dt (B, T, H) is the raw
// projection; per head h:
//   delta_t = softplus(dt_t + dt_bias),  a_t = exp(-exp(A_log) * delta_t)
//   S_t = a_t S_{t-1} + delta_t x_t B_t^T  (P x N, S_{-1} = 0),   y_t = S_t C_t + D x_t
// y is resized and assigned.
void ssd_reference_fwd(std::vector<double>& y,              // (B, T, H, P)
                       const std::vector<double>& xbc,      // (B, T, H*P + 2N)
                       const std::vector<double>& dt,       // (B, T, H)
                       const std::vector<double>& dt_bias,  // (H)
                       const std::vector<double>& A_log,    // (H)
                       const std::vector<double>& D,        // (H)
                       const SsdSizes& sizes);

// Gradients of a scalar loss given dy = dL/dy. All five outputs are resized and ASSIGNED here (also the parameter
// gradients d_dt_bias, dA_log, dD, which the device kernels accumulate). The states are recomputed.
void ssd_reference_bwd(std::vector<double>& dxbc,           // (B, T, H*P + 2N)
                       std::vector<double>& ddt,            // (B, T, H)
                       std::vector<double>& d_dt_bias,      // (H)
                       std::vector<double>& dA_log,         // (H)
                       std::vector<double>& dD,             // (H)
                       const std::vector<double>& dy,       // (B, T, H, P)
                       const std::vector<double>& xbc,      // (B, T, H*P + 2N)
                       const std::vector<double>& dt,       // (B, T, H)
                       const std::vector<double>& dt_bias,  // (H)
                       const std::vector<double>& A_log,    // (H)
                       const std::vector<double>& D,        // (H)
                       const SsdSizes& sizes);

}  // namespace selectiv::ssd
