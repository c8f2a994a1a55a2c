// SPDX-License-Identifier: BSD-3-Clause
// Batch expansion on the device (windows by a per-sample scan, then one thread per time step that finds its
// element by binary search), and its serial host twin.
#include "kernels/nn/expand_batch.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("expand_batch: " + message);
}

constexpr std::int64_t kInvalid = std::numeric_limits<std::int64_t>::max();

}  // namespace

void expand_batch(const Exec& exec, View3 inputs, IView2 targets, View2 mask, IView2 window_start,
                  IView2 window_length, DeviceView2<const int> symbol, DeviceView2<const int> target,
                  DeviceView2<const int> gap, DeviceView1<const std::int64_t> distractor_offset,
                  DeviceView1<const int> distractor_symbol, DeviceView1<const std::int64_t> sample_index,
                  const ExpandParams& params) {
  const std::int64_t B = static_cast<std::int64_t>(inputs.extent(0));
  const std::int64_t T = static_cast<std::int64_t>(inputs.extent(1));
  const int V = static_cast<int>(inputs.extent(2));
  const int E = static_cast<int>(symbol.extent(1));
  require(targets.extent(0) == inputs.extent(0) && targets.extent(1) == inputs.extent(1), "targets must be (B, T)");
  require(mask.extent(0) == inputs.extent(0) && mask.extent(1) == inputs.extent(1), "mask must be (B, T)");
  for (const auto* v : {&window_start, &window_length}) {
    require(static_cast<std::int64_t>(v->extent(0)) == B && static_cast<int>(v->extent(1)) == E,
            "windows must be (B, E)");
  }
  require(static_cast<std::int64_t>(symbol.extent(0)) == B, "symbol must be (B, E)");
  require(static_cast<std::int64_t>(target.extent(0)) == B && static_cast<int>(target.extent(1)) == E,
          "target must be (B, E)");
  require(static_cast<std::int64_t>(gap.extent(0)) == B && static_cast<int>(gap.extent(1)) == E, "gap must be (B, E)");
  require(static_cast<std::int64_t>(distractor_offset.extent(0)) == B + 1, "distractor_offset must be (B + 1)");
  require(static_cast<std::int64_t>(sample_index.extent(0)) == B, "sample_index must be (B)");
  require(V >= 1, "V must be >= 1");

  // 1. Windows: an exclusive scan of 1 + gap over each sample's elements; the result is the longest sample, or
  //    kInvalid when a sample has a negative gap, a symbol outside [0, V) or distractors that do not match.
  const bool distractors = params.gaps_are_distractors;
  const std::int64_t M = static_cast<std::int64_t>(distractor_symbol.extent(0));
  const std::int64_t invalid = kInvalid;
  std::int64_t longest = 0;
  Kokkos::parallel_reduce(
      "selectiv::expand_batch::windows", Kokkos::RangePolicy<Exec>(exec, 0, B),
      KOKKOS_LAMBDA(const std::int64_t b, std::int64_t& worst) {
        std::int64_t start = 0;
        bool ok = true;
        for (int e = 0; e < E; ++e) {
          const int g = gap(b, e);
          const int y = symbol(b, e);
          ok = ok && g >= 0 && y >= 0 && y < V;
          window_start(b, e) = static_cast<int>(start);
          window_length(b, e) = 1 + g;
          start += 1 + (g > 0 ? g : 0);
        }
        if (distractors) {
          const std::int64_t first = distractor_offset(b), last = distractor_offset(b + 1);
          ok = ok && first >= 0 && last <= M && last - first == start - E;
          for (std::int64_t k = first; ok && k < last; ++k) ok = distractor_symbol(k) >= 0 && distractor_symbol(k) < V;
        }
        const std::int64_t value = ok ? start : invalid;
        if (value > worst) worst = value;
      },
      Kokkos::Max<std::int64_t>(longest));
  require(longest != kInvalid, "a sample has a negative gap, a symbol outside [0, V) or distractors that do not "
                               "match its gaps");
  require(longest <= T, "a sample has " + std::to_string(longest) + " steps, more than T = " + std::to_string(T));

  // 2. Steps: element by binary search over the sample's window starts, then its one-hot row plus noise.
  const float noise = params.noise;
  const std::uint64_t seed = params.seed;
  const std::uint32_t split = params.split;
  Kokkos::parallel_for(
      "selectiv::expand_batch::steps", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, B * T),
      KOKKOS_LAMBDA(const std::int64_t i) {
        const std::int64_t b = i / T, t = i % T;
        const std::int64_t steps = E > 0 ? window_start(b, E - 1) + window_length(b, E - 1) : 0;
        if (t >= steps) {
          for (int v = 0; v < V; ++v) inputs(b, t, v) = 0.0f;
          targets(b, t) = 0;
          mask(b, t) = 0.0f;
          return;
        }
        int lo = 0, hi = E - 1;  // the last element whose window starts at or before t
        while (lo < hi) {
          const int mid = (lo + hi + 1) / 2;
          if (window_start(b, mid) <= t) {
            lo = mid;
          } else {
            hi = mid - 1;
          }
        }
        const int e = lo;
        const std::int64_t k = t - window_start(b, e);
        int hot = -1;
        if (k == 0) {
          hot = symbol(b, e);
        } else if (distractors) {
          hot = distractor_symbol(distractor_offset(b) + window_start(b, e) - e + k - 1);
        }
        targets(b, t) = target(b, e);
        mask(b, t) = 1.0f;
        const std::int64_t index = sample_index(b);
        for (int block = 0; 4 * block < V; ++block) {
          const auto bits = noise != 0.0f ? expand_noise_bits(seed, split, index, t, block)
                                          : r123::Philox4x32::ctr_type{{0u, 0u, 0u, 0u}};
          for (int w = 0; w < 4 && 4 * block + w < V; ++w) {
            const int v = 4 * block + w;
            const float one_hot = v == hot ? 1.0f : 0.0f;
            const float u = static_cast<float>(bits.v[w] >> 8) * (1.0f / 16777216.0f);
            inputs(b, t, v) = one_hot + noise * u;
          }
        }
      });
}

void expand_batch_reference(std::vector<float>& inputs, std::vector<int>& targets, std::vector<float>& mask,
                            std::vector<int>& window_start, std::vector<int>& window_length,
                            const std::vector<int>& symbol, const std::vector<int>& target,
                            const std::vector<int>& gap, const std::vector<std::int64_t>& distractor_offset,
                            const std::vector<int>& distractor_symbol, const std::vector<std::int64_t>& sample_index,
                            const ExpandParams& params, int B, int T, int E, int V) {
  const std::size_t BT = static_cast<std::size_t>(B) * static_cast<std::size_t>(T);
  inputs.assign(BT * static_cast<std::size_t>(V), 0.0f);
  targets.assign(BT, 0);
  mask.assign(BT, 0.0f);
  window_start.assign(static_cast<std::size_t>(B) * static_cast<std::size_t>(E), 0);
  window_length.assign(window_start.size(), 0);
  for (int b = 0; b < B; ++b) {
    // The sample's rows, appended element by element: (one-hot id or -1 for zeros, target).
    std::vector<int> hot_rows, target_rows;
    std::int64_t next_distractor = distractor_offset[static_cast<std::size_t>(b)];
    for (int e = 0; e < E; ++e) {
      const std::size_t be = static_cast<std::size_t>(b) * static_cast<std::size_t>(E) + static_cast<std::size_t>(e);
      require(gap[be] >= 0 && symbol[be] >= 0 && symbol[be] < V, "bad element");
      window_start[be] = static_cast<int>(hot_rows.size());
      window_length[be] = 1 + gap[be];
      hot_rows.push_back(symbol[be]);
      target_rows.push_back(target[be]);
      for (int k = 0; k < gap[be]; ++k) {
        hot_rows.push_back(params.gaps_are_distractors
                               ? distractor_symbol.at(static_cast<std::size_t>(next_distractor++))
                               : -1);
        target_rows.push_back(target[be]);
      }
    }
    if (params.gaps_are_distractors) {
      require(next_distractor == distractor_offset[static_cast<std::size_t>(b) + 1], "distractor count mismatch");
    }
    require(static_cast<int>(hot_rows.size()) <= T, "sample longer than T");
    for (std::size_t t = 0; t < hot_rows.size(); ++t) {
      const std::size_t bt = static_cast<std::size_t>(b) * static_cast<std::size_t>(T) + t;
      targets[bt] = target_rows[t];
      mask[bt] = 1.0f;
      for (int v = 0; v < V; ++v) {
        const float one_hot = v == hot_rows[t] ? 1.0f : 0.0f;
        const float u = params.noise != 0.0f
                            ? expand_noise_uniform(params.seed, params.split, sample_index[static_cast<std::size_t>(b)],
                                                   static_cast<std::int64_t>(t), v)
                            : 0.0f;
        inputs[bt * static_cast<std::size_t>(V) + static_cast<std::size_t>(v)] = one_hot + params.noise * u;
      }
    }
  }
}

}  // namespace selectiv::nn
