// SPDX-License-Identifier: BSD-3-Clause
// Mamba2 mixer: mamba_ssm Mamba2(d_model=d, d_state=N, d_conv=4, expand=2, headdim=P=d/H), ngroups = 1,
// rmsnorm with norm_before_gate=False (reference-spec §5.4, golden/README.md §4.6). d_in = 2d, 2H SSD heads:
//   [z | xBC | dt] = h W_in^T                      widths d_in | d_in + 2N | 2H   (in_proj rows in that order)
//   xBC = silu(conv(xBC) + conv_bias);  [x | B | C] = xBC
//   y = SSD(x, dt, B, C; dt_bias, A_log, D)        (kernels/ssd)
//   z_out = (RMSNorm_{d_in}(y * silu(z)) * w) W_out^T
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

class Mamba2Mixer : public Mixer {
 public:
  Mamba2Mixer(const ModelDims& dims, std::string prefix);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  // What the backward recomputes from what the layer saves: the conv output, the scan's chunk states (ssd_chunked_bwd,
  // given none), the normed output and its norm factors. They live in workspaces shared by all layers (the forward
  // fills them, the backward fills them again).
  void acquire_recomputed_buffers();
  void convolve(const Exec& exec, const ParamTable& p);
  void normalise_output(const Exec& exec, const ParamTable& p);
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  int m_d, m_din, m_P, m_H, m_N, m_conv;  // model dim, inner dim 2d, head dim d/H, SSD heads 2H, state, d_in + 2N
  std::string m_prefix;
  int m_B = 0, m_T = 0;
  // Saved by forward:
  View3 m_gate;       // (B, T, d_in) z
  View3 m_xbc_pre;    // (B, T, d_in + 2N) before the conv
  View3 m_dt;         // (B, T, 2H) raw dt projection
  View3 m_y;          // (B, T, d_in) SSD output, heads flattened
  View3 m_scores;     // (B, T, 64) C.B scores saved by the scan
  // Shared workspaces (acquire_recomputed_buffers): xBC after conv + SiLU (B, T, d_in + 2N) = [x | B | C], the
  // scan's chunk states (B, NT, 2H * P, N), the gated-norm output on (B, T, d_in) and its factors (B * T, 1).
  View3 m_xbc, m_on;
  View4 m_states;
  View2 m_norm_rstd;
  // Backward scratch.
  View3 m_d_on, m_dy, m_dgate, m_dxbc, m_dxbc_pre, m_ddt;
};

}  // namespace selectiv::models
