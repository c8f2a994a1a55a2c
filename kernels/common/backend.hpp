// SPDX-License-Identifier: BSD-3-Clause
// What the running Kokkos is: version, enabled backends, default execution space and device.
#pragma once

#include <string>
#include <vector>

namespace selectiv {

struct BackendInfo {
  std::string kokkos_version;          // "4.6.1"
  std::vector<std::string> backends;   // enabled execution spaces, e.g. {"Serial", "OpenMP", "Cuda"}
  std::string default_space;           // name of Kokkos::DefaultExecutionSpace
  int concurrency = 0;                 // of the default execution space
  std::string device;                  // GPU name, or "host"
};

// Needs Kokkos to be initialised.
BackendInfo backend_info();
// Short identity of the numeric backend (default space + Kokkos version), part of every cache key.
std::string backend_identity();

}  // namespace selectiv
