// SPDX-License-Identifier: BSD-3-Clause
// Linear attention mixer: the no-decay, no-gate end of the taxonomy (reference-spec §5, performance.md). There is
// no reference implementation; this is our own definition, built like the fla layers of the zoo:
//   q, k, v = silu(conv(h Wq^T)), silu(conv(h Wk^T)), silu(conv(h Wv^T))     per head K = d/H, V = 2d/H
//   S_t = S_{t-1} + k_t v_t^T ;  o_t = S_t^T q_t / sqrt(K)                   (kernels/gla with g = 0)
//   z = (RMSNorm_V(o) * w) W_o^T                                             per-head RMSNorm, eps 1e-5
// No decay, no output gate. Parameters (state_dict style names under the layer prefix): q_proj.weight (d, d),
// k_proj.weight (d, d), v_proj.weight (2d, d), q_conv1d.weight (d, 1, 4), k_conv1d.weight (d, 1, 4),
// v_conv1d.weight (2d, 1, 4), o_norm.weight (V), o_proj.weight (d, 2d): 6 d^2 + 16 d + 2d/H per layer.
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

class LinearAttentionMixer : public Mixer {
 public:
  LinearAttentionMixer(const ModelDims& dims, std::string prefix);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  int m_d, m_H, m_K, m_V;  // model dim, heads, key and value dims per head
  std::string m_prefix;
  int m_B = 0, m_T = 0;
  // Saved by forward (all (B, T, channels) row-major, channels = H * per-head dim):
  View3 m_qp, m_kp, m_vp;  // projections before the conv: (B, T, d), (B, T, d), (B, T, 2d)
  View3 m_q, m_k, m_v;     // after conv + SiLU
  View3 m_g;               // (B, T, d) zeros: the (absent) log-decay
  View3 m_o;               // (B, T, 2d) recurrence output
  View2 m_norm_rstd;       // (B * T, H)
  View4 m_states;          // (B, H, NT * K, V) chunk states saved by the recurrence
  View4 m_scores;          // (B, T, H, 64) intra-chunk scores saved by the recurrence
  View3 m_on;              // (B, T, 2d) norm output
  // Backward scratch.
  View3 m_d_on, m_do, m_dq, m_dk, m_dv, m_dg, m_dproj_d, m_dproj_2d;
};

}  // namespace selectiv::models
