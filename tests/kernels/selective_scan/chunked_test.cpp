// SPDX-License-Identifier: BSD-3-Clause
// The chunked Kokkos selective scan against the fp64 host reference: y, ht, dx, ddt, dA, dB, dC, dD and the saved
// chunk states, on awkward shapes (T = 1, 63, 64, 65, 130, 200; odd channel and state counts) and two step regimes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/views.hpp"
#include "kernels/selective_scan/chunked.hpp"
#include "kernels/selective_scan/reference.hpp"
#include "scan_inputs.hpp"
#include "support/testing.hpp"

namespace selectiv::selective_scan {
namespace {

using testing::StepRegime;
using ::selectiv::testing::err_ratio;

// fp32 chunked kernels against the fp64 reference on the same fp32 inputs (README.md §5).
constexpr double kChunkedTolerance = 1e-5;

template <class ViewType>
void fill(const ViewType& out, const std::vector<float>& values) {
  auto host = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = values[i];
  Kokkos::deep_copy(out, host);
}

View3 to_device3(const std::vector<float>& v, int e0, int e1, int e2, const char* label) {
  View3 out(std::string(label), e0, e1, e2);
  fill(out, v);
  return out;
}

template <class ViewType>
std::vector<double> to_host(const ViewType& v) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(host.data(), host.data() + host.size());
}

struct Results {
  std::vector<double> y, ht, dx, ddt, dA, dB, dC, dD, states;
};

// Runs the chunked forward and backward. The parameter gradients start from `seed_grad` in every entry, to check
// that they accumulate; the returned dA, dD have it subtracted again.
Results run_chunked(const testing::ScanInputs& in, float seed_grad = 0.0f) {
  const ScanSizes& n = in.n;
  const View3 x = to_device3(in.x, n.B, n.T, n.Din, "x"), dt = to_device3(in.dt, n.B, n.T, n.Din, "dt");
  const View3 Bm = to_device3(in.Bm, n.B, n.T, n.N, "B"), Cm = to_device3(in.Cm, n.B, n.T, n.N, "C");
  const View3 dy = to_device3(in.dy, n.B, n.T, n.Din, "dy");
  View2 A("A", n.Din, n.N);
  fill(A, in.A);
  View1 D("D", n.Din);
  fill(D, in.D);
  View3 y("y", n.B, n.T, n.Din), ht("ht", n.B, n.Din, n.N), dx("dx", n.B, n.T, n.Din), ddt("ddt", n.B, n.T, n.Din);
  View3 dB("dB", n.B, n.T, n.N), dC("dC", n.B, n.T, n.N);
  View2 dA("dA", n.Din, n.N);
  View1 dD("dD", n.Din);
  Kokkos::deep_copy(dA, seed_grad);
  Kokkos::deep_copy(dD, seed_grad);
  View4 states = selective_scan_allocate_states(n.B, n.T, n.Din, n.N);
  const Exec exec;
  selective_scan_chunked_fwd(exec, y, ht, states, x, dt, A, Bm, Cm, D);
  selective_scan_chunked_bwd(exec, dx, ddt, dA, dB, dC, dD, states, dy, x, dt, A, Bm, Cm, D);
  Results r;
  r.y = to_host(y);
  r.ht = to_host(ht);
  r.dx = to_host(dx);
  r.ddt = to_host(ddt);
  r.dA = to_host(dA);
  r.dB = to_host(dB);
  r.dC = to_host(dC);
  r.dD = to_host(dD);
  for (double& e : r.dA) e -= seed_grad;
  for (double& e : r.dD) e -= seed_grad;
  r.states = to_host(states);
  return r;
}

Results run_reference(const testing::ScanInputs& in) {
  using testing::widen;
  Results r;
  selective_scan_reference_fwd(r.y, r.ht, widen(in.x), widen(in.dt), widen(in.A), widen(in.Bm), widen(in.Cm),
                               widen(in.D), in.n);
  selective_scan_reference_bwd(r.dx, r.ddt, r.dA, r.dB, r.dC, r.dD, widen(in.dy), widen(in.x), widen(in.dt),
                               widen(in.A), widen(in.Bm), widen(in.Cm), widen(in.D), in.n);
  return r;
}

void expect_close(const std::vector<double>& ref, const std::vector<double>& out, const std::string& what,
                  double tolerance = kChunkedTolerance) {
  ASSERT_EQ(ref.size(), out.size()) << what;
  double max_abs = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) max_abs = std::max(max_abs, std::fabs(ref[i] - out[i]));
  EXPECT_LE(err_ratio(ref, out), tolerance) << what << ": err_ratio " << err_ratio(ref, out) << ", max |diff| "
                                            << max_abs;
}

struct Case {
  ScanSizes n;
  StepRegime steps;
};

std::string case_name(const Case& c) {
  std::ostringstream s;
  s << "B" << c.n.B << "_T" << c.n.T << "_Din" << c.n.Din << "_N" << c.n.N << "_" << testing::step_name(c.steps);
  return s.str();
}

std::vector<Case> all_cases() {
  const ScanSizes shapes[] = {
      {1, 1, 1, 1},      // one token, one channel, one state entry
      {2, 63, 5, 3},     // one partial chunk
      {2, 64, 5, 3},     // exactly one chunk
      {2, 65, 5, 7},     // one chunk and one token
      {3, 130, 7, 16},   // two chunks and a partial one, the golden model's d_state
      {1, 200, 3, 5},    // four chunks, the last partial
      {2, 129, 128, 16}, // the golden model's channel count
  };
  std::vector<Case> cases;
  for (const ScanSizes& n : shapes)
    for (StepRegime steps : {StepRegime::kLayer, StepRegime::kStrong}) cases.push_back({n, steps});
  return cases;
}

class SelectiveScanChunked : public ::testing::TestWithParam<Case> {};

TEST_P(SelectiveScanChunked, MatchesReferenceForwardAndBackward) {
  const Case& c = GetParam();
  const testing::ScanInputs in = testing::make_inputs(c.n, c.steps, 500u + c.n.T * 3u + c.n.Din);
  const Results ref = run_reference(in);
  const Results out = run_chunked(in);
  expect_close(ref.y, out.y, "y");
  expect_close(ref.ht, out.ht, "ht");
  expect_close(ref.dx, out.dx, "dx");
  expect_close(ref.ddt, out.ddt, "ddt");
  expect_close(ref.dA, out.dA, "dA");
  expect_close(ref.dB, out.dB, "dB");
  expect_close(ref.dC, out.dC, "dC");
  expect_close(ref.dD, out.dD, "dD");
}

INSTANTIATE_TEST_SUITE_P(Shapes, SelectiveScanChunked, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

// The saved states S_[n] are the reference's final states of the first n * C tokens (zero for n = 0).
TEST(SelectiveScanChunkedStates, SavedStatesAreTheStatesAtChunkBoundaries) {
  const ScanSizes n{2, 150, 4, 6};
  const testing::ScanInputs in = testing::make_inputs(n, StepRegime::kLayer, 77u);
  const Results out = run_chunked(in);
  const int NT = scan_num_chunks(n.T);
  ASSERT_EQ(NT, 3);
  for (int chunk = 0; chunk < NT; ++chunk) {
    const int T1 = chunk * kChunk;
    std::vector<double> expected(static_cast<std::size_t>(n.B) * n.Din * n.N, 0.0);
    if (T1 > 0) {
      ScanSizes prefix = n;
      prefix.T = T1;
      auto cut = [&](const std::vector<float>& v, int width) {
        std::vector<double> out;
        for (int b = 0; b < n.B; ++b) {
          const auto begin = v.begin() + static_cast<long>(b) * n.T * width;
          out.insert(out.end(), begin, begin + static_cast<long>(T1) * width);
        }
        return out;
      };
      std::vector<double> y;
      selective_scan_reference_fwd(y, expected, cut(in.x, n.Din), cut(in.dt, n.Din), testing::widen(in.A),
                                   cut(in.Bm, n.N), cut(in.Cm, n.N), testing::widen(in.D), prefix);
    }
    std::vector<double> saved;
    for (int b = 0; b < n.B; ++b)
      for (int c = 0; c < n.Din; ++c)
        for (int s = 0; s < n.N; ++s)
          saved.push_back(out.states[((static_cast<std::size_t>(b) * NT + chunk) * n.Din + c) * n.N + s]);
    if (chunk == 0) {
      EXPECT_EQ(saved, expected) << "the state before the first chunk is zero";
    } else {
      expect_close(expected, saved, "states[" + std::to_string(chunk) + "]");
    }
  }
}

// dA and dD accumulate into what is already there; the activation gradients do not depend on it.
TEST(SelectiveScanChunkedAccumulation, ParameterGradientsAccumulate) {
  const testing::ScanInputs in = testing::make_inputs({2, 70, 3, 4}, StepRegime::kLayer, 9u);
  const Results fresh = run_chunked(in, 0.0f);
  const Results seeded = run_chunked(in, 2.5f);
  expect_close(fresh.dA, seeded.dA, "dA", 1e-6);
  expect_close(fresh.dD, seeded.dD, "dD", 1e-6);
  EXPECT_EQ(fresh.dx, seeded.dx);
  EXPECT_EQ(fresh.dB, seeded.dB);
}

}  // namespace
}  // namespace selectiv::selective_scan
