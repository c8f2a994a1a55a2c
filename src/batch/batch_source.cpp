// SPDX-License-Identifier: BSD-3-Clause
#include "batch/batch_source.hpp"

#include <Random123/philox.h>

#include <algorithm>

#include "core/error.hpp"

namespace selectiv {
namespace {

// U[0, 1) noise of input entry (step, channel) of a sample: Philox keyed by (seed; sample, step, channel, split).
float noise_uniform(std::uint64_t seed, data::Split split, std::int64_t sample, std::int64_t step, int channel) {
  using Philox = r123::Philox4x32;
  const Philox::ctr_type counter = {{static_cast<std::uint32_t>(sample), static_cast<std::uint32_t>(step),
                                     static_cast<std::uint32_t>(channel),
                                     0x4e000000u | static_cast<std::uint32_t>(split)}};
  const Philox::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  const Philox::ctr_type bits = Philox()(counter, key);
  return static_cast<float>(bits.v[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace

BatchSource::BatchSource(const std::string& path) : m_reader(path) {}

const DeviceBatch& BatchSource::load(std::int64_t first, int count) {
  const data::DatasetInfo& info = m_reader.info();
  SELECTIV_REQUIRE(first >= 0 && count > 0 && first + count <= info.n_samples, ExitCode::kFailure,
                   "{}: samples [{}, {}) are outside the file's {}", m_reader.path(), first, first + count,
                   info.n_samples);
  data::CompactSamples s = m_reader.read(first, count);
  const int B = count, E = static_cast<int>(s.elements), V = static_cast<int>(info.n_symbols);
  const int T = *std::max_element(s.steps.begin(), s.steps.end());
  DeviceBatch& batch = m_batch;
  if (batch.B != B || batch.T != T || batch.E != E) {
    batch.B = B;
    batch.T = T;
    batch.E = E;
    batch.inputs = View3("selectiv::batch::inputs", B, T, V);
    batch.targets = IView1("selectiv::batch::targets", static_cast<std::size_t>(B) * T);
    batch.mask = View1("selectiv::batch::mask", static_cast<std::size_t>(B) * T);
    batch.window_start = IView2("selectiv::batch::window_start", B, E);
    batch.window_length = IView2("selectiv::batch::window_length", B, E);
    batch.element_target = IView2("selectiv::batch::element_target", B, E);
  }
  auto inputs = Kokkos::create_mirror_view(batch.inputs);
  auto targets = Kokkos::create_mirror_view(batch.targets);
  auto mask = Kokkos::create_mirror_view(batch.mask);
  auto start = Kokkos::create_mirror_view(batch.window_start);
  auto length = Kokkos::create_mirror_view(batch.window_length);
  auto element_target = Kokkos::create_mirror_view(batch.element_target);
  Kokkos::deep_copy(inputs, 0.0f);
  Kokkos::deep_copy(targets, 0);
  Kokkos::deep_copy(mask, 0.0f);
  const double noise = info.spec.noise;
  for (int b = 0; b < B; ++b) {
    int t = 0;
    std::int64_t distractor = s.distractor_offset[b];
    for (int e = 0; e < E; ++e) {
      const std::size_t i = static_cast<std::size_t>(b) * E + e;
      const int gap = s.gap[i];
      start(b, e) = t;
      length(b, e) = 1 + gap;
      element_target(b, e) = s.target[i];
      for (int k = 0; k <= gap; ++k, ++t) {
        int symbol = -1;  // zero step
        if (k == 0) symbol = s.symbol[i];
        else if (info.spec.gap_kind == data::GapKind::kDistractors) symbol = s.distractor_symbol[distractor++];
        if (symbol >= 0) inputs(b, t, symbol) = 1.0f;
        targets(static_cast<std::size_t>(b) * T + t) = s.target[i];
        mask(static_cast<std::size_t>(b) * T + t) = 1.0f;
        if (noise > 0) {
          for (int c = 0; c < V; ++c) {
            inputs(b, t, c) += static_cast<float>(noise) *
                               noise_uniform(info.spec.grammar.seed, info.split, s.index[b], t, c);
          }
        }
      }
    }
  }
  Kokkos::deep_copy(batch.inputs, inputs);
  Kokkos::deep_copy(batch.targets, targets);
  Kokkos::deep_copy(batch.mask, mask);
  Kokkos::deep_copy(batch.window_start, start);
  Kokkos::deep_copy(batch.window_length, length);
  Kokkos::deep_copy(batch.element_target, element_target);
  return batch;
}

}  // namespace selectiv
