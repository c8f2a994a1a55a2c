// SPDX-License-Identifier: BSD-3-Clause
// Temporaries of the kernels, kept between calls. A kernel entry point that needs scratch tensors asks for them by
// label and gets the same device buffer on every call (grown when a call needs more), instead of allocating a View
// per call: on CUDA that is a cudaMalloc and a device-synchronising cudaFree each, a few hundred per training step.
// Kernels run in order on one execution space instance, so a later call reuses a buffer only after the earlier
// call's kernels are done with it; no fence is needed before returning.
// Rules: one label names one temporary of one function (two temporaries alive at once need two labels); the view
// is valid until the next request of the same label; never return it to a caller. The buffers live until
// release_workspaces() or Kokkos::finalize.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/common/views.hpp"

namespace selectiv {

// Device buffer of at least `bytes` bytes for `label` (contents unspecified).
void* workspace_bytes(const std::string& label, std::size_t bytes);
// Frees every workspace buffer (waits for the device first).
void release_workspaces();
// Bytes held by the workspace buffers.
std::size_t workspace_bytes_held();

// An unmanaged view of the label's buffer with the given extents, e.g. workspace<View4>("selectiv::op::tmp", B, T,
// H, K). Contents are unspecified (like Kokkos::WithoutInitializing).
template <class ViewType, class... Extents>
ViewType workspace(const std::string& label, Extents... extents) {
  std::size_t count = 1;
  for (std::size_t e : {static_cast<std::size_t>(extents)...}) count *= e;
  using Value = typename ViewType::value_type;
  return ViewType(static_cast<Value*>(workspace_bytes(label, count * sizeof(Value))), extents...);
}

}  // namespace selectiv
