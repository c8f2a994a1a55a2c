// SPDX-License-Identifier: BSD-3-Clause
// The chunked Kokkos SSD kernels against the fp64 host reference: y, dxbc, ddt, d_dt_bias, dA_log, dD on awkward
// shapes (T = 1, 63, 64, 65, 130, 200; odd P and N; several heads), at sizes where every team-scratch tile is
// narrower than its contraction, and in two decay regimes; parameter gradients accumulate.
#include "kernels/ssd/chunked.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/precision.hpp"
#include "kernels/common/views.hpp"
#include "kernels/ssd/reference.hpp"
#include "ssd_inputs.hpp"
#include "support/device_data.hpp"
#include "support/precision_scope.hpp"
#include "support/testing.hpp"

namespace selectiv::ssd {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::to_device;
using ::selectiv::testing::to_host;
using testing::DecayRegime;
using testing::SsdInputs;
using testing::widen;

// fp32 chunked kernels against the fp64 reference on the same fp32 inputs (README.md §5).
constexpr double kChunkedTolerance = 1e-5;

struct Results {
  std::vector<double> y, dxbc, ddt, d_dt_bias, dA_log, dD;
};

// The forward's inputs on the device.
struct DeviceInputs {
  explicit DeviceInputs(const SsdInputs& in)
      : xbc(to_device(in.xbc, View3("xbc", in.n.B, in.n.T, in.n.xbc_width()))),
        dt(to_device(in.dt, View3("dt", in.n.B, in.n.T, in.n.H))),
        dt_bias(to_device(in.dt_bias, View1("dt_bias", in.n.H))),
        A_log(to_device(in.A_log, View1("A_log", in.n.H))),
        D(to_device(in.D, View1("D", in.n.H))) {}
  View3 xbc, dt;
  View1 dt_bias, A_log, D;
};

// Parameter gradients start at `initial_param_grad` to check that they accumulate; it is subtracted again. With
// `recompute_states` the backward is given no states and recomputes them.
Results run_chunked(const SsdInputs& in, float initial_param_grad, bool recompute_states = false) {
  const SsdSizes& n = in.n;
  const DeviceInputs dev(in);
  const View3 xbc = dev.xbc, dt = dev.dt;
  const View1 dt_bias = dev.dt_bias, A_log = dev.A_log, D = dev.D;
  const View4 dy = to_device(in.dy, View4("dy", n.B, n.T, n.H, n.P));
  View4 y("y", n.B, n.T, n.H, n.P);
  View3 dxbc("dxbc", n.B, n.T, n.xbc_width()), ddt("ddt", n.B, n.T, n.H);
  View1 d_dt_bias("d_dt_bias", n.H), dA_log("dA_log", n.H), dD("dD", n.H);
  Kokkos::deep_copy(d_dt_bias, initial_param_grad);
  Kokkos::deep_copy(dA_log, initial_param_grad);
  Kokkos::deep_copy(dD, initial_param_grad);
  View4 states = ssd_allocate_states(n.B, n.T, n.H, n.P, n.N);
  View3 scores = ssd_allocate_scores(n.B, n.T);
  const Exec exec;
  ssd_chunked_fwd(exec, y, states, scores, xbc, dt, dt_bias, A_log, D);
  ssd_chunked_bwd(exec, dxbc, ddt, d_dt_bias, dA_log, dD, recompute_states ? View4() : states, scores, dy, xbc, dt,
                  dt_bias, A_log, D);
  Results r;
  r.y = to_host(y);
  r.dxbc = to_host(dxbc);
  r.ddt = to_host(ddt);
  r.d_dt_bias = to_host(d_dt_bias);
  r.dA_log = to_host(dA_log);
  r.dD = to_host(dD);
  for (auto* g : {&r.d_dt_bias, &r.dA_log, &r.dD})
    for (double& e : *g) e -= initial_param_grad;
  return r;
}

Results run_reference(const SsdInputs& in) {
  Results r;
  ssd_reference_fwd(r.y, widen(in.xbc), widen(in.dt), widen(in.dt_bias), widen(in.A_log), widen(in.D), in.n);
  ssd_reference_bwd(r.dxbc, r.ddt, r.d_dt_bias, r.dA_log, r.dD, widen(in.dy), widen(in.xbc), widen(in.dt),
                    widen(in.dt_bias), widen(in.A_log), widen(in.D), in.n);
  return r;
}

void expect_close(const SsdInputs& in, DecayRegime regime, float initial_param_grad = 0.0f,
                  double tolerance = kChunkedTolerance, bool recompute_states = false) {
  const Results ref = run_reference(in), out = run_chunked(in, initial_param_grad, recompute_states);
  std::ostringstream where;
  where << "B=" << in.n.B << " T=" << in.n.T << " H=" << in.n.H << " P=" << in.n.P << " N=" << in.n.N << " "
        << testing::regime_name(regime);
  const struct {
    const char* name;
    const std::vector<double>& ref;
    const std::vector<double>& out;
  } checks[] = {{"y", ref.y, out.y},       {"dxbc", ref.dxbc, out.dxbc},
                {"ddt", ref.ddt, out.ddt}, {"d_dt_bias", ref.d_dt_bias, out.d_dt_bias},
                {"dA_log", ref.dA_log, out.dA_log}, {"dD", ref.dD, out.dD}};
  std::ostringstream line;
  for (const auto& c : checks) {
    const double e = err_ratio(c.ref, c.out);
    EXPECT_LE(e, tolerance) << where.str() << " " << c.name;
    line << " " << c.name << "=" << e;
  }
  std::printf("[ err_ratio ] %s:%s\n", where.str().c_str(), line.str().c_str());
}

// Given no states, the backward recomputes them: the same gradients, bit for bit, as from the forward's states, and
// within the tolerance of the fp64 reference (both decay regimes, a last partial chunk, several state slabs).
TEST(SsdChunked, BackwardRecomputesTheStates) {
  const std::pair<SsdSizes, DecayRegime> cases[] = {{{2, 150, 3, 5, 4}, DecayRegime::kLayer},
                                                    {{1, 130, 2, 64, 128}, DecayRegime::kStrong}};
  for (const auto& [sizes, regime] : cases) {
    const SsdInputs in = testing::make_inputs(sizes, regime, 9u);
    const Results saved = run_chunked(in, 0.0f), recomputed = run_chunked(in, 0.0f, true);
    EXPECT_EQ(saved.dxbc, recomputed.dxbc);
    EXPECT_EQ(saved.ddt, recomputed.ddt);
    EXPECT_EQ(saved.d_dt_bias, recomputed.d_dt_bias);
    EXPECT_EQ(saved.dA_log, recomputed.dA_log);
    EXPECT_EQ(saved.dD, recomputed.dD);
    expect_close(in, regime, 0.0f, kChunkedTolerance, true);
  }
}

TEST(SsdChunked, MatchesReferenceOnAwkwardShapes) {
  unsigned seed = 100;
  for (DecayRegime regime : {DecayRegime::kLayer, DecayRegime::kStrong}) {
    for (int T : {1, 63, 64, 65, 130}) {
      expect_close(testing::make_inputs(SsdSizes{2, T, 3, 5, 7}, regime, seed++), regime);
    }
  }
}

TEST(SsdChunked, MatchesReferenceAtGoldenLayerSizes) {
  // d = 64, H = 4: P = 16, 8 SSD heads, N = 16; T = 200 spans four chunks, the last one partial.
  expect_close(testing::make_inputs(SsdSizes{1, 200, 8, 16, 16}, DecayRegime::kLayer, 7), DecayRegime::kLayer);
}

TEST(SsdChunked, MatchesReferenceWhenTheTilesSplitEveryContraction) {
  // Mamba2 d = 128 head and state sizes (P = 64, N = 128): the team-scratch budget forces token, state and head-dim
  // tiles narrower than their contraction, so every product runs over several staged tiles, and dB / dC run over
  // four state slabs. The second shape has a partial last state slab (N = 72) and an odd head dimension; the third
  // a head dimension above the chunk length (P = 96).
  expect_close(testing::make_inputs(SsdSizes{1, 130, 2, 64, 128}, DecayRegime::kLayer, 11), DecayRegime::kLayer);
  expect_close(testing::make_inputs(SsdSizes{2, 100, 3, 41, 72}, DecayRegime::kStrong, 12), DecayRegime::kStrong);
  expect_close(testing::make_inputs(SsdSizes{1, 70, 2, 96, 24}, DecayRegime::kLayer, 13), DecayRegime::kLayer);
}

// tf32 and bf16 runs use tf32 tile products (tensor cores on CUDA), operands rounded to 10 mantissa bits: within
// 5e-3 of the fp64 reference. The precision exists only on CUDA builds with cuBLAS.
TEST(SsdChunked, Tf32TileProducts) {
  if (!matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 needs a CUDA build with cuBLAS";
  const ::selectiv::testing::ScopedMatmulPrecision tf32(MatmulPrecision::kTf32);
  expect_close(testing::make_inputs(SsdSizes{1, 130, 2, 64, 128}, DecayRegime::kLayer, 21), DecayRegime::kLayer, 0.0f,
               5e-3);
  expect_close(testing::make_inputs(SsdSizes{2, 100, 3, 41, 72}, DecayRegime::kStrong, 22), DecayRegime::kStrong, 0.0f,
               5e-3);
}

TEST(SsdChunked, ParameterGradientsAccumulate) {
  expect_close(testing::make_inputs(SsdSizes{2, 70, 2, 3, 4}, DecayRegime::kLayer, 3), DecayRegime::kLayer, 0.75f);
}

}  // namespace
}  // namespace selectiv::ssd
