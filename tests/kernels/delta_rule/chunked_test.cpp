// SPDX-License-Identifier: BSD-3-Clause
// The chunked WY / UT kernels of the delta rule against the fp64 host reference: o, ht, dq, dk, dv, dbeta, dg, dh0
// on awkward shapes (T = 1, 63, 64, 65, 130 with n = 1; T = 1, 15, 16, 17, 65 with n = 4, and with n = 3 where
// tokens straddle the 64-row chunks; odd K and V; K = 64, V = 128; K, V that leave partial scratch slabs and partial
// state column tiles; K = 128), without a gate and with two gate regimes, with and without h0 / dht.
#include "kernels/delta_rule/chunked.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "delta_inputs.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/common/views.hpp"
#include "kernels/delta_rule/reference.hpp"
#include "support/device_data.hpp"
#include "support/precision_scope.hpp"
#include "support/testing.hpp"

namespace selectiv::delta_rule {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::to_device;
using ::selectiv::testing::to_host;
using testing::DeltaInputs;
using testing::Gate;

// fp32 chunked forward against the fp64 reference on the same fp32 inputs.
constexpr double kChunkedTolerance = 1e-5;
// With tf32 products (operands rounded to 10 mantissa bits, unit roundoff 4.9e-4): the backward chains several
// products through the UT transform; dg of Gated DeltaProduct under strong gates (n = 4, beta up to 2) measured
// 1.1e-2 on the H200 with the former tf32 team products, every other output and case below 5e-3.
constexpr double kTf32Tolerance = 2e-2;

// recompute_states: the backward gets no states and recomputes them (only without h0).
void check_against_reference(const DeltaSizes& n, Gate gate, bool with_h0, double beta_max, unsigned seed,
                             double tolerance = kChunkedTolerance, bool recompute_states = false) {
  const bool with_dht = with_h0;  // the cases with h0 also get an upstream dht
  const DeltaInputs in = testing::make_inputs(n, gate, with_h0, with_dht, beta_max, seed);
  const int R = n.T * n.n;
  const View4 q = to_device(in.q, View4("q", n.B, n.T, n.H, n.K));
  const View4 k = to_device(in.k, View4("k", n.B, R, n.H, n.K));
  const View4 v = to_device(in.v, View4("v", n.B, R, n.H, n.V));
  const View3 beta = to_device(in.beta, View3("beta", n.B, R, n.H));
  const View3 g = in.g.empty() ? View3() : to_device(in.g, View3("g", n.B, n.T, n.H));
  const View4 h0 = in.h0.empty() ? View4() : to_device(in.h0, View4("h0", n.B, n.H, n.K, n.V));
  View4 o("o", n.B, n.T, n.H, n.V), ht("ht", n.B, n.H, n.K, n.V);
  View4 states = delta_allocate_chunk_states(n.B, R, n.H, n.K, n.V);
  const View4 do_ = to_device(in.do_, View4("do", n.B, n.T, n.H, n.V));
  const View4 dht = in.dht.empty() ? View4() : to_device(in.dht, View4("dht", n.B, n.H, n.K, n.V));
  View4 dq("dq", n.B, n.T, n.H, n.K), dk("dk", n.B, R, n.H, n.K), dv("dv", n.B, R, n.H, n.V);
  View4 dh0("dh0", n.B, n.H, n.K, n.V);
  View3 dbeta("dbeta", n.B, R, n.H), dg = in.g.empty() ? View3() : View3("dg", n.B, n.T, n.H);
  const Exec exec;
  delta_chunked_fwd(exec, o, ht, states, q, k, v, beta, g, h0, in.scale);
  delta_chunked_bwd(exec, dq, dk, dv, dbeta, dg, dh0, recompute_states ? View4() : states, do_, dht, q, k, v, beta, g,
                    in.scale);
  exec.fence();

  std::vector<double> ref_o, ref_ht;
  const auto qd = testing::widen(in.q), kd = testing::widen(in.k), vd = testing::widen(in.v);
  const auto bd = testing::widen(in.beta), gd = testing::widen(in.g), h0d = testing::widen(in.h0);
  delta_reference_fwd(ref_o, ref_ht, qd, kd, vd, bd, gd, h0d, in.scale, n);
  std::vector<double> ref_dq, ref_dk, ref_dv, ref_dbeta, ref_dg, ref_dh0;
  delta_reference_bwd(ref_dq, ref_dk, ref_dv, ref_dbeta, ref_dg, ref_dh0, testing::widen(in.do_),
                      testing::widen(in.dht), qd, kd, vd, bd, gd, h0d, in.scale, n);
  std::ostringstream where;
  where << "B " << n.B << " T " << n.T << " H " << n.H << " K " << n.K << " V " << n.V << " n " << n.n << " gate "
        << testing::gate_name(gate) << " h0 " << with_h0 << " recomputed states " << recompute_states;
  EXPECT_LE(err_ratio(ref_o, to_host(o)), tolerance) << "o " << where.str();
  EXPECT_LE(err_ratio(ref_ht, to_host(ht)), tolerance) << "ht " << where.str();
  EXPECT_LE(err_ratio(ref_dq, to_host(dq)), tolerance) << "dq " << where.str();
  EXPECT_LE(err_ratio(ref_dk, to_host(dk)), tolerance) << "dk " << where.str();
  EXPECT_LE(err_ratio(ref_dv, to_host(dv)), tolerance) << "dv " << where.str();
  EXPECT_LE(err_ratio(ref_dbeta, to_host(dbeta)), tolerance) << "dbeta " << where.str();
  EXPECT_LE(err_ratio(ref_dh0, to_host(dh0)), tolerance) << "dh0 " << where.str();
  if (gate != Gate::kNone) EXPECT_LE(err_ratio(ref_dg, to_host(dg)), tolerance) << "dg " << where.str();
}

// The backward without the forward's states (the models' path on a GPU): it runs the state pass again.
TEST(DeltaRuleChunked, BackwardRecomputesTheStates) {
  unsigned seed = 900;
  for (int T : {1, 65, 130}) {
    check_against_reference({2, T, 2, 5, 7, 1}, Gate::kNone, false, 1.0, ++seed, kChunkedTolerance, true);
    check_against_reference({2, T, 3, 16, 32, 1}, Gate::kLayer, false, 1.0, ++seed, kChunkedTolerance, true);
  }
  for (int T : {17, 65}) {
    check_against_reference({2, T, 2, 16, 32, 4}, Gate::kLayer, false, 2.0, ++seed, kChunkedTolerance, true);
    check_against_reference({1, T, 3, 9, 6, 3}, Gate::kStrong, false, 2.0, ++seed, kChunkedTolerance, true);
  }
}

TEST(DeltaRuleChunked, DeltaNetShapes) {
  unsigned seed = 500;
  for (int T : {1, 63, 64, 65, 130}) check_against_reference({2, T, 2, 5, 7, 1}, Gate::kNone, false, 1.0, ++seed);
}

TEST(DeltaRuleChunked, GatedDeltaNetShapes) {
  unsigned seed = 600;
  for (int T : {1, 64, 65, 130}) {
    check_against_reference({2, T, 3, 16, 32, 1}, Gate::kLayer, true, 1.0, ++seed);
    check_against_reference({1, T, 2, 7, 5, 1}, Gate::kStrong, true, 1.0, ++seed);
  }
}

TEST(DeltaRuleChunked, GatedDeltaProductShapes) {
  unsigned seed = 700;
  for (int T : {1, 15, 16, 17, 65}) {
    check_against_reference({2, T, 2, 16, 32, 4}, Gate::kLayer, false, 2.0, ++seed);
    check_against_reference({1, T, 3, 9, 6, 3}, Gate::kStrong, true, 2.0, ++seed);  // tokens straddle chunks
  }
}

TEST(DeltaRuleChunked, LargeHeadDims) {
  check_against_reference({1, 100, 2, 64, 128, 1}, Gate::kLayer, true, 1.0, 801u);
}

// Head dims that are no multiple of 4 floats (rows of the batched GEMMs' operands not 16-byte aligned) or of 32.
TEST(DeltaRuleChunked, UnalignedHeadDims) {
  check_against_reference({1, 70, 2, 40, 72, 2}, Gate::kLayer, true, 2.0, 811u);
  check_against_reference({2, 33, 1, 33, 17, 1}, Gate::kStrong, false, 1.0, 812u);
}

// The largest key dim (K = 128) and value dims from 9 to 72, with and without sub-steps (n = 3: tokens straddle
// chunks, so the token-side products run chunk by chunk).
TEST(DeltaRuleChunked, KeyAndValueDimsAroundTheTiles) {
  check_against_reference({2, 70, 2, 128, 40, 1}, Gate::kLayer, true, 1.0, 821u);
  check_against_reference({1, 40, 2, 128, 9, 3}, Gate::kStrong, true, 2.0, 822u);
  check_against_reference({2, 70, 2, 64, 72, 1}, Gate::kLayer, true, 1.0, 823u);
  check_against_reference({1, 40, 2, 48, 40, 3}, Gate::kStrong, true, 2.0, 824u);
  check_against_reference({1, 65, 1, 32, 9, 1}, Gate::kNone, false, 1.0, 825u);
}

// tf32 and bf16 runs allow tf32 tensor cores in the batched GEMMs: within kTf32Tolerance of the fp64 reference on
// GDN, GDP and K = 128 shapes. The precision exists only on CUDA builds with cuBLAS.
TEST(DeltaRuleChunked, Tf32Products) {
  if (!matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 needs a CUDA build with cuBLAS";
  const ::selectiv::testing::ScopedMatmulPrecision tf32(MatmulPrecision::kTf32);
  check_against_reference({2, 130, 3, 64, 128, 1}, Gate::kLayer, true, 1.0, 901u, kTf32Tolerance);
  check_against_reference({1, 65, 2, 16, 32, 4}, Gate::kStrong, true, 2.0, 902u, kTf32Tolerance);
  check_against_reference({2, 70, 2, 128, 40, 1}, Gate::kLayer, false, 1.0, 903u, kTf32Tolerance);
}

}  // namespace
}  // namespace selectiv::delta_rule
