// SPDX-License-Identifier: BSD-3-Clause
// Batch expansion against its host twin, against the reference's time-series semantics (reference-spec §2.8)
// checked property by property on the device output, against the documented Philox noise formula, and on the time
// lengths of the four tasks (§2.10).
#include <gtest/gtest.h>

#include <Random123/philox.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/nn/expand_batch.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

// A batch of compact samples (row-major host vectors) and its expansion.
struct Compact {
  int B = 0, E = 0, V = 0;
  std::vector<int> symbol, target, gap;    // (B, E)
  std::vector<std::int64_t> offset;        // (B + 1)
  std::vector<int> distractors;            // (M)
  std::vector<std::int64_t> index;         // (B)
  std::vector<int> steps;                  // (B)
  int longest() const { return *std::max_element(steps.begin(), steps.end()); }
};

struct Expanded {
  std::vector<float> inputs;  // (B, T, V)
  std::vector<int> targets;   // (B, T)
  std::vector<float> mask;    // (B, T)
  std::vector<int> start, length;  // (B, E)
};

// Gaps from `draw_gap(rng, e)`; distractors (if asked) uniform over [0, V).
template <class GapFn>
Compact make_compact(int B, int E, int V, bool distractors, unsigned seed, GapFn draw_gap) {
  std::mt19937_64 rng(seed);
  Compact c;
  c.B = B;
  c.E = E;
  c.V = V;
  c.offset.push_back(0);
  for (int b = 0; b < B; ++b) {
    int steps = 0;
    for (int e = 0; e < E; ++e) {
      c.symbol.push_back(static_cast<int>(rng() % static_cast<unsigned>(V)));
      c.target.push_back(static_cast<int>(rng() % 1601));
      int g = draw_gap(rng, e);
      c.gap.push_back(g);
      steps += 1 + g;
      if (distractors) {
        for (int k = 0; k < g; ++k) c.distractors.push_back(static_cast<int>(rng() % static_cast<unsigned>(V)));
      }
    }
    c.offset.push_back(static_cast<std::int64_t>(c.distractors.size()));
    c.index.push_back(1000 + 7 * b);
    c.steps.push_back(steps);
  }
  return c;
}

template <class T>
DeviceView1<T> to_device(const std::vector<T>& host, const char* label) {
  DeviceView1<T> view(std::string(label), host.size());
  auto mirror = Kokkos::create_mirror_view(view);
  for (std::size_t i = 0; i < host.size(); ++i) mirror(i) = host[i];
  Kokkos::deep_copy(view, mirror);
  return view;
}

DeviceView2<int> to_device2(const std::vector<int>& host, int rows, int cols, const char* label) {
  DeviceView2<int> view(std::string(label), rows, cols);
  auto mirror = Kokkos::create_mirror_view(view);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) mirror(i, j) = host[static_cast<std::size_t>(i) * cols + j];
  }
  Kokkos::deep_copy(view, mirror);
  return view;
}

template <class View>
std::vector<typename View::non_const_value_type> to_host(const View& view) {
  auto mirror = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<typename View::non_const_value_type>(mirror.data(), mirror.data() + mirror.size());
}

Expanded run_device(const Compact& c, int T, const ExpandParams& params) {
  View3 inputs("inputs", c.B, T, c.V);
  IView2 targets("targets", c.B, T), start("start", c.B, c.E), length("length", c.B, c.E);
  View2 mask("mask", c.B, T);
  expand_batch(Exec(), inputs, targets, mask, start, length, to_device2(c.symbol, c.B, c.E, "symbol"),
               to_device2(c.target, c.B, c.E, "target"), to_device2(c.gap, c.B, c.E, "gap"),
               to_device(c.offset, "offset"), to_device(c.distractors, "distractors"), to_device(c.index, "index"),
               params);
  return {to_host(inputs), to_host(targets), to_host(mask), to_host(start), to_host(length)};
}

Expanded run_twin(const Compact& c, int T, const ExpandParams& params) {
  Expanded x;
  expand_batch_reference(x.inputs, x.targets, x.mask, x.start, x.length, c.symbol, c.target, c.gap, c.offset,
                         c.distractors, c.index, params, c.B, T, c.E, c.V);
  return x;
}

// The noise formula of expand_batch.hpp, written out with Random123 directly.
float documented_noise(std::uint64_t seed, std::uint32_t split, std::int64_t index, std::int64_t t, int v) {
  r123::Philox4x32 philox;
  r123::Philox4x32::ctr_type counter = {{static_cast<std::uint32_t>(index & 0xFFFFFFFF), static_cast<std::uint32_t>(t),
                                         static_cast<std::uint32_t>(v / 4),
                                         static_cast<std::uint32_t>(((index >> 32) & 0xFFFF) << 16) | 0x400u | split}};
  r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed & 0xFFFFFFFF), static_cast<std::uint32_t>(seed >> 32)}};
  return static_cast<float>(philox(counter, key).v[v % 4] >> 8) / 16777216.0f;
}

// §2.8 as properties of an expansion: windows tile [0, steps) in element order; a window's first step is the
// one-hot symbol, its other steps zeros or the sample's distractors in order; targets are the element's; padding
// is all zero with mask 0; noise lies in [0, noise) and equals the documented formula.
void expect_reference_semantics(const Compact& c, const Expanded& x, int T, const ExpandParams& params) {
  const int V = c.V;
  for (int b = 0; b < c.B; ++b) {
    int t = 0;
    std::int64_t d = c.offset[static_cast<std::size_t>(b)];
    for (int e = 0; e < c.E; ++e) {
      const std::size_t be = static_cast<std::size_t>(b) * c.E + e;
      ASSERT_EQ(x.start[be], t) << "b=" << b << " e=" << e;
      ASSERT_EQ(x.length[be], 1 + c.gap[be]);
      for (int k = 0; k <= c.gap[be]; ++k, ++t) {
        int hot = k == 0 ? c.symbol[be] : params.gaps_are_distractors ? c.distractors[static_cast<std::size_t>(d++)] : -1;
        const std::size_t bt = static_cast<std::size_t>(b) * T + t;
        ASSERT_EQ(x.targets[bt], c.target[be]);
        ASSERT_EQ(x.mask[bt], 1.0f);
        for (int v = 0; v < V; ++v) {
          float value = x.inputs[bt * V + v] - (v == hot ? 1.0f : 0.0f);
          float expected = params.noise * documented_noise(params.seed, params.split, c.index[b], t, v);
          ASSERT_NEAR(value, expected, 1e-6f) << "b=" << b << " t=" << t << " v=" << v;
          ASSERT_GE(value, -1e-6f);
          ASSERT_LT(value, params.noise + 1e-6f);
        }
      }
    }
    ASSERT_EQ(t, c.steps[static_cast<std::size_t>(b)]);
    for (; t < T; ++t) {
      const std::size_t bt = static_cast<std::size_t>(b) * T + t;
      ASSERT_EQ(x.mask[bt], 0.0f);
      ASSERT_EQ(x.targets[bt], 0);
      for (int v = 0; v < V; ++v) ASSERT_EQ(x.inputs[bt * V + v], 0.0f);
    }
  }
}

void expect_same(const Expanded& a, const Expanded& b) {
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_EQ(a.mask, b.mask);
  // One-hot + noise * u is exact in fp32 except where a backend contracts it into an FMA.
  EXPECT_LE(testing::err_ratio(a.inputs, b.inputs), 1e-7);
}

int uniform_gap(std::mt19937_64& rng, int) { return static_cast<int>(rng() % 5); }

TEST(ExpandBatch, ZeroGapsWithNoiseMatchTwinAndSemantics) {
  Compact c = make_compact(5, 9, 7, false, 1, uniform_gap);
  ExpandParams params;
  params.noise = 0.2f;
  params.seed = 42;
  params.split = 1;
  const int T = c.longest() + 3;
  Expanded device = run_device(c, T, params);
  expect_same(device, run_twin(c, T, params));
  expect_reference_semantics(c, device, T, params);
}

TEST(ExpandBatch, DistractorsMatchTwinAndSemantics) {
  Compact c = make_compact(4, 11, 9, true, 2, uniform_gap);
  ExpandParams params;
  params.gaps_are_distractors = true;
  const int T = c.longest();
  Expanded device = run_device(c, T, params);
  expect_same(device, run_twin(c, T, params));
  expect_reference_semantics(c, device, T, params);
  params.noise = 0.5f;
  params.seed = (std::uint64_t{1} << 40) + 3;
  device = run_device(c, T + 1, params);
  expect_same(device, run_twin(c, T + 1, params));
  expect_reference_semantics(c, device, T + 1, params);
}

TEST(ExpandBatch, NoiseDependsOnTheSampleNotOnItsBatch) {
  Compact c = make_compact(3, 6, 5, false, 3, uniform_gap);
  ExpandParams params;
  params.noise = 0.3f;
  params.seed = 9;
  Expanded all = run_device(c, c.longest(), params);
  // Sample 2 alone, in a longer batch.
  Compact alone;
  alone.B = 1;
  alone.E = c.E;
  alone.V = c.V;
  alone.symbol.assign(c.symbol.begin() + 2 * c.E, c.symbol.end());
  alone.target.assign(c.target.begin() + 2 * c.E, c.target.end());
  alone.gap.assign(c.gap.begin() + 2 * c.E, c.gap.end());
  alone.offset = {0, 0};
  alone.index = {c.index[2]};
  alone.steps = {c.steps[2]};
  const int T = c.longest() + 10;
  Expanded one = run_device(alone, T, params);
  for (int t = 0; t < c.steps[2]; ++t) {
    for (int v = 0; v < c.V; ++v) {
      ASSERT_EQ(one.inputs[static_cast<std::size_t>(t) * c.V + v],
                all.inputs[(2 * static_cast<std::size_t>(c.longest()) + t) * c.V + v]);
    }
  }
  // Another split or seed gives other noise.
  params.split = 2;
  Expanded other = run_device(alone, T, params);
  EXPECT_NE(other.inputs, one.inputs);
  // Statistics of u over many entries: mean 1/2.
  double sum = 0.0;
  int n = 0;
  for (std::size_t i = 0; i < one.inputs.size(); ++i) {
    if (one.mask[i / c.V] == 0.0f) continue;
    double u = (one.inputs[i] - std::floor(one.inputs[i])) / 0.3;
    sum += u;
    ++n;
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
}

// Time steps of each sample of a task-shaped batch (E = 200, V = 41), through the device kernel.
std::vector<int> device_steps(const Compact& c, bool distractors) {
  ExpandParams params;
  params.gaps_are_distractors = distractors;
  const int T = c.longest();
  Expanded x = run_device(c, T, params);
  std::vector<int> steps;
  for (int b = 0; b < c.B; ++b) {
    steps.push_back(static_cast<int>(std::accumulate(x.mask.begin() + static_cast<std::ptrdiff_t>(b) * T,
                                                     x.mask.begin() + static_cast<std::ptrdiff_t>(b + 1) * T, 0.0)));
    EXPECT_EQ(x.start[static_cast<std::size_t>(b) * 200 + 199] + x.length[static_cast<std::size_t>(b) * 200 + 199],
              steps.back());
  }
  return steps;
}

TEST(ExpandBatch, TimeLengthsOfTheFourTasks) {
  auto fixed = [](int g) { return [g](std::mt19937_64&, int) { return g; }; };
  // Task 1: one zero step per element.
  for (int s : device_steps(make_compact(2, 200, 41, false, 4, fixed(1)), false)) EXPECT_EQ(s, 400);
  // Task 2 test and task 4: fixed gaps of 10, 20, 50, 100 steps.
  for (auto [gap, steps] : std::vector<std::pair<int, int>>{{10, 2200}, {20, 4200}, {50, 10200}, {100, 20200}}) {
    for (int s : device_steps(make_compact(1, 200, 41, false, 5, fixed(gap)), false)) EXPECT_EQ(s, steps);
  }
  // Task 2 train: k = round(U(0.1, 1.0), 1) tenths -> k zero steps; mean 1300 (reference: 1211-1386).
  auto task2 = [](std::mt19937_64& rng, int) {
    double u = std::uniform_real_distribution<double>(0.1, 1.0)(rng);
    return static_cast<int>(std::ceil(std::nearbyint(u * 10.0) / 10.0 / 0.1));
  };
  std::vector<int> steps2 = device_steps(make_compact(32, 200, 41, false, 6, task2), false);
  double mean2 = std::accumulate(steps2.begin(), steps2.end(), 0.0) / steps2.size();
  EXPECT_NEAR(mean2, 1300.0, 15.0);
  for (int s : steps2) EXPECT_TRUE(s > 1150 && s < 1450) << s;
  // Task 3: one distractor after 10% of the elements from 50 on; mean 215 (reference: 208-221).
  auto task3 = [](std::mt19937_64& rng, int e) {
    return e >= 50 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.1 ? 1 : 0;
  };
  std::vector<int> steps3 = device_steps(make_compact(32, 200, 41, true, 7, task3), true);
  double mean3 = std::accumulate(steps3.begin(), steps3.end(), 0.0) / steps3.size();
  EXPECT_NEAR(mean3, 215.0, 2.5);
}

TEST(ExpandBatch, RejectsInconsistentBatches) {
  Compact c = make_compact(2, 5, 4, true, 8, uniform_gap);
  ExpandParams params;
  params.gaps_are_distractors = true;
  EXPECT_THROW(run_device(c, c.longest() - 1, params), std::invalid_argument);  // T too short
  Compact bad_symbol = c;
  bad_symbol.symbol[3] = 4;
  EXPECT_THROW(run_device(bad_symbol, c.longest(), params), std::invalid_argument);
  Compact bad_gap = c;
  bad_gap.gap[1] = -1;
  EXPECT_THROW(run_device(bad_gap, c.longest(), params), std::invalid_argument);
  Compact bad_offsets = c;
  bad_offsets.offset[1] += 1;
  EXPECT_THROW(run_device(bad_offsets, c.longest(), params), std::invalid_argument);
  Compact bad_distractor = c;
  if (!bad_distractor.distractors.empty()) {
    bad_distractor.distractors[0] = 9;
    EXPECT_THROW(run_device(bad_distractor, c.longest(), params), std::invalid_argument);
  }
}

}  // namespace
}  // namespace selectiv::nn
