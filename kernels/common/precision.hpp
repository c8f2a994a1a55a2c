// SPDX-License-Identifier: BSD-3-Clause
// Matmul precision of the large GEMMs (the ones Kokkos Kernels hands to cuBLAS): fp32 (IEEE, the reference's fp32
// models) or tf32 (tensor-core matmuls with fp32 accumulation; every other op stays fp32). tf32 exists only on a CUDA
// build with Kokkos Kernels' cuBLAS TPL; asking for it elsewhere is an error (std::invalid_argument).
#pragma once

#include <optional>
#include <string>

namespace selectiv {

enum class MatmulPrecision { kFp32, kTf32 };

std::optional<MatmulPrecision> parse_matmul_precision(const std::string& name);  // "fp32" / "tf32"
const char* matmul_precision_name(MatmulPrecision precision);
bool matmul_precision_available(MatmulPrecision precision);
// The precision a run gets when it does not name one ("auto"): tf32 where it is available (CUDA with cuBLAS), fp32
// elsewhere. README.md "Precision" has the training-curve measurement behind this choice.
MatmulPrecision default_matmul_precision();
// "auto", "fp32" or "tf32" -> the precision to run; std::nullopt for any other name. "tf32" where it is not
// available throws std::invalid_argument.
std::optional<MatmulPrecision> resolve_matmul_precision(const std::string& name);
// Needs Kokkos initialised. Applies to every later GEMM of the process.
void set_matmul_precision(MatmulPrecision precision);

}  // namespace selectiv
