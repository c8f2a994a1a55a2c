// SPDX-License-Identifier: BSD-3-Clause
// Dropout with a regenerated Philox mask: Philox known answers computed on the device, the device mask against
// the per-element host reference, keep-rate statistics, forward/backward consistency and recomputation.
#include "kernels/nn/dropout.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/reference_train.hpp"
#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::err_ratio;
using ::selectiv::testing::to_device;
using ::selectiv::testing::to_host;

constexpr double kDeviceVsReference = 1e-7;  // kept values: one float multiply by 1/(1-p)
constexpr double kSigmas = 5.0;              // statistical checks: |rate - expected| < 5 standard deviations

std::vector<double> float_values(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(n);
  for (double& v : values) {
    do {
      v = static_cast<double>(static_cast<float>(normal(rng)));
    } while (v == 0.0);  // nonzero, so a zero output always means "dropped"
  }
  return values;
}

// Philox4x32-10 of (counter, key) evaluated on the device through the kernel's own block function.
std::vector<std::uint32_t> device_philox(std::uint64_t seed, std::uint64_t stream, std::uint64_t block) {
  DeviceView1<std::uint32_t> out("philox", 4);
  Kokkos::parallel_for(
      "selectiv::test::dropout_philox", Kokkos::RangePolicy<Exec>(0, 1), KOKKOS_LAMBDA(int) {
        const auto bits = detail::dropout_block_bits(seed, stream, block);
        for (int k = 0; k < 4; ++k) out(k) = bits.v[k];
      });
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return {host(0), host(1), host(2), host(3)};
}

std::vector<bool> keep_mask(const std::vector<double>& y) {
  std::vector<bool> keep(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) keep[i] = y[i] != 0.0;
  return keep;
}

}  // namespace

TEST(Dropout, PhiloxKnownAnswersOnDevice) {
  // Random123's published known-answer vectors for philox4x32 with 10 rounds (kat_vectors), mapped onto
  // counter = {lo(block), hi(block), lo(stream), hi(stream)}, key = {lo(seed), hi(seed)}.
  EXPECT_EQ(device_philox(0, 0, 0), (std::vector<std::uint32_t>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(device_philox(~0ull, ~0ull, ~0ull),
            (std::vector<std::uint32_t>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(device_philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull),
            (std::vector<std::uint32_t>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Dropout, DeviceMatchesReferenceMask) {
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{1003}, std::size_t{4096}}) {
    for (const float p : {0.2f, 0.5f, 0.9f}) {
      SCOPED_TRACE("n=" + std::to_string(n) + " p=" + std::to_string(p));
      const std::uint64_t seed = 0x5eed0000u + n, stream = 77;
      const std::vector<double> x = float_values(n, 1);
      std::vector<double> ref;
      dropout_reference_fwd(ref, x, p, seed, stream);
      View1 y("y", n);
      dropout_fwd(Exec(), y, to_device<View1>(x, x.size()), p, seed, stream);
      const std::vector<double> out = to_host(y);
      EXPECT_EQ(keep_mask(out), keep_mask(ref));
      EXPECT_LT(err_ratio(ref, out), kDeviceVsReference);
    }
  }
}

TEST(Dropout, KeepRateStatistics) {
  const std::size_t n = (std::size_t{1} << 20) + 5;
  const View1 ones("ones", n);
  Kokkos::deep_copy(ones, 1.0f);
  for (const float p : {0.1f, 0.2f, 0.5f}) {
    SCOPED_TRACE("p=" + std::to_string(p));
    View1 a("a", n), b("b", n);
    dropout_fwd(Exec(), a, ones, p, 1234, 0);
    dropout_fwd(Exec(), b, ones, p, 1234, 1);  // next stream of the same seed
    const std::vector<double> ya = to_host(a), yb = to_host(b);
    const double q = 1.0 - static_cast<double>(p);
    std::size_t kept = 0, kept_both = 0, agree = 0;
    std::size_t kept_by_lane[4] = {0, 0, 0, 0}, count_by_lane[4] = {0, 0, 0, 0};
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool ka = ya[i] != 0.0, kb = yb[i] != 0.0;
      kept += ka;
      kept_both += ka && kb;
      agree += ka == kb;
      kept_by_lane[i % 4] += ka;
      ++count_by_lane[i % 4];
      sum += ya[i];
    }
    const double dn = static_cast<double>(n);
    EXPECT_NEAR(kept / dn, q, kSigmas * std::sqrt(q * (1 - q) / dn));
    for (int lane = 0; lane < 4; ++lane) {  // each of the 4 Philox output words is unbiased
      const double m = static_cast<double>(count_by_lane[lane]);
      EXPECT_NEAR(kept_by_lane[lane] / m, q, kSigmas * std::sqrt(q * (1 - q) / m)) << "lane " << lane;
    }
    // Two streams are independent: both keep with probability q^2, agree with q^2 + p^2.
    EXPECT_NEAR(kept_both / dn, q * q, kSigmas * std::sqrt(q * q * (1 - q * q) / dn));
    const double agree_rate = q * q + (1 - q) * (1 - q);
    EXPECT_NEAR(agree / dn, agree_rate, kSigmas * std::sqrt(agree_rate * (1 - agree_rate) / dn));
    // Inverted dropout keeps the expectation: mean of dropout(1) = 1.
    EXPECT_NEAR(sum / dn, 1.0, kSigmas * std::sqrt((1 - q) / q / dn));
  }
}

TEST(Dropout, BackwardIsTheAdjointOfForward) {
  const std::size_t n = 2051;
  const float p = 0.2f;
  const std::vector<double> x = float_values(n, 2), dy = float_values(n, 3);
  View1 y("y", n), dx("dx", n);
  dropout_fwd(Exec(), y, to_device<View1>(x, x.size()), p, 99, 5);
  dropout_bwd(Exec(), dx, to_device<View1>(dy, dy.size()), p, 99, 5);
  const std::vector<double> yh = to_host(y), dxh = to_host(dx);
  // <dropout(x), dy> = <x, dropout_bwd(dy)>, and both zero out the same elements.
  double lhs = 0.0, rhs = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    lhs += yh[i] * dy[i];
    rhs += x[i] * dxh[i];
  }
  EXPECT_NEAR(lhs, rhs, 1e-6 * std::fabs(lhs));
  EXPECT_EQ(keep_mask(yh), keep_mask(dxh));
  std::vector<double> ref_dx;
  dropout_reference_bwd(ref_dx, dy, p, 99, 5);
  EXPECT_LT(err_ratio(ref_dx, dxh), kDeviceVsReference);
}

TEST(Dropout, RecomputationIsIdenticalAndKeysSeparate) {
  const std::size_t n = 999;
  const std::vector<double> x = float_values(n, 4);
  const View1 xd = to_device<View1>(x, x.size());
  View1 first("first", n), second("second", n), other_stream("s", n), other_seed("k", n);
  dropout_fwd(Exec(), first, xd, 0.3f, 2024, 8);
  dropout_fwd(Exec(), second, xd, 0.3f, 2024, 8);
  dropout_fwd(Exec(), other_stream, xd, 0.3f, 2024, 9);
  dropout_fwd(Exec(), other_seed, xd, 0.3f, 2025, 8);
  EXPECT_EQ(to_host(first), to_host(second));
  EXPECT_NE(keep_mask(to_host(first)), keep_mask(to_host(other_stream)));
  EXPECT_NE(keep_mask(to_host(first)), keep_mask(to_host(other_seed)));
  // In place gives the same values, and the (B, T, D) overload uses the flat index.
  View1 in_place = to_device<View1>(x, x.size());
  dropout_fwd(Exec(), in_place, in_place, 0.3f, 2024, 8);
  EXPECT_EQ(to_host(in_place), to_host(first));
  View3 x3("x3", 3, 37, 9);  // 999 elements
  Kokkos::deep_copy(x3, Kokkos::View<float***, Kokkos::LayoutRight, DeviceMem>(xd.data(), 3, 37, 9));
  View3 y3("y3", 3, 37, 9);
  dropout_fwd(Exec(), y3, x3, 0.3f, 2024, 8);
  EXPECT_EQ(to_host(y3), to_host(first));
  View3 dx3("dx3", 3, 37, 9);
  dropout_bwd(Exec(), dx3, x3, 0.3f, 2024, 8);
  EXPECT_EQ(to_host(dx3), to_host(first));
}

TEST(Dropout, ProbabilityZeroIsIdentityAndOneDropsAll) {
  const std::vector<double> x = float_values(513, 5);
  View1 y("y", x.size());
  dropout_fwd(Exec(), y, to_device<View1>(x, x.size()), 0.0f, 1, 2);
  EXPECT_EQ(to_host(y), x);
  dropout_fwd(Exec(), y, to_device<View1>(x, x.size()), 1.0f, 1, 2);
  for (const double v : to_host(y)) EXPECT_EQ(v, 0.0);
}

TEST(Dropout, RejectsBadArguments) {
  View1 a("a", 10), b("b", 11);
  EXPECT_THROW(dropout_fwd(Exec(), a, b, 0.2f, 0, 0), std::invalid_argument);
  EXPECT_THROW(dropout_fwd(Exec(), a, a, 1.5f, 0, 0), std::invalid_argument);
  EXPECT_THROW(dropout_bwd(Exec(), a, a, -0.1f, 0, 0), std::invalid_argument);
  EXPECT_THROW(dropout_fwd(Exec(), View3("a", 2, 3, 4), View3("b", 2, 4, 3), 0.2f, 0, 0), std::invalid_argument);
}

}  // namespace selectiv::nn
