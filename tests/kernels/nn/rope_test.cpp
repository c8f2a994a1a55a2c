// SPDX-License-Identifier: BSD-3-Clause
// RoPE in both conventions: analytic rotations check the host reference's forward, finite differences its backward,
// and the reference checks the device forward and backward on awkward (B, T, H, hd), long T included.
#include "kernels/nn/rope.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/reference_train.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::err_ratio;

constexpr double kReferenceGradVsFiniteDifferences = 1e-8;
constexpr double kDeviceVsReference = 1e-6;  // same float angle; float vs double cos/sin and products
constexpr double kInverseRoundTrip = 1e-6;

const RopeConvention kConventions[] = {RopeConvention::reference_transformer, RopeConvention::rotate_half};

std::string name(RopeConvention convention) {
  return convention == RopeConvention::reference_transformer ? "reference_transformer" : "rotate_half";
}

std::vector<double> float_values(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(n);
  for (double& v : values) v = static_cast<double>(static_cast<float>(normal(rng)));
  return values;
}

View4 to_device(const std::vector<double>& values, int b, int t, int h, int d) {
  View4 view("x", b, t, h, d);
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

View1 to_device(const std::vector<float>& values) {
  View1 view("inv_freq", values.size());
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = values[i];
  Kokkos::deep_copy(view, host);
  return view;
}

std::vector<double> to_host(const View4& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

}  // namespace

TEST(RopeInvFreq, MatchesDefinition) {
  for (const float base : {1000.0f, 10000.0f}) {
    for (const int head_dim : {2, 16, 18, 80}) {
      const std::vector<float> inv_freq = rope_inv_freq(head_dim, base);
      ASSERT_EQ(inv_freq.size(), static_cast<std::size_t>(head_dim / 2));
      EXPECT_EQ(inv_freq[0], 1.0f);
      for (int i = 0; i < head_dim / 2; ++i) {
        const double expected = std::pow(static_cast<double>(base), -2.0 * i / head_dim);
        EXPECT_NEAR(inv_freq[i], expected, 4e-7 * expected) << "base " << base << " hd " << head_dim << " i " << i;
      }
    }
  }
  EXPECT_THROW(rope_inv_freq(7, 1000.0f), std::invalid_argument);
}

TEST(RopeReference, ForwardMatchesTheHalvesFormulas) {
  // One pair (hd = 2) at t = 3 with inv_freq = 0.25: theta = 0.75 rad, written out as in golden/README.md §4.8.
  const std::vector<float> inv_freq = {0.25f};
  const int n_time = 4;
  std::vector<double> x(n_time * 2);
  for (int t = 0; t < n_time; ++t) {
    x[2 * t] = 0.6 + t;       // x1
    x[2 * t + 1] = -1.3 + t;  // x2
  }
  std::vector<double> y_ref, y_rot;
  rope_reference_fwd(y_ref, x, inv_freq, RopeConvention::reference_transformer, 1, n_time, 1, 2);
  rope_reference_fwd(y_rot, x, inv_freq, RopeConvention::rotate_half, 1, n_time, 1, 2);
  for (int t = 0; t < n_time; ++t) {
    const double theta = 0.25 * t, x1 = x[2 * t], x2 = x[2 * t + 1];
    EXPECT_NEAR(y_ref[2 * t], x1 * std::cos(theta) + x2 * std::sin(theta), 1e-14);
    EXPECT_NEAR(y_ref[2 * t + 1], -x1 * std::sin(theta) + x2 * std::cos(theta), 1e-14);
    EXPECT_NEAR(y_rot[2 * t], x1 * std::cos(theta) - x2 * std::sin(theta), 1e-14);
    EXPECT_NEAR(y_rot[2 * t + 1], x2 * std::cos(theta) + x1 * std::sin(theta), 1e-14);
  }
  EXPECT_EQ(y_ref[0], x[0]);  // t = 0 is the identity
  EXPECT_EQ(y_ref[1], x[1]);
}

TEST(RopeReference, BackwardMatchesFiniteDifferences) {
  const int B = 2, T = 3, H = 2, hd = 6;
  const std::vector<float> inv_freq = rope_inv_freq(hd, 1000.0f);
  const std::vector<double> x = float_values(B * T * H * hd, 1), weights = float_values(B * T * H * hd, 2);
  for (const RopeConvention convention : kConventions) {
    SCOPED_TRACE(name(convention));
    // L(x) = sum(weights * rope(x)), so dL/dx = rope_bwd(weights).
    std::vector<double> analytic;
    rope_reference_bwd(analytic, weights, inv_freq, convention, B, T, H, hd);
    const auto numeric = selectiv::testing::finite_difference_gradient(
        [&](const std::vector<double>& input) {
          std::vector<double> y;
          rope_reference_fwd(y, input, inv_freq, convention, B, T, H, hd);
          double loss = 0.0;
          for (std::size_t i = 0; i < y.size(); ++i) loss += weights[i] * y[i];
          return loss;
        },
        x);
    EXPECT_LT(err_ratio(numeric, analytic), kReferenceGradVsFiniteDifferences);
  }
}

namespace {

void expect_device_matches_reference(int B, int T, int H, int hd, float base, RopeConvention convention) {
  SCOPED_TRACE(name(convention) + " B=" + std::to_string(B) + " T=" + std::to_string(T) + " H=" + std::to_string(H) +
               " hd=" + std::to_string(hd) + " base=" + std::to_string(base));
  const std::size_t n = static_cast<std::size_t>(B) * T * H * hd;
  const std::vector<float> inv_freq = rope_inv_freq(hd, base);
  const View1 inv_freq_d = to_device(inv_freq);
  const std::vector<double> x = float_values(n, 10 + T), dy = float_values(n, 20 + T);
  std::vector<double> y_ref, dx_ref;
  rope_reference_fwd(y_ref, x, inv_freq, convention, B, T, H, hd);
  rope_reference_bwd(dx_ref, dy, inv_freq, convention, B, T, H, hd);
  View4 y("y", B, T, H, hd), dx("dx", B, T, H, hd);
  const View4 x_d = to_device(x, B, T, H, hd);
  rope_fwd(Exec(), y, x_d, inv_freq_d, convention);
  rope_bwd(Exec(), dx, to_device(dy, B, T, H, hd), inv_freq_d, convention);
  EXPECT_LT(err_ratio(y_ref, to_host(y)), kDeviceVsReference);
  EXPECT_LT(err_ratio(dx_ref, to_host(dx)), kDeviceVsReference);
  // The backward undoes the forward, and in place gives the same values as out of place.
  View4 round_trip("round_trip", B, T, H, hd);
  rope_bwd(Exec(), round_trip, y, inv_freq_d, convention);
  EXPECT_LT(err_ratio(x, to_host(round_trip)), kInverseRoundTrip);
  rope_fwd(Exec(), x_d, x_d, inv_freq_d, convention);
  EXPECT_EQ(to_host(x_d), to_host(y));
}

}  // namespace

TEST(RopeDevice, MatchesReferenceOnAwkwardShapes) {
  for (const RopeConvention convention : kConventions) {
    expect_device_matches_reference(1, 1, 1, 2, 1000.0f, convention);      // t = 0 only
    expect_device_matches_reference(2, 7, 3, 6, 1000.0f, convention);      // odd number of pairs
    expect_device_matches_reference(3, 33, 4, 16, 1000.0f, convention);    // the golden transformer's hd
    expect_device_matches_reference(1, 17, 2, 80, 10000.0f, convention);   // d = 1280, H = 16 transformer remap
    expect_device_matches_reference(1, 2049, 1, 16, 1000.0f, convention);  // long T: angles up to 2048 rad
  }
}

TEST(RopeDevice, RejectsBadShapes) {
  const View1 inv_freq("inv_freq", 3);
  EXPECT_THROW(
      rope_fwd(Exec(), View4("y", 1, 2, 1, 6), View4("x", 1, 2, 1, 6), View1("short", 2), RopeConvention::rotate_half),
      std::invalid_argument);
  EXPECT_THROW(rope_fwd(Exec(), View4("y", 1, 2, 1, 7), View4("x", 1, 2, 1, 7), inv_freq, RopeConvention::rotate_half),
               std::invalid_argument);
  EXPECT_THROW(
      rope_bwd(Exec(), View4("y", 1, 3, 1, 6), View4("x", 1, 2, 1, 6), inv_freq, RopeConvention::reference_transformer),
      std::invalid_argument);
}

}  // namespace selectiv::nn
