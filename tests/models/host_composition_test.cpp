// SPDX-License-Identifier: BSD-3-Clause
// Host compositions of reference twins for the models without a reference implementation (host_composition.hpp),
// the comparison of the device mixer against them, and the forward check on awkward shapes.
#include "models/host_composition.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "kernels/common/compat.hpp"
#include "kernels/gla/reference.hpp"
#include "kernels/nn/reference_dense.hpp"
#include "kernels/nn/reference_train.hpp"
#include "kernels/nn/rope.hpp"
#include "models/mixer.hpp"
#include "support/testing.hpp"

namespace selectiv::models {
namespace {

using HostTensor = std::vector<double>;
using HostParams = std::map<std::string, HostTensor>;  // state_dict name -> values

constexpr const char* kPrefix = "L.";
constexpr double kForwardTolerance = 1e-5;   // fp32 device against fp64 host, any association order
constexpr double kGradientTolerance = 1e-4;  // as the golden parity of gradients

// linear_attention (models/mixers/linear_attention.hpp), token by token in double:
//   q, k, v = silu(conv(x Wq^T)), silu(conv(x Wk^T)), silu(conv(x Wv^T))
//   o = GLA reference with g = 0, scale 1/sqrt(K);  z = (RMSNorm_V(o) * w) Wo^T
HostTensor linear_attention_host_fwd(const HostParams& p, const HostTensor& x, int B, int T, int d, int H) {
  const int K = d / H, V = 2 * d / H, rows = B * T;
  auto param = [&p](const char* suffix) -> const HostTensor& { return p.at(std::string(kPrefix) + suffix); };
  auto branch = [&](const char* proj, const char* conv, int channels) {
    HostTensor projected, convolved;
    nn::linear_reference_fwd(projected, x, param(proj), {}, rows, d, channels);
    nn::short_conv_reference_fwd(convolved, projected, param(conv), {}, B, T, channels, 4, true);
    return convolved;
  };
  const HostTensor q = branch("q_proj.weight", "q_conv1d.weight", d);
  const HostTensor k = branch("k_proj.weight", "k_conv1d.weight", d);
  const HostTensor v = branch("v_proj.weight", "v_conv1d.weight", 2 * d);
  const HostTensor g(q.size(), 0.0);
  HostTensor o, ht, on, rstd, z;
  gla::gla_reference_fwd(o, ht, q, k, v, g, {}, 1.0 / std::sqrt(double(K)), gla::GlaSizes{B, T, H, K, V});
  nn::rms_norm_reference_fwd(on, rstd, o, {}, param("o_norm.weight"), rows, 2 * d, nn::RmsNormSpec::standard(V),
                             nn::GateOrder::norm_then_gate);
  nn::linear_reference_fwd(z, on, param("o_proj.weight"), {}, rows, 2 * d, d);
  return z;
}

// retnet (models/mixers/retnet.hpp, golden/README.md §4.9), token by token in double:
//   q, k, v as above; q', k' = rotate-half RoPE (base 10000) of q, k
//   o = GLA reference with g = log(1 - 2^(-5-h)) on every key channel of head h, scale 1/sqrt(K)
//   z = (RMSNorm_V(o) * w * silu(x Wg^T)) Wo^T
HostTensor retnet_host_fwd(const HostParams& p, const HostTensor& x, int B, int T, int d, int H) {
  const int K = d / H, V = 2 * d / H, rows = B * T;
  auto param = [&p](const char* suffix) -> const HostTensor& { return p.at(std::string(kPrefix) + suffix); };
  auto branch = [&](const char* proj, const char* conv, int channels) {
    HostTensor projected, convolved;
    nn::linear_reference_fwd(projected, x, param(proj), {}, rows, d, channels);
    nn::short_conv_reference_fwd(convolved, projected, param(conv), {}, B, T, channels, 4, true);
    return convolved;
  };
  const std::vector<float> inv_freq = nn::rope_inv_freq(K, 10000.0f);
  HostTensor q, k;
  nn::rope_reference_fwd(q, branch("q_proj.weight", "q_conv1d.weight", d), inv_freq, nn::RopeConvention::rotate_half,
                         B, T, H, K);
  nn::rope_reference_fwd(k, branch("k_proj.weight", "k_conv1d.weight", d), inv_freq, nn::RopeConvention::rotate_half,
                         B, T, H, K);
  const HostTensor v = branch("v_proj.weight", "v_conv1d.weight", 2 * d);
  HostTensor g(q.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    const int head = static_cast<int>((i / K) % H);
    g[i] = std::log(1.0 - std::pow(2.0, -5.0 - head));
  }
  HostTensor o, ht, gate, on, rstd, z;
  gla::gla_reference_fwd(o, ht, q, k, v, g, {}, 1.0 / std::sqrt(double(K)), gla::GlaSizes{B, T, H, K, V});
  nn::linear_reference_fwd(gate, x, param("g_proj.weight"), {}, rows, d, 2 * d);
  nn::rms_norm_reference_fwd(on, rstd, o, gate, param("g_norm_swish_gate.weight"), rows, 2 * d,
                             nn::RmsNormSpec::standard(V), nn::GateOrder::norm_then_gate);
  nn::linear_reference_fwd(z, on, param("o_proj.weight"), {}, rows, 2 * d, d);
  return z;
}

using HostForward = HostTensor (*)(const HostParams&, const HostTensor&, int, int, int, int);

HostForward host_forward_of(const std::string& model) {
  if (model == "linear_attention") return &linear_attention_host_fwd;
  if (model == "retnet") return &retnet_host_fwd;
  return nullptr;
}

View3 to_device(const std::vector<float>& values, int B, int T, int C) {
  View3 view("selectiv::test::host_composition::input", B, T, C);
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = values[i];
  Kokkos::deep_copy(view, host);
  return view;
}

std::vector<float> to_host(const View3& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<float>(host.data(), host.data() + host.size());
}

HostTensor widen(const std::vector<float>& v) { return HostTensor(v.begin(), v.end()); }

}  // namespace

std::vector<HostCompositionCheck> check_against_host_composition(const std::string& model,
                                                                 const HostCompositionShape& shape) {
  const HostForward host_fwd = host_forward_of(model);
  if (host_fwd == nullptr) {
    ADD_FAILURE() << model << " has no host composition (tests/models/host_composition_test.cpp)";
    return {};
  }
  const int B = shape.B, T = shape.T, d = shape.d_model, H = shape.n_heads;
  ModelDims dims;
  dims.mixer = model;
  dims.d_model = d;
  dims.n_heads = H;
  std::unique_ptr<Mixer> mixer = make_mixer(model, dims, kPrefix);
  ParamTable table;
  mixer->declare(table);
  table.allocate(11);
  // Norm weights start at 1; perturb every parameter so that no gradient is trivially symmetric.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> jitter(-0.2f, 0.2f), unit(-1.0f, 1.0f);
  for (const auto& info : table.params()) {
    std::vector<float> values = table.host_value(info.name);
    for (float& value : values) value += jitter(rng);
    table.set_host_value(info.name, values);
  }
  std::vector<float> x(static_cast<std::size_t>(B) * T * d), dz(x.size());
  for (float& value : x) value = unit(rng);
  for (float& value : dz) value = unit(rng);

  // The device mixer: forward, then backward of sum(dz * z).
  const Exec exec;
  View3 h = to_device(x, B, T, d), dz_device = to_device(dz, B, T, d);
  View3 z("selectiv::test::host_composition::z", B, T, d), dh("selectiv::test::host_composition::dh", B, T, d);
  table.zero_grads();
  mixer->forward(exec, table, z, h, DropoutMode{});
  mixer->backward(exec, table, dh, dz_device, h);
  exec.fence();

  HostParams params;
  for (const auto& info : table.params()) params[info.name] = widen(table.host_value(info.name));
  std::vector<HostCompositionCheck> checks;
  const HostTensor z_host = host_fwd(params, widen(x), B, T, d, H);
  checks.push_back({"forward z", ::selectiv::testing::err_ratio(z_host, widen(to_host(z))), kForwardTolerance});
  if (!shape.finite_differences) return checks;

  // Finite differences of the host composition over (x, every parameter), packed into one vector.
  HostTensor packed = widen(x);
  std::vector<std::size_t> offsets;
  for (const auto& info : table.params()) {
    offsets.push_back(packed.size());
    packed.insert(packed.end(), params[info.name].begin(), params[info.name].end());
  }
  const HostTensor dz_host = widen(dz);
  auto loss = [&](const HostTensor& theta) {
    HostParams shifted;
    for (std::size_t i = 0; i < table.params().size(); ++i) {
      const auto& info = table.params()[i];
      shifted[info.name] = HostTensor(theta.begin() + offsets[i], theta.begin() + offsets[i] + info.size);
    }
    const HostTensor out = host_fwd(shifted, HostTensor(theta.begin(), theta.begin() + x.size()), B, T, d, H);
    double sum = 0;
    for (std::size_t i = 0; i < out.size(); ++i) sum += dz_host[i] * out[i];
    return sum;
  };
  const HostTensor fd = ::selectiv::testing::finite_difference_gradient(loss, packed, 1e-6);
  checks.push_back({"grad h", ::selectiv::testing::err_ratio(HostTensor(fd.begin(), fd.begin() + x.size()),
                                                             widen(to_host(dh))),
                    kGradientTolerance});
  for (std::size_t i = 0; i < table.params().size(); ++i) {
    const auto& info = table.params()[i];
    HostTensor fd_param(fd.begin() + offsets[i], fd.begin() + offsets[i] + info.size);
    checks.push_back({"grad " + info.name,
                      ::selectiv::testing::err_ratio(fd_param, widen(table.host_grad(info.name))),
                      kGradientTolerance});
  }
  return checks;
}

namespace {

struct AwkwardShape {
  int B, T, d, H;
};

class HostComposed : public ::testing::TestWithParam<std::string> {};

// The forward on shapes around the GLA chunk (64), odd head counts and odd or minimal head dims (RoPE needs even
// ones), against the host composition.
TEST_P(HostComposed, ForwardMatchesOnAwkwardShapes) {
  for (const AwkwardShape& s : {AwkwardShape{1, 1, 4, 2}, AwkwardShape{2, 63, 12, 3}, AwkwardShape{1, 64, 8, 2},
                                AwkwardShape{1, 65, 12, 2}, AwkwardShape{2, 130, 6, 3}}) {
    HostCompositionShape shape{s.B, s.T, s.d, s.H, false};
    const auto checks = check_against_host_composition(GetParam(), shape);
    EXPECT_EQ(checks.size(), 1u);
    for (const auto& check : checks) {
      EXPECT_LE(check.err_ratio, check.tolerance)
          << check.what << " at B " << s.B << " T " << s.T << " d " << s.d << " H " << s.H;
    }
  }
}

// The backward against finite differences: two chunks with three heads, and a single step with one head.
TEST_P(HostComposed, BackwardMatchesFiniteDifferences) {
  for (const AwkwardShape& s : {AwkwardShape{1, 70, 6, 3}, AwkwardShape{2, 1, 4, 1}}) {
    const auto checks = check_against_host_composition(GetParam(), HostCompositionShape{s.B, s.T, s.d, s.H, true});
    EXPECT_GT(checks.size(), 8u);  // forward, dh and every parameter
    for (const auto& check : checks) {
      EXPECT_LE(check.err_ratio, check.tolerance) << check.what << " at T " << s.T << " H " << s.H;
    }
  }
}

// linear_attention has no other oracle; retnet also has its golden file (parity_test.cpp), and this covers shapes
// that file does not (T = 130, three heads).
INSTANTIATE_TEST_SUITE_P(Baselines, HostComposed, ::testing::Values("linear_attention", "retnet"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace selectiv::models
