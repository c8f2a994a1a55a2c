// SPDX-License-Identifier: BSD-3-Clause
// Activations (sigmoid, silu, softplus with PyTorch's threshold, logsigmoid, also scaled): finite differences check the
// host reference backward; the reference checks the device forward and backward elementwise over a range that includes
// |x| up to 1000, the softplus threshold and zero; the outputs stay finite there.
#include "kernels/nn/activations.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/reference_dense.hpp"
#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::dot;
using selectiv::testing::err_ratio;
using selectiv::testing::finite_difference_gradient;
using selectiv::testing::float_values;

// Declared tolerances.
constexpr double kFiniteDifferenceErrRatio = 1e-7;  // double reference vs central differences
constexpr double kDeviceRelative = 1e-5;            // per element: |out - ref| <= 1e-5 |ref| + kDeviceAbsolute
constexpr double kDeviceAbsolute = 1e-30;           // values below this are float denormals or zero

View1 to_device(const std::vector<double>& values) {
  View1 view("tensor", values.size());
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

std::vector<double> to_host(const View1& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

using HostFwd = void (*)(HostTensor&, const HostTensor&);
using HostBwd = void (*)(HostTensor&, const HostTensor&, const HostTensor&);
using DeviceFwd = void (*)(const Exec&, View1, CView1);
using DeviceBwd = void (*)(const Exec&, View1, CView1, CView1);

struct Activation {
  const char* name;
  HostFwd reference_fwd;
  HostBwd reference_bwd;
  DeviceFwd fwd;
  DeviceBwd bwd;
};

const std::vector<Activation> kActivations = {
    {"sigmoid", sigmoid_reference_fwd, sigmoid_reference_bwd, sigmoid_fwd, sigmoid_bwd},
    {"silu", silu_reference_fwd, silu_reference_bwd, silu_fwd, silu_bwd},
    {"softplus", softplus_reference_fwd, softplus_reference_bwd, softplus_fwd, softplus_bwd},
    {"logsigmoid", logsigmoid_reference_fwd, logsigmoid_reference_bwd,
     [](const Exec& exec, View1 y, CView1 x) { logsigmoid_fwd(exec, y, x); },
     [](const Exec& exec, View1 dx, CView1 dy, CView1 x) { logsigmoid_bwd(exec, dx, dy, x); }},
};

// A grid through the interesting region plus extremes, the softplus threshold and signed zero.
std::vector<double> wide_inputs() {
  std::vector<double> x;
  for (int i = 0; i <= 240; ++i) x.push_back(static_cast<double>(static_cast<float>(-12.0 + 0.1 * i)));
  for (double v : {-1000.0, -100.0, -87.5, -30.0, -20.5, 19.5, 19.99, 20.0, 20.01, 20.5, 25.0, 30.0, 88.5, 100.0,
                   1000.0, 0.0, -0.0, 1e-7, -1e-7}) {
    x.push_back(v);
  }
  return x;
}

void expect_close_elementwise(const std::vector<double>& ref, const std::vector<double>& out,
                              const std::vector<double>& x, const std::string& what) {
  ASSERT_EQ(ref.size(), out.size());
  for (std::size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(std::isfinite(out[i])) << what << " at x = " << x[i];
    EXPECT_LE(std::fabs(out[i] - ref[i]), kDeviceRelative * std::fabs(ref[i]) + kDeviceAbsolute)
        << what << " at x = " << x[i] << ": device " << out[i] << ", reference " << ref[i];
  }
}

}  // namespace

TEST(ActivationsReference, BackwardMatchesFiniteDifferences) {
  const auto x = float_values(40, 1, 6.0);
  const auto dy = float_values(40, 2);
  for (const Activation& a : kActivations) {
    SCOPED_TRACE(a.name);
    auto loss = [&](const std::vector<double>& xv) {
      std::vector<double> y;
      a.reference_fwd(y, xv);
      return dot(dy, y);
    };
    std::vector<double> dx;
    a.reference_bwd(dx, dy, x);
    EXPECT_LE(err_ratio(finite_difference_gradient(loss, x), dx), kFiniteDifferenceErrRatio);
  }
}

TEST(ActivationsReference, KnownValues) {
  std::vector<double> y;
  sigmoid_reference_fwd(y, {0.0});
  EXPECT_DOUBLE_EQ(y[0], 0.5);
  silu_reference_fwd(y, {0.0, 2.0});
  EXPECT_DOUBLE_EQ(y[1], 2.0 / (1.0 + std::exp(-2.0)));
  softplus_reference_fwd(y, {0.0, 21.0, -50.0});
  EXPECT_DOUBLE_EQ(y[0], std::log(2.0));
  EXPECT_DOUBLE_EQ(y[1], 21.0);  // above the threshold: x itself
  EXPECT_NEAR(y[2], std::exp(-50.0), 1e-35);
  logsigmoid_reference_fwd(y, {-1000.0, 1000.0, 0.0});
  EXPECT_DOUBLE_EQ(y[0], -1000.0);
  EXPECT_DOUBLE_EQ(y[1], 0.0);
  EXPECT_DOUBLE_EQ(y[2], -std::log(2.0));
}

TEST(Activations, DeviceMatchesReferenceOverAWideRange) {
  const auto x = wide_inputs();
  const auto dy = float_values(x.size(), 3, 2.0);
  const View1 x_d = to_device(x), dy_d = to_device(dy);
  for (const Activation& a : kActivations) {
    SCOPED_TRACE(a.name);
    std::vector<double> y_ref, dx_ref;
    a.reference_fwd(y_ref, x);
    a.reference_bwd(dx_ref, dy, x);
    View1 y_d("y", x.size()), dx_d("dx", x.size());
    a.fwd(Exec(), y_d, x_d);
    a.bwd(Exec(), dx_d, dy_d, x_d);
    expect_close_elementwise(y_ref, to_host(y_d), x, std::string(a.name) + " fwd");
    expect_close_elementwise(dx_ref, to_host(dx_d), x, std::string(a.name) + " bwd");
  }
}

TEST(Activations, ScaledLogsigmoidScalesValueAndGradient) {
  // GLA's gate g = logsigmoid(x) / 16 in one pass: scale times the reference, forward and backward.
  const double scale = 1.0 / 16.0;
  const auto x = wide_inputs();
  const auto dy = float_values(x.size(), 5, 2.0);
  std::vector<double> y_ref, dx_ref;
  logsigmoid_reference_fwd(y_ref, x);
  logsigmoid_reference_bwd(dx_ref, dy, x);
  for (double& y : y_ref) y *= scale;
  for (double& dx : dx_ref) dx *= scale;
  const View1 x_d = to_device(x), dy_d = to_device(dy);
  View1 y_d("y", x.size()), dx_d("dx", x.size());
  logsigmoid_fwd(Exec(), y_d, x_d, static_cast<float>(scale));
  logsigmoid_bwd(Exec(), dx_d, dy_d, x_d, static_cast<float>(scale));
  expect_close_elementwise(y_ref, to_host(y_d), x, "scaled logsigmoid fwd");
  expect_close_elementwise(dx_ref, to_host(dx_d), x, "scaled logsigmoid bwd");
}

TEST(Activations, InPlaceAndFlatViews) {
  // y may alias x; as_flat sees a (2, 3, 4) tensor as 24 values.
  const auto x = float_values(24, 4, 5.0);
  View3 t("t", 2, 3, 4);
  {
    auto host = kc::create_mirror_view_uninitialized(t);
    for (std::size_t i = 0; i < x.size(); ++i) host.data()[i] = static_cast<float>(x[i]);
    Kokkos::deep_copy(t, host);
  }
  View1 flat = as_flat(t);
  ASSERT_EQ(flat.extent(0), 24u);
  silu_fwd(Exec(), flat, flat);
  std::vector<double> y_ref;
  silu_reference_fwd(y_ref, x);
  expect_close_elementwise(y_ref, to_host(flat), x, "silu in place");
}

TEST(Activations, RejectsLengthMismatch) {
  EXPECT_THROW(silu_fwd(Exec(), View1("y", 3), View1("x", 4)), std::invalid_argument);
  EXPECT_THROW(softplus_bwd(Exec(), View1("dx", 4), View1("dy", 3), View1("x", 4)), std::invalid_argument);
}

}  // namespace selectiv::nn
