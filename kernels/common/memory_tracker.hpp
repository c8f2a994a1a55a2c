// SPDX-License-Identifier: BSD-3-Clause
// Bytes held in Kokkos allocations of the default memory space, and their high-water mark, through the Kokkos
// Tools allocation callbacks (the counterpart of PyTorch's torch.cuda.max_memory_allocated). Allocations made
// outside Kokkos (e.g. cuBLAS workspaces) are not counted. One tracker per process; it replaces any other
// allocation callbacks, so it is for measurement commands (selectiv bench), not for runs under a Kokkos tool.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace selectiv {

// Installs the callbacks (idempotent) and sets the high-water mark to what is allocated now.
void start_memory_tracking();
// Bytes of the allocations made since the first start_memory_tracking() that are still live, and the most held at
// once since the last start_memory_tracking(), in the default memory space.
std::int64_t tracked_bytes_now();
std::int64_t tracked_bytes_peak();
// Allocations in the default memory space since the first start_memory_tracking() (each a cudaMalloc on CUDA).
std::int64_t tracked_allocation_count();
// The same allocations counted per Kokkos allocation label: where the count comes from.
std::map<std::string, std::int64_t> tracked_allocations_by_label();
// Bytes per label of the tracked allocations live at the high-water mark (tracked_bytes_peak): what the peak is made
// of.
std::map<std::string, std::int64_t> tracked_peak_by_label();

}  // namespace selectiv
