// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/delta_common.hpp"

#include <KokkosBlas1_scal.hpp>
#include <cmath>

#include "core/error.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/delta_rule/chunked.hpp"
#include "kernels/delta_rule/decay_gate.hpp"
#include "kernels/delta_rule/recurrent.hpp"
#include "kernels/nn/activations.hpp"
#include "kernels/nn/l2_norm.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "models/mixers/conv_branch.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {
namespace {

constexpr int kConvWidth = 4;

// (B, T, n * H * D) seen as (B, T * n, H, D): the sub-step rows of the recurrence.
View4 substeps(const View3& x, int n, int H) {
  return View4(x.data(), x.extent(0), x.extent(1) * n, H, x.extent(2) / (n * H));
}
CView4 substeps(const CView3& x, int n, int H) {
  return CView4(x.data(), x.extent(0), x.extent(1) * n, H, x.extent(2) / (n * H));
}
// (B, T, n * H) seen as (B, T * n, H).
View3 per_head(const View3& x, int n, int H) { return View3(x.data(), x.extent(0), x.extent(1) * n, H); }
CView3 per_head(const CView3& x, int n, int H) { return CView3(x.data(), x.extent(0), x.extent(1) * n, H); }

}  // namespace

bool delta_mixers_run_chunked() {
  // GPU builds (device memory that the host cannot read) run the chunked WY / UT kernels, host backends the
  // token-by-token ones (kernels/delta_rule/README.md §6). Measured on one H200 (CUDA build, fp32, B = 64, 8 layers,
  // `selectiv bench --model M --d 256 --T 400 --profile 1`), training step token by token -> chunked:
  // gated_delta_net 245.5 -> 165.8 ms, delta_net 232.5 -> 157.6 ms, gated_delta_product 676.8 -> 495.0 ms;
  // gated_delta_net at d = 1024: 2207.8 -> 1065.9 ms. On the CPU the token-by-token kernels do less work.
  return !Kokkos::SpaceAccessibility<Kokkos::HostSpace, DeviceMem>::accessible;
}

DeltaFamilyMixer::DeltaFamilyMixer(const ModelDims& dims, std::string prefix, const DeltaVariant& variant)
    : m_variant(variant), m_d(dims.d_model), m_H(dims.n_heads), m_K(dims.d_model / dims.n_heads),
      m_V(2 * dims.d_model / dims.n_heads), m_n(variant.householder), m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d % m_H == 0, ExitCode::kInvalidInput, "delta rule: d_model {} is not a multiple of {} heads",
                   m_d, m_H);
  SELECTIV_REQUIRE(m_K <= delta_rule::kMaxKeyDim, ExitCode::kInvalidInput,
                   "delta rule: head dim {} above the kernel's limit {}", m_K, delta_rule::kMaxKeyDim);
}

void DeltaFamilyMixer::declare(ParamTable& t) {
  const double in = 1.0 / std::sqrt(m_d), conv = 1.0 / std::sqrt(double(kConvWidth));
  const int n = m_n;
  if (m_variant.gated) {
    t.add(name("A_log"), {m_H}, init_log_uniform(0.0, 16.0));
    t.add(name("dt_bias"), {m_H}, init_dt_bias());
  }
  t.add(name("q_proj.weight"), {m_d, m_d}, init_uniform(in));
  t.add(name("k_proj.weight"), {n * m_d, m_d}, init_uniform(in));
  t.add(name("v_proj.weight"), {2 * n * m_d, m_d}, init_uniform(in));
  if (m_variant.gated && m_variant.a_proj_first) t.add(name("a_proj.weight"), {m_H, m_d}, init_uniform(in));
  t.add(name("b_proj.weight"), {n * m_H, m_d}, init_uniform(in));
  if (m_variant.gated && !m_variant.a_proj_first) t.add(name("a_proj.weight"), {m_H, m_d}, init_uniform(in));
  t.add(name("q_conv1d.weight"), {m_d, 1, kConvWidth}, init_uniform(conv));
  t.add(name("k_conv1d.weight"), {n * m_d, 1, kConvWidth}, init_uniform(conv));
  t.add(name("v_conv1d.weight"), {2 * n * m_d, 1, kConvWidth}, init_uniform(conv));
  if (m_variant.gated) t.add(name("g_proj.weight"), {2 * m_d, m_d}, init_uniform(in));
  t.add(name("o_norm.weight"), {m_V}, init_constant(1.0));
  t.add(name("o_proj.weight"), {m_d, 2 * m_d}, init_uniform(1.0 / std::sqrt(2.0 * m_d)));
}

void DeltaFamilyMixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  const int n = m_n, d = m_d, H = m_H;
  auto make = [B, T](const char* label, int channels) { return View3(std::string(label), B, T, channels); };
  m_qp = make("selectiv::delta_mixer::qp", d);
  m_kp = make("selectiv::delta_mixer::kp", n * d);
  m_vp = make("selectiv::delta_mixer::vp", 2 * n * d);
  m_beta_logit = make("selectiv::delta_mixer::beta_logit", n * H);
  m_beta = make("selectiv::delta_mixer::beta", n * H);
  m_o = make("selectiv::delta_mixer::o", 2 * d);
  // The chunked path recomputes its chunk states in the backward (a workspace, acquire_recomputed_buffers).
  if (!delta_mixers_run_chunked()) m_checkpoints = delta_rule::delta_allocate_checkpoints(B, T, H, m_K, m_V);
  if (m_variant.gated) {
    m_gate_logit = make("selectiv::delta_mixer::gate_logit", H);
    m_g = make("selectiv::delta_mixer::g", H);
    m_out_gate = make("selectiv::delta_mixer::out_gate", 2 * d);
  }
}

void DeltaFamilyMixer::acquire_recomputed_buffers() {
  const int B = m_B, T = m_T, n = m_n, d = m_d, H = m_H;
  const int rows = B * T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_qc = make("selectiv::delta_mixer::qc", d);
  m_kc = make("selectiv::delta_mixer::kc", n * d);
  m_v = make("selectiv::delta_mixer::v", 2 * n * d);
  m_q = make("selectiv::delta_mixer::q", d);
  m_k = make("selectiv::delta_mixer::k", n * d);
  m_on = make("selectiv::delta_mixer::on", 2 * d);
  m_q_rstd = workspace<View2>("selectiv::delta_mixer::q_rstd", rows, H);
  m_k_rstd = workspace<View2>("selectiv::delta_mixer::k_rstd", rows, n * H);
  m_norm_rstd = workspace<View2>("selectiv::delta_mixer::norm_rstd", rows, H);
  if (delta_mixers_run_chunked()) m_checkpoints = delta_rule::delta_workspace_chunk_states(B, T * n, H, m_K, m_V);
}

// q, k = l2norm(qc), l2norm(kc) per head (also the factors the l2norm backward reads).
void DeltaFamilyMixer::normalise_queries_and_keys(const Exec& exec) {
  nn::l2_norm_fwd(exec, nn::as_matrix(m_q), m_q_rstd, nn::as_matrix(CView3(m_qc)), m_K);
  nn::l2_norm_fwd(exec, nn::as_matrix(m_k), m_k_rstd, nn::as_matrix(CView3(m_kc)), m_K);
}

// on = (gated) RMSNorm of the recurrence output per head (also the factors the norm backward reads).
void DeltaFamilyMixer::normalise_output(const Exec& exec, const ParamTable& p) {
  if (m_variant.gated) {
    nn::gated_rms_norm_fwd(exec, nn::as_matrix(m_on), m_norm_rstd, nn::as_matrix(CView3(m_o)),
                           nn::as_matrix(CView3(m_out_gate)), p.value1(name("o_norm.weight")),
                           nn::RmsNormSpec::standard(m_V), nn::GateOrder::norm_then_gate);
  } else {
    nn::rms_norm_fwd(exec, nn::as_matrix(m_on), m_norm_rstd, nn::as_matrix(CView3(m_o)),
                     p.value1(name("o_norm.weight")), nn::RmsNormSpec::standard(m_V));
  }
}

void DeltaFamilyMixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T, n = m_n, d = m_d, H = m_H;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_d_on = make("selectiv::delta_mixer::d_on", 2 * d);
  m_do = make("selectiv::delta_mixer::do", 2 * d);
  m_dq = make("selectiv::delta_mixer::dq", d);
  m_dk = make("selectiv::delta_mixer::dk", n * d);
  m_dv = make("selectiv::delta_mixer::dv", 2 * n * d);
  m_dqc = make("selectiv::delta_mixer::dqc", d);
  m_dkc = make("selectiv::delta_mixer::dkc", n * d);
  m_dqp = make("selectiv::delta_mixer::dqp", d);
  m_dkp = make("selectiv::delta_mixer::dkp", n * d);
  m_dvp = make("selectiv::delta_mixer::dvp", 2 * n * d);
  m_dbeta = make("selectiv::delta_mixer::dbeta", n * H);
  m_dbeta_logit = make("selectiv::delta_mixer::dbeta_logit", n * H);
  if (m_variant.gated) {
    m_dout_gate = make("selectiv::delta_mixer::dout_gate", 2 * d);
    m_dg = make("selectiv::delta_mixer::dg", H);
    m_dgate_logit = make("selectiv::delta_mixer::dgate_logit", H);
  }
}

void DeltaFamilyMixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode&) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  acquire_recomputed_buffers();
  const CView2 x = nn::as_matrix(h);
  // 1. projections, short conv + SiLU, l2norm of q and k per head
  conv_branches_fwd(exec, p, m_prefix, {{"q", m_qp, m_qc}, {"k", m_kp, m_kc}, {"v", m_vp, m_v}}, h);
  normalise_queries_and_keys(exec);
  // 2. write strengths beta, decay g
  nn::linear_fwd(exec, nn::as_matrix(m_beta_logit), x, p.value2(name("b_proj.weight")), CView1());
  nn::sigmoid_fwd(exec, flat(m_beta), flat(CView3(m_beta_logit)));
  if (m_variant.beta_max != 1.0f) KokkosBlas::scal(flat(m_beta), m_variant.beta_max, flat(m_beta));
  if (m_variant.gated) {
    nn::linear_fwd(exec, nn::as_matrix(m_gate_logit), x, p.value2(name("a_proj.weight")), CView1());
    delta_rule::decay_gate_fwd(exec, nn::as_matrix(m_g), nn::as_matrix(CView3(m_gate_logit)), p.value1(name("A_log")),
                               p.value1(name("dt_bias")));
  }
  // 3. the recurrence
  const CView4 q4 = heads(CView3(m_q), m_H), k4 = substeps(CView3(m_k), m_n, m_H), v4 = substeps(CView3(m_v), m_n, m_H);
  const CView3 beta3 = per_head(CView3(m_beta), m_n, m_H), g3 = m_variant.gated ? CView3(m_g) : CView3();
  const float scale = 1.0f / std::sqrt(float(m_K));
  if (delta_mixers_run_chunked()) {
    delta_rule::delta_chunked_fwd(exec, heads(m_o, m_H), View4(), m_checkpoints, q4, k4, v4, beta3, g3, CView4(), scale);
  } else {
    delta_rule::delta_recurrent_fwd(exec, heads(m_o, m_H), View4(), m_checkpoints, q4, k4, v4, beta3, g3, CView4(),
                                    scale);
  }
  // 4. per-head (gated) RMSNorm, output projection
  if (m_variant.gated) nn::linear_fwd(exec, nn::as_matrix(m_out_gate), x, p.value2(name("g_proj.weight")), CView1());
  normalise_output(exec, p);
  nn::linear_fwd(exec, nn::as_matrix(z), nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")), CView1());
}

void DeltaFamilyMixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
  acquire_recomputed_buffers();
  normalise_output(exec, p);
  conv_branches_recompute(exec, p, m_prefix, {{"q", m_qp, m_qc}, {"k", m_kp, m_kc}, {"v", m_vp, m_v}});
  normalise_queries_and_keys(exec);
  const CView2 x = nn::as_matrix(h);
  bool dh_assigned = false;
  // dh (+)= dy W for one input projection y = h W^T: the first one assigns dh, the others add.
  auto add_input_grad = [&](const View3& dy, const char* weight) {
    nn::linear_bwd(exec, nn::as_matrix(dh), p.grad2(name(weight)), View1(), nn::as_matrix(CView3(dy)), x,
                   p.value2(name(weight)), dh_assigned);
    dh_assigned = true;
  };
  // 4. output projection, (gated) norm
  nn::linear_bwd(exec, nn::as_matrix(m_d_on), p.grad2(name("o_proj.weight")), View1(), nn::as_matrix(dz),
                 nn::as_matrix(CView3(m_on)), p.value2(name("o_proj.weight")));
  if (m_variant.gated) {
    nn::gated_rms_norm_bwd(exec, nn::as_matrix(m_do), nn::as_matrix(m_dout_gate), p.grad1(name("o_norm.weight")),
                           m_norm_rstd, nn::as_matrix(CView3(m_d_on)), nn::as_matrix(CView3(m_o)),
                           nn::as_matrix(CView3(m_out_gate)), p.value1(name("o_norm.weight")),
                           nn::RmsNormSpec::standard(m_V), nn::GateOrder::norm_then_gate);
    add_input_grad(m_dout_gate, "g_proj.weight");
  } else {
    nn::rms_norm_bwd(exec, nn::as_matrix(m_do), p.grad1(name("o_norm.weight")), m_norm_rstd,
                     nn::as_matrix(CView3(m_d_on)), nn::as_matrix(CView3(m_o)), p.value1(name("o_norm.weight")),
                     nn::RmsNormSpec::standard(m_V));
  }
  // 3. the recurrence
  const CView4 q4 = heads(CView3(m_q), m_H), k4 = substeps(CView3(m_k), m_n, m_H), v4 = substeps(CView3(m_v), m_n, m_H);
  const CView3 beta3 = per_head(CView3(m_beta), m_n, m_H), g3 = m_variant.gated ? CView3(m_g) : CView3();
  const float scale = 1.0f / std::sqrt(float(m_K));
  const View4 dq4 = heads(m_dq, m_H), dk4 = substeps(m_dk, m_n, m_H), dv4 = substeps(m_dv, m_n, m_H);
  const View3 dbeta3 = per_head(m_dbeta, m_n, m_H), dg3 = m_variant.gated ? m_dg : View3();
  if (delta_mixers_run_chunked()) {
    // states empty: the backward recomputes them (the forward's were a workspace), as fla's backward does
    delta_rule::delta_chunked_bwd(exec, dq4, dk4, dv4, dbeta3, dg3, View4(), CView4(), heads(CView3(m_do), m_H),
                                  CView4(), q4, k4, v4, beta3, g3, scale);
  } else {
    delta_rule::delta_recurrent_bwd(exec, dq4, dk4, dv4, dbeta3, dg3, View4(), m_checkpoints,
                                    heads(CView3(m_do), m_H), CView4(), q4, k4, v4, beta3, g3, scale);
  }
  // 2. decay and write strengths
  if (m_variant.gated) {
    delta_rule::decay_gate_bwd(exec, nn::as_matrix(m_dgate_logit), p.grad1(name("A_log")), p.grad1(name("dt_bias")),
                               nn::as_matrix(CView3(m_dg)), nn::as_matrix(CView3(m_gate_logit)),
                               p.value1(name("A_log")), p.value1(name("dt_bias")));
    add_input_grad(m_dgate_logit, "a_proj.weight");
  }
  if (m_variant.beta_max != 1.0f) KokkosBlas::scal(flat(m_dbeta), m_variant.beta_max, flat(m_dbeta));
  nn::sigmoid_bwd(exec, flat(m_dbeta_logit), flat(CView3(m_dbeta)), flat(CView3(m_beta_logit)));
  add_input_grad(m_dbeta_logit, "b_proj.weight");
  // 1. l2norms, convs and projections of q, k, v
  nn::l2_norm_bwd(exec, nn::as_matrix(m_dqc), m_q_rstd, nn::as_matrix(CView3(m_dq)), nn::as_matrix(CView3(m_qc)), m_K);
  nn::l2_norm_bwd(exec, nn::as_matrix(m_dkc), m_k_rstd, nn::as_matrix(CView3(m_dk)), nn::as_matrix(CView3(m_kc)), m_K);
  // dh already holds the b_proj term: the branches add to it.
  conv_branch_bwd(exec, p, m_prefix, {"q", m_qp, m_qc}, dh, false, m_dqp, m_dqc, h);
  conv_branch_bwd(exec, p, m_prefix, {"k", m_kp, m_kc}, dh, false, m_dkp, m_dkc, h);
  conv_branch_bwd(exec, p, m_prefix, {"v", m_vp, m_v}, dh, false, m_dvp, m_dv, h);
}

}  // namespace selectiv::models
