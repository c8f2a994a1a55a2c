// SPDX-License-Identifier: BSD-3-Clause
// GLA mixer: fla GatedLinearAttention(hidden_size=d, num_heads=H, use_short_conv=True, expand_k=1, expand_v=2,
// conv_size=4) with the reference's defaults (reference-spec §5.5, golden/README.md §4.2):
//   q, k, v = silu(conv(h Wq^T)), silu(conv(h Wk^T)), silu(conv(h Wv^T))     per head K = d/H, V = 2d/H
//   log a = logsigmoid((h W_g0^T) W_g1^T + b_g1) / 16                          per key channel
//   S_t = diag(a_t) S_{t-1} + k_t v_t^T ;  o_t = S_t^T q_t / sqrt(K)          (kernels/gla)
//   z = (RMSNorm_V(o) * w * silu(h W_g^T)) W_o^T
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

class GlaMixer : public Mixer {
 public:
  GlaMixer(const ModelDims& dims, std::string prefix);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  // What the backward recomputes from what the layer saves (as fla's GLA backward recomputes its chunk states): the
  // conv outputs, the log-decay, the recurrence's chunk states (gla_chunked_bwd, given none), the normed output and
  // its norm factors. They live in workspaces shared by all layers (the forward fills them, the backward again).
  void acquire_recomputed_buffers();
  void log_decay_fwd(const Exec& exec);
  void normalise_output(const Exec& exec, const ParamTable& p);
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  int m_d, m_H, m_K, m_V;  // model dim, heads, key and value dims per head
  static constexpr int kGateRank = 16;
  static constexpr float kGateNormalizer = 16.0f;
  std::string m_prefix;
  int m_B = 0, m_T = 0;
  // Saved by forward (all (B, T, channels) row-major, channels = H * per-head dim):
  View3 m_qp, m_kp, m_vp;  // projections before the conv: (B, T, d), (B, T, d), (B, T, 2d)
  View3 m_g0;              // (B, T, 16) low-rank gate
  View3 m_gk;              // (B, T, d) gate logits
  View3 m_gate;            // (B, T, 2d) output-gate projection
  View3 m_o;               // (B, T, 2d) recurrence output
  View4 m_scores;          // (B, T, H, 64) intra-chunk scores saved by the recurrence
  // Shared workspaces (acquire_recomputed_buffers): q, k, v after conv + SiLU (B, T, d / d / 2d), the log-decay g
  // (B, T, d), the recurrence's chunk states (B, H, NT * K, V), the gated-norm output on (B, T, 2d) and its factors
  // (B * T, H).
  View3 m_q, m_k, m_v, m_g, m_on;
  View4 m_states;
  View2 m_norm_rstd;
  // Backward scratch.
  View3 m_d_on, m_do, m_dgate, m_dq, m_dk, m_dv, m_dg, m_dgk, m_dg0, m_dproj_d, m_dproj_2d;
};

}  // namespace selectiv::models
