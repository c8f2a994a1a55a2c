// SPDX-License-Identifier: BSD-3-Clause
// Dropout forward and backward: both apply the same regenerated Philox mask (see dropout.hpp for its definition).
#include "kernels/nn/dropout.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {
namespace {

void check_arguments(const char* op, std::size_t out_size, std::size_t in_size, float p) {
  if (out_size != in_size) {
    throw std::invalid_argument(std::string(op) + ": input has " + std::to_string(in_size) + " elements, output " +
                                std::to_string(out_size));
  }
  if (!(p >= 0.0f && p <= 1.0f)) {
    throw std::invalid_argument(std::string(op) + ": dropout probability must be in [0, 1], got " + std::to_string(p));
  }
}

// out(i) = in(i) * keep(i) / (1 - p). One thread per mask block of 4 elements, so one Philox call serves 4 elements.
void apply_dropout_mask(const Exec& exec, const char* label, View1 out, CView1 in, float p, std::uint64_t seed,
                        std::uint64_t stream) {
  // Dropped <=> bits < p * 2^32 <=> bits < ceil(p * 2^32); p * 2^32 is exact in double for a float p.
  const std::uint64_t drop_below = static_cast<std::uint64_t>(std::ceil(static_cast<double>(p) * 4294967296.0));
  const float keep_scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(p)));  // inf for p = 1: never used
  const std::int64_t n = static_cast<std::int64_t>(in.extent(0));
  const std::int64_t n_blocks = (n + 3) / 4;
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, n_blocks),
      KOKKOS_LAMBDA(const std::int64_t block) {
        const auto bits = detail::dropout_block_bits(seed, stream, static_cast<std::uint64_t>(block));
        for (int word = 0; word < 4; ++word) {
          const std::int64_t i = 4 * block + word;
          if (i < n) out(i) = static_cast<std::uint64_t>(bits.v[word]) >= drop_below ? in(i)*keep_scale : 0.0f;
        }
      });
}

void check_same_shape(const char* op, const View3& out, const CView3& in) {
  for (int k = 0; k < 3; ++k) {
    if (out.extent(k) != in.extent(k)) {
      throw std::invalid_argument(std::string(op) + ": input and output (B, T, D) shapes differ in dimension " +
                                  std::to_string(k));
    }
  }
}

View1 flat(const View3& v) {
  if (!v.span_is_contiguous()) throw std::invalid_argument("dropout: (B, T, D) view must be contiguous");
  return View1(v.data(), v.size());
}

CView1 flat(const CView3& v) {
  if (!v.span_is_contiguous()) throw std::invalid_argument("dropout: (B, T, D) view must be contiguous");
  return CView1(v.data(), v.size());
}

}  // namespace

void dropout_fwd(const Exec& exec, View1 y, CView1 x, float p, std::uint64_t seed, std::uint64_t stream) {
  check_arguments("dropout_fwd", y.extent(0), x.extent(0), p);
  apply_dropout_mask(exec, "selectiv::dropout::fwd", y, x, p, seed, stream);
}

void dropout_bwd(const Exec& exec, View1 dx, CView1 dy, float p, std::uint64_t seed, std::uint64_t stream) {
  check_arguments("dropout_bwd", dx.extent(0), dy.extent(0), p);
  apply_dropout_mask(exec, "selectiv::dropout::bwd", dx, dy, p, seed, stream);
}

void dropout_fwd(const Exec& exec, View3 y, CView3 x, float p, std::uint64_t seed, std::uint64_t stream) {
  check_same_shape("dropout_fwd", y, x);
  dropout_fwd(exec, flat(y), flat(x), p, seed, stream);
}

void dropout_bwd(const Exec& exec, View3 dx, CView3 dy, float p, std::uint64_t seed, std::uint64_t stream) {
  check_same_shape("dropout_bwd", dx, dy);
  dropout_bwd(exec, flat(dx), flat(dy), p, seed, stream);
}

}  // namespace selectiv::nn
