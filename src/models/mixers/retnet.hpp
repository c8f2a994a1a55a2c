// SPDX-License-Identifier: BSD-3-Clause
// RetNet mixer: fla MultiScaleRetention(hidden_size=d, num_heads=H, use_short_conv=True, expand_k=1, expand_v=2,
// conv_size=4) (golden/README.md §4.9; a taxonomy baseline, not in the paper's sweeps):
//   q, k, v = silu(conv(h Wq^T)), silu(conv(h Wk^T)), silu(conv(h Wv^T))     per head K = d/H, V = 2d/H
//   q', k' = RoPE(q), RoPE(k)        fla rotate-half, base 10000, inv_freq not stored (not a state_dict entry)
//   S_t = gamma_h S_{t-1} + k'_t v_t^T ;  o_t = S_t^T q'_t / sqrt(K)     gamma_h = 1 - 2^(-5-h), fixed per head
//   z = (RMSNorm_V(o) * w * silu(h W_g^T)) W_o^T                         fla FusedRMSNormGated (norm, then gate)
// The recurrence runs on the GLA chunked kernels with the constant log-decay g = log(gamma_h) on every key channel.
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

class RetNetMixer : public Mixer {
 public:
  RetNetMixer(const ModelDims& dims, std::string prefix);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

  // log(gamma_h) = log(1 - 2^(-5-h)), the fixed log-decay of head h.
  static double log_decay(int head);

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  int m_d, m_H, m_K, m_V;  // model dim, heads, key and value dims per head
  static constexpr float kRopeBase = 10000.0f;
  std::string m_prefix;
  View1 m_inv_freq;        // (K / 2) RoPE frequencies, made by the first forward
  int m_B = 0, m_T = 0;
  // Saved by forward (all (B, T, channels) row-major, channels = H * per-head dim):
  View3 m_qp, m_kp, m_vp;  // projections before the conv: (B, T, d), (B, T, d), (B, T, 2d)
  View3 m_q, m_k, m_v;     // after conv + SiLU; q and k then rotated in place (RoPE)
  View3 m_g;               // (B, T, d) constant log-decay log(gamma_h)
  View3 m_o;               // (B, T, 2d) recurrence output
  View3 m_gate;            // (B, T, 2d) output-gate projection
  View2 m_norm_rstd;       // (B * T, H)
  View4 m_states;          // (B, H, NT * K, V) chunk states saved by the recurrence
  View4 m_scores;          // (B, T, H, 64) intra-chunk scores saved by the recurrence
  View3 m_on;              // (B, T, 2d) gated-norm output
  // Backward scratch.
  View3 m_d_on, m_do, m_dgate, m_dq, m_dk, m_dv, m_dg, m_dproj_d, m_dproj_2d;
};

}  // namespace selectiv::models
