// SPDX-License-Identifier: BSD-3-Clause
// Host reference twin of causal softmax attention: serial, naive (the full T x T score matrix per head), double
// precision throughout, forward and hand-derived backward. It is the oracle the tiled kernels are tested against and
// is never optimised. The math is README.md §1 and §3.
#pragma once

#include <Kokkos_Core.hpp>

namespace selectiv::attention {

using HostView3d = Kokkos::View<double***, Kokkos::LayoutRight, Kokkos::HostSpace>;
using HostView4d = Kokkos::View<double****, Kokkos::LayoutRight, Kokkos::HostSpace>;
using HostCView3d = Kokkos::View<const double***, Kokkos::LayoutRight, Kokkos::HostSpace>;
using HostCView4d = Kokkos::View<const double****, Kokkos::LayoutRight, Kokkos::HostSpace>;

// o_t = sum_{s<=t} softmax_s(scale q_t.k_s) v_s, per batch row and head; lse_t = log sum_{s<=t} exp(scale q_t.k_s).
// Throws std::invalid_argument when the shapes disagree.
void attention_reference_fwd(HostView4d o,     // (B, T, H, D)
                             HostView3d lse,   // (B, H, T)
                             HostCView4d q,    // (B, T, H, D)
                             HostCView4d k,    // (B, T, H, D)
                             HostCView4d v,    // (B, T, H, D)
                             double scale);

// Gradients of the forward's o with respect to q, k and v, given do_ = dL/do. Recomputes the probabilities from q and
// k (saves nothing). dq, dk, dv are activation gradients: assigned, not accumulated.
void attention_reference_bwd(HostView4d dq,    // (B, T, H, D)
                             HostView4d dk,    // (B, T, H, D)
                             HostView4d dv,    // (B, T, H, D)
                             HostCView4d do_,  // (B, T, H, D)
                             HostCView4d q,    // (B, T, H, D)
                             HostCView4d k,    // (B, T, H, D)
                             HostCView4d v,    // (B, T, H, D)
                             double scale);

}  // namespace selectiv::attention
