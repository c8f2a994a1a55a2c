// SPDX-License-Identifier: BSD-3-Clause
// Short causal depthwise convolution (+ SiLU): finite differences check the host reference backward; the reference
// checks the device forward and backward (dx assigned, dw and dbias accumulated, empty dx / dbias skipped) for
// T < W, T = 1, widths 1, 3, 4, 5 and 8 (wider is rejected), with and without bias and SiLU; one hand-computed causal
// output.
#include "kernels/nn/short_conv.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
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
using selectiv::testing::to_device;
using selectiv::testing::to_host;

// Declared tolerances (err_ratio = rms(ref - out) / rms(ref)).
constexpr double kFiniteDifferenceErrRatio = 1e-7;  // double reference vs central differences
constexpr double kDeviceErrRatio = 1e-5;            // fp32 device vs double reference

struct ConvCase {
  int batch, steps, channels, width;
  bool bias, silu;
};

const std::vector<ConvCase> kCases = {
    {2, 7, 5, 4, true, true},     // the models' shape, small
    {1, 1, 3, 4, false, true},    // T = 1
    {3, 3, 6, 4, true, false},    // T < W, no SiLU (Mamba applies it outside)
    {1, 5, 1, 1, false, false},   // W = 1: a per-channel scale
    {2, 9, 7, 3, false, true},    // W = 3
    {1, 300, 33, 5, true, true},  // long reduction over B*T per channel
    {2, 7, 8, 4, true, true},     // channels a multiple of 4: 16-byte accesses on the device
    {3, 3, 12, 4, false, false},  // the same, T < W, no bias, no SiLU
    {2, 40, 9, 8, true, true},    // the widest kernel (W = 8), rows spanning several weight-gradient chunks
    {2, 64, 5, 4, true, true},    // T a multiple of the device's 32-step runs
};

}  // namespace

TEST(ShortConvReference, BackwardMatchesFiniteDifferences) {
  for (const ConvCase& s :
       {ConvCase{2, 5, 3, 4, true, true}, ConvCase{1, 2, 2, 4, false, false}, ConvCase{1, 6, 2, 3, true, false}}) {
    SCOPED_TRACE(::testing::Message() << "B=" << s.batch << " T=" << s.steps << " C=" << s.channels << " W=" << s.width
                                      << " bias=" << s.bias << " silu=" << s.silu);
    const std::size_t n = static_cast<std::size_t>(s.batch) * s.steps * s.channels;
    const auto x = float_values(n, 1, 2.0), w = float_values(s.channels * s.width, 2);
    const auto bias = s.bias ? float_values(s.channels, 3) : std::vector<double>();
    const auto dy = float_values(n, 4);
    auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
      std::vector<double> y;
      short_conv_reference_fwd(y, xv, wv, bv, s.batch, s.steps, s.channels, s.width, s.silu);
      return dot(dy, y);
    };
    std::vector<double> dx, dw(w.size(), 0.0), dbias(bias.size(), 0.0);
    short_conv_reference_bwd(dx, dw, dbias, dy, x, w, bias, s.batch, s.steps, s.channels, s.width, s.silu);
    EXPECT_LE(
        err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(v, w, bias); }, x), dx),
        kFiniteDifferenceErrRatio);
    EXPECT_LE(
        err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, v, bias); }, w), dw),
        kFiniteDifferenceErrRatio);
    if (s.bias) {
      EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, bias),
                          dbias),
                kFiniteDifferenceErrRatio);
    }
  }
}

TEST(ShortConvReference, IsCausalWithTheCurrentStepOnTheLastTap) {
  // One channel, W = 3, w = (1, 10, 100), x = (1, 2, 3, 4): y_t = 100 x_t + 10 x_{t-1} + 1 x_{t-2}.
  std::vector<double> y;
  short_conv_reference_fwd(y, {1, 2, 3, 4}, {1, 10, 100}, {}, 1, 4, 1, 3, false);
  const std::vector<double> expected = {100, 210, 321, 432};
  EXPECT_EQ(y, expected);
}

TEST(ShortConv, DeviceMatchesReference) {
  for (const ConvCase& s : kCases) {
    SCOPED_TRACE(::testing::Message() << "B=" << s.batch << " T=" << s.steps << " C=" << s.channels << " W=" << s.width
                                      << " bias=" << s.bias << " silu=" << s.silu);
    const std::size_t n = static_cast<std::size_t>(s.batch) * s.steps * s.channels;
    const auto x = float_values(n, 11, 2.0), w = float_values(s.channels * s.width, 12);
    const auto bias = s.bias ? float_values(s.channels, 13) : std::vector<double>();
    const auto dy = float_values(n, 14);
    const auto dw0 = float_values(s.channels * s.width, 15), dbias0 = float_values(s.channels, 16);
    std::vector<double> y_ref, dx_ref, dw_ref = dw0, dbias_ref = dbias0;
    short_conv_reference_fwd(y_ref, x, w, bias, s.batch, s.steps, s.channels, s.width, s.silu);
    short_conv_reference_bwd(dx_ref, dw_ref, dbias_ref, dy, x, w, bias, s.batch, s.steps, s.channels, s.width, s.silu);

    auto x_d = to_device<View3>(x, s.batch, s.steps, s.channels);
    auto w_d = to_device<View2>(w, s.channels, s.width);
    auto bias_d = s.bias ? to_device<View1>(bias, s.channels) : View1();
    View3 y_d("y", s.batch, s.steps, s.channels);
    short_conv_fwd(Exec(), y_d, x_d, w_d, bias_d, s.silu);
    EXPECT_LE(err_ratio(y_ref, to_host(y_d)), kDeviceErrRatio);

    View3 dx_d("dx", s.batch, s.steps, s.channels);
    Kokkos::deep_copy(dx_d, 99.0f);  // assigned, not accumulated
    auto dw_d = to_device<View2>(dw0, s.channels, s.width);
    auto dbias_d = to_device<View1>(dbias0, s.channels);  // dbias accumulates even without a bias in the forward
    short_conv_bwd(Exec(), dx_d, dw_d, dbias_d, to_device<View3>(dy, s.batch, s.steps, s.channels), x_d, w_d, bias_d,
                   s.silu);
    EXPECT_LE(err_ratio(dx_ref, to_host(dx_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dbias_ref, to_host(dbias_d)), kDeviceErrRatio);
  }
}

TEST(ShortConv, EmptyDxAndDbiasAreSkipped) {
  const ConvCase s{2, 6, 4, 4, true, true};
  const std::size_t n = static_cast<std::size_t>(s.batch) * s.steps * s.channels;
  const auto x = float_values(n, 21), w = float_values(s.channels * s.width, 22), bias = float_values(s.channels, 23);
  const auto dy = float_values(n, 24);
  std::vector<double> dx_ref, dw_ref(w.size(), 0.0), no_dbias;
  short_conv_reference_bwd(dx_ref, dw_ref, no_dbias, dy, x, w, bias, s.batch, s.steps, s.channels, s.width, s.silu);
  View2 dw_d("dw", s.channels, s.width);
  short_conv_bwd(Exec(), View3(), dw_d, View1(), to_device<View3>(dy, s.batch, s.steps, s.channels),
                 to_device<View3>(x, s.batch, s.steps, s.channels), to_device<View2>(w, s.channels, s.width),
                 to_device<View1>(bias, s.channels), s.silu);
  EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
}

TEST(ShortConv, RejectsMismatchedShapes) {
  View3 x("x", 2, 5, 4), y("y", 2, 5, 4);
  EXPECT_THROW(short_conv_fwd(Exec(), y, x, View2("w", 3, 4), View1()), std::invalid_argument);
  EXPECT_THROW(short_conv_fwd(Exec(), y, x, View2("w", 4, 4), View1("b", 3)), std::invalid_argument);
  EXPECT_THROW(short_conv_fwd(Exec(), View3("y", 2, 4, 4), x, View2("w", 4, 4), View1()), std::invalid_argument);
  EXPECT_NO_THROW(short_conv_fwd(Exec(), y, x, View2("w", 4, 4), View1("b", 4)));
  // wider than the 8 taps the weight gradient holds
  EXPECT_THROW(short_conv_fwd(Exec(), y, x, View2("w", 4, 9), View1()), std::invalid_argument);
  EXPECT_THROW(short_conv_bwd(Exec(), View3(), View2("dw", 4, 9), View1(), y, x, View2("w", 4, 9), View1()),
               std::invalid_argument);
}

}  // namespace selectiv::nn
