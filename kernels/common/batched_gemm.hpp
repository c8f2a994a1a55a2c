// SPDX-License-Identifier: BSD-3-Clause
// kc::gemm_batched: many equally shaped small GEMMs in one call, for the chunk kernels' products that run once per
// (batch, head[, chunk]) and are too small for one kc::gemm each (delta rule, SSD, GLA). The matrices of a
// batch sit anywhere in a tensor, addressed by up to three batch indices with a stride each, so the rows of one head
// inside a (B, T, H, D) tensor are a batch without a copy. On CUDA with cuBLAS it is cublasGemmBatchedEx; elsewhere a
// plain kernel (one thread per output element, fp32 sums in contraction order).
#pragma once

#include <cstdint>

#include "kernels/common/precision.hpp"
#include "kernels/common/views.hpp"

namespace kc {

// Matrix p of a batch of row-major float matrices, p = (p0 * count[1] + p1) * count[2] + p2 for counts (count[0],
// count[1], count[2]), starts at data + p0 * stride[0] + p1 * stride[1] + p2 * stride[2]; its rows are ld floats apart.
template <class T>
struct MatrixBatchOf {
  MatrixBatchOf() = default;
  MatrixBatchOf(T* data_, std::int64_t ld_, std::int64_t stride0, std::int64_t stride1 = 0, std::int64_t stride2 = 0)
      : data(data_), ld(ld_), stride{stride0, stride1, stride2} {}
  // a batch of float matrices read as const
  template <class U>
  MatrixBatchOf(const MatrixBatchOf<U>& other)  // NOLINT(google-explicit-constructor)
      : data(other.data), ld(other.ld), stride{other.stride[0], other.stride[1], other.stride[2]} {}

  T* data = nullptr;
  std::int64_t ld = 0;
  std::int64_t stride[3] = {0, 0, 0};

  KOKKOS_INLINE_FUNCTION T* matrix(int p0, int p1, int p2) const {
    return data + p0 * stride[0] + p1 * stride[1] + p2 * stride[2];
  }
};
using MatrixBatch = MatrixBatchOf<float>;
using ConstMatrixBatch = MatrixBatchOf<const float>;

// Rows row0.. of each (b, h) of a LayoutRight (B, rows, H, D) view: batch indices (b, h, chunk), the next chunk
// `step` rows further.
template <class ViewType>
MatrixBatchOf<typename ViewType::value_type> head_rows(const ViewType& x, std::int64_t row0, std::int64_t step) {
  const std::int64_t ld = static_cast<std::int64_t>(x.stride_1());
  return MatrixBatchOf<typename ViewType::value_type>(x.data() + row0 * ld, ld, static_cast<std::int64_t>(x.stride_0()),
                                                      static_cast<std::int64_t>(x.stride_2()), step * ld);
}

// The (rows x D) block `block` of each (b, h) of a LayoutRight (B, H, blocks * rows, D) view (the per-chunk states):
// batch indices (b, h, block).
template <class ViewType>
MatrixBatchOf<typename ViewType::value_type> head_blocks(const ViewType& x, std::int64_t rows, std::int64_t block) {
  const std::int64_t ld = static_cast<std::int64_t>(x.stride_2());
  return MatrixBatchOf<typename ViewType::value_type>(x.data() + block * rows * ld, ld,
                                                      static_cast<std::int64_t>(x.stride_0()),
                                                      static_cast<std::int64_t>(x.stride_1()), rows * ld);
}

struct BatchCount {
  int count[3] = {1, 1, 1};
  std::int64_t total() const { return static_cast<std::int64_t>(count[0]) * count[1] * count[2]; }
};

// C_p = alpha * op(A_p) * op(B_p) + beta * C_p for every matrix p of the batch; op(A_p): (m, k), op(B_p): (k, n),
// C_p: (m, n); op(X) = X ("N") or X^T ("T"). beta == 0 overwrites C. `math`: fp32 (IEEE) or tf32 (tensor cores,
// fp32 accumulation; only on a CUDA build with cuBLAS, where the matmul precision that selects it exists). Runs
// asynchronously on exec. Throws std::invalid_argument for a bad transpose flag or negative sizes.
void gemm_batched(const selectiv::Exec& exec, const char* trans_a, const char* trans_b, int m, int n, int k,
                  float alpha, const ConstMatrixBatch& a, const ConstMatrixBatch& b, float beta, const MatrixBatch& c,
                  const BatchCount& batch, selectiv::TileMath math);

// True when gemm_batched runs on a vendor library (cuBLAS on a CUDA build), false where it is the plain kernel.
bool gemm_batched_uses_vendor_blas();

// The chunks of a sequence of `rows` rows in chunks of `chunk` rows, in runs that one batched GEMM serves:
// f(first chunk, chunks, rows per chunk) for all full chunks at once, then for a last partial chunk.
template <class F>
void for_chunk_runs(int rows, int chunk, const F& f) {
  const int full = rows / chunk;
  if (full > 0) f(0, full, chunk);
  if (rows % chunk != 0) f(full, 1, rows % chunk);
}

}  // namespace kc
