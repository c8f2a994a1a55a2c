// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/gla.hpp"

#include <cmath>

#include "core/error.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/gla/chunked.hpp"
#include "kernels/nn/activations.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "models/mixers/conv_branch.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {

GlaMixer::GlaMixer(const ModelDims& dims, std::string prefix)
    : m_d(dims.d_model), m_H(dims.n_heads), m_K(dims.d_model / dims.n_heads), m_V(2 * dims.d_model / dims.n_heads),
      m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d % m_H == 0, ExitCode::kInvalidInput, "gla: d_model {} is not a multiple of {} heads", m_d, m_H);
}

void GlaMixer::declare(ParamTable& t) {
  const double in = 1.0 / std::sqrt(m_d), conv = 1.0 / std::sqrt(4.0);
  t.add(name("q_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("k_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("v_proj.weight"), {2 * m_d, m_d}, init_uniform(in));
  t.add(name("g_proj.weight"), {2 * m_d, m_d}, init_uniform(in));
  t.add(name("q_conv1d.weight"), {m_d, 1, 4}, init_uniform(conv));
  t.add(name("k_conv1d.weight"), {m_d, 1, 4}, init_uniform(conv));
  t.add(name("v_conv1d.weight"), {2 * m_d, 1, 4}, init_uniform(conv));
  t.add(name("gk_proj.0.weight"), {kGateRank, m_d}, init_uniform(in));
  t.add(name("gk_proj.1.weight"), {m_d, kGateRank}, init_uniform(1.0 / std::sqrt(kGateRank)));
  t.add(name("gk_proj.1.bias"), {m_d}, init_uniform(1.0 / std::sqrt(kGateRank)));
  t.add(name("o_proj.weight"), {m_d, 2 * m_d}, init_uniform(1.0 / std::sqrt(2 * m_d)));
  t.add(name("g_norm_swish_gate.weight"), {m_V}, init_constant(1.0));
}

void GlaMixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  auto make = [B, T](const char* label, int channels) { return View3(std::string(label), B, T, channels); };
  m_qp = make("selectiv::gla_mixer::qp", m_d);
  m_kp = make("selectiv::gla_mixer::kp", m_d);
  m_vp = make("selectiv::gla_mixer::vp", 2 * m_d);
  m_g0 = make("selectiv::gla_mixer::g0", kGateRank);
  m_gk = make("selectiv::gla_mixer::gk", m_d);
  m_gate = make("selectiv::gla_mixer::gate", 2 * m_d);
  m_o = make("selectiv::gla_mixer::o", 2 * m_d);
  m_scores = gla::gla_allocate_scores(B, T, m_H);
}

void GlaMixer::acquire_recomputed_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_q = make("selectiv::gla_mixer::q", m_d);
  m_k = make("selectiv::gla_mixer::k", m_d);
  m_v = make("selectiv::gla_mixer::v", 2 * m_d);
  m_g = make("selectiv::gla_mixer::g", m_d);
  m_states = gla::gla_workspace_states(B, T, m_H, m_K, m_V);
  m_on = make("selectiv::gla_mixer::on", 2 * m_d);
  m_norm_rstd = workspace<View2>("selectiv::gla_mixer::norm_rstd", static_cast<std::size_t>(B) * T, m_H);
}

// g = logsigmoid(gk) / 16
void GlaMixer::log_decay_fwd(const Exec& exec) {
  nn::logsigmoid_fwd(exec, flat(m_g), flat(CView3(m_gk)), 1.0f / kGateNormalizer);
}

// on = gated RMSNorm of the recurrence output per head (also the factors the norm backward reads).
void GlaMixer::normalise_output(const Exec& exec, const ParamTable& p) {
  nn::gated_rms_norm_fwd(exec, nn::as_matrix(m_on), m_norm_rstd, nn::as_matrix(CView3(m_o)),
                         nn::as_matrix(CView3(m_gate)), p.value1(name("g_norm_swish_gate.weight")),
                         nn::RmsNormSpec::standard(m_V), nn::GateOrder::norm_then_gate);
}

void GlaMixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_d_on = make("selectiv::gla_mixer::d_on", 2 * m_d);
  m_do = make("selectiv::gla_mixer::do", 2 * m_d);
  m_dgate = make("selectiv::gla_mixer::dgate", 2 * m_d);
  m_dq = make("selectiv::gla_mixer::dq", m_d);
  m_dk = make("selectiv::gla_mixer::dk", m_d);
  m_dv = make("selectiv::gla_mixer::dv", 2 * m_d);
  m_dg = make("selectiv::gla_mixer::dg", m_d);
  m_dgk = make("selectiv::gla_mixer::dgk", m_d);
  m_dg0 = make("selectiv::gla_mixer::dg0", kGateRank);
  m_dproj_d = make("selectiv::gla_mixer::dproj_d", m_d);
  m_dproj_2d = make("selectiv::gla_mixer::dproj_2d", 2 * m_d);
}

void GlaMixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode&) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  acquire_recomputed_buffers();
  CView2 x = nn::as_matrix(h);
  // 1. projections, short conv + SiLU
  conv_branches_fwd(exec, p, m_prefix, {{"q", m_qp, m_q}, {"k", m_kp, m_k}, {"v", m_vp, m_v}}, h);
  // 2. low-rank gate logits gk (g = logsigmoid(gk) / 16 in step 3)
  nn::linear_fwd(exec, nn::as_matrix(m_g0), x, p.value2(name("gk_proj.0.weight")), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_gk), nn::as_matrix(CView3(m_g0)), p.value2(name("gk_proj.1.weight")),
                 p.value1(name("gk_proj.1.bias")));
  // 3. the recurrence: o, its chunk states and scores
  log_decay_fwd(exec);
  gla::gla_chunked_fwd(exec, heads(m_o, m_H), View4(), m_states, m_scores, heads(CView3(m_q), m_H),
                       heads(CView3(m_k), m_H), heads(CView3(m_v), m_H), heads(CView3(m_g), m_H), CView4(),
                       1.0f / std::sqrt(float(m_K)));
  // 4. gated RMSNorm per head, output projection
  nn::linear_fwd(exec, nn::as_matrix(m_gate), x, p.value2(name("g_proj.weight")), CView1());
  normalise_output(exec, p);
  nn::linear_fwd(exec, nn::as_matrix(z), nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")), CView1());
}

void GlaMixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
  acquire_recomputed_buffers();
  conv_branches_recompute(exec, p, m_prefix, {{"q", m_qp, m_q}, {"k", m_kp, m_k}, {"v", m_vp, m_v}});
  log_decay_fwd(exec);
  normalise_output(exec, p);
  CView2 x = nn::as_matrix(h);
  // 4. output projection, gated norm, output-gate projection (dh starts here: assigned)
  nn::linear_bwd(exec, nn::as_matrix(m_d_on), p.grad2(name("o_proj.weight")), View1(), nn::as_matrix(dz),
                 nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")));
  nn::gated_rms_norm_bwd(exec, nn::as_matrix(m_do), nn::as_matrix(m_dgate), p.grad1(name("g_norm_swish_gate.weight")),
                         m_norm_rstd, nn::as_matrix(CView3(m_d_on)), nn::as_matrix(CView3(m_o)),
                         nn::as_matrix(CView3(m_gate)), p.value1(name("g_norm_swish_gate.weight")),
                         nn::RmsNormSpec::standard(m_V), nn::GateOrder::norm_then_gate);
  nn::linear_bwd(exec, nn::as_matrix(dh), p.grad2(name("g_proj.weight")), View1(), nn::as_matrix(CView3(m_dgate)), x,
                 p.value2(name("g_proj.weight")));
  // 3. the recurrence (its chunk states recomputed inside)
  gla::gla_chunked_bwd(exec, heads(m_dq, m_H), heads(m_dk, m_H), heads(m_dv, m_H), heads(m_dg, m_H), View4(), CView4(),
                       m_scores, heads(CView3(m_do), m_H), CView4(), heads(CView3(m_q), m_H), heads(CView3(m_k), m_H),
                       heads(CView3(m_v), m_H), heads(CView3(m_g), m_H), 1.0f / std::sqrt(float(m_K)));
  // 2. gate: dgk = logsigmoid'(gk) * dg / 16
  nn::logsigmoid_bwd(exec, flat(m_dgk), flat(CView3(m_dg)), flat(CView3(m_gk)), 1.0f / kGateNormalizer);
  nn::linear_bwd(exec, nn::as_matrix(m_dg0), p.grad2(name("gk_proj.1.weight")), p.grad1(name("gk_proj.1.bias")),
                 nn::as_matrix(CView3(m_dgk)), nn::as_matrix(CView3(m_g0)), p.value2(name("gk_proj.1.weight")));
  nn::linear_bwd(exec, nn::as_matrix(dh), p.grad2(name("gk_proj.0.weight")), View1(), nn::as_matrix(CView3(m_dg0)), x,
                 p.value2(name("gk_proj.0.weight")), true);
  // 1. convs and projections of q, k, v
  conv_branch_bwd(exec, p, m_prefix, {"q", m_qp, m_q}, dh, false, m_dproj_d, m_dq, h);
  conv_branch_bwd(exec, p, m_prefix, {"k", m_kp, m_k}, dh, false, m_dproj_d, m_dk, h);
  conv_branch_bwd(exec, p, m_prefix, {"v", m_vp, m_v}, dh, false, m_dproj_2d, m_dv, h);
}

}  // namespace selectiv::models
