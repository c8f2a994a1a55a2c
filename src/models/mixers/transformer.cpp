// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/transformer.hpp"

#include <KokkosBlas1_axpby.hpp>
#include <cmath>

#include "core/error.hpp"
#include "kernels/attention/blocked.hpp"
#include "kernels/attention/tiled.hpp"
#include "kernels/common/batched_gemm.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/nn/dropout.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "kernels/nn/rope.hpp"
#include "kernels/nn/swiglu.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {
namespace {
constexpr auto kRope = nn::RopeConvention::reference_transformer;

// Where gemm_batched is cuBLAS (a CUDA build), the score-block attention (its products are batched GEMMs, on the
// tensor cores in tf32 / bf16; kernels/attention/README.md §4 has the measurement); elsewhere the tiled kernels,
// which keep everything in team scratch and need no score workspace.
bool score_block_attention() { return kc::gemm_batched_uses_vendor_blas(); }
}  // namespace

TransformerMixer::TransformerMixer(const ModelDims& dims, std::string prefix)
    : m_d(dims.d_model), m_H(dims.n_heads), m_hd(dims.d_model / dims.n_heads), m_dropout(dims.dropout),
      m_rope_base(dims.rope_base), m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d % m_H == 0 && m_hd % 2 == 0, ExitCode::kInvalidInput,
                   "transformer: d_model {} / {} heads must give an even head dim (RoPE)", m_d, m_H);
}

void TransformerMixer::declare(ParamTable& t) {
  const double in = 1.0 / std::sqrt(m_d);
  t.add(name("beta"), {1}, init_constant(1.0));
  t.add(name("q_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("q_proj.bias"), {m_d}, init_uniform(in));
  t.add(name("k_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("k_proj.bias"), {m_d}, init_uniform(in));
  t.add(name("v_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("v_proj.bias"), {m_d}, init_uniform(in));
  t.add(name("rotary.inv_freq"), {m_hd / 2}, init_values(nn::rope_inv_freq(m_hd, m_rope_base)), false);
  t.add(name("out_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("out_proj.bias"), {m_d}, init_uniform(in));
  t.add(name("q_norm.weight"), {m_hd}, init_constant(1.0));
  t.add(name("k_norm.weight"), {m_hd}, init_constant(1.0));
  t.add(name("out_norm.weight"), {m_d}, init_constant(1.0));
  t.add(name("linear1.weight"), {8 * m_d, m_d}, init_uniform(in));
  t.add(name("linear1.bias"), {8 * m_d}, init_uniform(in));
  t.add(name("linear2.weight"), {m_d, 4 * m_d}, init_uniform(1.0 / std::sqrt(4 * m_d)));
  t.add(name("linear2.bias"), {m_d}, init_uniform(1.0 / std::sqrt(4 * m_d)));
}

void TransformerMixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  auto make = [B, T](const char* label, int channels) { return View3(std::string(label), B, T, channels); };
  const std::size_t rows = static_cast<std::size_t>(B) * T;
  m_qp = make("selectiv::transformer::qp", m_d);
  m_kp = make("selectiv::transformer::kp", m_d);
  m_v = make("selectiv::transformer::v", m_d);
  m_q_rstd = View2("selectiv::transformer::q_rstd", rows, m_H);
  m_k_rstd = View2("selectiv::transformer::k_rstd", rows, m_H);
  m_qn = make("selectiv::transformer::qn", m_d);
  m_kn = make("selectiv::transformer::kn", m_d);
  m_qr = make("selectiv::transformer::qr", m_d);
  m_kr = make("selectiv::transformer::kr", m_d);
  m_attn = make("selectiv::transformer::attn", m_d);
  m_lse = View3("selectiv::transformer::lse", B, m_H, T);
  m_a = make("selectiv::transformer::a", m_d);
  m_a_rstd = View2("selectiv::transformer::a_rstd", rows, 1);
  m_x1 = make("selectiv::transformer::x1", m_d);
  m_u = make("selectiv::transformer::u", 8 * m_d);
  m_s = make("selectiv::transformer::s", 4 * m_d);
  m_df = make("selectiv::transformer::df", m_d);  // f before dropout in forward, df in backward
}

void TransformerMixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_ds = make("selectiv::transformer::ds", 4 * m_d);
  m_du = make("selectiv::transformer::du", 8 * m_d);
  m_dx1 = make("selectiv::transformer::dx1", m_d);
  m_da = make("selectiv::transformer::da", m_d);
  m_dattn = make("selectiv::transformer::dattn", m_d);
  m_dq = make("selectiv::transformer::dq", m_d);
  m_dk = make("selectiv::transformer::dk", m_d);
  m_dv = make("selectiv::transformer::dv", m_d);
}

void TransformerMixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode& mode) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  m_mode = mode;
  CView2 x = nn::as_matrix(h);
  const float scale = 1.0f / std::sqrt(static_cast<float>(m_hd));
  // attention block
  nn::linear_fwd(exec, nn::as_matrix(m_qp), x, p.value2(name("q_proj.weight")), p.value1(name("q_proj.bias")));
  nn::linear_fwd(exec, nn::as_matrix(m_kp), x, p.value2(name("k_proj.weight")), p.value1(name("k_proj.bias")));
  nn::linear_fwd(exec, nn::as_matrix(m_v), x, p.value2(name("v_proj.weight")), p.value1(name("v_proj.bias")));
  nn::rms_norm_fwd(exec, nn::as_matrix(m_qn), m_q_rstd, nn::as_matrix(CView3(m_qp)), p.value1(name("q_norm.weight")),
                   nn::RmsNormSpec::eps_outside_sqrt(m_hd));
  nn::rms_norm_fwd(exec, nn::as_matrix(m_kn), m_k_rstd, nn::as_matrix(CView3(m_kp)), p.value1(name("k_norm.weight")),
                   nn::RmsNormSpec::eps_outside_sqrt(m_hd));
  CView1 inv_freq = p.value1(name("rotary.inv_freq"));
  nn::rope_fwd(exec, heads(m_qr, m_H), heads(CView3(m_qn), m_H), inv_freq, kRope);
  nn::rope_fwd(exec, heads(m_kr, m_H), heads(CView3(m_kn), m_H), inv_freq, kRope);
  if (score_block_attention()) {
    attention::attention_blocked_fwd(exec, heads(m_attn, m_H), m_lse, heads(CView3(m_qr), m_H),
                                     heads(CView3(m_kr), m_H), heads(CView3(m_v), m_H), scale);
  } else {
    attention::attention_tiled_fwd(exec, heads(m_attn, m_H), m_lse, heads(CView3(m_qr), m_H), heads(CView3(m_kr), m_H),
                                   heads(CView3(m_v), m_H), scale);
  }
  nn::linear_fwd(exec, nn::as_matrix(m_a), nn::as_matrix(CView3(m_attn)), p.value2(name("out_proj.weight")),
                 p.value1(name("out_proj.bias")));
  nn::rms_norm_fwd(exec, nn::as_matrix(m_x1), m_a_rstd, nn::as_matrix(CView3(m_a)), p.value1(name("out_norm.weight")),
                   nn::RmsNormSpec::eps_outside_sqrt(m_d));
  KokkosBlas::axpy(1.0f, flat(h), flat(m_x1));  // x1 = h + N_out(a)
  // feed-forward block: z = x1 + dropout(f)
  nn::linear_fwd(exec, nn::as_matrix(m_u), nn::as_matrix(CView3(m_x1)), p.value2(name("linear1.weight")),
                 p.value1(name("linear1.bias")));
  nn::swiglu_fwd(exec, nn::as_matrix(m_s), nn::as_matrix(CView3(m_u)), p.value1(name("beta")));
  nn::linear_fwd(exec, nn::as_matrix(m_df), nn::as_matrix(CView3(m_s)), p.value2(name("linear2.weight")),
                 p.value1(name("linear2.bias")));
  if (mode.training && m_dropout > 0.0f) {
    nn::dropout_fwd(exec, z, CView3(m_df), m_dropout, mode.seed, mode.stream);
  } else {
    Kokkos::deep_copy(exec, z, m_df);
  }
  KokkosBlas::axpy(1.0f, flat(CView3(m_x1)), flat(z));
}

void TransformerMixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
  CView2 x = nn::as_matrix(h);
  const float scale = 1.0f / std::sqrt(static_cast<float>(m_hd));
  // feed-forward block
  if (m_mode.training && m_dropout > 0.0f) {
    nn::dropout_bwd(exec, m_df, dz, m_dropout, m_mode.seed, m_mode.stream);
  } else {
    Kokkos::deep_copy(exec, m_df, dz);
  }
  nn::linear_bwd(exec, nn::as_matrix(m_ds), p.grad2(name("linear2.weight")), p.grad1(name("linear2.bias")),
                 nn::as_matrix(CView3(m_df)), nn::as_matrix(CView3(m_s)), p.value2(name("linear2.weight")));
  nn::swiglu_bwd(exec, nn::as_matrix(m_du), p.grad1(name("beta")), nn::as_matrix(CView3(m_ds)),
                 nn::as_matrix(CView3(m_u)), p.value1(name("beta")));
  nn::linear_bwd(exec, nn::as_matrix(m_dx1), p.grad2(name("linear1.weight")), p.grad1(name("linear1.bias")),
                 nn::as_matrix(CView3(m_du)), nn::as_matrix(CView3(m_x1)), p.value2(name("linear1.weight")));
  KokkosBlas::axpy(1.0f, flat(dz), flat(m_dx1));  // dx1 = dz + du W1
  // attention block: x1 = h + N_out(a)
  Kokkos::deep_copy(exec, dh, m_dx1);
  nn::rms_norm_bwd(exec, nn::as_matrix(m_da), p.grad1(name("out_norm.weight")), m_a_rstd,
                   nn::as_matrix(CView3(m_dx1)), nn::as_matrix(CView3(m_a)), p.value1(name("out_norm.weight")),
                   nn::RmsNormSpec::eps_outside_sqrt(m_d));
  nn::linear_bwd(exec, nn::as_matrix(m_dattn), p.grad2(name("out_proj.weight")), p.grad1(name("out_proj.bias")),
                 nn::as_matrix(CView3(m_da)), nn::as_matrix(CView3(m_attn)), p.value2(name("out_proj.weight")));
  if (score_block_attention()) {
    attention::attention_blocked_bwd(exec, heads(m_dq, m_H), heads(m_dk, m_H), heads(m_dv, m_H),
                                     heads(CView3(m_dattn), m_H), heads(CView3(m_attn), m_H), m_lse,
                                     heads(CView3(m_qr), m_H), heads(CView3(m_kr), m_H), heads(CView3(m_v), m_H),
                                     scale);
  } else {
    attention::attention_tiled_bwd(exec, heads(m_dq, m_H), heads(m_dk, m_H), heads(m_dv, m_H),
                                   heads(CView3(m_dattn), m_H), heads(CView3(m_attn), m_H), m_lse,
                                   heads(CView3(m_qr), m_H), heads(CView3(m_kr), m_H), heads(CView3(m_v), m_H), scale);
  }
  CView1 inv_freq = p.value1(name("rotary.inv_freq"));
  nn::rope_bwd(exec, heads(m_dq, m_H), heads(CView3(m_dq), m_H), inv_freq, kRope);  // in place
  nn::rope_bwd(exec, heads(m_dk, m_H), heads(CView3(m_dk), m_H), inv_freq, kRope);
  struct Branch {
    View3 d_out;
    View3 in;
    View2 rstd;
    const char* norm;
    const char* proj;
    const char* bias;
  };
  for (const Branch& b : {Branch{m_dq, m_qp, m_q_rstd, "q_norm.weight", "q_proj.weight", "q_proj.bias"},
                          Branch{m_dk, m_kp, m_k_rstd, "k_norm.weight", "k_proj.weight", "k_proj.bias"}}) {
    nn::rms_norm_bwd(exec, nn::as_matrix(m_da), p.grad1(name(b.norm)), b.rstd, nn::as_matrix(CView3(b.d_out)),
                     nn::as_matrix(CView3(b.in)), p.value1(name(b.norm)), nn::RmsNormSpec::eps_outside_sqrt(m_hd));
    nn::linear_bwd(exec, nn::as_matrix(dh), p.grad2(name(b.proj)), p.grad1(name(b.bias)), nn::as_matrix(CView3(m_da)),
                   x, p.value2(name(b.proj)), true);
  }
  nn::linear_bwd(exec, nn::as_matrix(dh), p.grad2(name("v_proj.weight")), p.grad1(name("v_proj.bias")),
                 nn::as_matrix(CView3(m_dv)), x, p.value2(name("v_proj.weight")), true);
}

}  // namespace selectiv::models
