// SPDX-License-Identifier: BSD-3-Clause
#include "batch/batch_source.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "kernels/nn/expand_batch.hpp"

namespace selectiv {
namespace {

template <class T>
DeviceView1<const T> to_device(const std::vector<T>& host, const char* label) {
  DeviceView1<T> out(std::string(label), host.size());
  Kokkos::View<const T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(host.data(), host.size());
  Kokkos::deep_copy(out, src);
  return out;
}

DeviceView2<const int> to_device(const std::vector<std::int32_t>& host, int rows, int cols, const char* label) {
  DeviceView2<int> out(std::string(label), rows, cols);
  Kokkos::View<const int**, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(
      host.data(), rows, cols);
  Kokkos::deep_copy(out, src);
  return out;
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
    batch.targets2 = IView2("selectiv::batch::targets", B, T);
    batch.mask2 = View2("selectiv::batch::mask", B, T);
    batch.targets = IView1(batch.targets2.data(), static_cast<std::size_t>(B) * T);
    batch.mask = View1(batch.mask2.data(), static_cast<std::size_t>(B) * T);
    batch.window_start = IView2("selectiv::batch::window_start", B, E);
    batch.window_length = IView2("selectiv::batch::window_length", B, E);
  }
  // The compact arrays are small (B x E ints); the dense series is built on the device.
  batch.element_target = to_device(s.target, B, E, "selectiv::batch::element_target");
  nn::ExpandParams params;
  params.noise = static_cast<float>(info.spec.noise);
  params.seed = info.spec.grammar.seed;
  params.split = static_cast<std::uint32_t>(info.split);
  params.gaps_are_distractors = info.spec.gap_kind == data::GapKind::kDistractors;
  nn::expand_batch(Exec(), batch.inputs, batch.targets2, batch.mask2, batch.window_start, batch.window_length,
                   to_device(s.symbol, B, E, "selectiv::batch::symbol"), batch.element_target,
                   to_device(s.gap, B, E, "selectiv::batch::gap"),
                   to_device(s.distractor_offset, "selectiv::batch::distractor_offset"),
                   to_device(s.distractor_symbol, "selectiv::batch::distractor_symbol"),
                   to_device(s.index, "selectiv::batch::sample_index"), params);
  return batch;
}

}  // namespace selectiv
