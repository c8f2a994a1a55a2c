// SPDX-License-Identifier: BSD-3-Clause
// The tiled device kernels against the host reference (itself checked by finite differences in reference_test.cpp):
// o, lse, dq, dk, dv on awkward shapes, on every tile size, with scores large enough to overflow a naive exp.
#include "kernels/attention/tiled.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "attention_fixtures.hpp"
#include "kernels/attention/reference.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/precision.hpp"
#include "support/precision_scope.hpp"
#include "support/testing.hpp"

namespace selectiv::attention {
namespace {

using test::Shape;

// Declared tolerance of the tiled kernels, err_ratio against the double reference on O(1) inputs. fp32 dot products
// of length D and sums over at most T keys give ~1e-7..1e-6; measured values are printed by each test.
constexpr double kTiledTolerance = 1e-5;
// With scores of magnitude S the fp32 rounding of a score (S * 2^-24 per ulp, grown by the dot product) is an
// absolute error in the exponent, hence a relative error of the same size in every probability. For max |S| of a few
// hundred that is ~1e-5; declared with head room.
constexpr double kLargeScoreTolerance = 1e-4;
// exp(x) overflows fp32 above this.
constexpr double kFloatExpOverflow = 88.73;

View4 upload4(const std::vector<double>& x, const Shape& s) {
  View4 device("x", s.batch, s.length, s.heads, s.head_dim);
  auto host = kc::create_mirror_view_uninitialized(device);
  auto src = test::cview4(x, s);
  for (int b = 0; b < s.batch; ++b)
    for (int t = 0; t < s.length; ++t)
      for (int h = 0; h < s.heads; ++h)
        for (int d = 0; d < s.head_dim; ++d) host(b, t, h, d) = static_cast<float>(src(b, t, h, d));
  Kokkos::deep_copy(device, host);
  return device;
}

template <class DeviceView>
std::vector<double> download(const DeviceView& device) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device);
  std::vector<double> out(host.span());
  for (std::size_t i = 0; i < host.span(); ++i) out[i] = host.data()[i];
  return out;
}

bool all_finite(const std::vector<double>& x) {
  return std::all_of(x.begin(), x.end(), [](double value) { return std::isfinite(value); });
}

struct Errors {
  double o, lse, dq, dk, dv;
  bool finite;
  double max_abs_score;  // over the visible (causal) pairs, scale included
  std::string describe() const {
    std::ostringstream s;
    s << "max|score| " << max_abs_score << ", err_ratio o " << o << " lse " << lse << " dq " << dq << " dk " << dk << " dv " << dv;
    return s.str();
  }
};

// Runs forward and backward on the device and on the host reference (same float-rounded inputs) and compares.
Errors compare_with_reference(const Shape& s, double qk_amplitude, int requested_tile, unsigned seed) {
  const double scale = attention_default_scale(s.head_dim);
  const auto q = test::random_tensor(s.size(), seed, qk_amplitude);
  const auto k = test::random_tensor(s.size(), seed + 1, qk_amplitude);
  const auto v = test::random_tensor(s.size(), seed + 2);
  const auto g = test::random_tensor(s.size(), seed + 3);  // dL/do

  std::vector<double> o_ref(s.size()), lse_ref(s.rows()), dq_ref(s.size()), dk_ref(s.size()), dv_ref(s.size());
  // The device uses the float scale; the reference gets the same number in double.
  const double ref_scale = static_cast<float>(scale);
  attention_reference_fwd(test::view4(o_ref, s), test::view_lse(lse_ref, s), test::cview4(q, s), test::cview4(k, s),
                          test::cview4(v, s), ref_scale);
  attention_reference_bwd(test::view4(dq_ref, s), test::view4(dk_ref, s), test::view4(dv_ref, s), test::cview4(g, s),
                          test::cview4(q, s), test::cview4(k, s), test::cview4(v, s), ref_scale);

  const View4 q_dev = upload4(q, s), k_dev = upload4(k, s), v_dev = upload4(v, s), g_dev = upload4(g, s);
  View4 o_dev("o", s.batch, s.length, s.heads, s.head_dim);
  View3 lse_dev("lse", s.batch, s.heads, s.length);
  View4 dq_dev("dq", s.batch, s.length, s.heads, s.head_dim), dk_dev("dk", s.batch, s.length, s.heads, s.head_dim),
      dv_dev("dv", s.batch, s.length, s.heads, s.head_dim);
  const Exec exec;
  attention_tiled_fwd(exec, o_dev, lse_dev, q_dev, k_dev, v_dev, static_cast<float>(scale), requested_tile);
  attention_tiled_bwd(exec, dq_dev, dk_dev, dv_dev, g_dev, o_dev, lse_dev, q_dev, k_dev, v_dev,
                      static_cast<float>(scale), requested_tile);
  kc::fence(exec, "selectiv::test::attention_tiled");

  double max_abs_score = 0.0;
  const auto qv = test::cview4(q, s), kv = test::cview4(k, s);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int t = 0; t < s.length; ++t)
        for (int u = 0; u <= t; ++u) {
          double dot = 0.0;
          for (int d = 0; d < s.head_dim; ++d) dot += qv(b, t, h, d) * kv(b, u, h, d);
          max_abs_score = std::max(max_abs_score, std::fabs(ref_scale * dot));
        }

  const auto o = download(o_dev), lse = download(lse_dev), dq = download(dq_dev), dk = download(dk_dev),
             dv = download(dv_dev);
  return Errors{testing::err_ratio(o_ref, o),
                testing::err_ratio(lse_ref, lse),
                testing::err_ratio(dq_ref, dq),
                testing::err_ratio(dk_ref, dk),
                testing::err_ratio(dv_ref, dv),
                all_finite(o) && all_finite(lse) && all_finite(dq) && all_finite(dk) && all_finite(dv),
                max_abs_score};
}

void expect_within(const Errors& e, double tolerance) {
  EXPECT_TRUE(e.finite);
  EXPECT_LE(e.o, tolerance);
  EXPECT_LE(e.lse, tolerance);
  EXPECT_LE(e.dq, tolerance);
  EXPECT_LE(e.dk, tolerance);
  EXPECT_LE(e.dv, tolerance);
}

// --- awkward shapes with the automatic tile: T around the 64-row tile, odd and even head dims -----------------

class AttentionTiledShapes : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(AttentionTiledShapes, MatchesReference) {
  const int length = std::get<0>(GetParam()), head_dim = std::get<1>(GetParam());
  const Shape s{2, length, 3, head_dim};
  const Errors e = compare_with_reference(s, 1.0, 0, 100 + length * 7 + head_dim);
  const TilePlan fwd = attention_tiled_fwd_plan(head_dim), bwd = attention_tiled_bwd_plan(head_dim);
  std::cout << "[ attention ] T=" << length << " D=" << head_dim << " tile fwd " << fwd.tile << " (level "
            << fwd.scratch_level << ") bwd " << bwd.tile << " (level " << bwd.scratch_level << "): " << e.describe()
            << "\n";
  expect_within(e, kTiledTolerance);
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
  const Errors e = compare_with_reference(s, 1.0, tile, 300 + tile + length + head_dim);
  const TilePlan fwd = attention_tiled_fwd_plan(head_dim, tile), bwd = attention_tiled_bwd_plan(head_dim, tile);
  EXPECT_EQ(fwd.tile, tile);
  EXPECT_EQ(bwd.tile, tile);
  std::cout << "[ attention ] tile " << tile << " T=" << length << " D=" << head_dim << " scratch level fwd "
            << fwd.scratch_level << " (" << fwd.scratch_bytes << " B) bwd " << bwd.scratch_level << " ("
            << bwd.scratch_bytes << " B): " << e.describe() << "\n";
  expect_within(e, kTiledTolerance);
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
  const Errors e = compare_with_reference(s, 12.0, 0, 500);
  std::cout << "[ attention ] large scores T=130 D=16: " << e.describe() << "\n";
  EXPECT_GT(e.max_abs_score, 2 * kFloatExpOverflow) << "the inputs are too small to test overflow";
  expect_within(e, kLargeScoreTolerance);
}

// --- tf32 tile products (tf32 and bf16 runs; tensor cores on CUDA): operands rounded to 10 mantissa bits ----------

TEST(AttentionTiled, Tf32TileProducts) {
  if (!matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 needs a CUDA build with cuBLAS";
  const ::selectiv::testing::ScopedMatmulPrecision tf32(MatmulPrecision::kTf32);
  for (const Shape s : {Shape{2, 130, 3, 16}, Shape{1, 97, 2, 64}}) {
    const Errors e = compare_with_reference(s, 1.0, 0, 700 + s.head_dim);
    std::cout << "[ attention ] tf32 T=" << s.length << " D=" << s.head_dim << ": " << e.describe() << "\n";
    expect_within(e, 5e-3);
  }
}

// --- determinism: no atomics, so two backward runs agree bit for bit ------------------------------------------

TEST(AttentionTiled, BackwardIsBitwiseReproducible) {
  const Shape s{2, 97, 2, 16};
  const float scale = attention_default_scale(s.head_dim);
  const View4 q = upload4(test::random_tensor(s.size(), 601), s), k = upload4(test::random_tensor(s.size(), 602), s),
              v = upload4(test::random_tensor(s.size(), 603), s), g = upload4(test::random_tensor(s.size(), 604), s);
  View4 o("o", s.batch, s.length, s.heads, s.head_dim);
  View3 lse("lse", s.batch, s.heads, s.length);
  const Exec exec;
  attention_tiled_fwd(exec, o, lse, q, k, v, scale);
  std::vector<std::vector<double>> runs[2];
  for (auto& run : runs) {
    View4 dq("dq", s.batch, s.length, s.heads, s.head_dim), dk("dk", s.batch, s.length, s.heads, s.head_dim),
        dv("dv", s.batch, s.length, s.heads, s.head_dim);
    attention_tiled_bwd(exec, dq, dk, dv, g, o, lse, q, k, v, scale);
    run = {download(dq), download(dk), download(dv)};
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(runs[0][i] == runs[1][i]) << "gradient " << i << " differs between runs";
}

TEST(AttentionTiled, RejectsMismatchedShapes) {
  View4 q("q", 1, 8, 2, 4), k("k", 1, 8, 2, 4), v("v", 1, 8, 2, 4), o("o", 1, 8, 2, 4), short_k("k", 1, 7, 2, 4);
  View4 dq("dq", 1, 8, 2, 4), dk("dk", 1, 8, 2, 4), dv("dv", 1, 8, 2, 4);
  View3 lse("lse", 1, 2, 8), wrong_lse("lse", 1, 8, 2);
  const Exec exec;
  EXPECT_THROW(attention_tiled_fwd(exec, o, lse, q, short_k, v, 0.5f), std::invalid_argument);
  EXPECT_THROW(attention_tiled_fwd(exec, o, wrong_lse, q, k, v, 0.5f), std::invalid_argument);
  EXPECT_THROW(attention_tiled_bwd(exec, dq, dk, dv, o, o, lse, q, short_k, v, 0.5f), std::invalid_argument);
  EXPECT_THROW(attention_tiled_fwd(exec, o, lse, q, k, v, 0.5f, -1), std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::attention
