// SPDX-License-Identifier: BSD-3-Clause
// The three delta-rule mixers in one implementation (golden/README.md §4.3-§4.5, reference-spec §5.6-§5.8), with
// n Householder sub-steps per token (1 for DeltaNet / Gated DeltaNet, 4 for Gated DeltaProduct), K = d/H, V = 2d/H:
//   q = l2norm(silu(conv(h Wq^T)))                          (B, T, H, K)
//   k = l2norm(silu(conv(h Wk^T))),  v = silu(conv(h Wv^T)) (B, T * n, H, K / V): channel (j H + head) K + e
//   beta = beta_max * sigmoid(h Wb^T)                       (B, T * n, H), beta_max 1, or 2 for the product
//   g = -exp(A_log) softplus(h Wa^T + dt_bias)              (B, T, H), gated variants only
//   o = delta rule (kernels/delta_rule: chunked kernels on GPU builds, token-by-token ones on host backends;
//       README.md §6 there says why), scale K^-1/2
//   z = (RMSNorm_V(o) * w) Wo^T                              (DeltaNet: o_norm, no gate)
//   z = (RMSNorm_V(o) * w * silu(h Wg^T)) Wo^T               (gated variants)
#pragma once

#include "models/mixer.hpp"

namespace selectiv::models {

// What distinguishes the three models.
struct DeltaVariant {
  bool gated = false;      // scalar decay (A_log, dt_bias, a_proj) and output gate (g_proj)
  int householder = 1;     // sub-steps per token
  float beta_max = 1.0f;   // beta = beta_max * sigmoid(.)
  bool a_proj_first = true;  // state_dict order: a_proj before b_proj (Gated DeltaNet) or after (DeltaProduct)
};

// Whether the mixers run the chunked delta-rule kernels (GPU builds) rather than the token-by-token ones (host).
bool delta_mixers_run_chunked();

class DeltaFamilyMixer : public Mixer {
 public:
  DeltaFamilyMixer(const ModelDims& dims, std::string prefix, const DeltaVariant& variant);
  void declare(ParamTable& table) override;
  void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) override;
  void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) override;

 private:
  void ensure_workspace(int B, int T);  // forward buffers (and what backward reads)
  void acquire_backward_buffers();      // gradient buffers: workspaces shared by all layers, one backward at a time
  // The conv outputs, q, k after the l2norm, the normed output with their norm factors, and on the chunked path the
  // chunk states: recomputed from what the layer saves, so they live in workspaces shared by all layers (the forward
  // fills them, the backward fills them again).
  void acquire_recomputed_buffers();
  void normalise_queries_and_keys(const Exec& exec);
  void normalise_output(const Exec& exec, const ParamTable& p);
  std::string name(const char* suffix) const { return m_prefix + suffix; }

  DeltaVariant m_variant;
  int m_d, m_H, m_K, m_V, m_n;  // model dim, heads, key and value dims per head, sub-steps per token
  std::string m_prefix;
  int m_B = 0, m_T = 0;
  // Saved by forward, (B, T, channels) row-major:
  View3 m_qp, m_kp, m_vp;      // projections: d, n d, 2 n d
  View3 m_beta_logit, m_beta;  // n H
  View3 m_gate_logit, m_g;     // H (gated only)
  View3 m_o;               // 2d, recurrence output
  View3 m_out_gate;        // 2d, h Wg^T (gated only)
  // Recurrence states the backward reads: the token-by-token path's checkpoints, saved by the forward; on the chunked
  // path the chunk-start states, in a workspace (acquire_recomputed_buffers) that the backward fills again.
  View4 m_checkpoints;
  // Shared workspaces (acquire_recomputed_buffers): the conv outputs qc (d), kc (n d) (before the l2norm) and v
  // (2 n d, the recurrence's values), the recurrence's q (d) and k (n d), the normed output on (2d), and the factors
  // of their norms: l2norm (B T, H), (B T, n H); RMSNorm (B T, H).
  View3 m_qc, m_kc, m_v, m_q, m_k, m_on;
  View2 m_q_rstd, m_k_rstd, m_norm_rstd;
  // Backward scratch.
  View3 m_d_on, m_do, m_dout_gate, m_dq, m_dk, m_dv, m_dqc, m_dkc, m_dqp, m_dkp, m_dvp, m_dbeta, m_dbeta_logit, m_dg,
      m_dgate_logit;
};

}  // namespace selectiv::models
