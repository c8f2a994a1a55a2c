// SPDX-License-Identifier: BSD-3-Clause
#include "models/recnet.hpp"

#include <fmt/format.h>

#include <KokkosBlas1_axpby.hpp>
#include <KokkosBlas1_update.hpp>
#include <cmath>

#include "core/error.hpp"
#include "kernels/nn/dropout.hpp"
#include "kernels/nn/layer_norm.hpp"
#include "kernels/nn/linear.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {

RecNet::RecNet(ModelDims dims) : m_dims(std::move(dims)) {
  const int V = m_dims.input_size, C = m_dims.n_classes, d = m_dims.d_model;
  SELECTIV_REQUIRE(is_mixer(m_dims.mixer), ExitCode::kInvalidInput, "unknown model '{}'", m_dims.mixer);
  SELECTIV_REQUIRE(V > 0 && C > 0 && d > 0 && m_dims.layers > 0 && m_dims.n_heads > 0, ExitCode::kInvalidInput,
                   "model sizes must be positive (V={}, C={}, d={}, layers={}, heads={})", V, C, d, m_dims.layers,
                   m_dims.n_heads);
  // Declaration order = the reference state_dict order: encoder, norms, layers, decoder.
  m_params.add("encoder.weight", {d, V}, init_uniform(1.0 / std::sqrt(V)));
  m_params.add("encoder.bias", {d}, init_uniform(1.0 / std::sqrt(V)));
  for (int l = 0; l < m_dims.layers; ++l) {
    m_params.add(fmt::format("norms.{}.weight", l), {d}, init_constant(1.0));
    m_params.add(fmt::format("norms.{}.bias", l), {d}, init_constant(0.0));
  }
  for (int l = 0; l < m_dims.layers; ++l) {
    m_mixers.push_back(make_mixer(m_dims.mixer, m_dims, fmt::format("layers.{}.", l)));
    m_mixers.back()->declare(m_params);
  }
  m_params.add("decoder.weight", {C, d}, init_uniform(1.0 / std::sqrt(d)));
  m_params.add("decoder.bias", {C}, init_uniform(1.0 / std::sqrt(d)));
}

void RecNet::ensure_workspace(int B, int T) {
  if (B == m_B && T == m_T) return;
  const int d = m_dims.d_model, L = m_dims.layers;
  m_B = B;
  m_T = T;
  m_h.assign(L + 1, View3());
  m_z.assign(L, View3());
  m_s.assign(L, View3());
  m_ln_mean.assign(L, View1());
  m_ln_rstd.assign(L, View1());
  for (int l = 0; l <= L; ++l) m_h[l] = View3("selectiv::recnet::h", B, T, d);
  for (int l = 0; l < L; ++l) {
    m_z[l] = View3("selectiv::recnet::z", B, T, d);
    m_s[l] = View3("selectiv::recnet::s", B, T, d);
    m_ln_mean[l] = View1("selectiv::recnet::ln_mean", B * T);
    m_ln_rstd[l] = View1("selectiv::recnet::ln_rstd", B * T);
  }
  m_input = View3("selectiv::recnet::input", B, T, m_dims.input_size);
  m_logits = View3("selectiv::recnet::logits", B, T, m_dims.n_classes);
  m_dh = View3("selectiv::recnet::dh", B, T, d);
  m_ds = View3("selectiv::recnet::ds", B, T, d);
  m_dz = View3("selectiv::recnet::dz", B, T, d);
}

CView3 RecNet::forward(const Exec& exec, CView3 input, ForwardMode mode) {
  const int B = static_cast<int>(input.extent(0)), T = static_cast<int>(input.extent(1));
  SELECTIV_REQUIRE(static_cast<int>(input.extent(2)) == m_dims.input_size, ExitCode::kInvalidInput,
                   "input has {} features, the model expects {}", input.extent(2), m_dims.input_size);
  ensure_workspace(B, T);
  m_mode = mode;
  Kokkos::deep_copy(exec, m_input, input);
  nn::linear_fwd(exec, nn::as_matrix(m_h[0]), nn::as_matrix(CView3(m_input)), m_params.value2("encoder.weight"),
                 m_params.value1("encoder.bias"));
  for (int l = 0; l < m_dims.layers; ++l) {
    m_mixers[l]->forward(exec, m_params, m_z[l], m_h[l],
                         DropoutMode{mode.training, mode.dropout_seed, mode.dropout_stream * 1024 + 512 + l});
    // s = h + dropout(z), one pass
    CView3 z = m_z[l];
    if (mode.training && m_dims.dropout > 0.0f) {
      nn::dropout_fwd(exec, flat(m_dz), flat(CView3(m_z[l])), m_dims.dropout, mode.dropout_seed,
                      mode.dropout_stream * 1024 + l);
      z = m_dz;
    }
    KokkosBlas::update(1.0f, flat(CView3(m_h[l])), 1.0f, flat(z), 0.0f, flat(m_s[l]));
    nn::layer_norm_fwd(exec, nn::as_matrix(m_h[l + 1]), m_ln_mean[l], m_ln_rstd[l], nn::as_matrix(CView3(m_s[l])),
                       m_params.value1(fmt::format("norms.{}.weight", l)),
                       m_params.value1(fmt::format("norms.{}.bias", l)), nn::kLayerNormEps);
  }
  nn::linear_fwd(exec, nn::as_matrix(m_logits), nn::as_matrix(CView3(m_h[m_dims.layers])),
                 m_params.value2("decoder.weight"), m_params.value1("decoder.bias"));
  return m_logits;
}

CView3 RecNet::forward_hidden(const Exec& exec, CView3 input) {
  const int B = static_cast<int>(input.extent(0)), T = static_cast<int>(input.extent(1)), d = m_dims.d_model;
  SELECTIV_REQUIRE(static_cast<int>(input.extent(2)) == m_dims.input_size, ExitCode::kInvalidInput,
                   "input has {} features, the model expects {}", input.extent(2), m_dims.input_size);
  if (m_infer_h.extent(0) != static_cast<std::size_t>(B) || m_infer_h.extent(1) != static_cast<std::size_t>(T)) {
    m_infer_h = View3();  // free before allocating the new size
    m_infer_next = View3();
    m_infer_z = View3();
    m_infer_h = View3("selectiv::recnet::infer_h", B, T, d);
    m_infer_next = View3("selectiv::recnet::infer_next", B, T, d);
    m_infer_z = View3("selectiv::recnet::infer_z", B, T, d);
    m_infer_mean = View1("selectiv::recnet::infer_mean", static_cast<std::size_t>(B) * T);
    m_infer_rstd = View1("selectiv::recnet::infer_rstd", static_cast<std::size_t>(B) * T);
  }
  nn::linear_fwd(exec, nn::as_matrix(m_infer_h), nn::as_matrix(input), m_params.value2("encoder.weight"),
                 m_params.value1("encoder.bias"));
  for (int l = 0; l < m_dims.layers; ++l) {
    m_mixers[l]->forward(exec, m_params, m_infer_z, m_infer_h, DropoutMode{});
    m_mixers[l] = make_mixer(m_dims.mixer, m_dims, fmt::format("layers.{}.", l));  // drops the layer's workspace
    KokkosBlas::axpy(1.0f, flat(m_infer_h), flat(m_infer_z));  // z <- h + z
    nn::layer_norm_fwd(exec, nn::as_matrix(m_infer_next), m_infer_mean, m_infer_rstd,
                       nn::as_matrix(CView3(m_infer_z)), m_params.value1(fmt::format("norms.{}.weight", l)),
                       m_params.value1(fmt::format("norms.{}.bias", l)), nn::kLayerNormEps);
    std::swap(m_infer_h, m_infer_next);
  }
  return m_infer_h;
}

void RecNet::decode(const Exec& exec, View2 logits, CView2 hidden) const {
  nn::linear_fwd(exec, logits, hidden, m_params.value2("decoder.weight"), m_params.value1("decoder.bias"));
}

void RecNet::backward(const Exec& exec, CView3 dlogits) {
  const int L = m_dims.layers;
  nn::linear_bwd(exec, nn::as_matrix(m_dh), m_params.grad2("decoder.weight"), m_params.grad1("decoder.bias"),
                 nn::as_matrix(dlogits), nn::as_matrix(CView3(m_h[L])), m_params.value2("decoder.weight"));
  for (int l = L - 1; l >= 0; --l) {
    // m_dh holds dL/dh_{l+1}.
    nn::layer_norm_bwd(exec, nn::as_matrix(m_ds), m_params.grad1(fmt::format("norms.{}.weight", l)),
                       m_params.grad1(fmt::format("norms.{}.bias", l)), m_ln_mean[l], m_ln_rstd[l],
                       nn::as_matrix(CView3(m_dh)), nn::as_matrix(CView3(m_s[l])),
                       m_params.value1(fmt::format("norms.{}.weight", l)));
    // ds flows to h_l directly and to z_l through the dropout (ds itself without one).
    CView3 dz = m_ds;
    if (m_mode.training && m_dims.dropout > 0.0f) {
      nn::dropout_bwd(exec, flat(m_dz), flat(CView3(m_ds)), m_dims.dropout, m_mode.dropout_seed,
                      m_mode.dropout_stream * 1024 + l);
      dz = m_dz;
    }
    m_mixers[l]->backward(exec, m_params, m_dh, dz, m_h[l]);
    KokkosBlas::axpy(1.0f, flat(m_ds), flat(m_dh));
  }
  nn::linear_bwd(exec, View2(), m_params.grad2("encoder.weight"), m_params.grad1("encoder.bias"),
                 nn::as_matrix(CView3(m_dh)), nn::as_matrix(CView3(m_input)), m_params.value2("encoder.weight"));
}

}  // namespace selectiv::models
