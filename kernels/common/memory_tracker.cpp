// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/memory_tracker.hpp"

#include <Kokkos_Core.hpp>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace selectiv {
namespace {

struct Allocation {
  std::int64_t bytes;
  std::string label;
};

struct Tracker {
  std::mutex mutex;
  std::unordered_map<const void*, Allocation> live;  // allocations seen since tracking started
  std::map<std::string, std::int64_t> by_label;      // allocations per label since tracking started
  std::map<std::string, std::int64_t> at_peak;       // bytes per label held at the high-water mark
  std::int64_t now = 0, peak = 0, allocations = 0;

  void snapshot_peak() {
    peak = now;
    at_peak.clear();
    for (const auto& entry : live) at_peak[entry.second.label] += entry.second.bytes;
  }
};

Tracker& tracker() {
  static Tracker t;
  return t;
}

bool in_default_space(const Kokkos_Profiling_SpaceHandle& handle) {
  return std::strncmp(handle.name, Kokkos::DefaultExecutionSpace::memory_space::name(), sizeof(handle.name)) == 0;
}

void on_allocate(const Kokkos_Profiling_SpaceHandle handle, const char* label, const void* ptr,
                 const std::uint64_t bytes) {
  // Kokkos' CUDA team launches report a 0-byte "TeamScratchMemory" allocation for every launch without level-1
  // scratch (no cudaMalloc happens): not an allocation.
  if (!in_default_space(handle) || bytes == 0) return;
  Tracker& t = tracker();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.live[ptr] = Allocation{static_cast<std::int64_t>(bytes), label};
  t.now += static_cast<std::int64_t>(bytes);
  ++t.allocations;
  ++t.by_label[label];
  if (t.now > t.peak) t.snapshot_peak();
}

void on_deallocate(const Kokkos_Profiling_SpaceHandle handle, const char*, const void* ptr, const std::uint64_t) {
  if (!in_default_space(handle)) return;
  Tracker& t = tracker();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.live.find(ptr);
  if (it == t.live.end()) return;  // allocated before tracking started
  t.now -= it->second.bytes;
  t.live.erase(it);
}

}  // namespace

void start_memory_tracking() {
  Kokkos::Tools::Experimental::set_allocate_data_callback(on_allocate);
  Kokkos::Tools::Experimental::set_deallocate_data_callback(on_deallocate);
  Tracker& t = tracker();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.snapshot_peak();
}

std::int64_t tracked_bytes_now() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().now;
}

std::int64_t tracked_bytes_peak() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().peak;
}

std::int64_t tracked_allocation_count() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().allocations;
}

std::map<std::string, std::int64_t> tracked_peak_by_label() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().at_peak;
}

std::map<std::string, std::int64_t> tracked_allocations_by_label() {
  std::lock_guard<std::mutex> lock(tracker().mutex);
  return tracker().by_label;
}

}  // namespace selectiv
