// SPDX-License-Identifier: BSD-3-Clause
// Linear layer: finite differences check the host reference backward; the reference checks the device forward and
// backward (dx assigned, dw and db accumulated, empty dx / db skipped) on awkward shapes; as_matrix views a
// (B, T, d) tensor as (B*T, d) without copying.
#include "kernels/nn/linear.hpp"

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

struct LinearCase {
  int rows, in, out;
  bool bias;
};

const std::vector<LinearCase> kCases = {{1, 7, 3, true}, {37, 19, 11, true}, {5, 1, 9, false}, {13, 8, 1, true}};

}  // namespace

TEST(LinearReference, BackwardMatchesFiniteDifferences) {
  for (const LinearCase& s : {LinearCase{3, 5, 4, true}, LinearCase{1, 3, 2, false}}) {
    SCOPED_TRACE(::testing::Message() << "rows=" << s.rows << " in=" << s.in << " out=" << s.out);
    const auto x = float_values(s.rows * s.in, 1);
    const auto w = float_values(s.out * s.in, 2);
    const auto b = s.bias ? float_values(s.out, 3) : std::vector<double>();
    const auto dy = float_values(s.rows * s.out, 4);
    // L = <dy, y(x, w, b)>
    auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
      std::vector<double> y;
      linear_reference_fwd(y, xv, wv, bv, s.rows, s.in, s.out);
      return dot(dy, y);
    };
    std::vector<double> dx, dw(w.size(), 0.0), db(b.size(), 0.0);
    linear_reference_bwd(dx, dw, db, dy, x, w, s.rows, s.in, s.out);
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), dx),
              kFiniteDifferenceErrRatio);
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), dw),
              kFiniteDifferenceErrRatio);
    if (s.bias) {
      EXPECT_LE(
          err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b), db),
          kFiniteDifferenceErrRatio);
    }
  }
}

TEST(Linear, DeviceMatchesReference) {
  for (const LinearCase& s : kCases) {
    SCOPED_TRACE(::testing::Message() << "rows=" << s.rows << " in=" << s.in << " out=" << s.out << " bias=" << s.bias);
    const auto x = float_values(s.rows * s.in, 11);
    const auto w = float_values(s.out * s.in, 12);
    const auto b = s.bias ? float_values(s.out, 13) : std::vector<double>();
    const auto dy = float_values(s.rows * s.out, 14);
    const auto dw0 = float_values(s.out * s.in, 15);  // parameter gradients accumulate onto these
    const auto db0 = float_values(s.out, 16);

    std::vector<double> y_ref, dx_ref, dw_ref = dw0, db_ref = db0;
    linear_reference_fwd(y_ref, x, w, b, s.rows, s.in, s.out);
    linear_reference_bwd(dx_ref, dw_ref, db_ref, dy, x, w, s.rows, s.in, s.out);

    auto x_d = to_device<View2>(x, s.rows, s.in);
    auto w_d = to_device<View2>(w, s.out, s.in);
    auto b_d = s.bias ? to_device<View1>(b, s.out) : View1();
    auto dy_d = to_device<View2>(dy, s.rows, s.out);
    View2 y_d("y", s.rows, s.out);
    Kokkos::deep_copy(y_d, 99.0f);  // the forward overwrites
    linear_fwd(Exec(), y_d, x_d, w_d, b_d);
    EXPECT_LE(err_ratio(y_ref, to_host(y_d)), kDeviceErrRatio);

    View2 dx_d("dx", s.rows, s.in);
    Kokkos::deep_copy(dx_d, 99.0f);  // dx is assigned, not accumulated
    auto dw_d = to_device<View2>(dw0, s.out, s.in);
    auto db_d = to_device<View1>(db0, s.out);
    linear_bwd(Exec(), dx_d, dw_d, db_d, dy_d, x_d, w_d);
    EXPECT_LE(err_ratio(dx_ref, to_host(dx_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(db_ref, to_host(db_d)), kDeviceErrRatio);
  }
}

// accumulate_dx adds dy W to what dx holds (the mixers sum several projections' input gradients into dh this way).
TEST(Linear, AccumulatedDxAddsToItsValues) {
  const int rows = 37, in = 9, out = 6;
  const auto x = float_values(rows * in, 31), w = float_values(out * in, 32), dy = float_values(rows * out, 33);
  const auto dx0 = float_values(rows * in, 34);
  std::vector<double> dx_ref, dw_ref(out * in, 0.0), db_none;
  linear_reference_bwd(dx_ref, dw_ref, db_none, dy, x, w, rows, in, out);
  for (int i = 0; i < rows * in; ++i) dx_ref[i] += dx0[i];
  auto dx_d = to_device<View2>(dx0, rows, in);
  View2 dw_d("dw", out, in);
  linear_bwd(Exec(), dx_d, dw_d, View1(), to_device<View2>(dy, rows, out), to_device<View2>(x, rows, in),
             to_device<View2>(w, out, in), true);
  EXPECT_LE(err_ratio(dx_ref, to_host(dx_d)), kDeviceErrRatio);
  EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
}

TEST(Linear, EmptyDxAndDbAreSkipped) {
  const int rows = 6, in = 5, out = 3;
  const auto x = float_values(rows * in, 21), w = float_values(out * in, 22), dy = float_values(rows * out, 23);
  std::vector<double> dx_ref, dw_ref(out * in, 0.0), db_none;
  linear_reference_bwd(dx_ref, dw_ref, db_none, dy, x, w, rows, in, out);
  View2 dw_d("dw", out, in);
  linear_bwd(Exec(), View2(), dw_d, View1(), to_device<View2>(dy, rows, out), to_device<View2>(x, rows, in),
             to_device<View2>(w, out, in));
  EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
}

TEST(Linear, RejectsMismatchedShapes) {
  View2 x("x", 4, 3), w("w", 2, 5), y("y", 4, 2);
  EXPECT_THROW(linear_fwd(Exec(), y, x, w, View1()), std::invalid_argument);
  View2 w_ok("w", 2, 3);
  EXPECT_THROW(linear_fwd(Exec(), y, x, w_ok, View1("b", 3)), std::invalid_argument);
  EXPECT_NO_THROW(linear_fwd(Exec(), y, x, w_ok, View1("b", 2)));
}

TEST(Linear, AsMatrixFlattensBatchAndTime) {
  const int batch = 2, steps = 3, in = 5, out = 4;
  const auto x = float_values(batch * steps * in, 31), w = float_values(out * in, 32), b = float_values(out, 33);
  auto x3 = to_device<View3>(x, batch, steps, in);
  View3 y3("y3", batch, steps, out);
  View2 y2 = as_matrix(y3);
  CView2 x2 = as_matrix(CView3(x3));
  ASSERT_EQ(y2.data(), y3.data());
  ASSERT_EQ(x2.extent(0), static_cast<std::size_t>(batch * steps));
  ASSERT_EQ(x2.extent(1), static_cast<std::size_t>(in));
  linear_fwd(Exec(), y2, x2, to_device<View2>(w, out, in), to_device<View1>(b, out));
  std::vector<double> y_ref;
  linear_reference_fwd(y_ref, x, w, b, batch * steps, in, out);  // row-major (B, T, out) == (B*T, out)
  EXPECT_LE(err_ratio(y_ref, to_host(y3)), kDeviceErrRatio);
}

}  // namespace selectiv::nn
