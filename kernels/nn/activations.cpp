// SPDX-License-Identifier: BSD-3-Clause
// Elementwise activations, forward next to backward: one flat RangePolicy kernel each.
#include "kernels/nn/activations.hpp"

#include <cstdint>
#include <string>

namespace selectiv::nn {
namespace {

using FlatPolicy = Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>;

void require_same_length(const char* op, std::size_t a, std::size_t b) {
  if (a != b) {
    throw std::invalid_argument(std::string("selectiv::nn::") + op + ": length mismatch " + std::to_string(a) + " vs " +
                                std::to_string(b));
  }
}

// y = f(x)
template <class Fn>
void map_forward(const Exec& exec, const char* label, const char* op, View1 y, CView1 x, Fn f) {
  require_same_length(op, y.extent(0), x.extent(0));
  Kokkos::parallel_for(
      label, FlatPolicy(exec, 0, static_cast<std::int64_t>(x.extent(0))),
      KOKKOS_LAMBDA(std::int64_t i) { y(i) = f(x(i)); });
}

// dx = dy * f'(x)
template <class Grad>
void map_backward(const Exec& exec, const char* label, const char* op, View1 dx, CView1 dy, CView1 x, Grad g) {
  require_same_length(op, dx.extent(0), x.extent(0));
  require_same_length(op, dy.extent(0), x.extent(0));
  Kokkos::parallel_for(
      label, FlatPolicy(exec, 0, static_cast<std::int64_t>(x.extent(0))),
      KOKKOS_LAMBDA(std::int64_t i) { dx(i) = dy(i) * g(x(i)); });
}

struct Sigmoid {
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return sigmoid(x); }
};
struct SigmoidGrad {
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return sigmoid_grad(x); }
};
struct Silu {
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return silu(x); }
};
struct SiluGrad {
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return silu_grad(x); }
};
struct Softplus {
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return softplus(x); }
};
struct SoftplusGrad {
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return softplus_grad(x); }
};
struct ScaledLogSigmoid {
  float scale;
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return scale * logsigmoid(x); }
};
struct ScaledLogSigmoidGrad {
  float scale;
  KOKKOS_INLINE_FUNCTION float operator()(float x) const { return scale * logsigmoid_grad(x); }
};

}  // namespace

void sigmoid_fwd(const Exec& exec, View1 y, CView1 x) {
  map_forward(exec, "selectiv::sigmoid::fwd", "sigmoid_fwd", y, x, Sigmoid{});
}
void sigmoid_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x) {
  map_backward(exec, "selectiv::sigmoid::bwd", "sigmoid_bwd", dx, dy, x, SigmoidGrad{});
}

void silu_fwd(const Exec& exec, View1 y, CView1 x) {
  map_forward(exec, "selectiv::silu::fwd", "silu_fwd", y, x, Silu{});
}
void silu_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x) {
  map_backward(exec, "selectiv::silu::bwd", "silu_bwd", dx, dy, x, SiluGrad{});
}

void softplus_fwd(const Exec& exec, View1 y, CView1 x) {
  map_forward(exec, "selectiv::softplus::fwd", "softplus_fwd", y, x, Softplus{});
}
void softplus_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x) {
  map_backward(exec, "selectiv::softplus::bwd", "softplus_bwd", dx, dy, x, SoftplusGrad{});
}

void logsigmoid_fwd(const Exec& exec, View1 y, CView1 x, float scale) {
  map_forward(exec, "selectiv::logsigmoid::fwd", "logsigmoid_fwd", y, x, ScaledLogSigmoid{scale});
}
void logsigmoid_bwd(const Exec& exec, View1 dx, CView1 dy, CView1 x, float scale) {
  map_backward(exec, "selectiv::logsigmoid::bwd", "logsigmoid_bwd", dx, dy, x, ScaledLogSigmoidGrad{scale});
}

}  // namespace selectiv::nn
