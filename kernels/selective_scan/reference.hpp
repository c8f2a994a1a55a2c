// SPDX-License-Identifier: BSD-3-Clause
// The Mamba-1 selective scan on the host, token by token in double precision, forward and hand-derived backward
// through time: the slow, obviously-correct twin that the device kernels are tested against (README.md §1).
#pragma once

#include <vector>

namespace selectiv::selective_scan {

// Sizes shared by every tensor of one call: batch, time, channels (d_in) and state size per channel (d_state).
struct ScanSizes {
  int B = 0, T = 0, Din = 0, N = 0;
};

// Row-major tensors. y and ht are resized and assigned; the state starts at zero.
//   s_t[c, n] = exp(dt_t[c] A[c, n]) s_{t-1}[c, n] + dt_t[c] B_t[n] x_t[c]
//   y_t[c]    = sum_n C_t[n] s_t[c, n] + D[c] x_t[c],          ht = s_{T-1}
void selective_scan_reference_fwd(std::vector<double>& y,         // (B, T, Din)
                                  std::vector<double>& ht,        // (B, Din, N)
                                  const std::vector<double>& x,   // (B, T, Din)
                                  const std::vector<double>& dt,  // (B, T, Din) step sizes, > 0
                                  const std::vector<double>& A,   // (Din, N) decay rates, < 0
                                  const std::vector<double>& Bm,  // (B, T, N) input matrix per token
                                  const std::vector<double>& Cm,  // (B, T, N) output matrix per token
                                  const std::vector<double>& D,   // (Din) skip
                                  const ScanSizes& sizes);

// Gradients of a scalar loss given dy = dL/dy. Activation gradients dx, ddt, dB, dC are resized and assigned;
// parameter gradients dA and dD are resized and assigned too (the host twin has no arena to accumulate into).
// The states are recomputed by a forward pass.
void selective_scan_reference_bwd(std::vector<double>& dx,        // (B, T, Din)
                                  std::vector<double>& ddt,       // (B, T, Din)
                                  std::vector<double>& dA,        // (Din, N)
                                  std::vector<double>& dB,        // (B, T, N)
                                  std::vector<double>& dC,        // (B, T, N)
                                  std::vector<double>& dD,        // (Din)
                                  const std::vector<double>& dy,  // (B, T, Din)
                                  const std::vector<double>& x,   // (B, T, Din)
                                  const std::vector<double>& dt,  // (B, T, Din)
                                  const std::vector<double>& A,   // (Din, N)
                                  const std::vector<double>& Bm,  // (B, T, N)
                                  const std::vector<double>& Cm,  // (B, T, N)
                                  const std::vector<double>& D,   // (Din)
                                  const ScanSizes& sizes);

}  // namespace selectiv::selective_scan
