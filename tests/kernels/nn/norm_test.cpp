// SPDX-License-Identifier: BSD-3-Clause
// LayerNorm and RMSNorm (plain, eps outside the sqrt, swish-gated in both orders, per group and whole row):
// finite differences check the host reference backward; the reference checks the device forward (output and saved
// statistics) and backward (dx, dgate assigned; dw, db accumulated) on awkward shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/layer_norm.hpp"
#include "kernels/nn/reference_dense.hpp"
#include "kernels/nn/rms_norm.hpp"
#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::dot;
using selectiv::testing::err_ratio;
using selectiv::testing::finite_difference_gradient;
using selectiv::testing::to_device;
using selectiv::testing::to_host;

// Declared tolerances (err_ratio = rms(ref - out) / rms(ref)).
constexpr double kFiniteDifferenceErrRatio = 1e-6;  // double reference vs central differences (h = 1e-6)
constexpr double kDeviceErrRatio = 1e-5;            // fp32 device vs double reference

std::vector<double> float_values(std::size_t n, unsigned seed, double scale = 1.0, double shift = 0.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-scale, scale);
  std::vector<double> values(n);
  for (double& v : values) v = static_cast<double>(static_cast<float>(shift + uniform(rng)));
  return values;
}

// ---------------------------------------------------------------------------------------------------------------
struct LayerNormCase {
  int rows, dim;
};

}  // namespace

TEST(LayerNormReference, BackwardMatchesFiniteDifferences) {
  const int rows = 3, dim = 7;
  const double eps = 1e-5;
  const auto x = float_values(rows * dim, 1, 2.0, 0.5);
  const auto w = float_values(dim, 2, 0.5, 1.0), b = float_values(dim, 3);
  const auto dy = float_values(rows * dim, 4);
  auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
    std::vector<double> y, mean, rstd;
    layer_norm_reference_fwd(y, mean, rstd, xv, wv, bv, rows, dim, eps);
    return dot(dy, y);
  };
  std::vector<double> dx, dw(dim, 0.0), db(dim, 0.0);
  layer_norm_reference_bwd(dx, dw, db, dy, x, w, rows, dim, eps);
  EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(v, w, b); }, x), dx),
            kFiniteDifferenceErrRatio);
  EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, v, b); }, w), dw),
            kFiniteDifferenceErrRatio);
  EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, w, v); }, b), db),
            kFiniteDifferenceErrRatio);
}

TEST(LayerNorm, DeviceMatchesReference) {
  for (const LayerNormCase& s : {LayerNormCase{1, 5}, LayerNormCase{17, 33}, LayerNormCase{6, 1}, LayerNormCase{3, 300},
                                 LayerNormCase{600, 7}}) {  // 600 rows: dw, db sum several row chunks
    SCOPED_TRACE(::testing::Message() << "rows=" << s.rows << " dim=" << s.dim);
    // rows with a large common offset: the variance must come from centred values
    const auto x = float_values(s.rows * s.dim, 11, 1.5, 4.0);
    const auto w = float_values(s.dim, 12, 0.5, 1.0), b = float_values(s.dim, 13);
    const auto dy = float_values(s.rows * s.dim, 14);
    const auto dw0 = float_values(s.dim, 15), db0 = float_values(s.dim, 16);
    std::vector<double> y_ref, mean_ref, rstd_ref, dx_ref, dw_ref = dw0, db_ref = db0;
    layer_norm_reference_fwd(y_ref, mean_ref, rstd_ref, x, w, b, s.rows, s.dim, kLayerNormEps);
    layer_norm_reference_bwd(dx_ref, dw_ref, db_ref, dy, x, w, s.rows, s.dim, kLayerNormEps);

    auto x_d = to_device<View2>(x, s.rows, s.dim);
    auto w_d = to_device<View1>(w, s.dim), b_d = to_device<View1>(b, s.dim);
    View2 y_d("y", s.rows, s.dim);
    View1 mean_d("mean", s.rows), rstd_d("rstd", s.rows);
    layer_norm_fwd(Exec(), y_d, mean_d, rstd_d, x_d, w_d, b_d);
    EXPECT_LE(err_ratio(y_ref, to_host(y_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(mean_ref, to_host(mean_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(rstd_ref, to_host(rstd_d)), kDeviceErrRatio);

    View2 dx_d("dx", s.rows, s.dim);
    Kokkos::deep_copy(dx_d, 99.0f);  // assigned, not accumulated
    auto dw_d = to_device<View1>(dw0, s.dim), db_d = to_device<View1>(db0, s.dim);
    layer_norm_bwd(Exec(), dx_d, dw_d, db_d, mean_d, rstd_d, to_device<View2>(dy, s.rows, s.dim), x_d, w_d);
    // a one-element row has dx = 0 exactly (its output is the bias alone); err_ratio then measures rms(out)
    EXPECT_LE(err_ratio(dx_ref, to_host(dx_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(db_ref, to_host(db_d)), kDeviceErrRatio);
  }
}

// ---------------------------------------------------------------------------------------------------------------
namespace {

struct RmsCase {
  const char* name;
  int rows, dim;
  RmsNormSpec spec;
  bool gated;
  GateOrder order;
};

const std::vector<RmsCase> kRmsCases = {
    {"standard, whole row", 5, 13, RmsNormSpec::standard(13), false, GateOrder::norm_then_gate},
    {"standard, per group", 7, 15, RmsNormSpec::standard(5), false, GateOrder::norm_then_gate},
    {"standard, one row", 1, 64, RmsNormSpec::standard(16), false, GateOrder::norm_then_gate},
    {"eps outside sqrt, per head", 6, 12, RmsNormSpec::eps_outside_sqrt(6), false, GateOrder::norm_then_gate},
    {"eps outside sqrt, whole row", 3, 9, RmsNormSpec::eps_outside_sqrt(9), false, GateOrder::norm_then_gate},
    {"gated norm then gate, per head", 4, 10, RmsNormSpec::standard(5), true, GateOrder::norm_then_gate},
    {"gated norm then gate, one row", 1, 33, RmsNormSpec::standard(33), true, GateOrder::norm_then_gate},
    {"gated gate then norm, whole row", 5, 18, RmsNormSpec::standard(18), true, GateOrder::gate_then_norm},
    {"gated gate then norm, per group", 3, 14, RmsNormSpec::standard(7), true, GateOrder::gate_then_norm},
    {"gated, eps outside", 2, 8, RmsNormSpec::eps_outside_sqrt(4), true, GateOrder::gate_then_norm},
    {"wide groups", 3, 600, RmsNormSpec::standard(300), true, GateOrder::norm_then_gate},
    {"many rows (dw sums several row chunks)", 300, 8, RmsNormSpec::standard(4), true, GateOrder::norm_then_gate},
};

}  // namespace

TEST(RmsNormReference, BackwardMatchesFiniteDifferences) {
  for (const RmsCase& s : kRmsCases) {
    if (s.dim > 64) continue;  // finite differences cost O(dim^2) forwards
    SCOPED_TRACE(s.name);
    const auto x = float_values(s.rows * s.dim, 1, 2.0);
    const auto gate = s.gated ? float_values(s.rows * s.dim, 2, 3.0) : std::vector<double>();
    const auto w = float_values(s.spec.group_size, 3, 0.5, 1.0);
    const auto dy = float_values(s.rows * s.dim, 4);
    auto loss = [&](const std::vector<double>& xv, const std::vector<double>& gv, const std::vector<double>& wv) {
      std::vector<double> y, rstd;
      rms_norm_reference_fwd(y, rstd, xv, gv, wv, s.rows, s.dim, s.spec, s.order);
      return dot(dy, y);
    };
    std::vector<double> dx, dgate, dw(w.size(), 0.0);
    rms_norm_reference_bwd(dx, dgate, dw, dy, x, gate, w, s.rows, s.dim, s.spec, s.order);
    EXPECT_LE(
        err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(v, gate, w); }, x), dx),
        kFiniteDifferenceErrRatio);
    EXPECT_LE(
        err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, gate, v); }, w), dw),
        kFiniteDifferenceErrRatio);
    if (s.gated) {
      EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(x, v, w); }, gate),
                          dgate),
                kFiniteDifferenceErrRatio);
    } else {
      EXPECT_TRUE(dgate.empty());
    }
  }
}

TEST(RmsNormReference, EpsPlacementFollowsTheFormulas) {
  // One group of 4: mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5, w = 1.
  const std::vector<double> x = {1.0, -2.0, 3.0, 4.0}, w(4, 1.0);
  std::vector<double> y, rstd;
  rms_norm_reference_fwd(y, rstd, x, {}, w, 1, 4, RmsNormSpec::standard(4, 0.5), GateOrder::norm_then_gate);
  EXPECT_DOUBLE_EQ(rstd[0], 1.0 / std::sqrt(7.5 + 0.5));
  rms_norm_reference_fwd(y, rstd, x, {}, w, 1, 4, RmsNormSpec::eps_outside_sqrt(4, 0.5), GateOrder::norm_then_gate);
  EXPECT_DOUBLE_EQ(rstd[0], 1.0 / (std::sqrt(30.0) / std::sqrt(4.0) + 0.5));  // ||x|| G^-1/2 + eps
  EXPECT_DOUBLE_EQ(y[3], 4.0 * rstd[0]);
}

TEST(RmsNorm, DeviceMatchesReference) {
  for (const RmsCase& s : kRmsCases) {
    SCOPED_TRACE(s.name);
    auto x = float_values(s.rows * s.dim, 11, 2.0);
    if (s.spec.eps_placement == RmsEps::outside_sqrt) {
      for (int j = 0; j < s.spec.group_size; ++j) x[j] = 0.0;  // an all-zero group: the gradient stays finite
    }
    const auto gate = s.gated ? float_values(s.rows * s.dim, 12, 3.0) : std::vector<double>();
    const auto w = float_values(s.spec.group_size, 13, 0.5, 1.0);
    const auto dy = float_values(s.rows * s.dim, 14);
    const auto dw0 = float_values(s.spec.group_size, 15);
    const int groups = s.dim / s.spec.group_size;
    std::vector<double> y_ref, rstd_ref, dx_ref, dgate_ref, dw_ref = dw0;
    rms_norm_reference_fwd(y_ref, rstd_ref, x, gate, w, s.rows, s.dim, s.spec, s.order);
    rms_norm_reference_bwd(dx_ref, dgate_ref, dw_ref, dy, x, gate, w, s.rows, s.dim, s.spec, s.order);

    auto x_d = to_device<View2>(x, s.rows, s.dim);
    auto w_d = to_device<View1>(w, s.spec.group_size);
    auto dy_d = to_device<View2>(dy, s.rows, s.dim);
    View2 y_d("y", s.rows, s.dim), rstd_d("rstd", s.rows, groups), dx_d("dx", s.rows, s.dim);
    Kokkos::deep_copy(dx_d, 99.0f);  // assigned, not accumulated
    auto dw_d = to_device<View1>(dw0, s.spec.group_size);
    if (s.gated) {
      auto gate_d = to_device<View2>(gate, s.rows, s.dim);
      View2 dgate_d("dgate", s.rows, s.dim);
      Kokkos::deep_copy(dgate_d, 99.0f);
      gated_rms_norm_fwd(Exec(), y_d, rstd_d, x_d, gate_d, w_d, s.spec, s.order);
      gated_rms_norm_bwd(Exec(), dx_d, dgate_d, dw_d, rstd_d, dy_d, x_d, gate_d, w_d, s.spec, s.order);
      EXPECT_LE(err_ratio(dgate_ref, to_host(dgate_d)), kDeviceErrRatio);
    } else {
      rms_norm_fwd(Exec(), y_d, rstd_d, x_d, w_d, s.spec);
      rms_norm_bwd(Exec(), dx_d, dw_d, rstd_d, dy_d, x_d, w_d, s.spec);
    }
    EXPECT_LE(err_ratio(y_ref, to_host(y_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(rstd_ref, to_host(rstd_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dx_ref, to_host(dx_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dw_ref, to_host(dw_d)), kDeviceErrRatio);
  }
}

TEST(RmsNorm, RejectsBadGroups) {
  View2 x("x", 2, 10), y("y", 2, 10), rstd("rstd", 2, 2);
  View1 w("w", 5);
  EXPECT_THROW(rms_norm_fwd(Exec(), y, rstd, x, w, RmsNormSpec::standard(4)), std::invalid_argument);  // 10 % 4
  EXPECT_THROW(rms_norm_fwd(Exec(), y, rstd, x, View1("w", 4), RmsNormSpec::standard(5)), std::invalid_argument);
  EXPECT_THROW(rms_norm_fwd(Exec(), y, View2("r", 2, 1), x, w, RmsNormSpec::standard(5)), std::invalid_argument);
  EXPECT_NO_THROW(rms_norm_fwd(Exec(), y, rstd, x, w, RmsNormSpec::standard(5)));
}

}  // namespace selectiv::nn
