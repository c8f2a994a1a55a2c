// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/batched_gemm.hpp"

#include <KokkosKernels_config.h>

#include <Kokkos_Core.hpp>
#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include "kernels/common/kernel_profiler.hpp"

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
// The device pointer arrays of a batch, [A_0 .. A_total-1 | B_0 .. | C_0 ..], are a function of the operands'
// addresses, leading dimensions, batch strides and counts alone. A training step repeats the same batches (its
// buffers are kept between steps), so each distinct batch gets its arrays built once and kept: later calls launch
// the GEMM only, not a pointer kernel before it. Past kMaxCachedBatches distinct batches the cache is emptied (after
// a fence: GEMMs in flight may still read it); Kokkos::finalize empties it too.
using BatchKey = std::array<std::int64_t, 18>;
// (addresses as integers: Kokkos reads a View of void** as a rank-2 view of void)
using PointerArrays = Kokkos::View<std::uintptr_t*, Kokkos::LayoutRight, selectiv::DeviceMem>;
constexpr std::size_t kMaxCachedBatches = 4096;

std::map<BatchKey, PointerArrays>& cached_pointer_arrays() {
  static std::map<BatchKey, PointerArrays> cache;
  static bool hooked = false;
  if (!hooked) {
    Kokkos::push_finalize_hook([] { cached_pointer_arrays().clear(); });
    hooked = true;
  }
  return cache;
}

template <class T>
void append_key(BatchKey& key, int& at, const MatrixBatchOf<T>& m) {
  key[at++] = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(m.data));
  key[at++] = m.ld;
  for (std::int64_t stride : m.stride) key[at++] = stride;
}

void** pointer_arrays(const selectiv::Exec& exec, const ConstMatrixBatch& a, const ConstMatrixBatch& b,
                      const MatrixBatch& c, const BatchCount& batch) {
  BatchKey key{};
  int at = 0;
  append_key(key, at, a);
  append_key(key, at, b);
  append_key(key, at, c);
  for (int count : batch.count) key[at++] = count;
  auto& cache = cached_pointer_arrays();
  const auto found = cache.find(key);
  if (found != cache.end()) return reinterpret_cast<void**>(found->second.data());
  if (cache.size() >= kMaxCachedBatches) {
    exec.fence();
    cache.clear();
  }
  const std::int64_t total = batch.total();
  const PointerArrays arrays(Kokkos::view_alloc(Kokkos::WithoutInitializing, "selectiv::gemm_batched::pointers"),
                             3 * total);
  void** pointers = reinterpret_cast<void**>(arrays.data());
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
  cache.emplace(key, arrays);
  return pointers;
}

// cublasGemmBatchedEx with the row-major operands read as column-major transposes: C^T = op(B)^T op(A)^T.
void cublas_gemm_batched(const selectiv::Exec& exec, bool ta, bool tb, int m, int n, int k, float alpha,
                         const ConstMatrixBatch& a, const ConstMatrixBatch& b, float beta, const MatrixBatch& c,
                         const BatchCount& batch, selectiv::TileMath math) {
  const std::int64_t total = batch.total();
  void** pointers = pointer_arrays(exec, a, b, c, batch);
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
