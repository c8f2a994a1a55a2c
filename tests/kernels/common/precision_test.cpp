// SPDX-License-Identifier: BSD-3-Clause
// Matmul precision modes: names round-trip, fp32 is always there, and where tf32 / bf16 exist a GEMM in that mode
// stays within its rounding (tf32: 10-bit mantissa inputs, relative error ~1e-3; bf16: 7-bit, ~5e-3) of an fp64
// reference but no longer matches it to fp32 rounding, which shows the mode reached cuBLAS, for every transpose
// combination and non-square shapes (the bf16 path calls cublasGemmEx itself); where a mode does not exist, asking
// for it throws.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "kernels/common/compat_blas.hpp"
#include "kernels/common/precision.hpp"

namespace selectiv {
namespace {

// C (m x n) = op(A) op(B) in the current precision; A is stored (m x k) or, transposed, (k x m); B likewise.
std::vector<float> run_gemm(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k, bool ta,
                            bool tb) {
  View2 A("A", ta ? k : m, ta ? m : k), B("B", tb ? n : k, tb ? k : n), C("C", m, n);
  auto ha = Kokkos::create_mirror_view(A);
  auto hb = Kokkos::create_mirror_view(B);
  for (std::size_t i = 0; i < a.size(); ++i) ha.data()[i] = a[i];
  for (std::size_t i = 0; i < b.size(); ++i) hb.data()[i] = b[i];
  Kokkos::deep_copy(A, ha);
  Kokkos::deep_copy(B, hb);
  Kokkos::deep_copy(C, 0.5f);  // beta = 1 keeps it: checks the accumulate path too
  kc::gemm(Exec(), ta ? "T" : "N", tb ? "T" : "N", 1.0f, A, B, 1.0f, C);
  auto hc = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), C);
  return std::vector<float>(hc.data(), hc.data() + hc.size());
}

// fp64 reference of run_gemm.
std::vector<float> reference_gemm(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k,
                                  bool ta, bool tb) {
  std::vector<float> c(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0.5;
      for (int p = 0; p < k; ++p) {
        const double x = ta ? a[static_cast<std::size_t>(p) * m + i] : a[static_cast<std::size_t>(i) * k + p];
        const double y = tb ? b[static_cast<std::size_t>(j) * k + p] : b[static_cast<std::size_t>(p) * n + j];
        sum += x * y;
      }
      c[static_cast<std::size_t>(i) * n + j] = static_cast<float>(sum);
    }
  }
  return c;
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
  for (MatmulPrecision p : {MatmulPrecision::kFp32, MatmulPrecision::kTf32, MatmulPrecision::kBf16}) {
    EXPECT_EQ(parse_matmul_precision(matmul_precision_name(p)), p);
  }
  EXPECT_FALSE(parse_matmul_precision("bf17").has_value());
  EXPECT_TRUE(matmul_precision_available(MatmulPrecision::kFp32));
}

TEST(MatmulPrecision, ReducedModesChangeTheGemmByTheirRoundingOrAreRefused) {
  const int m = 96, n = 160, k = 224;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> a(static_cast<std::size_t>(m) * k), b(static_cast<std::size_t>(k) * n);
  for (auto& x : a) x = normal(rng);
  for (auto& x : b) x = normal(rng);
  struct Mode {
    MatmulPrecision precision;
    double max_error, min_error;  // relative rms against fp64
  };
  for (const Mode mode : {Mode{MatmulPrecision::kFp32, 1e-6, 0.0}, Mode{MatmulPrecision::kTf32, 3e-3, 1e-5},
                          Mode{MatmulPrecision::kBf16, 1.5e-2, 1e-3}}) {
    SCOPED_TRACE(matmul_precision_name(mode.precision));
    if (!matmul_precision_available(mode.precision)) {
      EXPECT_THROW(set_matmul_precision(mode.precision), std::invalid_argument);
      continue;
    }
    set_matmul_precision(mode.precision);
    EXPECT_EQ(current_matmul_precision(), mode.precision);
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        SCOPED_TRACE(std::string(ta ? "T" : "N") + (tb ? "T" : "N"));
        const double err = relative_rms(reference_gemm(a, b, m, n, k, ta, tb), run_gemm(a, b, m, n, k, ta, tb));
        EXPECT_LT(err, mode.max_error);
        EXPECT_GE(err, mode.min_error);
      }
    }
  }
  set_matmul_precision(MatmulPrecision::kFp32);
}

}  // namespace selectiv

namespace selectiv {

TEST(MatmulPrecision, AutoIsBf16WhereAvailableAndUnknownNamesAreRejected) {
  const bool bf16 = matmul_precision_available(MatmulPrecision::kBf16);
  EXPECT_EQ(default_matmul_precision(), bf16 ? MatmulPrecision::kBf16 : MatmulPrecision::kFp32);
  EXPECT_EQ(resolve_matmul_precision("auto"), default_matmul_precision());
  EXPECT_EQ(resolve_matmul_precision("fp32"), MatmulPrecision::kFp32);
  EXPECT_FALSE(resolve_matmul_precision("bf17").has_value());
  if (matmul_precision_available(MatmulPrecision::kTf32)) {
    EXPECT_EQ(resolve_matmul_precision("tf32"), MatmulPrecision::kTf32);
  } else {
    EXPECT_THROW(resolve_matmul_precision("tf32"), std::invalid_argument);
  }
  if (bf16) {
    EXPECT_EQ(resolve_matmul_precision("bf16"), MatmulPrecision::kBf16);
  } else {
    EXPECT_THROW(resolve_matmul_precision("bf16"), std::invalid_argument);
  }
}

}  // namespace selectiv
