// SPDX-License-Identifier: BSD-3-Clause
// The team tile product in both tile maths against fp64 products: fp32 against the product of the operands as they
// are, tf32 against the product of the operands rounded to tf32 by this file's own rounding (frexp / ldexp), on
// shapes that leave partial 16 x 8 x 8 tensor-core tiles and partial register blocks, with one operand read
// transposed. Every output must be stored exactly once (the output starts as NaN). On a CUDA build the tf32 case
// runs on the tensor cores; elsewhere on the register-blocked product of the rounded operands.
#include "kernels/common/team_product.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::float_values;
using ::selectiv::testing::to_host;

// x rounded to 10 mantissa bits, to nearest with ties away from zero (tf32), computed independently of the kernels.
double tf32_of(double x) {
  if (x == 0.0) return 0.0;
  int exponent = 0;
  const double mantissa = std::frexp(x, &exponent);  // |mantissa| in [0.5, 1)
  const double scaled = std::ldexp(std::fabs(mantissa), 11);
  return std::copysign(std::ldexp(std::floor(scaled + 0.5), exponent - 11), x);
}

// out(i, j) = sum_x a(i, x) b_t(x, j) over a (M, K) and b_t (K, N): the second operand is read transposed.
std::vector<double> product(const std::vector<double>& a, const std::vector<double>& b_t, int M, int N, int K) {
  std::vector<double> out(static_cast<std::size_t>(M) * N, 0.0);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j)
      for (int x = 0; x < K; ++x) out[i * N + j] += a[i * K + x] * b_t[x * N + j];
  return out;
}

// The device product, one team (Kokkos::AUTO team size).
std::vector<double> team_product_on_device(TileMath math, const std::vector<double>& a, const std::vector<double>& b_t,
                                           int M, int N, int K) {
  const View2 a_dev = testing::to_device<View2>(a, M, K), b_dev = testing::to_device<View2>(b_t, K, N);
  View2 out("out", M, N);
  Kokkos::deep_copy(out, std::numeric_limits<float>::quiet_NaN());
  using Policy = Kokkos::TeamPolicy<Exec>;
  Kokkos::parallel_for(
      "selectiv::test::team_product", Policy(Exec(), 1, Kokkos::AUTO), KOKKOS_LAMBDA(const Policy::member_type& team) {
        team_product(
            team, math, M, N, K, [&](int i, int x) { return a_dev(i, x); }, [&](int j, int x) { return b_dev(x, j); },
            [&](int i, int j, float value) { out(i, j) = value; });
      });
  Kokkos::fence();
  return to_host(out);
}

void check_shape(int M, int N, int K, unsigned seed) {
  const std::vector<double> a = float_values(static_cast<std::size_t>(M) * K, seed);
  const std::vector<double> b_t = float_values(static_cast<std::size_t>(K) * N, seed + 1000);
  std::vector<double> a_tf32(a.size()), b_tf32(b_t.size());
  for (std::size_t i = 0; i < a.size(); ++i) a_tf32[i] = tf32_of(a[i]);
  for (std::size_t i = 0; i < b_t.size(); ++i) b_tf32[i] = tf32_of(b_t[i]);
  const std::vector<double> exact = product(a, b_t, M, N, K), exact_of_tf32 = product(a_tf32, b_tf32, M, N, K);

  const std::vector<double> fp32 = team_product_on_device(TileMath::kFp32, a, b_t, M, N, K);
  const std::vector<double> tf32 = team_product_on_device(TileMath::kTf32, a, b_t, M, N, K);
  for (std::size_t i = 0; i < exact.size(); ++i) {
    ASSERT_FALSE(std::isnan(fp32[i])) << "fp32 output " << i << " not stored, M " << M << " N " << N << " K " << K;
    ASSERT_FALSE(std::isnan(tf32[i])) << "tf32 output " << i << " not stored, M " << M << " N " << N << " K " << K;
  }
  EXPECT_LE(err_ratio(exact, fp32), 1e-6) << "fp32, M " << M << " N " << N << " K " << K;
  EXPECT_LE(err_ratio(exact_of_tf32, tf32), 1e-6) << "tf32, M " << M << " N " << N << " K " << K;
  // the operands were rounded: tf32's error against the exact product is that of 10 mantissa bits
  const double tf32_error = err_ratio(exact, tf32);
  EXPECT_GT(tf32_error, 3e-5) << "tf32 looks unrounded, M " << M << " N " << N << " K " << K;
  EXPECT_LT(tf32_error, 2e-3) << "M " << M << " N " << N << " K " << K;
}

TEST(TeamProduct, Fp32AndTf32MatchTheirFp64Products) {
  unsigned seed = 40;
  check_shape(64, 64, 32, ++seed);   // whole tiles
  check_shape(64, 16, 128, ++seed);  // a narrow state tile, long contraction
  check_shape(16, 16, 128, ++seed);  // fewer warp tiles than warps
  check_shape(37, 23, 19, ++seed);   // partial tiles in every direction
  check_shape(64, 8, 130, ++seed);   // K not a multiple of 8
  check_shape(3, 5, 2, ++seed);      // smaller than one tile
}

TEST(TeamProduct, Tf32RoundingMatchesTheIndependentRounding) {
  // Ties (exactly half a tf32 unit) round away from zero; everything else to nearest; inf and nan stay.
  const std::vector<float> values = {
      1.0f, 1.0f + 0x1p-11f, 1.0f + 0x1p-11f + 0x1p-23f, -(1.0f + 0x1p-11f), 3.14159265f, -2.7182818f, 1e-30f, 6.0e37f,
      0.0f};
  for (const float v : values) {
    EXPECT_EQ(static_cast<double>(round_to_tf32(v)), tf32_of(v)) << v;
  }
  EXPECT_TRUE(std::isinf(round_to_tf32(std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(std::isnan(round_to_tf32(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace selectiv
