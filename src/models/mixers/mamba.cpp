// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/mamba.hpp"

#include <KokkosBlas1_axpby.hpp>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/nn/activations.hpp"
#include "kernels/nn/linear.hpp"
#include "kernels/nn/short_conv.hpp"
#include "kernels/selective_scan/chunked.hpp"
#include "kernels/selective_scan/decay_rate.hpp"
#include "kernels/selective_scan/gate.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {
namespace {

// Rows [first, first + count) of a row-major (rows, cols) matrix: contiguous, so a plain unmanaged view.
View2 row_block(const View2& m, int first, int count) {
  return View2(m.data() + static_cast<std::size_t>(first) * m.extent(1), count, m.extent(1));
}

}  // namespace

MambaMixer::MambaMixer(const ModelDims& dims, std::string prefix)
    : m_d(dims.d_model), m_Din(2 * dims.d_model), m_N(dims.d_state), m_R((dims.d_model + 15) / 16),
      m_prefix(std::move(prefix)) {
  SELECTIV_REQUIRE(m_d > 0 && m_N > 0, ExitCode::kInvalidInput, "mamba: d_model {} and d_state {} must be positive",
                   m_d, m_N);
}

void MambaMixer::declare(ParamTable& t) {
  // In the reference's state_dict order.
  std::vector<float> a_log(static_cast<std::size_t>(m_Din) * m_N);
  for (int c = 0; c < m_Din; ++c)
    for (int n = 0; n < m_N; ++n) a_log[static_cast<std::size_t>(c) * m_N + n] = static_cast<float>(std::log(n + 1.0));
  t.add(name("A_log"), {m_Din, m_N}, init_values(a_log));
  t.add(name("D"), {m_Din}, init_constant(1.0));
  t.add(name("in_proj.weight"), {2 * m_Din, m_d}, init_uniform(1.0 / std::sqrt(m_d)));
  t.add(name("conv1d.weight"), {m_Din, 1, kConvWidth}, init_uniform(1.0 / std::sqrt(kConvWidth)));
  t.add(name("conv1d.bias"), {m_Din}, init_uniform(1.0 / std::sqrt(kConvWidth)));
  t.add(name("x_proj.weight"), {m_R + 2 * m_N, m_Din}, init_uniform(1.0 / std::sqrt(m_Din)));
  t.add(name("dt_proj.weight"), {m_Din, m_R}, init_uniform(1.0 / std::sqrt(m_R)));
  t.add(name("dt_proj.bias"), {m_Din}, init_dt_bias());
  t.add(name("out_proj.weight"), {m_d, m_Din}, init_uniform(1.0 / std::sqrt(m_Din)));
}

void MambaMixer::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  m_B = B;
  m_T = T;
  auto make = [B, T](const char* label, int width) { return View3(std::string(label), B, T, width); };
  m_xp = make("selectiv::mamba_mixer::xp", m_Din);
  m_zp = make("selectiv::mamba_mixer::zp", m_Din);
  m_x = make("selectiv::mamba_mixer::x", m_Din);
  m_delta = make("selectiv::mamba_mixer::delta", m_R);
  m_Bm = make("selectiv::mamba_mixer::B", m_N);
  m_Cm = make("selectiv::mamba_mixer::C", m_N);
  m_dt_pre = make("selectiv::mamba_mixer::dt_pre", m_Din);
  m_dt = make("selectiv::mamba_mixer::dt", m_Din);
  m_A = View2("selectiv::mamba_mixer::A", m_Din, m_N);
  m_y = make("selectiv::mamba_mixer::y", m_Din);
  m_yg = make("selectiv::mamba_mixer::yg", m_Din);
  m_states = selective_scan::selective_scan_allocate_states(B, T, m_Din, m_N);
}

void MambaMixer::acquire_backward_buffers() {
  const int B = m_B, T = m_T;
  auto make = [B, T](const char* label, int width) { return workspace<View3>(label, B, T, width); };
  m_dyg = make("selectiv::mamba_mixer::dyg", m_Din);
  m_dy = make("selectiv::mamba_mixer::dy", m_Din);
  m_dzp = make("selectiv::mamba_mixer::dzp", m_Din);
  m_dx = make("selectiv::mamba_mixer::dx", m_Din);
  m_dx_part = make("selectiv::mamba_mixer::dx_part", m_Din);
  m_ddt = make("selectiv::mamba_mixer::ddt", m_Din);
  m_ddelta = make("selectiv::mamba_mixer::ddelta", m_R);
  m_dBm = make("selectiv::mamba_mixer::dB", m_N);
  m_dCm = make("selectiv::mamba_mixer::dC", m_N);
  m_dxp = make("selectiv::mamba_mixer::dxp", m_Din);
  m_dA = workspace<View2>("selectiv::mamba_mixer::dA", m_Din, m_N);
}

void MambaMixer::forward(const Exec& exec, const ParamTable& p, View3 z, CView3 h, const DropoutMode&) {
  const int B = static_cast<int>(h.extent(0)), T = static_cast<int>(h.extent(1));
  ensure_workspace(B, T);
  CView2 hm = nn::as_matrix(h);
  const View2 w_in = p.value2(name("in_proj.weight")), w_x = p.value2(name("x_proj.weight"));
  // 1. [x | z] = h W_in^T; x = silu(conv(x) + b)
  nn::linear_fwd(exec, nn::as_matrix(m_xp), hm, row_block(w_in, 0, m_Din), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_zp), hm, row_block(w_in, m_Din, m_Din), CView1());
  nn::short_conv_fwd(exec, m_x, m_xp, p.value2(name("conv1d.weight")), p.value1(name("conv1d.bias")), true);
  // 2. [delta | B | C] = x W_x^T; dt = softplus(delta W_dt^T + b_dt); A = -exp(A_log)
  CView2 xm = nn::as_matrix(CView3(m_x));
  nn::linear_fwd(exec, nn::as_matrix(m_delta), xm, row_block(w_x, 0, m_R), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_Bm), xm, row_block(w_x, m_R, m_N), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_Cm), xm, row_block(w_x, m_R + m_N, m_N), CView1());
  nn::linear_fwd(exec, nn::as_matrix(m_dt_pre), nn::as_matrix(CView3(m_delta)), p.value2(name("dt_proj.weight")),
                 p.value1(name("dt_proj.bias")));
  nn::softplus_fwd(exec, flat(m_dt), flat(CView3(m_dt_pre)));
  selective_scan::decay_rate_fwd(exec, m_A, p.value2(name("A_log")));
  // 3. the scan, the gate, the output projection
  selective_scan::selective_scan_chunked_fwd(exec, m_y, View3(), m_states, m_x, m_dt, m_A, m_Bm, m_Cm,
                                             p.value1(name("D")));
  selective_scan::silu_gate_fwd(exec, flat(m_yg), flat(CView3(m_y)), flat(CView3(m_zp)));
  nn::linear_fwd(exec, nn::as_matrix(z), nn::as_matrix(CView3(m_yg)), p.value2(name("out_proj.weight")), CView1());
}

void MambaMixer::backward(const Exec& exec, const ParamTable& p, View3 dh, CView3 dz, CView3 h) {
  acquire_backward_buffers();
  CView2 hm = nn::as_matrix(h);
  const View2 w_in = p.value2(name("in_proj.weight")), w_x = p.value2(name("x_proj.weight"));
  const View2 dw_in = p.grad2(name("in_proj.weight")), dw_x = p.grad2(name("x_proj.weight"));
  // 3. output projection, gate, scan
  nn::linear_bwd(exec, nn::as_matrix(m_dyg), p.grad2(name("out_proj.weight")), View1(), nn::as_matrix(dz),
                 nn::as_matrix(CView3(m_yg)), p.value2(name("out_proj.weight")));
  selective_scan::silu_gate_bwd(exec, flat(m_dy), flat(m_dzp), flat(CView3(m_dyg)), flat(CView3(m_y)),
                                flat(CView3(m_zp)));
  Kokkos::deep_copy(exec, m_dA, 0.0f);
  selective_scan::selective_scan_chunked_bwd(exec, m_dx, m_ddt, m_dA, m_dBm, m_dCm, p.grad1(name("D")), m_states,
                                             m_dy, m_x, m_dt, m_A, m_Bm, m_Cm, p.value1(name("D")));
  // 2. A_log, dt projection, x projection (dx collects the scan's part and the three projections')
  selective_scan::decay_rate_bwd(exec, p.grad2(name("A_log")), m_dA, m_A);
  nn::softplus_bwd(exec, flat(m_ddt), flat(CView3(m_ddt)), flat(CView3(m_dt_pre)));
  nn::linear_bwd(exec, nn::as_matrix(m_ddelta), p.grad2(name("dt_proj.weight")), p.grad1(name("dt_proj.bias")),
                 nn::as_matrix(CView3(m_ddt)), nn::as_matrix(CView3(m_delta)), p.value2(name("dt_proj.weight")));
  CView2 xm = nn::as_matrix(CView3(m_x));
  struct Part {
    View3 grad;
    int first, count;
  };
  for (const Part& part : {Part{m_ddelta, 0, m_R}, Part{m_dBm, m_R, m_N}, Part{m_dCm, m_R + m_N, m_N}}) {
    nn::linear_bwd(exec, nn::as_matrix(m_dx_part), row_block(dw_x, part.first, part.count), View1(),
                   nn::as_matrix(CView3(part.grad)), xm, row_block(w_x, part.first, part.count));
    KokkosBlas::axpy(1.0f, flat(m_dx_part), flat(m_dx));
  }
  // 1. conv + SiLU, in_proj (dh starts here: assigned)
  nn::short_conv_bwd(exec, m_dxp, p.grad2(name("conv1d.weight")), p.grad1(name("conv1d.bias")), m_dx, m_xp,
                     p.value2(name("conv1d.weight")), p.value1(name("conv1d.bias")), true);
  nn::linear_bwd(exec, nn::as_matrix(dh), row_block(dw_in, 0, m_Din), View1(), nn::as_matrix(CView3(m_dxp)), hm,
                 row_block(w_in, 0, m_Din));
  nn::linear_bwd(exec, nn::as_matrix(dh), row_block(dw_in, m_Din, m_Din), View1(), nn::as_matrix(CView3(m_dzp)), hm,
                 row_block(w_in, m_Din, m_Din), true);
}

}  // namespace selectiv::models
