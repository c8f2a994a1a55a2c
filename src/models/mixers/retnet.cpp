// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/retnet.hpp"

#include <cmath>

#include "core/error.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/gla/chunked.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "kernels/nn/rope.hpp"
#include "models/mixers/conv_branch.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {
namespace {
constexpr auto kRope = nn::RopeConvention::rotate_half;
}  // namespace

RetNetMixer::RetNetMixer(const ModelDims& dims, std::string prefix)
    : m_d(dims.d_model), m_H(dims.n_heads), m_K(dims.d_model / dims.n_heads), m_V(2 * dims.d_model / dims.n_heads),
      m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d % m_H == 0 && m_K % 2 == 0, ExitCode::kInvalidInput,
                   "retnet: d_model {} / {} heads must give an even head dim (RoPE)", m_d, m_H);
}

double RetNetMixer::log_decay(int head) { return std::log(1.0 - std::pow(2.0, -5.0 - head)); }

void RetNetMixer::declare(ParamTable& t) {
  const double in = 1.0 / std::sqrt(m_d), conv = 1.0 / std::sqrt(4.0);
  t.add(name("q_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("k_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("v_proj.weight"), {2 * m_d, m_d}, init_uniform(in));
  t.add(name("g_proj.weight"), {2 * m_d, m_d}, init_uniform(in));
  t.add(name("q_conv1d.weight"), {m_d, 1, 4}, init_uniform(conv));
  t.add(name("k_conv1d.weight"), {m_d, 1, 4}, init_uniform(conv));
  t.add(name("v_conv1d.weight"), {2 * m_d, 1, 4}, init_uniform(conv));
  t.add(name("o_proj.weight"), {m_d, 2 * m_d}, init_uniform(1.0 / std::sqrt(2 * m_d)));
  t.add(name("g_norm_swish_gate.weight"), {m_V}, init_constant(1.0));
}

void RetNetMixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  if (m_inv_freq.extent(0) == 0) {  // allocated at the first forward, so declaring needs no Kokkos
    const std::vector<float> inv_freq = nn::rope_inv_freq(m_K, kRopeBase);
    m_inv_freq = View1("selectiv::retnet::inv_freq", inv_freq.size());
    auto host = kc::create_mirror_view_uninitialized(m_inv_freq);
    for (std::size_t i = 0; i < inv_freq.size(); ++i) host(i) = inv_freq[i];
    Kokkos::deep_copy(m_inv_freq, host);
  }
  auto make = [B, T](const char* label, int channels) { return View3(std::string(label), B, T, channels); };
  m_qp = make("selectiv::retnet::qp", m_d);
  m_kp = make("selectiv::retnet::kp", m_d);
  m_vp = make("selectiv::retnet::vp", 2 * m_d);
  m_q = make("selectiv::retnet::q", m_d);
  m_k = make("selectiv::retnet::k", m_d);
  m_v = make("selectiv::retnet::v", 2 * m_d);
  m_g = make("selectiv::retnet::g", m_d);
  m_o = make("selectiv::retnet::o", 2 * m_d);
  m_gate = make("selectiv::retnet::gate", 2 * m_d);
  m_norm_rstd = View2("selectiv::retnet::norm_rstd", static_cast<std::size_t>(B) * T, m_H);
  m_states = gla::gla_allocate_states(B, T, m_H, m_K, m_V);
  m_scores = gla::gla_allocate_scores(B, T, m_H);
  m_on = make("selectiv::retnet::on", 2 * m_d);
  // The fixed log-decay: g(b, t, h * K + k) = log(gamma_h), filled once per workspace shape.
  auto g_host = kc::create_mirror_view_uninitialized(m_g);
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      for (int c = 0; c < m_d; ++c) g_host(b, t, c) = static_cast<float>(log_decay(c / m_K));
    }
  }
  Kokkos::deep_copy(m_g, g_host);
}

void RetNetMixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_d_on = make("selectiv::retnet::d_on", 2 * m_d);
  m_do = make("selectiv::retnet::do", 2 * m_d);
  m_dgate = make("selectiv::retnet::dgate", 2 * m_d);
  m_dq = make("selectiv::retnet::dq", m_d);
  m_dk = make("selectiv::retnet::dk", m_d);
  m_dv = make("selectiv::retnet::dv", 2 * m_d);
  m_dg = make("selectiv::retnet::dg", m_d);
  m_dproj_d = make("selectiv::retnet::dproj_d", m_d);
  m_dproj_2d = make("selectiv::retnet::dproj_2d", 2 * m_d);
}

void RetNetMixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode&) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  CView2 x = nn::as_matrix(h);
  // 1. projections, short conv + SiLU
  conv_branches_fwd(exec, p, m_prefix, {{"q", m_qp, m_q}, {"k", m_kp, m_k}, {"v", m_vp, m_v}}, h);
  // 2. RoPE on q and k, in place
  nn::rope_fwd(exec, heads(m_q, m_H), heads(CView3(m_q), m_H), m_inv_freq, kRope);
  nn::rope_fwd(exec, heads(m_k, m_H), heads(CView3(m_k), m_H), m_inv_freq, kRope);
  // 3. the retention recurrence: GLA with the constant log-decay log(gamma_h)
  gla::gla_chunked_fwd(exec, heads(m_o, m_H), View4(), m_states, m_scores, heads(CView3(m_q), m_H),
                       heads(CView3(m_k), m_H), heads(CView3(m_v), m_H), heads(CView3(m_g), m_H), CView4(),
                       1.0f / std::sqrt(float(m_K)));
  // 4. gated RMSNorm per head (norm, then swish gate), output projection
  nn::linear_fwd(exec, nn::as_matrix(m_gate), x, p.value2(name("g_proj.weight")), CView1());
  nn::gated_rms_norm_fwd(exec, nn::as_matrix(m_on), m_norm_rstd, nn::as_matrix(CView3(m_o)),
                         nn::as_matrix(CView3(m_gate)), p.value1(name("g_norm_swish_gate.weight")),
                         nn::RmsNormSpec::standard(m_V), nn::GateOrder::norm_then_gate);
  nn::linear_fwd(exec, nn::as_matrix(z), nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")), CView1());
}

void RetNetMixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
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
  // 3. the recurrence (the decay is fixed: its gradient dg is computed and dropped)
  gla::gla_chunked_bwd(exec, heads(m_dq, m_H), heads(m_dk, m_H), heads(m_dv, m_H), heads(m_dg, m_H), View4(),
                       m_states, m_scores, heads(CView3(m_do), m_H), CView4(), heads(CView3(m_q), m_H),
                       heads(CView3(m_k), m_H), heads(CView3(m_v), m_H), heads(CView3(m_g), m_H),
                       1.0f / std::sqrt(float(m_K)));
  // 2. RoPE: the inverse rotation, in place
  nn::rope_bwd(exec, heads(m_dq, m_H), heads(CView3(m_dq), m_H), m_inv_freq, kRope);
  nn::rope_bwd(exec, heads(m_dk, m_H), heads(CView3(m_dk), m_H), m_inv_freq, kRope);
  // 1. convs and projections of q, k, v
  conv_branch_bwd(exec, p, m_prefix, {"q", m_qp, m_q}, dh, false, m_dproj_d, m_dq, h);
  conv_branch_bwd(exec, p, m_prefix, {"k", m_kp, m_k}, dh, false, m_dproj_d, m_dk, h);
  conv_branch_bwd(exec, p, m_prefix, {"v", m_vp, m_v}, dh, false, m_dproj_2d, m_dv, h);
}

}  // namespace selectiv::models
