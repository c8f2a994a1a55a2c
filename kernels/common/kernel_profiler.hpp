// SPDX-License-Identifier: BSD-3-Clause
// Where a step's time goes: fenced wall time per Kokkos kernel and per profiling region (Kokkos Kernels wraps its
// cuBLAS/BLAS calls in regions), through the Kokkos Tools callbacks. Only the outermost kernel or region is timed,
// so nested work is not counted twice. Fencing around every kernel removes the overlap of launches with execution,
// so the sum is an upper bound of the unfenced step; the difference shows launch and host overhead. For
// measurement commands (selectiv bench --profile), not for runs under a Kokkos tool (it replaces its callbacks).
#pragma once

#include <string>
#include <vector>

namespace selectiv {

struct KernelTime {
  std::string name;  // kernel label or region name
  double seconds = 0.0;
  long calls = 0;
};

// Installs the callbacks and clears the totals.
void start_kernel_profiling();
// Removes the callbacks; the totals stay readable.
void stop_kernel_profiling();
// Totals since start_kernel_profiling(), longest first.
std::vector<KernelTime> kernel_profile();
// Whether profiling is on (between start and stop): callers may then name their regions more finely, e.g. kc::gemm
// by transposes and shape.
bool kernel_profiling_active();

}  // namespace selectiv
