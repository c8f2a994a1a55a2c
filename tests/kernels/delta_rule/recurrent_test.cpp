// SPDX-License-Identifier: BSD-3-Clause
// The token-by-token Kokkos kernels of the delta rule against the fp64 host reference: o, ht, dq, dk, dv, dbeta,
// dg, dh0 on awkward shapes (T = 1, 15, 16, 17, 63, 64, 65, 130: around the checkpoint stretch and the fla chunk;
// odd K and V; n = 1, 3, 4 sub-steps), without a gate and with two gate regimes, with and without h0 / dht.
#include "kernels/delta_rule/recurrent.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "delta_inputs.hpp"
#include "kernels/common/views.hpp"
#include "kernels/delta_rule/reference.hpp"
#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv::delta_rule {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::to_device;
using ::selectiv::testing::to_host;
using testing::DeltaInputs;
using testing::Gate;

// fp32 sequential kernels against the fp64 reference on the same fp32 inputs.
constexpr double kRecurrentTolerance = 1e-5;

struct Results {
  std::vector<double> o, ht, dq, dk, dv, dbeta, dg, dh0;
};

Results run_recurrent(const DeltaInputs& in) {
  const DeltaSizes& n = in.n;
  const int R = n.T * n.n;
  const View4 q = to_device(in.q, View4("q", n.B, n.T, n.H, n.K)), k = to_device(in.k, View4("k", n.B, R, n.H, n.K));
  const View4 v = to_device(in.v, View4("v", n.B, R, n.H, n.V));
  const View3 beta = to_device(in.beta, View3("beta", n.B, R, n.H));
  const View3 g = in.g.empty() ? View3() : to_device(in.g, View3("g", n.B, n.T, n.H));
  const View4 do_ = to_device(in.do_, View4("do", n.B, n.T, n.H, n.V));
  const View4 h0 = in.h0.empty() ? View4() : to_device(in.h0, View4("h0", n.B, n.H, n.K, n.V));
  const View4 dht = in.dht.empty() ? View4() : to_device(in.dht, View4("dht", n.B, n.H, n.K, n.V));
  View4 o("o", n.B, n.T, n.H, n.V), ht("ht", n.B, n.H, n.K, n.V), dh0("dh0", n.B, n.H, n.K, n.V);
  View4 dq("dq", n.B, n.T, n.H, n.K), dk("dk", n.B, R, n.H, n.K), dv("dv", n.B, R, n.H, n.V);
  View3 dbeta("dbeta", n.B, R, n.H), dg = in.g.empty() ? View3() : View3("dg", n.B, n.T, n.H);
  View4 checkpoints = delta_allocate_checkpoints(n.B, n.T, n.H, n.K, n.V);
  const Exec exec;
  delta_recurrent_fwd(exec, o, ht, checkpoints, q, k, v, beta, g, h0, in.scale);
  delta_recurrent_bwd(exec, dq, dk, dv, dbeta, dg, dh0, checkpoints, do_, dht, q, k, v, beta, g, in.scale);
  exec.fence();
  Results r{to_host(o), to_host(ht), to_host(dq), to_host(dk), to_host(dv), to_host(dbeta), {}, to_host(dh0)};
  if (!in.g.empty()) r.dg = to_host(dg);
  return r;
}

void check_against_reference(const DeltaSizes& n, Gate gate, bool with_h0, bool with_dht, double beta_max,
                             unsigned seed) {
  const DeltaInputs in = testing::make_inputs(n, gate, with_h0, with_dht, beta_max, seed);
  Results ref;
  const auto q = testing::widen(in.q), k = testing::widen(in.k), v = testing::widen(in.v);
  const auto beta = testing::widen(in.beta), g = testing::widen(in.g), h0 = testing::widen(in.h0);
  delta_reference_fwd(ref.o, ref.ht, q, k, v, beta, g, h0, in.scale, n);
  delta_reference_bwd(ref.dq, ref.dk, ref.dv, ref.dbeta, ref.dg, ref.dh0, testing::widen(in.do_),
                      testing::widen(in.dht), q, k, v, beta, g, h0, in.scale, n);
  const Results out = run_recurrent(in);
  std::ostringstream where;
  where << "B " << n.B << " T " << n.T << " H " << n.H << " K " << n.K << " V " << n.V << " n " << n.n << " gate "
        << testing::gate_name(gate) << " h0 " << with_h0 << " dht " << with_dht;
  EXPECT_LE(err_ratio(ref.o, out.o), kRecurrentTolerance) << "o " << where.str();
  EXPECT_LE(err_ratio(ref.ht, out.ht), kRecurrentTolerance) << "ht " << where.str();
  EXPECT_LE(err_ratio(ref.dq, out.dq), kRecurrentTolerance) << "dq " << where.str();
  EXPECT_LE(err_ratio(ref.dk, out.dk), kRecurrentTolerance) << "dk " << where.str();
  EXPECT_LE(err_ratio(ref.dv, out.dv), kRecurrentTolerance) << "dv " << where.str();
  EXPECT_LE(err_ratio(ref.dbeta, out.dbeta), kRecurrentTolerance) << "dbeta " << where.str();
  EXPECT_LE(err_ratio(ref.dh0, out.dh0), kRecurrentTolerance) << "dh0 " << where.str();
  if (gate != Gate::kNone) EXPECT_LE(err_ratio(ref.dg, out.dg), kRecurrentTolerance) << "dg " << where.str();
}

TEST(DeltaRuleRecurrent, DeltaNetShapes) {
  unsigned seed = 100;
  for (int T : {1, 15, 16, 17, 63, 64, 65, 130}) check_against_reference({2, T, 2, 5, 7, 1}, Gate::kNone, false, false, 1.0, ++seed);
}

TEST(DeltaRuleRecurrent, GatedDeltaNetShapes) {
  unsigned seed = 200;
  for (int T : {1, 16, 17, 64, 65, 130}) {
    check_against_reference({2, T, 3, 16, 32, 1}, Gate::kLayer, true, true, 1.0, ++seed);
    check_against_reference({1, T, 2, 7, 5, 1}, Gate::kStrong, false, true, 1.0, ++seed);
  }
}

TEST(DeltaRuleRecurrent, GatedDeltaProductShapes) {
  unsigned seed = 300;
  for (int T : {1, 15, 63, 65, 130}) {
    check_against_reference({2, T, 2, 16, 32, 4}, Gate::kLayer, false, false, 2.0, ++seed);
    check_against_reference({1, T, 3, 9, 6, 3}, Gate::kStrong, true, true, 2.0, ++seed);
  }
}

TEST(DeltaRuleRecurrent, LargeHeadDims) {
  check_against_reference({1, 40, 2, 64, 128, 1}, Gate::kLayer, true, true, 1.0, 401u);
  check_against_reference({1, 20, 1, 128, 33, 2}, Gate::kNone, false, true, 2.0, 402u);
  check_against_reference({2, 35, 2, 24, 97, 3}, Gate::kStrong, true, true, 2.0, 403u);  // 4 column tiles, last one partial
}

}  // namespace
}  // namespace selectiv::delta_rule
