// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/precision.hpp"

#include <Kokkos_Core.hpp>
#include <KokkosKernels_config.h>

#include <stdexcept>

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>
#include <cublas_v2.h>
#define SELECTIV_HAVE_CUBLAS_MATH_MODE 1
#endif

namespace selectiv {

std::optional<MatmulPrecision> parse_matmul_precision(const std::string& name) {
  if (name == "fp32") return MatmulPrecision::kFp32;
  if (name == "tf32") return MatmulPrecision::kTf32;
  return std::nullopt;
}

const char* matmul_precision_name(MatmulPrecision precision) {
  return precision == MatmulPrecision::kTf32 ? "tf32" : "fp32";
}

bool matmul_precision_available(MatmulPrecision precision) {
#if defined(SELECTIV_HAVE_CUBLAS_MATH_MODE)
  (void)precision;
  return true;
#else
  return precision == MatmulPrecision::kFp32;
#endif
}

MatmulPrecision default_matmul_precision() {
  return matmul_precision_available(MatmulPrecision::kTf32) ? MatmulPrecision::kTf32 : MatmulPrecision::kFp32;
}

std::optional<MatmulPrecision> resolve_matmul_precision(const std::string& name) {
  if (name == "auto") return default_matmul_precision();
  const std::optional<MatmulPrecision> precision = parse_matmul_precision(name);
  if (precision && !matmul_precision_available(*precision)) {
    throw std::invalid_argument(std::string("matmul precision ") + name +
                                " needs a CUDA build with Kokkos Kernels' cuBLAS TPL");
  }
  return precision;
}

void set_matmul_precision(MatmulPrecision precision) {
  if (!matmul_precision_available(precision)) {
    throw std::invalid_argument(std::string("matmul precision ") + matmul_precision_name(precision) +
                                " needs a CUDA build with Kokkos Kernels' cuBLAS TPL");
  }
#if defined(SELECTIV_HAVE_CUBLAS_MATH_MODE)
  cublasHandle_t handle = KokkosBlas::Impl::CudaBlasSingleton::singleton().handle;
  const cublasMath_t mode = precision == MatmulPrecision::kTf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  if (cublasSetMathMode(handle, mode) != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error("cublasSetMathMode failed");
  }
#endif
}

}  // namespace selectiv
