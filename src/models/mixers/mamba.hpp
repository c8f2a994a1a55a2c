// SPDX-License-Identifier: BSD-3-Clause
// Mamba mixer: mamba_ssm Mamba(d_model=d, d_state=N, d_conv=4, expand=2), slow path (reference-spec §5.3,
// golden/README.md §4.7). d_in = 2d channels, R = ceil(d/16):
//   [x | z] = h W_in^T ;  x = silu(conv(x) + b_conv)                 (B, T, d_in) each
//   [delta | B | C] = x W_x^T                                         widths R | N | N
//   dt = softplus(delta W_dt^T + b_dt) ;  A = -exp(A_log)
//   y = selective_scan(x, dt, A, B, C, D) * silu(z)                   (kernels/selective_scan)
//   out = y W_out^T
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

class MambaMixer : public Mixer {
 public:
  MambaMixer(const ModelDims& dims, std::string prefix);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  int m_d, m_Din, m_N, m_R;  // model dim, scan channels (2d), state per channel, dt rank ceil(d/16)
  static constexpr int kConvWidth = 4;
  std::string m_prefix;
  int m_B = 0, m_T = 0;
  // Saved by forward (all (B, T, width) row-major):
  View3 m_xp, m_zp;        // in_proj halves: (B, T, d_in) each
  View3 m_x;               // after conv + SiLU (B, T, d_in)
  View3 m_delta, m_Bm, m_Cm;  // x_proj parts: (B, T, R), (B, T, N), (B, T, N)
  View3 m_dt_pre, m_dt;    // (B, T, d_in) before and after softplus
  View2 m_A;               // (d_in, N) = -exp(A_log)
  View3 m_y;               // (B, T, d_in) scan output before the gate
  View3 m_yg;              // (B, T, d_in) gated output
  View4 m_states;          // (B, NT, d_in, N) chunk states saved by the scan
  // Backward scratch.
  View3 m_dyg, m_dy, m_dzp, m_dx, m_dx_part, m_ddt, m_ddelta, m_dBm, m_dCm, m_dxp;
  View2 m_dA;
};

}  // namespace selectiv::models
