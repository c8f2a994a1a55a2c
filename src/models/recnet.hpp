// SPDX-License-Identifier: BSD-3-Clause
// The reference's RecNet, shared by every model (reference-spec §5.1):
//   h_0 = x W_enc^T + b_enc;  for l: z = Mixer_l(h_l); z = Dropout(z); h_{l+1} = LayerNorm_l(h_l + z);
//   logits = h_L W_dec^T + b_dec.
// Forward keeps every block's input h_l, the LayerNorm input s_l = h_l + z_l and its statistics; backward walks the
// blocks in reverse and accumulates every parameter gradient into the ParamTable's gradient arena.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/common/views.hpp"
#include "models/mixer.hpp"
#include "models/param_table.hpp"

namespace selectiv::models {

// Dropout (rate ModelDims::dropout) is applied in training mode, with masks from Philox (seed, stream).
struct ForwardMode {
  bool training = false;
  std::uint64_t dropout_seed = 0;
  std::uint64_t dropout_stream = 0;  // e.g. the optimizer step: a fresh mask per step
};

class RecNet {
 public:
  explicit RecNet(ModelDims dims);
  const ModelDims& dims() const { return m_dims; }
  ParamTable& params() { return m_params; }
  const ParamTable& params() const { return m_params; }

  // input: (B, T, V). Returns logits (B, T, C), valid until the next forward.
  CView3 forward(const Exec& exec, CView3 input, ForwardMode mode = {});
  // dlogits: (B, T, C) for the last forward. Parameter gradients accumulate.
  void backward(const Exec& exec, CView3 dlogits);

  // Inference in bounded memory (evaluation): the last block's output (B, T, d) for `input` (B, T, V), without
  // dropout and without keeping anything for backward. Two residual buffers alternate, and each layer's mixer is
  // replaced by a fresh instance right after its forward (a mixer holds nothing but workspace; parameters live in
  // the ParamTable), so the peak is one layer's workspace instead of all of them. Valid until the next call.
  CView3 forward_hidden(const Exec& exec, CView3 input);
  // logits = hidden W_dec^T + b_dec on a block of rows: logits (R, C), hidden (R, d).
  void decode(const Exec& exec, View2 logits, CView2 hidden) const;

  // Residual stream after block l's LayerNorm (l = 0..layers-1) and the encoder output, for parity checks.
  CView3 hidden(int l) const { return m_h[l + 1]; }
  CView3 encoder_output() const { return m_h[0]; }
  CView3 mixer_output(int l) const { return m_z[l]; }

 private:
  void ensure_workspace(int B, int T);

  ModelDims m_dims;
  ParamTable m_params;
  std::vector<std::unique_ptr<Mixer>> m_mixers;
  int m_B = 0, m_T = 0;
  ForwardMode m_mode;
  View3 m_input;                      // (B, T, V) last input (for the encoder's weight gradient)
  std::vector<View3> m_h;             // (layers + 1) x (B, T, d)
  std::vector<View3> m_z;             // layers x (B, T, d): mixer outputs (before dropout)
  std::vector<View3> m_s;             // layers x (B, T, d): LayerNorm inputs h_l + dropout(z_l)
  std::vector<View1> m_ln_mean, m_ln_rstd;  // layers x (B*T)
  View3 m_logits;                     // (B, T, C)
  View3 m_dh, m_ds, m_dz;             // (B, T, d) backward scratch
  View3 m_infer_h, m_infer_next, m_infer_z;  // (B, T, d) forward_hidden's buffers
  View1 m_infer_mean, m_infer_rstd;          // (B * T)
};

}  // namespace selectiv::models
