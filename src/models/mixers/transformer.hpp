// SPDX-License-Identifier: BSD-3-Clause
// Transformer mixer: the reference's own TransformerDecoderLayer(d_model=d, n_head=H, dropout=0.2, rope_base=1000)
// (reference-spec §5.2, golden/README.md §4.8). Per head hd = d/H:
//   q, k, v = h Wq^T + bq, ...;  q, k = N(q), N(k) with N(x) = x / (||x|| hd^-1/2 + 1e-8) * w  (eps outside sqrt)
//   q, k = RoPE(q), RoPE(k) (the reference's convention, base 1000, float32 inv_freq buffer)
//   a = causal softmax attention (scale hd^-1/2), a = a Wo^T + bo
//   x1 = h + N_out(a);  [u1|u2] = x1 W1^T + b1;  z = x1 + Dropout((u1 sigma(beta u1) * u2) W2^T + b2)
// The layer holds its own residuals; RecNet adds another one around it (reference quirk §9.9).
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

class TransformerMixer : public Mixer {
 public:
  TransformerMixer(const ModelDims& dims, std::string prefix);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  int m_d, m_H, m_hd;
  float m_dropout, m_rope_base;
  std::string m_prefix;
  DropoutMode m_mode;
  int m_B = 0, m_T = 0;
  // Saved by forward. (B, T, d) unless noted.
  View3 m_qp, m_kp, m_v;   // projections
  View2 m_q_rstd, m_k_rstd;  // (B*T, H) norm statistics
  View3 m_qn, m_kn;        // normed (before RoPE)
  View3 m_qr, m_kr;        // after RoPE
  View3 m_attn;            // attention output (B, T, H*hd)
  View3 m_lse;             // (B, H, T)
  View3 m_a;               // after out_proj
  View2 m_a_rstd;          // (B*T, 1)
  View3 m_x1;              // h + N_out(a)
  View3 m_u;               // (B, T, 8d)
  View3 m_s;               // (B, T, 4d) SwiGLU output
  // Backward scratch.
  View3 m_df, m_ds, m_du, m_dx1, m_da, m_dattn, m_dq, m_dk, m_dv;
};

}  // namespace selectiv::models
