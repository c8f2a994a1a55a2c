// SPDX-License-Identifier: BSD-3-Clause
// The tiled device kernels against the host reference (itself checked by finite differences in reference_test.cpp):
// o, lse, dq, dk, dv on awkward shapes, on every tile size, with scores large enough to overflow a naive exp.
#include "kernels/attention/tiled.hpp"

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
using test::kFloatExpOverflow;
using test::kLargeScoreTolerance;
using test::Shape;

// The tiled kernels with a requested tile (0: the plan's).
struct Tiled : test::DeviceRun {
  explicit Tiled(int tile = 0) : tile(tile) {}
  int tile;
  void forward(const Exec& exec, View4 o, View3 lse, CView4 q, CView4 k, CView4 v, float scale) const override {
    attention_tiled_fwd(exec, o, lse, q, k, v, scale, tile);
  }
  void backward(const Exec& exec, View4 dq, View4 dk, View4 dv, CView4 g, CView4 o, CView3 lse, CView4 q, CView4 k,
                CView4 v, float scale) const override {
    attention_tiled_bwd(exec, dq, dk, dv, g, o, lse, q, k, v, scale, tile);
  }
};

// --- awkward shapes with the automatic tile: T around the 64-row tile, odd and even head dims -----------------

class AttentionTiledShapes : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(AttentionTiledShapes, MatchesReference) {
  const int length = std::get<0>(GetParam()), head_dim = std::get<1>(GetParam());
  const Shape s{2, length, 3, head_dim};
  const Errors e = compare_with_reference(Tiled(), s, 1.0, 100 + length * 7 + head_dim);
  const TilePlan fwd = attention_tiled_fwd_plan(head_dim), bwd = attention_tiled_bwd_plan(head_dim);
  std::cout << "[ attention ] T=" << length << " D=" << head_dim << " tile fwd " << fwd.tile << " (level "
            << fwd.scratch_level << ") bwd " << bwd.tile << " (level " << bwd.scratch_level << "): " << e.describe()
            << "\n";
  expect_within(e, test::kDeviceTolerance);
}

INSTANTIATE_TEST_SUITE_P(LengthsAndHeadDims, AttentionTiledShapes,
                         ::testing::Combine(::testing::Values(1, 7, 63, 64, 65, 130), ::testing::Values(5, 16)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
                           return "T" + std::to_string(std::get<0>(info.param)) + "_D" +
                                  std::to_string(std::get<1>(info.param));
                         });

// --- every tile size, including one whose scratch exceeds level 0 on small-scratch backends ---------------------

class AttentionTiledTiles : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(AttentionTiledTiles, MatchesReference) {
  const int tile = std::get<0>(GetParam()), length = std::get<1>(GetParam()), head_dim = std::get<2>(GetParam());
  const Shape s{1, length, 2, head_dim};
  const Errors e = compare_with_reference(Tiled(tile), s, 1.0, 300 + tile + length + head_dim);
  const TilePlan fwd = attention_tiled_fwd_plan(head_dim, tile), bwd = attention_tiled_bwd_plan(head_dim, tile);
  EXPECT_EQ(fwd.tile, tile);
  EXPECT_EQ(bwd.tile, tile);
  std::cout << "[ attention ] tile " << tile << " T=" << length << " D=" << head_dim << " scratch level fwd "
            << fwd.scratch_level << " (" << fwd.scratch_bytes << " B) bwd " << bwd.scratch_level << " ("
            << bwd.scratch_bytes << " B): " << e.describe() << "\n";
  expect_within(e, test::kDeviceTolerance);
}

INSTANTIATE_TEST_SUITE_P(ForcedTiles, AttentionTiledTiles,
                         ::testing::Values(std::make_tuple(16, 65, 16), std::make_tuple(16, 130, 5),
                                           std::make_tuple(32, 65, 16), std::make_tuple(32, 97, 5),
                                           std::make_tuple(8, 20, 3), std::make_tuple(64, 130, 64)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int, int>>& info) {
                           return "tile" + std::to_string(std::get<0>(info.param)) + "_T" +
                                  std::to_string(std::get<1>(info.param)) + "_D" +
                                  std::to_string(std::get<2>(info.param));
                         });

// --- scores of a few hundred: exp(score) overflows fp32 (> 88.7), the online softmax must not -----------------

TEST(AttentionTiled, LargeScoresStayFiniteAndMatchReference) {
  // q, k entries up to 12 with D = 16, scale 1/4: scores reach a few hundred.
  const Shape s{2, 130, 3, 16};
  const Errors e = compare_with_reference(Tiled(), s, 12.0, 500);
  std::cout << "[ attention ] large scores T=130 D=16: " << e.describe() << "\n";
  EXPECT_GT(e.max_abs_score, 2 * kFloatExpOverflow) << "the inputs are too small to test overflow";
  expect_within(e, kLargeScoreTolerance);
}

// --- tf32 tile products (tf32 and bf16 runs; tensor cores on CUDA): operands rounded to 10 mantissa bits ----------

TEST(AttentionTiled, Tf32TileProducts) {
  if (!matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 needs a CUDA build with cuBLAS";
  const ::selectiv::testing::ScopedMatmulPrecision tf32(MatmulPrecision::kTf32);
  for (const Shape s : {Shape{2, 130, 3, 16}, Shape{1, 97, 2, 64}}) {
    const Errors e = compare_with_reference(Tiled(), s, 1.0, 700 + s.head_dim);
    std::cout << "[ attention ] tf32 T=" << s.length << " D=" << s.head_dim << ": " << e.describe() << "\n";
    expect_within(e, 5e-3);
  }
}

// --- determinism: no atomics, so two backward runs agree bit for bit ------------------------------------------

TEST(AttentionTiled, BackwardIsBitwiseReproducible) { test::expect_bitwise_reproducible_backward(Tiled()); }

TEST(AttentionTiled, RejectsMismatchedShapes) {
  test::expect_rejects_mismatched_shapes(Tiled());
  View4 q("q", 1, 8, 2, 4), o("o", 1, 8, 2, 4);
  View3 lse("lse", 1, 2, 8);
  EXPECT_THROW(attention_tiled_fwd(Exec(), o, lse, q, q, q, 0.5f, -1), std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::attention
