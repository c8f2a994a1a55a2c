// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/backend.hpp"

#include <Kokkos_Core.hpp>

#include <string>
#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime.h>
#endif
#if defined(KOKKOS_ENABLE_HIP)
#include <hip/hip_runtime.h>
#endif

namespace selectiv {

BackendInfo backend_info() {
  BackendInfo info;
  int v = KOKKOS_VERSION;
  info.kokkos_version = std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
#if defined(KOKKOS_ENABLE_SERIAL)
  info.backends.push_back("Serial");
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  info.backends.push_back("OpenMP");
#endif
#if defined(KOKKOS_ENABLE_THREADS)
  info.backends.push_back("Threads");
#endif
#if defined(KOKKOS_ENABLE_CUDA)
  info.backends.push_back("Cuda");
#endif
#if defined(KOKKOS_ENABLE_HIP)
  info.backends.push_back("HIP");
#endif
  info.default_space = Kokkos::DefaultExecutionSpace::name();
  info.concurrency = Kokkos::DefaultExecutionSpace().concurrency();
  info.device = "host";
#if defined(KOKKOS_ENABLE_CUDA)
  int device = 0;
  cudaDeviceProp props{};
  if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&props, device) == cudaSuccess) {
    info.device = props.name;
  }
#elif defined(KOKKOS_ENABLE_HIP)
  int device = 0;
  hipDeviceProp_t props{};
  if (hipGetDevice(&device) == hipSuccess && hipGetDeviceProperties(&props, device) == hipSuccess) {
    info.device = props.name;
  }
#endif
  return info;
}

std::string backend_identity() {
  BackendInfo info = backend_info();
  return info.default_space + "-kokkos" + info.kokkos_version;
}

}  // namespace selectiv
