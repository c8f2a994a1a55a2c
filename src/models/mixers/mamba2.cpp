// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/mamba2.hpp"

#include <cmath>

#include "core/error.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "kernels/nn/short_conv.hpp"
#include "kernels/ssd/chunked.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {
namespace {

constexpr int kConvWidth = 4;
constexpr float kNormEps = 1e-5f;

// Rows [row0, row0 + rows) of a row-major (out, in) weight: the in_proj block of one output.
CView2 row_block(const View2& w, int row0, int rows) {
  return CView2(w.data() + static_cast<std::size_t>(row0) * w.extent(1), rows, w.extent(1));
}
View2 row_block_grad(const View2& w, int row0, int rows) {
  return View2(w.data() + static_cast<std::size_t>(row0) * w.extent(1), rows, w.extent(1));
}

}  // namespace

Mamba2Mixer::Mamba2Mixer(const ModelDims& dims, std::string prefix)
    : m_d(dims.d_model), m_din(2 * dims.d_model), m_P(dims.d_model / dims.n_heads), m_H(2 * dims.n_heads),
      m_N(dims.d_state), m_conv(2 * dims.d_model + 2 * dims.d_state), m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d % dims.n_heads == 0, ExitCode::kInvalidInput, "mamba2: d_model {} is not a multiple of {} heads",
                   m_d, dims.n_heads);
  SELECTIV_REQUIRE(m_N > 0, ExitCode::kInvalidInput, "mamba2: d_state must be positive, got {}", m_N);
}

void Mamba2Mixer::declare(ParamTable& t) {
  // Names, order and shapes of mamba_ssm's Mamba2 state_dict.
  t.add(name("dt_bias"), {m_H}, init_dt_bias());
  t.add(name("A_log"), {m_H}, init_log_uniform(1.0, 16.0));
  t.add(name("D"), {m_H}, init_constant(1.0));
  t.add(name("in_proj.weight"), {2 * m_din + 2 * m_N + m_H, m_d}, init_uniform(1.0 / std::sqrt(m_d)));
  t.add(name("conv1d.weight"), {m_conv, 1, kConvWidth}, init_uniform(1.0 / std::sqrt(double(kConvWidth))));
  t.add(name("conv1d.bias"), {m_conv}, init_uniform(1.0 / std::sqrt(double(kConvWidth))));
  t.add(name("norm.weight"), {m_din}, init_constant(1.0));
  t.add(name("out_proj.weight"), {m_d, m_din}, init_uniform(1.0 / std::sqrt(m_din)));
}

void Mamba2Mixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  auto make = [B, T](const char* label, int channels) { return View3(std::string(label), B, T, channels); };
  m_gate = make("selectiv::mamba2_mixer::gate", m_din);
  m_xbc_pre = make("selectiv::mamba2_mixer::xbc_pre", m_conv);
  m_dt = make("selectiv::mamba2_mixer::dt", m_H);
  m_y = make("selectiv::mamba2_mixer::y", m_din);
  m_scores = ssd::ssd_allocate_scores(B, T);
}

void Mamba2Mixer::acquire_recomputed_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_xbc = make("selectiv::mamba2_mixer::xbc", m_conv);
  m_states = ssd::ssd_workspace_states(B, T, m_H, m_P, m_N);
  m_on = make("selectiv::mamba2_mixer::on", m_din);
  m_norm_rstd = workspace<View2>("selectiv::mamba2_mixer::norm_rstd", static_cast<std::size_t>(B) * T, 1);
}

// xBC = SiLU(causal depthwise conv of xBC_pre, with bias).
void Mamba2Mixer::convolve(const Exec& exec, const ParamTable& p) {
  nn::short_conv_fwd(exec, m_xbc, m_xbc_pre, p.value2(name("conv1d.weight")), p.value1(name("conv1d.bias")), true);
}

// on = RMSNorm(y * silu(z)) * w over all d_in channels (also the factors the norm backward reads).
void Mamba2Mixer::normalise_output(const Exec& exec, const ParamTable& p) {
  nn::gated_rms_norm_fwd(exec, nn::as_matrix(m_on), m_norm_rstd, nn::as_matrix(CView3(m_y)),
                         nn::as_matrix(CView3(m_gate)), p.value1(name("norm.weight")),
                         nn::RmsNormSpec::standard(m_din, kNormEps), nn::GateOrder::gate_then_norm);
}

void Mamba2Mixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int channels) { return workspace<View3>(label, B, T, channels); };
  m_d_on = make("selectiv::mamba2_mixer::d_on", m_din);
  m_dy = make("selectiv::mamba2_mixer::dy", m_din);
  m_dgate = make("selectiv::mamba2_mixer::dgate", m_din);
  m_dxbc = make("selectiv::mamba2_mixer::dxbc", m_conv);
  m_dxbc_pre = make("selectiv::mamba2_mixer::dxbc_pre", m_conv);
  m_ddt = make("selectiv::mamba2_mixer::ddt", m_H);
}

void Mamba2Mixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode&) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  acquire_recomputed_buffers();
  CView2 x = nn::as_matrix(h);
  const View2 w_in = p.value2(name("in_proj.weight"));
  // 1. in_proj, one block of rows per output: z, xBC, dt
  nn::linear_fwd(exec, nn::as_matrix(m_gate), x, row_block(w_in, 0, m_din), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_xbc_pre), x, row_block(w_in, m_din, m_conv), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_dt), x, row_block(w_in, m_din + m_conv, m_H), CView1());
  // 2. causal depthwise conv with bias, SiLU
  convolve(exec, p);
  // 3. the SSD scan (+ D x): y, its chunk states and scores
  ssd::ssd_chunked_fwd(exec, heads(m_y, m_H), m_states, m_scores, m_xbc, m_dt, p.value1(name("dt_bias")),
                       p.value1(name("A_log")), p.value1(name("D")));
  // 4. RMSNorm(y * silu(z)) * w over all d_in channels, out_proj
  normalise_output(exec, p);
  nn::linear_fwd(exec, nn::as_matrix(z), nn::as_matrix(CView3(m_on)), p.value2(name("out_proj.weight")), CView1());
}

void Mamba2Mixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
  acquire_recomputed_buffers();
  convolve(exec, p);
  normalise_output(exec, p);
  CView2 x = nn::as_matrix(h);
  // 4. out_proj, gated norm
  nn::linear_bwd(exec, nn::as_matrix(m_d_on), p.grad2(name("out_proj.weight")), View1(), nn::as_matrix(dz),
                 nn::as_matrix(CView3(m_on)), p.value2(name("out_proj.weight")));
  nn::gated_rms_norm_bwd(exec, nn::as_matrix(m_dy), nn::as_matrix(m_dgate), p.grad1(name("norm.weight")), m_norm_rstd,
                         nn::as_matrix(CView3(m_d_on)), nn::as_matrix(CView3(m_y)), nn::as_matrix(CView3(m_gate)),
                         p.value1(name("norm.weight")), nn::RmsNormSpec::standard(m_din, kNormEps),
                         nn::GateOrder::gate_then_norm);
  // 3. the SSD scan (its chunk states recomputed inside)
  ssd::ssd_chunked_bwd(exec, m_dxbc, m_ddt, p.grad1(name("dt_bias")), p.grad1(name("A_log")), p.grad1(name("D")),
                       CView4(), m_scores, heads(CView3(m_dy), m_H), m_xbc, m_dt, p.value1(name("dt_bias")),
                       p.value1(name("A_log")), p.value1(name("D")));
  // 2. conv
  nn::short_conv_bwd(exec, m_dxbc_pre, p.grad2(name("conv1d.weight")), p.grad1(name("conv1d.bias")), m_dxbc,
                     m_xbc_pre, p.value2(name("conv1d.weight")), p.value1(name("conv1d.bias")), true);
  // 1. in_proj blocks: dh assigned by the first, the others added
  const View2 w_in = p.value2(name("in_proj.weight")), dw_in = p.grad2(name("in_proj.weight"));
  nn::linear_bwd(exec, nn::as_matrix(dh), row_block_grad(dw_in, 0, m_din), View1(), nn::as_matrix(CView3(m_dgate)), x,
                 row_block(w_in, 0, m_din));
  nn::linear_bwd(exec, nn::as_matrix(dh), row_block_grad(dw_in, m_din, m_conv), View1(),
                 nn::as_matrix(CView3(m_dxbc_pre)), x, row_block(w_in, m_din, m_conv), true);
  nn::linear_bwd(exec, nn::as_matrix(dh), row_block_grad(dw_in, m_din + m_conv, m_H), View1(),
                 nn::as_matrix(CView3(m_ddt)), x, row_block(w_in, m_din + m_conv, m_H), true);
}

}  // namespace selectiv::models
