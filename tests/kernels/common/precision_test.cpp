// SPDX-License-Identifier: BSD-3-Clause
// Matmul precision modes: names round-trip, fp32 is always there, and where tf32 exists a GEMM in tf32 stays within
// tf32's rounding (10-bit mantissa inputs: relative error ~1e-3) of the fp32 result but no longer matches it to
// fp32 rounding, which shows the mode reached cuBLAS; where it does not exist, asking for it throws.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "kernels/common/compat_blas.hpp"
#include "kernels/common/precision.hpp"

namespace selectiv {
namespace {

std::vector<float> run_gemm(const std::vector<float>& a, const std::vector<float>& b, int n) {
  View2 A("A", n, n), B("B", n, n), C("C", n, n);
  auto ha = Kokkos::create_mirror_view(A);
  auto hb = Kokkos::create_mirror_view(B);
  for (int i = 0; i < n * n; ++i) {
    ha.data()[i] = a[i];
    hb.data()[i] = b[i];
  }
  Kokkos::deep_copy(A, ha);
  Kokkos::deep_copy(B, hb);
  kc::gemm(Exec(), "N", "N", 1.0f, A, B, 0.0f, C);
  auto hc = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), C);
  return std::vector<float>(hc.data(), hc.data() + hc.size());
}

double relative_rms(const std::vector<float>& ref, const std::vector<float>& out) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    num += (double(ref[i]) - out[i]) * (double(ref[i]) - out[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

}  // namespace

TEST(MatmulPrecision, NamesRoundTrip) {
  for (MatmulPrecision p : {MatmulPrecision::kFp32, MatmulPrecision::kTf32}) {
    EXPECT_EQ(parse_matmul_precision(matmul_precision_name(p)), p);
  }
  EXPECT_FALSE(parse_matmul_precision("bf17").has_value());
  EXPECT_TRUE(matmul_precision_available(MatmulPrecision::kFp32));
}

TEST(MatmulPrecision, Tf32ChangesTheGemmByTf32RoundingOrIsRefused) {
  const int n = 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> a(n * n), b(n * n), exact(n * n, 0.0f);
  for (auto& x : a) x = normal(rng);
  for (auto& x : b) x = normal(rng);
  std::vector<double> ref(n * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) ref[i * n + j] += double(a[i * n + k]) * b[k * n + j];
  for (int i = 0; i < n * n; ++i) exact[i] = static_cast<float>(ref[i]);

  set_matmul_precision(MatmulPrecision::kFp32);
  EXPECT_LT(relative_rms(exact, run_gemm(a, b, n)), 1e-6);
  if (!matmul_precision_available(MatmulPrecision::kTf32)) {
    EXPECT_THROW(set_matmul_precision(MatmulPrecision::kTf32), std::invalid_argument);
    return;
  }
  set_matmul_precision(MatmulPrecision::kTf32);
  const double err = relative_rms(exact, run_gemm(a, b, n));
  set_matmul_precision(MatmulPrecision::kFp32);
  EXPECT_LT(err, 3e-3);
  EXPECT_GT(err, 1e-5);
}

}  // namespace selectiv

namespace selectiv {

TEST(MatmulPrecision, AutoIsTf32WhereAvailableAndUnknownNamesAreRejected) {
  const bool tf32 = matmul_precision_available(MatmulPrecision::kTf32);
  EXPECT_EQ(default_matmul_precision(), tf32 ? MatmulPrecision::kTf32 : MatmulPrecision::kFp32);
  EXPECT_EQ(resolve_matmul_precision("auto"), default_matmul_precision());
  EXPECT_EQ(resolve_matmul_precision("fp32"), MatmulPrecision::kFp32);
  EXPECT_FALSE(resolve_matmul_precision("bf17").has_value());
  if (tf32) {
    EXPECT_EQ(resolve_matmul_precision("tf32"), MatmulPrecision::kTf32);
  } else {
    EXPECT_THROW(resolve_matmul_precision("tf32"), std::invalid_argument);
  }
}

}  // namespace selectiv
