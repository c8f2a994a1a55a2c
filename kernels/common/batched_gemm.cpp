// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/batched_gemm.hpp"

#include <KokkosKernels_config.h>

#include <Kokkos_Core.hpp>
#include <stdexcept>
#include <string>

#include "kernels/common/kernel_profiler.hpp"
#include "kernels/common/workspace.hpp"

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <cublas_v2.h>

#include <KokkosBlas_tpl_spec.hpp>
#define SELECTIV_BATCHED_GEMM_CUBLAS 1
#endif

namespace kc {
namespace {

bool transposes(const char* trans) {
  const char t = trans[0];
  if (t == 'N' || t == 'n') return false;
  if (t == 'T' || t == 't') return true;
  throw std::invalid_argument(std::string("kc::gemm_batched: transpose flag must start with N or T, got \"") + trans +
                              "\"");
}

// Batch index p -> (p0, p1, p2).
struct BatchIndex {
  int p0, p1, p2;
  KOKKOS_INLINE_FUNCTION BatchIndex(std::int64_t p, int count1, int count2) {
    p2 = static_cast<int>(p % count2);
    p1 = static_cast<int>((p / count2) % count1);
    p0 = static_cast<int>(p / (static_cast<std::int64_t>(count1) * count2));
  }
};

#if defined(SELECTIV_BATCHED_GEMM_CUBLAS)
// cublasGemmBatchedEx with the row-major operands read as column-major transposes: C^T = op(B)^T op(A)^T.
void cublas_gemm_batched(const selectiv::Exec& exec, bool ta, bool tb, int m, int n, int k, float alpha,
                         const ConstMatrixBatch& a, const ConstMatrixBatch& b, float beta, const MatrixBatch& c,
                         const BatchCount& batch, selectiv::TileMath math) {
  const std::int64_t total = batch.total();
  // one pointer array per operand: [A_0 .. A_total-1 | B_0 .. | C_0 ..]
  auto* pointers =
      static_cast<void**>(selectiv::workspace_bytes("selectiv::gemm_batched::pointers", 3 * total * sizeof(void*)));
  const int count1 = batch.count[1], count2 = batch.count[2];
  Kokkos::parallel_for(
      "selectiv::gemm_batched::pointers",
      Kokkos::RangePolicy<selectiv::Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, total),
      KOKKOS_LAMBDA(const std::int64_t p) {
        const BatchIndex i(p, count1, count2);
        pointers[p] = const_cast<float*>(a.matrix(i.p0, i.p1, i.p2));
        pointers[total + p] = const_cast<float*>(b.matrix(i.p0, i.p1, i.p2));
        pointers[2 * total + p] = c.matrix(i.p0, i.p1, i.p2);
      });
  cublasHandle_t handle = KokkosBlas::Impl::CudaBlasSingleton::singleton().handle;
  const cublasComputeType_t compute =
      math == selectiv::TileMath::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC;
  bool ok = cublasSetStream(handle, exec.cuda_stream()) == CUBLAS_STATUS_SUCCESS;
  ok =
      ok && cublasGemmBatchedEx(handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha,
                                pointers + total, CUDA_R_32F, static_cast<int>(b.ld), pointers, CUDA_R_32F,
                                static_cast<int>(a.ld), &beta, pointers + 2 * total, CUDA_R_32F, static_cast<int>(c.ld),
                                static_cast<int>(total), compute, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS;
  if (!ok) throw std::runtime_error("cublasGemmBatchedEx failed");
}
#endif

// One thread per output element, fp32 sums in contraction order.
void plain_gemm_batched(const selectiv::Exec& exec, bool ta, bool tb, int m, int n, int k, float alpha,
                        const ConstMatrixBatch& a, const ConstMatrixBatch& b, float beta, const MatrixBatch& c,
                        const BatchCount& batch) {
  const std::int64_t outputs = static_cast<std::int64_t>(m) * n;
  const int count1 = batch.count[1], count2 = batch.count[2];
  Kokkos::parallel_for(
      "selectiv::gemm_batched",
      Kokkos::RangePolicy<selectiv::Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, batch.total() * outputs),
      KOKKOS_LAMBDA(const std::int64_t index) {
        const BatchIndex p(index / outputs, count1, count2);
        const int i = static_cast<int>((index % outputs) / n), j = static_cast<int>(index % n);
        const float* ap = a.matrix(p.p0, p.p1, p.p2);
        const float* bp = b.matrix(p.p0, p.p1, p.p2);
        float sum = 0.0f;
        for (int x = 0; x < k; ++x)
          sum += (ta ? ap[x * a.ld + i] : ap[i * a.ld + x]) * (tb ? bp[j * b.ld + x] : bp[x * b.ld + j]);
        float& out = c.matrix(p.p0, p.p1, p.p2)[i * c.ld + j];
        out = beta == 0.0f ? alpha * sum : alpha * sum + beta * out;
      });
}

}  // namespace

bool gemm_batched_uses_vendor_blas() {
#if defined(SELECTIV_BATCHED_GEMM_CUBLAS)
  return true;
#else
  return false;
#endif
}

void gemm_batched(const selectiv::Exec& exec, const char* trans_a, const char* trans_b, int m, int n, int k,
                  float alpha, const ConstMatrixBatch& a, const ConstMatrixBatch& b, float beta, const MatrixBatch& c,
                  const BatchCount& batch, selectiv::TileMath math) {
  const bool ta = transposes(trans_a), tb = transposes(trans_b);
  if (m < 0 || n < 0 || k < 0 || batch.count[0] < 0 || batch.count[1] < 0 || batch.count[2] < 0)
    throw std::invalid_argument("kc::gemm_batched: negative size");
  if (m == 0 || n == 0 || batch.total() == 0) return;
  const bool named = selectiv::kernel_profiling_active();
  if (named) {
    Kokkos::Profiling::pushRegion(std::string("selectiv::gemm_batched[") + (ta ? 'T' : 'N') + (tb ? 'T' : 'N') + " " +
                                  std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " x" +
                                  std::to_string(batch.total()) + "]");
  }
#if defined(SELECTIV_BATCHED_GEMM_CUBLAS)
  if (k > 0) {
    cublas_gemm_batched(exec, ta, tb, m, n, k, alpha, a, b, beta, c, batch, math);
  } else {
    plain_gemm_batched(exec, ta, tb, m, n, k, alpha, a, b, beta, c, batch);
  }
#else
  if (math != selectiv::TileMath::kFp32) {
    if (named) Kokkos::Profiling::popRegion();
    throw std::invalid_argument("kc::gemm_batched: tf32 needs a CUDA build with cuBLAS");
  }
  plain_gemm_batched(exec, ta, tb, m, n, k, alpha, a, b, beta, c, batch);
#endif
  if (named) Kokkos::Profiling::popRegion();
}

}  // namespace kc
