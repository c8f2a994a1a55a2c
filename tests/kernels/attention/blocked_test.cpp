// SPDX-License-Identifier: BSD-3-Clause
// The score-block kernels against the host reference (itself checked by finite differences in reference_test.cpp):
// o, lse, dq, dk, dv with one block and with several (forced block rows, a last partial block), odd head dims,
// scores large enough to overflow a naive exp, tf32 products, bitwise reproducible backward.
#include "kernels/attention/blocked.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "device_comparison.hpp"
#include "kernels/common/precision.hpp"
#include "support/precision_scope.hpp"

namespace selectiv::attention {
namespace {

using test::compare_with_reference;
using test::Errors;
using test::expect_within;
using test::Shape;

// The blocked kernels with requested block rows (0: the workspace budget's).
struct Blocked : test::DeviceRun {
  explicit Blocked(int rows = 0) : rows(rows) {}
  int rows;
  void forward(const Exec& exec, View4 o, View3 lse, CView4 q, CView4 k, CView4 v, float scale) const override {
    attention_blocked_fwd(exec, o, lse, q, k, v, scale, rows);
  }
  void backward(const Exec& exec, View4 dq, View4 dk, View4 dv, CView4 g, CView4 o, CView3 lse, CView4 q, CView4 k,
                CView4 v, float scale) const override {
    attention_blocked_bwd(exec, dq, dk, dv, g, o, lse, q, k, v, scale, rows);
  }
};

// (block rows, T, D): one block (rows 0 = all of T here), blocks dividing T, a last partial block, one row per block.
class AttentionBlocked : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(AttentionBlocked, MatchesReference) {
  const int rows = std::get<0>(GetParam()), length = std::get<1>(GetParam()), head_dim = std::get<2>(GetParam());
  const Shape s{2, length, 3, head_dim};
  const Errors e = compare_with_reference(Blocked(rows), s, 1.0, 900 + rows + length * 7 + head_dim);
  std::cout << "[ attention ] blocked rows " << attention_blocked_rows(s.batch, s.heads, length, rows)
            << " T=" << length << " D=" << head_dim << ": " << e.describe() << "\n";
  expect_within(e, test::kDeviceTolerance);
}

INSTANTIATE_TEST_SUITE_P(BlocksLengthsAndHeadDims, AttentionBlocked,
                         ::testing::Values(std::make_tuple(0, 1, 5), std::make_tuple(0, 130, 16),
                                           std::make_tuple(0, 65, 5), std::make_tuple(32, 128, 16),
                                           std::make_tuple(48, 130, 5), std::make_tuple(16, 97, 64),
                                           std::make_tuple(1, 20, 3)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int, int>>& info) {
                           return "rows" + std::to_string(std::get<0>(info.param)) + "_T" +
                                  std::to_string(std::get<1>(info.param)) + "_D" +
                                  std::to_string(std::get<2>(info.param));
                         });

TEST(AttentionBlocked, RowsFitTheWorkspaceBudget) {
  // The paper's shapes: the block rows keep one (B * H, rows, T) float block within the budget.
  for (const auto& shape :
       {std::make_tuple(64, 4, 1300), std::make_tuple(64, 8, 1300), std::make_tuple(50, 4, 20200)}) {
    const int B = std::get<0>(shape), H = std::get<1>(shape), T = std::get<2>(shape);
    const int rows = attention_blocked_rows(B, H, T);
    const std::size_t bytes = std::size_t(B) * H * T * rows * sizeof(float);
    EXPECT_LE(bytes, kScoreBlockBytes) << "B " << B << " H " << H << " T " << T << " rows " << rows;
    EXPECT_GT(std::size_t(B) * H * T * (rows + 16) * sizeof(float), kScoreBlockBytes) << "rows " << rows;
    EXPECT_EQ(rows % 16, 0);
  }
  EXPECT_EQ(attention_blocked_rows(2, 3, 130), 130);  // small problems: one block
  EXPECT_EQ(attention_blocked_rows(2, 3, 130, 48), 48);
  EXPECT_EQ(attention_blocked_rows(2, 3, 130, 500), 130);
  EXPECT_THROW(attention_blocked_rows(2, 3, 130, -1), std::invalid_argument);
}

TEST(AttentionBlocked, LargeScoresStayFiniteAndMatchReference) {
  const Shape s{2, 130, 3, 16};
  const Errors e = compare_with_reference(Blocked(48), s, 12.0, 501);
  std::cout << "[ attention ] blocked, large scores T=130 D=16: " << e.describe() << "\n";
  EXPECT_GT(e.max_abs_score, 2 * test::kFloatExpOverflow) << "the inputs are too small to test overflow";
  expect_within(e, test::kLargeScoreTolerance);
}

TEST(AttentionBlocked, Tf32Products) {
  if (!matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 needs a CUDA build with cuBLAS";
  const ::selectiv::testing::ScopedMatmulPrecision tf32(MatmulPrecision::kTf32);
  for (const Shape s : {Shape{2, 130, 3, 16}, Shape{1, 97, 2, 64}}) {
    const Errors e = compare_with_reference(Blocked(32), s, 1.0, 701 + s.head_dim);
    std::cout << "[ attention ] blocked tf32 T=" << s.length << " D=" << s.head_dim << ": " << e.describe() << "\n";
    expect_within(e, 5e-3);
  }
}

TEST(AttentionBlocked, BackwardIsBitwiseReproducible) { test::expect_bitwise_reproducible_backward(Blocked(32)); }

TEST(AttentionBlocked, RejectsMismatchedShapes) {
  test::expect_rejects_mismatched_shapes(Blocked());
  View4 q("q", 1, 8, 2, 4), o("o", 1, 8, 2, 4);
  View3 lse("lse", 1, 2, 8);
  EXPECT_THROW(attention_blocked_fwd(Exec(), o, lse, q, q, q, 0.5f, -1), std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::attention
