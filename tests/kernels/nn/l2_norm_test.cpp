// SPDX-License-Identifier: BSD-3-Clause
// L2 normalisation per group: finite differences check the host reference backward; the reference checks the
// device forward (output and saved rstd) and backward on awkward shapes, including group size 1, one row, an
// all-zero group and the eps value itself.
#include "kernels/nn/l2_norm.hpp"

#include <gtest/gtest.h>

#include <cmath>
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

struct L2Case {
  int rows, dim, group;
};

}  // namespace

TEST(L2NormReference, BackwardMatchesFiniteDifferences) {
  struct FdCase {
    L2Case shape;
    double x_scale, step;
  };
  // Group size 1 is x / sqrt(x^2 + eps): its slope is only visible for |x| near sqrt(eps), so it is probed there
  // with a step to match.
  for (const FdCase& c : {FdCase{{3, 8, 4}, 2.0, 1e-6}, FdCase{{2, 5, 5}, 2.0, 1e-6}, FdCase{{2, 3, 1}, 2e-3, 1e-8}}) {
    const L2Case& s = c.shape;
    SCOPED_TRACE(::testing::Message() << "rows=" << s.rows << " dim=" << s.dim << " group=" << s.group);
    const auto x = float_values(s.rows * s.dim, 1, c.x_scale), dy = float_values(s.rows * s.dim, 2);
    auto loss = [&](const std::vector<double>& xv) {
      std::vector<double> y, rstd;
      l2_norm_reference_fwd(y, rstd, xv, s.rows, s.dim, s.group, kL2NormEps);
      return dot(dy, y);
    };
    std::vector<double> dx;
    l2_norm_reference_bwd(dx, dy, x, s.rows, s.dim, s.group, kL2NormEps);
    EXPECT_LE(err_ratio(finite_difference_gradient(loss, x, c.step), dx), kFiniteDifferenceErrRatio);
  }
}

TEST(L2NormReference, UsesEpsInsideTheSqrtOfTheSum) {
  std::vector<double> y, rstd;
  l2_norm_reference_fwd(y, rstd, {3.0, 4.0}, 1, 2, 2, 11.0);  // sqrt(9 + 16 + 11) = 6
  EXPECT_DOUBLE_EQ(rstd[0], 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(y[1], 4.0 / 6.0);
}

TEST(L2Norm, DeviceMatchesReference) {
  for (const L2Case& s :
       {L2Case{1, 16, 16}, L2Case{9, 15, 5}, L2Case{4, 12, 1}, L2Case{5, 512, 128}, L2Case{7, 6, 3}}) {
    SCOPED_TRACE(::testing::Message() << "rows=" << s.rows << " dim=" << s.dim << " group=" << s.group);
    auto x = float_values(s.rows * s.dim, 11, 2.0);
    for (int j = 0; j < s.group; ++j) x[j] = 0.0;  // an all-zero group: y = 0, rstd = eps^-1/2, dx = rstd dy
    const auto dy = float_values(s.rows * s.dim, 12);
    std::vector<double> y_ref, rstd_ref, dx_ref;
    l2_norm_reference_fwd(y_ref, rstd_ref, x, s.rows, s.dim, s.group, kL2NormEps);
    l2_norm_reference_bwd(dx_ref, dy, x, s.rows, s.dim, s.group, kL2NormEps);
    auto x_d = to_device<View2>(x, s.rows, s.dim);
    View2 y_d("y", s.rows, s.dim), rstd_d("rstd", s.rows, s.dim / s.group), dx_d("dx", s.rows, s.dim);
    Kokkos::deep_copy(dx_d, 99.0f);  // assigned, not accumulated
    l2_norm_fwd(Exec(), y_d, rstd_d, x_d, s.group);
    l2_norm_bwd(Exec(), dx_d, rstd_d, to_device<View2>(dy, s.rows, s.dim), x_d, s.group);
    EXPECT_LE(err_ratio(y_ref, to_host(y_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(rstd_ref, to_host(rstd_d)), kDeviceErrRatio);
    EXPECT_LE(err_ratio(dx_ref, to_host(dx_d)), kDeviceErrRatio);
  }
}

TEST(L2Norm, RejectsBadGroups) {
  View2 x("x", 2, 6), y("y", 2, 6);
  EXPECT_THROW(l2_norm_fwd(Exec(), y, View2("r", 2, 1), x, 4), std::invalid_argument);
  EXPECT_THROW(l2_norm_fwd(Exec(), y, View2("r", 2, 1), x, 3), std::invalid_argument);  // rstd must be (2, 2)
  EXPECT_THROW(l2_norm_fwd(Exec(), y, View2("r", 2, 1), x, 0), std::invalid_argument);
  EXPECT_NO_THROW(l2_norm_fwd(Exec(), y, View2("r", 2, 2), x, 3));
}

}  // namespace selectiv::nn
