// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/precision.hpp"

#include <KokkosKernels_config.h>

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <stdexcept>

#include "kernels/common/quad.hpp"
#include "kernels/common/workspace.hpp"

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <KokkosBlas_tpl_spec.hpp>
#define SELECTIV_HAVE_CUBLAS_MATH_MODE 1
#endif

namespace selectiv {
namespace {

MatmulPrecision current_precision = MatmulPrecision::kFp32;

}  // namespace

std::optional<MatmulPrecision> parse_matmul_precision(const std::string& name) {
  if (name == "fp32") return MatmulPrecision::kFp32;
  if (name == "tf32") return MatmulPrecision::kTf32;
  if (name == "bf16") return MatmulPrecision::kBf16;
  return std::nullopt;
}

const char* matmul_precision_name(MatmulPrecision precision) {
  switch (precision) {
    case MatmulPrecision::kTf32:
      return "tf32";
    case MatmulPrecision::kBf16:
      return "bf16";
    case MatmulPrecision::kFp32:
      break;
  }
  return "fp32";
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
  return matmul_precision_available(MatmulPrecision::kBf16) ? MatmulPrecision::kBf16 : MatmulPrecision::kFp32;
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
  // bf16 GEMMs go through bf16_gemm_if_selected (cublasGemmEx); the math mode serves the Sgemm calls.
  cublasHandle_t handle = KokkosBlas::Impl::CudaBlasSingleton::singleton().handle;
  const cublasMath_t mode = precision == MatmulPrecision::kTf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  if (cublasSetMathMode(handle, mode) != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error("cublasSetMathMode failed");
  }
#endif
  current_precision = precision;
}

MatmulPrecision current_matmul_precision() { return current_precision; }

#if defined(SELECTIV_HAVE_CUBLAS_MATH_MODE)
namespace {

// Four bf16 values, stored with one 8-byte access.
struct alignas(8) Bf16Quad {
  __nv_bfloat16 v[4];
};

// x (rows x cols, any row stride) rounded to bf16 (nearest even) into a packed rows x cols buffer of the label.
// Contiguous rows (the usual case) are converted as one flat array, a quad per thread (a 16-byte load, an 8-byte
// store, no index division); strided rows one element per thread.
const __nv_bfloat16* packed_bf16(const Exec& exec, const char* label, const CView2& x) {
  const std::int64_t cols = static_cast<std::int64_t>(x.extent(1));
  const std::int64_t count = static_cast<std::int64_t>(x.extent(0)) * cols;
  auto* out = static_cast<__nv_bfloat16*>(workspace_bytes(label, static_cast<std::size_t>(count) * 2));
  if (static_cast<std::int64_t>(x.stride_0()) == cols || x.extent(0) <= 1) {
    const float* in = x.data();
    const bool aligned =
        reinterpret_cast<std::uintptr_t>(in) % 16 == 0 && reinterpret_cast<std::uintptr_t>(out) % 8 == 0;
    Kokkos::parallel_for(
        label, Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, (count + 3) / 4),
        KOKKOS_LAMBDA(const std::int64_t u) {
          const std::int64_t first = 4 * u;
          const int valid = count - first < 4 ? static_cast<int>(count - first) : 4;
          const kc::Quad q = kc::load_quad(in + first, valid, aligned);
          if (aligned && valid == 4) {
            Bf16Quad packed;
            for (int i = 0; i < 4; ++i) packed.v[i] = __float2bfloat16_rn(q.v[i]);
            *reinterpret_cast<Bf16Quad*>(out + first) = packed;
          } else {
            for (int i = 0; i < valid; ++i) out[first + i] = __float2bfloat16_rn(q.v[i]);
          }
        });
    return out;
  }
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, count),
      KOKKOS_LAMBDA(const std::int64_t i) { out[i] = __float2bfloat16_rn(x(i / cols, i % cols)); });
  return out;
}

}  // namespace
#endif

bool bf16_gemm_if_selected(const Exec& exec, bool transpose_a, bool transpose_b, float alpha, const CView2& a,
                           const CView2& b, float beta, const View2& c) {
  if (current_precision != MatmulPrecision::kBf16) return false;
#if defined(SELECTIV_HAVE_CUBLAS_MATH_MODE)
  // The operands are rounded to bf16 into packed workspaces first: cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF on fp32
  // operands measured tf32 rounding on an H200 (it may pick any faster kernel), not bf16.
  // Row-major C (m x n) = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: B first, each operand transposed
  // exactly when its row-major op is; leading dimensions are the packed row lengths and C's row stride.
  const int m = static_cast<int>(c.extent(0)), n = static_cast<int>(c.extent(1));
  const int k = static_cast<int>(transpose_a ? a.extent(0) : a.extent(1));
  Kokkos::Profiling::pushRegion("selectiv::gemm[cublasGemmEx,bf16]");
  const __nv_bfloat16* a16 = packed_bf16(exec, "selectiv::gemm::a_bf16", a);
  const __nv_bfloat16* b16 = packed_bf16(exec, "selectiv::gemm::b_bf16", b);
  cublasHandle_t handle = KokkosBlas::Impl::CudaBlasSingleton::singleton().handle;
  bool ok = cublasSetStream(handle, exec.cuda_stream()) == CUBLAS_STATUS_SUCCESS;
  ok = ok && cublasGemmEx(handle, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N, transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n,
                          m, k, &alpha, b16, CUDA_R_16BF, static_cast<int>(b.extent(1)), a16, CUDA_R_16BF,
                          static_cast<int>(a.extent(1)), &beta, c.data(), CUDA_R_32F, static_cast<int>(c.stride_0()),
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS;
  Kokkos::Profiling::popRegion();
  if (!ok) throw std::runtime_error("cublasGemmEx (bf16 operands, fp32 accumulation) failed");
  return true;
#else
  (void)exec, (void)transpose_a, (void)transpose_b, (void)alpha, (void)a, (void)b, (void)beta, (void)c;
  throw std::logic_error("bf16 GEMM selected on a build without cuBLAS");
#endif
}

}  // namespace selectiv
