// SPDX-License-Identifier: BSD-3-Clause
// The one place where Kokkos 3.4 (Debian 12, Serial CI) and Kokkos >= 4.6 (OpenMP, CUDA, HIP) differ.
// Everything in kernels/ and src/ spells these operations through `kc::` / `KC_*`; nothing else tests
// KOKKOS_VERSION. See ../shared/docs/kokkos.md §2 for the compile matrix behind each shim.
#pragma once

#include <Kokkos_Core.hpp>

#if KOKKOS_VERSION < 30400 || (KOKKOS_VERSION >= 30500 && KOKKOS_VERSION < 40600)
#error "SelectivBench needs Kokkos >= 4.6, or Debian 12's Kokkos 3.4.01"
#endif

namespace kc {

// --- math: Kokkos::exp etc. from 3.5 on; 3.4 has them in Kokkos::Experimental only ----------------------------
#if KOKKOS_VERSION >= 40000
using Kokkos::abs;
using Kokkos::cos;
using Kokkos::exp;
using Kokkos::expm1;
using Kokkos::fabs;
using Kokkos::fmax;
using Kokkos::fmin;
using Kokkos::isfinite;
using Kokkos::log;
using Kokkos::log1p;
using Kokkos::max;
using Kokkos::min;
using Kokkos::pow;
using Kokkos::sin;
using Kokkos::sqrt;
using Kokkos::tanh;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::expm1;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::fmax;
using Kokkos::Experimental::fmin;
using Kokkos::Experimental::isfinite;
using Kokkos::Experimental::log;
using Kokkos::Experimental::log1p;
using Kokkos::Experimental::pow;
using Kokkos::Experimental::sin;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tanh;
// Kokkos::min/max/abs arrived in 3.6.
template <class T>
KOKKOS_INLINE_FUNCTION constexpr T min(T a, T b) {
  return b < a ? b : a;
}
template <class T>
KOKKOS_INLINE_FUNCTION constexpr T max(T a, T b) {
  return a < b ? b : a;
}
template <class T>
KOKKOS_INLINE_FUNCTION T abs(T a) {
  return a < T(0) ? -a : a;
}
#endif

// --- atomics: the void-returning atomic_max/min are missing in 3.4; the fetch forms exist in both ---------------
template <class T>
KOKKOS_INLINE_FUNCTION void atomic_max(T* p, T v) {
  Kokkos::atomic_fetch_max(p, v);
}
template <class T>
KOKKOS_INLINE_FUNCTION void atomic_min(T* p, T v) {
  Kokkos::atomic_fetch_min(p, v);
}

// --- labelled fences: Kokkos::fence(label) from 3.5 on ------------------------------------------------------
inline void fence(const char* label) {
#if KOKKOS_VERSION >= 30500
  Kokkos::fence(label);
#else
  (void)label;
  Kokkos::fence();
#endif
}
template <class Exec>
void fence(const Exec& exec, const char* label) {
#if KOKKOS_VERSION >= 30500
  exec.fence(label);
#else
  (void)label;
  exec.fence();
#endif
}

// --- mirrors: create_mirror_view(WithoutInitializing, v) is 4.x only; HostMirror is deprecated in 5.0 ----------
template <class View>
using host_mirror_t = typename View::host_mirror_type;

template <class View>
host_mirror_t<View> create_mirror_view_uninitialized(const View& v) {
#if KOKKOS_VERSION >= 40000
  return Kokkos::create_mirror_view(Kokkos::WithoutInitializing, v);
#else
  return Kokkos::create_mirror_view(v);
#endif
}

// --- bit_cast arrived in 3.7 ---------------------------------------------------------------------------------
template <class To, class From>
KOKKOS_INLINE_FUNCTION To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "kc::bit_cast needs types of equal size");
#if KOKKOS_VERSION >= 40000
  return Kokkos::bit_cast<To>(from);
#else
  To to;
  const char* src = reinterpret_cast<const char*>(&from);
  char* dst = reinterpret_cast<char*>(&to);
  for (unsigned i = 0; i < sizeof(To); ++i) dst[i] = src[i];
  return to;
#endif
}

}  // namespace kc

// --- device printf: Kokkos::printf from 4.2; the old macro is gone after 4.2 --------------------------------
#if KOKKOS_VERSION >= 40200
#define KC_PRINTF(...) Kokkos::printf(__VA_ARGS__)
#else
#define KC_PRINTF(...) KOKKOS_IMPL_DO_NOT_USE_PRINTF(__VA_ARGS__)
#endif

// --- KOKKOS_CLASS_LAMBDA is only defined when Kokkos itself was built as C++17 (Debian's was C++14) -------------
#if !defined(KOKKOS_CLASS_LAMBDA)
#define KOKKOS_CLASS_LAMBDA [ =, *this ]
#endif
