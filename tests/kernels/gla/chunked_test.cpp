// SPDX-License-Identifier: BSD-3-Clause
// The chunked Kokkos GLA kernels against the fp64 host reference: o, ht, dq, dk, dv, dg, dh0 and the saved chunk
// states, on awkward shapes (T = 1, 63, 64, 65, 130, 200; K != V; odd head dims; K and V below, at and past the
// kernels' 32-wide feature tiles and 16-wide contraction steps) and three gate regimes, with and without h0 / dht.
#include "kernels/gla/chunked.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gla_inputs.hpp"
#include "kernels/common/views.hpp"
#include "kernels/gla/reference.hpp"
#include "support/testing.hpp"

namespace selectiv::gla {
namespace {

using testing::GateRegime;
using testing::GlaInputs;
using ::selectiv::testing::err_ratio;

// fp32 chunked kernels against the fp64 reference on the same fp32 inputs (README.md §5).
constexpr double kChunkedTolerance = 1e-5;

View4 to_device(const std::vector<float>& x, int e0, int e1, int e2, int e3, const char* label) {
  View4 out(std::string(label), e0, e1, e2, e3);
  auto host = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < x.size(); ++i) host.data()[i] = x[i];
  Kokkos::deep_copy(out, host);
  return out;
}

std::vector<double> to_host(const View4& x) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  return std::vector<double>(host.data(), host.data() + host.size());
}

struct Results {
  std::vector<double> o, ht, dq, dk, dv, dg, dh0, states;
};

// Runs gla_chunked_fwd then gla_chunked_bwd; ht / dh0 are requested only when asked for.
// With `recompute_states` the backward is given no states and recomputes them (inputs without h0).
Results run_chunked(const GlaInputs& in, bool want_ht = true, bool want_dh0 = true, bool recompute_states = false) {
  const GlaSizes& n = in.n;
  const View4 q = to_device(in.q, n.B, n.T, n.H, n.K, "q"), k = to_device(in.k, n.B, n.T, n.H, n.K, "k");
  const View4 v = to_device(in.v, n.B, n.T, n.H, n.V, "v"), g = to_device(in.g, n.B, n.T, n.H, n.K, "g");
  const View4 do_ = to_device(in.do_, n.B, n.T, n.H, n.V, "do");
  const View4 h0 = in.h0.empty() ? View4() : to_device(in.h0, n.B, n.H, n.K, n.V, "h0");
  const View4 dht = in.dht.empty() ? View4() : to_device(in.dht, n.B, n.H, n.K, n.V, "dht");
  View4 o("o", n.B, n.T, n.H, n.V), dv("dv", n.B, n.T, n.H, n.V);
  View4 dq("dq", n.B, n.T, n.H, n.K), dk("dk", n.B, n.T, n.H, n.K), dg("dg", n.B, n.T, n.H, n.K);
  View4 ht = want_ht ? View4("ht", n.B, n.H, n.K, n.V) : View4();
  View4 dh0 = want_dh0 ? View4("dh0", n.B, n.H, n.K, n.V) : View4();
  View4 states = gla_allocate_states(n.B, n.T, n.H, n.K, n.V);
  View4 scores = gla_allocate_scores(n.B, n.T, n.H);
  const Exec exec;
  gla_chunked_fwd(exec, o, ht, states, scores, q, k, v, g, h0, in.scale);
  gla_chunked_bwd(exec, dq, dk, dv, dg, dh0, recompute_states ? View4() : states, scores, do_, dht, q, k, v, g,
                  in.scale);
  Results r;
  r.o = to_host(o);
  if (want_ht) r.ht = to_host(ht);
  r.dq = to_host(dq);
  r.dk = to_host(dk);
  r.dv = to_host(dv);
  r.dg = to_host(dg);
  if (want_dh0) r.dh0 = to_host(dh0);
  r.states = to_host(states);
  return r;
}

Results run_reference(const GlaInputs& in) {
  using testing::widen;
  Results r;
  gla_reference_fwd(r.o, r.ht, widen(in.q), widen(in.k), widen(in.v), widen(in.g), widen(in.h0), in.scale, in.n);
  gla_reference_bwd(r.dq, r.dk, r.dv, r.dg, r.dh0, widen(in.do_), widen(in.dht), widen(in.q), widen(in.k),
                    widen(in.v), widen(in.g), widen(in.h0), in.scale, in.n);
  return r;
}

// err_ratio with the largest absolute difference and the first index where it exceeds 1e-3 of rms(ref).
void expect_close(const std::vector<double>& ref, const std::vector<double>& out, const std::string& what) {
  ASSERT_EQ(ref.size(), out.size()) << what;
  const double ratio = err_ratio(ref, out);
  double max_abs = 0.0, rms = 0.0;
  for (double x : ref) rms += x * x;
  rms = std::sqrt(rms / std::max<std::size_t>(1, ref.size()));
  long first_bad = -1;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double diff = std::fabs(ref[i] - out[i]);
    max_abs = std::max(max_abs, diff);
    if (first_bad < 0 && diff > 1e-3 * rms) first_bad = static_cast<long>(i);
  }
  EXPECT_LE(ratio, kChunkedTolerance) << what << ": err_ratio " << ratio << ", max |diff| " << max_abs
                                      << ", first index off by > 1e-3 rms: " << first_bad;
}

// Every gradient (dq, dk, dv, dg, dh0) of `out` within the tolerance of the reference's.
void expect_gradients_close(const Results& ref, const Results& out) {
  expect_close(ref.dq, out.dq, "dq");
  expect_close(ref.dk, out.dk, "dk");
  expect_close(ref.dv, out.dv, "dv");
  expect_close(ref.dg, out.dg, "dg");
  expect_close(ref.dh0, out.dh0, "dh0");
}

struct Case {
  GlaSizes n;
  GateRegime gate;
  bool with_h0, with_dht;
};

std::string case_name(const Case& c) {
  std::ostringstream s;
  s << "B" << c.n.B << "_T" << c.n.T << "_H" << c.n.H << "_K" << c.n.K << "_V" << c.n.V << "_"
    << testing::gate_name(c.gate) << (c.with_h0 ? "_h0" : "") << (c.with_dht ? "_dht" : "");
  return s.str();
}

std::vector<Case> all_cases() {
  const GlaSizes shapes[] = {
      {1, 1, 1, 5, 7},    // one token
      {2, 63, 3, 5, 7},   // one partial chunk
      {2, 64, 3, 5, 7},   // exactly one chunk
      {2, 65, 3, 5, 7},   // one chunk and one token
      {2, 130, 3, 5, 7},  // two chunks and a partial one
      {1, 130, 2, 16, 32},  // the golden model's head dims (K = d/H = 16, V = 2K)
      {2, 65, 1, 9, 3},   // K > V
      {1, 200, 1, 6, 40},  // two value tiles, the second partial
      {1, 130, 2, 40, 70},  // K, V wider than a 32-wide team tile: two key tiles, three value tiles, partial steps
      {1, 70, 1, 64, 128},  // the d = 256 GLA head (K = 64, V = 2K): several full tiles and contraction steps
      {2, 65, 1, 33, 17},  // one key channel past a tile, one value column past a 16-wide contraction step
  };
  const GateRegime gates[] = {GateRegime::kLayer, GateRegime::kStrong, GateRegime::kTen};
  std::vector<Case> cases;
  for (const GlaSizes& n : shapes)
    for (GateRegime gate : gates)
      for (bool with_state : {false, true}) cases.push_back({n, gate, with_state, with_state});
  // The two optional tensors independently.
  cases.push_back({{2, 65, 3, 5, 7}, GateRegime::kLayer, true, false});
  cases.push_back({{2, 65, 3, 5, 7}, GateRegime::kStrong, false, true});
  return cases;
}

class GlaChunked : public ::testing::TestWithParam<Case> {};

TEST_P(GlaChunked, MatchesReferenceForwardAndBackward) {
  const Case& c = GetParam();
  const GlaInputs in = testing::make_inputs(c.n, c.gate, c.with_h0, c.with_dht, 1000u + c.n.T * 7u + c.n.K);
  const Results ref = run_reference(in);
  const Results out = run_chunked(in);
  expect_close(ref.o, out.o, "o");
  expect_close(ref.ht, out.ht, "ht");
  expect_gradients_close(ref, out);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GlaChunked, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

// The saved states S_[n] are the reference's final states of the first n * C tokens (small heads, and heads wider
// than the kernels' feature tiles).
class GlaChunkedStates : public ::testing::TestWithParam<GlaSizes> {};

TEST_P(GlaChunkedStates, SavedStatesAreTheStatesAtChunkBoundaries) {
  const GlaSizes n = GetParam();
  const GlaInputs in = testing::make_inputs(n, GateRegime::kLayer, true, true, 77u);
  const Results out = run_chunked(in);
  const int NT = gla_num_chunks(n.T);
  ASSERT_EQ(NT, 3);
  for (int chunk = 0; chunk < NT; ++chunk) {
    // Reference over the first chunk * C tokens (none: the state is h0).
    const int T1 = chunk * kChunk;
    std::vector<double> expected = testing::widen(in.h0);
    if (T1 > 0) {
      GlaInputs prefix = in;
      prefix.n.T = T1;
      auto cut = [&](const std::vector<float>& x, int D) {
        std::vector<float> y;
        for (int b = 0; b < n.B; ++b) {
          const auto begin = x.begin() + static_cast<long>(b) * n.T * n.H * D;
          y.insert(y.end(), begin, begin + static_cast<long>(T1) * n.H * D);
        }
        return y;
      };
      prefix.q = cut(in.q, n.K);
      prefix.k = cut(in.k, n.K);
      prefix.v = cut(in.v, n.V);
      prefix.g = cut(in.g, n.K);
      std::vector<double> o;
      gla_reference_fwd(o, expected, testing::widen(prefix.q), testing::widen(prefix.k), testing::widen(prefix.v),
                        testing::widen(prefix.g), testing::widen(prefix.h0), prefix.scale, prefix.n);
    }
    // states (B, H, NT * K, V) -> the (B, H, K, V) block of this chunk.
    std::vector<double> saved;
    for (int b = 0; b < n.B; ++b)
      for (int h = 0; h < n.H; ++h)
        for (int kk = 0; kk < n.K; ++kk)
          for (int vv = 0; vv < n.V; ++vv)
            saved.push_back(out.states[((static_cast<std::size_t>(b) * n.H + h) * NT * n.K + chunk * n.K + kk) * n.V + vv]);
    expect_close(expected, saved, "states[" + std::to_string(chunk) + "]");
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GlaChunkedStates,
                         ::testing::Values(GlaSizes{2, 150, 2, 5, 7}, GlaSizes{1, 150, 2, 40, 70}),
                         [](const ::testing::TestParamInfo<GlaSizes>& info) {
                           return "K" + std::to_string(info.param.K) + "_V" + std::to_string(info.param.V);
                         });

// ht and dh0 may be left empty; the other outputs do not change.
TEST(GlaChunkedOptional, EmptyHtAndDh0AreSkipped) {
  const GlaInputs in = testing::make_inputs({2, 70, 2, 5, 7}, GateRegime::kStrong, true, true, 5u);
  const Results full = run_chunked(in, true, true);
  const Results partial = run_chunked(in, false, false);
  EXPECT_TRUE(partial.ht.empty());
  EXPECT_TRUE(partial.dh0.empty());
  EXPECT_EQ(full.o, partial.o);
  EXPECT_EQ(full.dq, partial.dq);
  EXPECT_EQ(full.dk, partial.dk);
  EXPECT_EQ(full.dv, partial.dv);
  EXPECT_EQ(full.dg, partial.dg);
}

// Given no states (and a forward without h0), the backward recomputes them: the same gradients, bit for bit, as from
// the forward's states, and within the tolerance of the fp64 reference (three gate regimes, heads wider than a tile).
TEST(GlaChunkedOptional, BackwardRecomputesTheStates) {
  const std::pair<GlaSizes, GateRegime> cases[] = {{{2, 150, 2, 5, 7}, GateRegime::kStrong},
                                                   {{1, 150, 2, 40, 70}, GateRegime::kLayer},
                                                   {{2, 64, 1, 16, 16}, GateRegime::kTen}};
  for (const auto& [sizes, regime] : cases) {
    SCOPED_TRACE("T " + std::to_string(sizes.T) + " K " + std::to_string(sizes.K));
    const GlaInputs in = testing::make_inputs(sizes, regime, false, true, 9u);
    const Results saved = run_chunked(in);
    const Results recomputed = run_chunked(in, true, true, true);
    EXPECT_EQ(saved.dq, recomputed.dq);
    EXPECT_EQ(saved.dk, recomputed.dk);
    EXPECT_EQ(saved.dv, recomputed.dv);
    EXPECT_EQ(saved.dg, recomputed.dg);
    EXPECT_EQ(saved.dh0, recomputed.dh0);
    expect_gradients_close(run_reference(in), recomputed);
  }
}

TEST(GlaChunkedShapes, RejectsMismatchedExtents) {
  View4 q("q", 1, 3, 1, 4), k("k", 1, 3, 1, 4), g("g", 1, 3, 1, 4), v("v", 1, 3, 1, 5), o("o", 1, 3, 1, 5);
  View4 wrong_states("states", 1, 1, 4, 4);  // V should be 5
  View4 scores = gla_allocate_scores(1, 3, 1);
  EXPECT_THROW(gla_chunked_fwd(Exec(), o, View4(), wrong_states, scores, q, k, v, g, View4(), 0.5f),
               std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::gla
