// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/workspace.hpp"

#include <map>
#include <mutex>

#include "kernels/common/compat.hpp"

namespace selectiv {
namespace {

using Buffer = Kokkos::View<unsigned char*, DeviceMem>;

struct Workspaces {
  std::mutex mutex;
  std::map<std::string, Buffer> buffers;
  bool finalize_hook = false;
};

Workspaces& workspaces() {
  static Workspaces w;
  return w;
}

}  // namespace

void* workspace_bytes(const std::string& label, std::size_t bytes) {
  Workspaces& w = workspaces();
  std::lock_guard<std::mutex> lock(w.mutex);
  if (!w.finalize_hook) {  // Kokkos refuses to finalize while views are alive
    Kokkos::push_finalize_hook(release_workspaces);
    w.finalize_hook = true;
  }
  Buffer& buffer = w.buffers[label];
  if (buffer.extent(0) < bytes) {
    kc::fence("selectiv::workspace::grow");  // kernels queued earlier may still use the old buffer
    buffer = Buffer();
    buffer = Buffer(Kokkos::view_alloc(Kokkos::WithoutInitializing, label), bytes);
  }
  return buffer.data();
}

void release_workspaces() {
  Workspaces& w = workspaces();
  std::lock_guard<std::mutex> lock(w.mutex);
  if (w.buffers.empty()) return;
  kc::fence("selectiv::workspace::release");
  w.buffers.clear();
}

std::size_t workspace_bytes_held() {
  Workspaces& w = workspaces();
  std::lock_guard<std::mutex> lock(w.mutex);
  std::size_t total = 0;
  for (const auto& [label, buffer] : w.buffers) total += buffer.extent(0);
  return total;
}

}  // namespace selectiv
