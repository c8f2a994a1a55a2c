// SPDX-License-Identifier: BSD-3-Clause
// Matmul precision of the large GEMMs (kc::gemm, the ones Kokkos Kernels hands to cuBLAS): fp32 (IEEE, the
// reference's fp32 models), tf32 (tensor-core matmuls on operands rounded to tf32, fp32 accumulation) or bf16
// (tensor-core matmuls on operands rounded to bf16, fp32 accumulation). The small tile products of the chunk kernels
// follow (team_product.hpp: fp32 in fp32, tf32 in tf32 and bf16). In every mode the stored tensors, the master weights
// and every other op stay fp32. tf32 and bf16 exist only on a CUDA build with Kokkos Kernels' cuBLAS TPL; asking for
// them elsewhere is an error (std::invalid_argument).
#pragma once

#include <optional>
#include <string>

#include "kernels/common/views.hpp"

namespace selectiv {

enum class MatmulPrecision { kFp32, kTf32, kBf16 };

std::optional<MatmulPrecision> parse_matmul_precision(const std::string& name);  // "fp32" / "tf32" / "bf16"
const char* matmul_precision_name(MatmulPrecision precision);
bool matmul_precision_available(MatmulPrecision precision);
// The precision a run gets when it does not name one ("auto"): bf16 where it is available (CUDA with cuBLAS), fp32
// elsewhere. README.md "Precision" has the training-curve measurement behind this choice.
MatmulPrecision default_matmul_precision();
// "auto", "fp32", "tf32" or "bf16" -> the precision to run; std::nullopt for any other name. A precision that is
// not available throws std::invalid_argument.
std::optional<MatmulPrecision> resolve_matmul_precision(const std::string& name);
// Needs Kokkos initialised. Applies to every later GEMM of the process.
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision current_matmul_precision();

// Arithmetic of the chunk kernels' own products (team_product.hpp, batched_gemm.hpp): fp32 (IEEE) or tf32 (operands
// rounded to tf32, fp32 sums).
enum class TileMath { kFp32, kTf32 };

// fp32 for the fp32 matmul precision, tf32 for tf32 and bf16 (host side, read at launch).
inline TileMath current_tile_math() {
  return current_matmul_precision() == MatmulPrecision::kFp32 ? TileMath::kFp32 : TileMath::kTf32;
}

// C = alpha * op(A) * op(B) + beta * C through cuBLAS with bf16 operands and fp32 accumulation when the current
// precision is bf16 (returns true); returns false and does nothing otherwise. Shapes as kc::gemm, already checked
// there; rows of A, B and C contiguous (LayoutRight).
bool bf16_gemm_if_selected(const Exec& exec, bool transpose_a, bool transpose_b, float alpha, const CView2& a,
                           const CView2& b, float beta, const View2& c);

}  // namespace selectiv
