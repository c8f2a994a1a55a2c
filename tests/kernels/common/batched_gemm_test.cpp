// SPDX-License-Identifier: BSD-3-Clause
// kc::gemm_batched against fp64 products computed here, with every matrix of the batch a block of rows of one head
// inside a (P0, rows, P1, width) tensor (the layout the delta rule's state passes read): three batch indices with a
// stride each, padded rows, all four transpose pairs, beta 0 (overwrite) and beta 1 with alpha -1. Everything of C
// outside the batch's matrices must stay as it was. The tf32 case runs where tf32 exists (CUDA with cuBLAS), within
// the error of tf32 operands.
#include "kernels/common/batched_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::float_values;
using ::selectiv::testing::to_host;

constexpr int kP0 = 2, kP1 = 3, kP2 = 2;  // batch counts
constexpr int kPad = 4;                   // floats after each stored row (rows stay 16-byte aligned)

// The matrices (p0, p1, p2) of one operand, each rows x cols, stored as rows p2 * rows .. of head p1 of item p0 of a
// (kP0, kP2 * rows, kP1, cols + kPad) tensor.
struct Operand {
  int rows, cols;
  std::vector<double> values;  // the whole tensor, padding included
  Operand(int rows_, int cols_, unsigned seed)
      : rows(rows_), cols(cols_), values(float_values(static_cast<std::size_t>(size()), seed)) {}
  int width() const { return cols + kPad; }
  long size() const { return static_cast<long>(kP0) * kP2 * rows * kP1 * width(); }
  long index(int p0, int p1, int p2, int i, int j) const {
    return ((static_cast<long>(p0) * kP2 * rows + p2 * rows + i) * kP1 + p1) * width() + j;
  }
  double at(int p0, int p1, int p2, int i, int j) const { return values[index(p0, p1, p2, i, j)]; }
  template <class T>
  kc::MatrixBatchOf<T> batch(T* data) const {
    kc::MatrixBatchOf<T> m;
    m.data = data;
    m.ld = static_cast<std::int64_t>(kP1) * width();
    m.stride[0] = static_cast<std::int64_t>(kP2) * rows * m.ld;
    m.stride[1] = width();
    m.stride[2] = rows * m.ld;
    return m;
  }
};

// (op(A_p) op(B_p))_ij of matrix p = (p0, p1, p2), in fp64.
double product(const Operand& a, const Operand& b, bool transpose_a, bool transpose_b, int k, int p0, int p1, int p2,
               int i, int j) {
  double sum = 0.0;
  for (int x = 0; x < k; ++x) {
    sum += (transpose_a ? a.at(p0, p1, p2, x, i) : a.at(p0, p1, p2, i, x)) *
           (transpose_b ? b.at(p0, p1, p2, j, x) : b.at(p0, p1, p2, x, j));
  }
  return sum;
}

void check(const char* ta, const char* tb, int m, int n, int k, float alpha, float beta, TileMath math, unsigned seed) {
  const bool transpose_a = ta[0] == 'T', transpose_b = tb[0] == 'T';
  const Operand a(transpose_a ? k : m, transpose_a ? m : k, seed),
      b(transpose_b ? n : k, transpose_b ? k : n, seed + 1);
  const Operand c(m, n, seed + 2);
  const View1 a_dev = testing::to_device<View1>(a.values, a.size()),
              b_dev = testing::to_device<View1>(b.values, b.size());
  const View1 c_dev = testing::to_device<View1>(c.values, c.size());
  kc::gemm_batched(Exec(), ta, tb, m, n, k, alpha, a.batch<const float>(a_dev.data()),
                   b.batch<const float>(b_dev.data()), beta, c.batch<float>(c_dev.data()),
                   kc::BatchCount{{kP0, kP1, kP2}}, math);
  Kokkos::fence();
  const std::vector<double> out = to_host(c_dev);

  std::vector<double> expected = c.values;  // the padding and every other element unchanged
  for (int p0 = 0; p0 < kP0; ++p0)
    for (int p1 = 0; p1 < kP1; ++p1)
      for (int p2 = 0; p2 < kP2; ++p2)
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            const double sum = product(a, b, transpose_a, transpose_b, k, p0, p1, p2, i, j);
            const long at = c.index(p0, p1, p2, i, j);
            expected[at] = alpha * sum + (beta == 0.0f ? 0.0 : beta * c.values[at]);
          }
  for (long i = 0; i < c.size(); ++i) ASSERT_FALSE(std::isnan(out[i])) << i;
  const double error = err_ratio(expected, out);
  const std::string what = std::string(ta) + tb + " m " + std::to_string(m) + " n " + std::to_string(n) + " k " +
                           std::to_string(k) + " beta " + std::to_string(beta);
  // tf32 allows cuBLAS the tensor cores (operands rounded to 10 mantissa bits); it may still pick an fp32 kernel
  EXPECT_LE(error, math == TileMath::kFp32 ? 1e-6 : 2e-3) << what;
  // outside the matrices nothing moved
  for (long i = 0; i < c.size(); ++i) {
    if (static_cast<int>(i % c.width()) >= n) ASSERT_EQ(out[i], c.values[i]) << "padding " << i << ", " << what;
  }
}

void check_all(TileMath math) {
  unsigned seed = 70;
  const char* flags[] = {"N", "T"};
  for (const char* ta : flags)
    for (const char* tb : flags) {
      check(ta, tb, 64, 40, 33, 1.0f, 0.0f, math, seed += 3);
      check(ta, tb, 17, 64, 64, -1.0f, 1.0f, math, seed += 3);
      check(ta, tb, 5, 7, 1, 1.0f, 1.0f, math, seed += 3);
    }
}

TEST(BatchedGemm, Fp32MatchesTheFp64ProductsOfEveryMatrix) { check_all(TileMath::kFp32); }

TEST(BatchedGemm, Tf32IsWithinTheErrorOfTf32Operands) {
  if (!matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 exists only on CUDA with cuBLAS";
  check_all(TileMath::kTf32);
}

TEST(BatchedGemm, EmptyContractionScalesC) {
  // k = 0: C = beta C
  check("N", "N", 4, 5, 0, 1.0f, 0.5f, TileMath::kFp32, 5);
}

TEST(BatchedGemm, ARepeatedBatchReadsItsOperandsAnew) {
  // On cuBLAS the pointer arrays of each distinct batch are kept between calls. The same batch run again over new
  // values of A computes from the new values; a smaller batch over the same operands (counts (kP0, kP1, 1)) writes
  // only its own matrices.
  const int m = 8, n = 5, k = 6;
  Operand a(m, k, 11);
  const Operand b(k, n, 12), c(m, n, 13);
  const View1 a_dev = testing::to_device<View1>(a.values, a.size()),
              b_dev = testing::to_device<View1>(b.values, b.size());
  const View1 c_dev = testing::to_device<View1>(c.values, c.size());
  std::vector<double> previous = c.values;
  const int third_counts[] = {kP2, kP2, 1};
  for (int round = 0; round < 3; ++round) {
    if (round == 1) {
      a.values = float_values(static_cast<std::size_t>(a.size()), 21);
      Kokkos::deep_copy(a_dev, testing::to_device<View1>(a.values, a.size()));
    }
    const int count2 = third_counts[round];
    kc::gemm_batched(Exec(), "N", "N", m, n, k, 1.0f, a.batch<const float>(a_dev.data()),
                     b.batch<const float>(b_dev.data()), 0.0f, c.batch<float>(c_dev.data()),
                     kc::BatchCount{{kP0, kP1, count2}}, TileMath::kFp32);
    Kokkos::fence();
    const std::vector<double> out = to_host(c_dev);
    std::vector<double> expected = previous;
    for (int p0 = 0; p0 < kP0; ++p0)
      for (int p1 = 0; p1 < kP1; ++p1)
        for (int p2 = 0; p2 < count2; ++p2)
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
              expected[c.index(p0, p1, p2, i, j)] = product(a, b, false, false, k, p0, p1, p2, i, j);
            }
    EXPECT_LE(err_ratio(expected, out), 1e-6) << "round " << round;
    for (int p0 = 0; p0 < kP0; ++p0)  // matrices outside the batch keep the previous round's values exactly
      for (int p1 = 0; p1 < kP1; ++p1)
        for (int p2 = count2; p2 < kP2; ++p2)
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
              const long at = c.index(p0, p1, p2, i, j);
              ASSERT_EQ(out[at], previous[at]) << "round " << round;
            }
    previous = out;
  }
}

TEST(BatchedGemm, RejectsABadTransposeFlag) {
  EXPECT_THROW(kc::gemm_batched(Exec(), "X", "N", 1, 1, 1, 1.0f, kc::ConstMatrixBatch(), kc::ConstMatrixBatch(), 0.0f,
                                kc::MatrixBatch(), kc::BatchCount(), TileMath::kFp32),
               std::invalid_argument);
}

}  // namespace
}  // namespace selectiv
