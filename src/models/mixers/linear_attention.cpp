// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/linear_attention.hpp"

#include <cmath>

#include "core/error.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/gla/chunked.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "models/mixers/conv_branch.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {

LinearAttentionMixer::LinearAttentionMixer(const ModelDims& dims, std::string prefix)
    : m_d(dims.d_model), m_H(dims.n_heads), m_K(dims.d_model / dims.n_heads), m_V(2 * dims.d_model / dims.n_heads),
      m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d % m_H == 0, ExitCode::kInvalidInput, "linear_attention: d_model {} is not a multiple of {} heads",
                   m_d, m_H);
}

void LinearAttentionMixer::declare(ParamTable& t) {
  const double in = 1.0 / std::sqrt(m_d), conv = 1.0 / std::sqrt(4.0);
  t.add(name("q_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("k_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("v_proj.weight"), {2 * m_d, m_d}, init_uniform(in));
  t.add(name("q_conv1d.weight"), {m_d, 1, 4}, init_uniform(conv));
  t.add(name("k_conv1d.weight"), {m_d, 1, 4}, init_uniform(conv));
  t.add(name("v_conv1d.weight"), {2 * m_d, 1, 4}, init_uniform(conv));
  t.add(name("o_norm.weight"), {m_V}, init_constant(1.0));
  t.add(name("o_proj.weight"), {m_d, 2 * m_d}, init_uniform(1.0 / std::sqrt(2 * m_d)));
}

void LinearAttentionMixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  auto make = [B, T](const char* label, int channels) { return View3(std::string(label), B, T, channels); };
  m_qp = make("selectiv::linear_attention::qp", m_d);
  m_kp = make("selectiv::linear_attention::kp", m_d);
  m_vp = make("selectiv::linear_attention::vp", 2 * m_d);
  m_q = make("selectiv::linear_attention::q", m_d);
  m_k = make("selectiv::linear_attention::k", m_d);
  m_v = make("selectiv::linear_attention::v", 2 * m_d);
  m_g = make("selectiv::linear_attention::g", m_d);  // zero-initialised by the View constructor, never written
  m_o = make("selectiv::linear_attention::o", 2 * m_d);
  m_norm_rstd = View2("selectiv::linear_attention::norm_rstd", static_cast<std::size_t>(B) * T, m_H);
  m_states = gla::gla_allocate_states(B, T, m_H, m_K, m_V);
  m_scores = gla::gla_allocate_scores(B, T, m_H);
  m_on = make("selectiv::linear_attention::on", 2 * m_d);
}

void LinearAttentionMixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_d_on = make("selectiv::linear_attention::d_on", 2 * m_d);
  m_do = make("selectiv::linear_attention::do", 2 * m_d);
  m_dq = make("selectiv::linear_attention::dq", m_d);
  m_dk = make("selectiv::linear_attention::dk", m_d);
  m_dv = make("selectiv::linear_attention::dv", 2 * m_d);
  m_dg = make("selectiv::linear_attention::dg", m_d);
  m_dproj_d = make("selectiv::linear_attention::dproj_d", m_d);
  m_dproj_2d = make("selectiv::linear_attention::dproj_2d", 2 * m_d);
}

void LinearAttentionMixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode&) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  // 1. projections, short conv + SiLU
  conv_branches_fwd(exec, p, m_prefix, {{"q", m_qp, m_q}, {"k", m_kp, m_k}, {"v", m_vp, m_v}}, h);
  // 2. the recurrence without decay: GLA with g = 0
  gla::gla_chunked_fwd(exec, heads(m_o, m_H), View4(), m_states, m_scores, heads(CView3(m_q), m_H),
                       heads(CView3(m_k), m_H), heads(CView3(m_v), m_H), heads(CView3(m_g), m_H), CView4(),
                       1.0f / std::sqrt(float(m_K)));
  // 3. RMSNorm per head, output projection
  nn::rms_norm_fwd(exec, nn::as_matrix(m_on), m_norm_rstd, nn::as_matrix(CView3(m_o)), p.value1(name("o_norm.weight")),
                   nn::RmsNormSpec::standard(m_V));
  nn::linear_fwd(exec, nn::as_matrix(z), nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")), CView1());
}

void LinearAttentionMixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
  // 3. output projection, norm
  nn::linear_bwd(exec, nn::as_matrix(m_d_on), p.grad2(name("o_proj.weight")), View1(), nn::as_matrix(dz),
                 nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")));
  nn::rms_norm_bwd(exec, nn::as_matrix(m_do), p.grad1(name("o_norm.weight")), m_norm_rstd,
                   nn::as_matrix(CView3(m_d_on)), nn::as_matrix(CView3(m_o)), p.value1(name("o_norm.weight")),
                   nn::RmsNormSpec::standard(m_V));
  // 2. the recurrence (g is the constant 0: its gradient is computed and dropped)
  gla::gla_chunked_bwd(exec, heads(m_dq, m_H), heads(m_dk, m_H), heads(m_dv, m_H), heads(m_dg, m_H), View4(),
                       m_states, m_scores, heads(CView3(m_do), m_H), CView4(), heads(CView3(m_q), m_H),
                       heads(CView3(m_k), m_H), heads(CView3(m_v), m_H), heads(CView3(m_g), m_H),
                       1.0f / std::sqrt(float(m_K)));
  // 1. convs and projections of q, k, v (the first branch assigns dh, the others add to it)
  conv_branch_bwd(exec, p, m_prefix, {"q", m_qp, m_q}, dh, true, m_dproj_d, m_dq, h);
  conv_branch_bwd(exec, p, m_prefix, {"k", m_kp, m_k}, dh, false, m_dproj_d, m_dk, h);
  conv_branch_bwd(exec, p, m_prefix, {"v", m_vp, m_v}, dh, false, m_dproj_2d, m_dv, h);
}

}  // namespace selectiv::models
