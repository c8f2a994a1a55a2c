// SPDX-License-Identifier: BSD-3-Clause
// Chunked selective scan, forward and backward: one functor per numbered step of README.md §2-§3, then the two
// orchestrators. The per-chunk steps run one thread per (b, chunk, channel), channels fastest so that neighbouring
// threads read neighbouring x / dt / dy; the state passes run one thread per (b, channel, state entry).
#include "kernels/selective_scan/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::selective_scan {
namespace {

struct Sizes {
  int B, T, Din, N, NT;
};

// One chunk of one (b, channel): tokens t0 .. t0 + len - 1.
struct ChunkChannel {
  int b, n, c, t0, len;
};

// Flat index = (b * NT + n) * Din + c.
KOKKOS_INLINE_FUNCTION ChunkChannel chunk_channel_of(int i, const Sizes& s) {
  ChunkChannel cc;
  cc.c = i % s.Din;
  const int bn = i / s.Din;
  cc.n = bn % s.NT;
  cc.b = bn / s.NT;
  cc.t0 = cc.n * kChunk;
  const int rest = s.T - cc.t0;
  cc.len = rest < kChunk ? rest : kChunk;
  return cc;
}

// Flat index = (b * Din + c) * N + n, for the sequential passes over chunks.
struct StateEntry {
  int b, c, n;
};
KOKKOS_INLINE_FUNCTION StateEntry state_entry_of(int i, const Sizes& s) {
  StateEntry e;
  e.n = i % s.N;
  const int bc = i / s.N;
  e.c = bc % s.Din;
  e.b = bc / s.Din;
  return e;
}

// Forward step 1: every chunk scanned from a zero state. y gets D x plus the chunk-local part of C s; states[n]
// gets the chunk's own end state U_n and decay[n] the chunk's total decay P_n = prod_r exp(dt_r A).
struct ChunkLocalScan {
  View3 y;
  View4 states, decay;
  CView3 x, dt;
  CView2 A;
  CView3 Bm, Cm;
  CView1 D;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const ChunkChannel cc = chunk_channel_of(i, s);
    const int b = cc.b, c = cc.c, t0 = cc.t0;
    float out[kChunk], input[kChunk], step[kChunk];
    for (int r = 0; r < cc.len; ++r) {
      input[r] = x(b, t0 + r, c);
      step[r] = dt(b, t0 + r, c);
      out[r] = D(c) * input[r];
    }
    for (int n = 0; n < s.N; ++n) {
      const float rate = A(c, n);
      float state = 0.0f, product = 1.0f;
      for (int r = 0; r < cc.len; ++r) {
        const float a = kc::exp(step[r] * rate);
        state = a * state + step[r] * Bm(b, t0 + r, n) * input[r];
        product *= a;
        out[r] += Cm(b, t0 + r, n) * state;
      }
      states(b, cc.n, c, n) = state;
      decay(b, cc.n, c, n) = product;
    }
    for (int r = 0; r < cc.len; ++r) y(b, t0 + r, c) = out[r];
  }
};

// Forward step 2: S = 0; for n: U = states[n]; states[n] = S; S = P_n S + U. Then ht = S.
struct StatePassing {
  View4 states;
  View3 ht;
  CView4 decay;
  bool has_ht;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const StateEntry e = state_entry_of(i, s);
    float state = 0.0f;
    for (int n = 0; n < s.NT; ++n) {
      const float local = states(e.b, n, e.c, e.n);
      states(e.b, n, e.c, e.n) = state;
      state = decay(e.b, n, e.c, e.n) * state + local;
    }
    if (has_ht) ht(e.b, e.c, e.n) = state;
  }
};

// Forward step 3 (chunks n >= 1): y_r += sum_n C_r[n] exp(b_r[c, n]) S_[n][c, n], exp(b_r) = prod_{u<=r} a_u.
struct ChunkCorrection {
  View3 y;
  CView4 states;
  CView3 dt;
  CView2 A;
  CView3 Cm;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const ChunkChannel cc = chunk_channel_of(i, s);
    if (cc.n == 0) return;  // the state before the first chunk is zero
    const int b = cc.b, c = cc.c, t0 = cc.t0;
    float out[kChunk], step[kChunk];
    for (int r = 0; r < cc.len; ++r) {
      step[r] = dt(b, t0 + r, c);
      out[r] = 0.0f;
    }
    for (int n = 0; n < s.N; ++n) {
      const float rate = A(c, n), start = states(b, cc.n, c, n);
      float carried = start;
      for (int r = 0; r < cc.len; ++r) {
        carried *= kc::exp(step[r] * rate);
        out[r] += Cm(b, t0 + r, n) * carried;
      }
    }
    for (int r = 0; r < cc.len; ++r) y(b, t0 + r, c) += out[r];
  }
};

// Backward step 1: the chunk-local reverse scan from a zero end gradient, dl_r = C_r[n] dy_r[c] + a_{r+1} dl_{r+1};
// dstates[n] = a_0 dl_0 (the gradient the chunk alone sends to the state before it), decay[n] = P_n.
struct ChunkLocalDstates {
  View4 dstates, decay;
  CView3 dy, dt;
  CView2 A;
  CView3 Cm;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const ChunkChannel cc = chunk_channel_of(i, s);
    const int b = cc.b, c = cc.c, t0 = cc.t0;
    float grad[kChunk], step[kChunk];
    for (int r = 0; r < cc.len; ++r) {
      grad[r] = dy(b, t0 + r, c);
      step[r] = dt(b, t0 + r, c);
    }
    for (int n = 0; n < s.N; ++n) {
      const float rate = A(c, n);
      float dstate = 0.0f, product = 1.0f;
      for (int r = cc.len - 1; r >= 0; --r) {
        const float a = kc::exp(step[r] * rate);
        dstate = a * (dstate + Cm(b, t0 + r, n) * grad[r]);
        product *= a;
      }
      dstates(b, cc.n, c, n) = dstate;
      decay(b, cc.n, c, n) = product;
    }
  }
};

// Backward step 2: dS = 0; for n = NT-1..0: W = dstates[n]; dstates[n] = dS; dS = P_n dS + W. Afterwards
// dstates[n] = dS_[n+1], the gradient of the state at the end of chunk n arriving from later chunks.
struct DstatePassing {
  View4 dstates;
  CView4 decay;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const StateEntry e = state_entry_of(i, s);
    float dstate = 0.0f;
    for (int n = s.NT - 1; n >= 0; --n) {
      const float local = dstates(e.b, n, e.c, e.n);
      dstates(e.b, n, e.c, e.n) = dstate;
      dstate = decay(e.b, n, e.c, e.n) * dstate + local;
    }
  }
};

// Backward step 3: per chunk, recompute s_r from S_[n], then run the reverse recurrence from dS_[n+1] and collect
// every gradient. dx, ddt are sums over the state entries of this thread's channel (assigned); dB, dC are sums over
// channels (atomic adds into zeroed tensors); dA, dD are sums over tokens (one atomic add per chunk).
struct ChunkGradients {
  View3 dx, ddt;
  View2 dA;
  View3 dB, dC;
  View1 dD;
  CView4 states, dstates;
  CView3 dy, x, dt;
  CView2 A;
  CView3 Bm, Cm;
  CView1 D;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(const int i) const {
    const ChunkChannel cc = chunk_channel_of(i, s);
    const int b = cc.b, c = cc.c, t0 = cc.t0;
    float grad[kChunk], input[kChunk], step[kChunk], decay[kChunk], state[kChunk], dinput[kChunk], dstep[kChunk];
    float dskip = 0.0f;
    for (int r = 0; r < cc.len; ++r) {
      grad[r] = dy(b, t0 + r, c);
      input[r] = x(b, t0 + r, c);
      step[r] = dt(b, t0 + r, c);
      dskip += grad[r] * input[r];
      dinput[r] = D(c) * grad[r];
      dstep[r] = 0.0f;
    }
    for (int n = 0; n < s.N; ++n) {
      const float rate = A(c, n), start = states(b, cc.n, c, n);
      float carried = start;
      for (int r = 0; r < cc.len; ++r) {
        decay[r] = kc::exp(step[r] * rate);
        carried = decay[r] * carried + step[r] * Bm(b, t0 + r, n) * input[r];
        state[r] = carried;
      }
      float dstate = dstates(b, cc.n, c, n), drate = 0.0f;
      for (int r = cc.len - 1; r >= 0; --r) {
        const int t = t0 + r;
        const float bt = Bm(b, t, n), previous = r > 0 ? state[r - 1] : start;
        Kokkos::atomic_add(&dC(b, t, n), grad[r] * state[r]);
        dstate += Cm(b, t, n) * grad[r];
        Kokkos::atomic_add(&dB(b, t, n), dstate * step[r] * input[r]);
        dinput[r] += dstate * step[r] * bt;
        const float decayed_previous = decay[r] * previous;
        dstep[r] += dstate * (bt * input[r] + rate * decayed_previous);
        drate += dstate * step[r] * decayed_previous;
        dstate *= decay[r];
      }
      Kokkos::atomic_add(&dA(c, n), drate);
    }
    Kokkos::atomic_add(&dD(c), dskip);
    for (int r = 0; r < cc.len; ++r) {
      dx(b, t0 + r, c) = dinput[r];
      ddt(b, t0 + r, c) = dstep[r];
    }
  }
};

template <class ViewType>
void require_extents(const ViewType& v, std::size_t e0, std::size_t e1, std::size_t e2, const char* what) {
  if (v.extent(0) != e0 || v.extent(1) != e1 || v.extent(2) != e2)
    throw std::invalid_argument(std::string("selectiv::selective_scan: wrong extents of ") + what);
}

Sizes sizes_of(const CView3& x, const CView3& dt, const CView2& A, const CView3& Bm, const CView3& Cm,
               const CView1& D, const CView4& states) {
  Sizes s;
  s.B = static_cast<int>(x.extent(0));
  s.T = static_cast<int>(x.extent(1));
  s.Din = static_cast<int>(x.extent(2));
  s.N = static_cast<int>(A.extent(1));
  s.NT = scan_num_chunks(s.T);
  require_extents(dt, s.B, s.T, s.Din, "dt");
  require_extents(Bm, s.B, s.T, s.N, "B");
  require_extents(Cm, s.B, s.T, s.N, "C");
  if (A.extent(0) != static_cast<std::size_t>(s.Din) || D.extent(0) != static_cast<std::size_t>(s.Din))
    throw std::invalid_argument("selectiv::selective_scan: A or D does not have Din rows");
  if (states.extent(0) != static_cast<std::size_t>(s.B) || states.extent(1) != static_cast<std::size_t>(s.NT) ||
      states.extent(2) != static_cast<std::size_t>(s.Din) || states.extent(3) != static_cast<std::size_t>(s.N))
    throw std::invalid_argument("selectiv::selective_scan: wrong extents of states");
  return s;
}

}  // namespace

int scan_num_chunks(int T) { return (T + kChunk - 1) / kChunk; }

View4 selective_scan_allocate_states(int B, int T, int Din, int N) {
  return View4("selectiv::selective_scan::states", B, scan_num_chunks(T), Din, N);
}

void selective_scan_chunked_fwd(const Exec& exec, View3 y, View3 ht, View4 states, CView3 x, CView3 dt, CView2 A,
                                CView3 Bm, CView3 Cm, CView1 D) {
  const Sizes s = sizes_of(x, dt, A, Bm, Cm, D, states);
  require_extents(y, s.B, s.T, s.Din, "y");
  const bool has_ht = ht.extent(0) > 0;
  if (has_ht) require_extents(ht, s.B, s.Din, s.N, "ht");
  if (s.B == 0 || s.Din == 0) return;
  if (s.T == 0) {
    if (has_ht) Kokkos::deep_copy(exec, ht, 0.0f);
    return;
  }
  const View4 decay = workspace<View4>("selectiv::selective_scan::decay", s.B, s.NT, s.Din, s.N);
  const int chunk_channels = s.B * s.NT * s.Din, entries = s.B * s.Din * s.N;
  Kokkos::parallel_for("selectiv::selective_scan::chunked_fwd::chunk_local_scan",
                       Kokkos::RangePolicy<Exec>(exec, 0, chunk_channels),
                       ChunkLocalScan{y, states, decay, x, dt, A, Bm, Cm, D, s});
  Kokkos::parallel_for("selectiv::selective_scan::chunked_fwd::state_passing",
                       Kokkos::RangePolicy<Exec>(exec, 0, entries), StatePassing{states, ht, decay, has_ht, s});
  if (s.NT > 1)
    Kokkos::parallel_for("selectiv::selective_scan::chunked_fwd::chunk_correction",
                         Kokkos::RangePolicy<Exec>(exec, 0, chunk_channels), ChunkCorrection{y, states, dt, A, Cm, s});
}

void selective_scan_chunked_bwd(const Exec& exec, View3 dx, View3 ddt, View2 dA, View3 dB, View3 dC, View1 dD,
                                CView4 states, CView3 dy, CView3 x, CView3 dt, CView2 A, CView3 Bm, CView3 Cm,
                                CView1 D) {
  const Sizes s = sizes_of(x, dt, A, Bm, Cm, D, states);
  require_extents(dx, s.B, s.T, s.Din, "dx");
  require_extents(ddt, s.B, s.T, s.Din, "ddt");
  require_extents(dy, s.B, s.T, s.Din, "dy");
  require_extents(dB, s.B, s.T, s.N, "dB");
  require_extents(dC, s.B, s.T, s.N, "dC");
  if (dA.extent(0) != static_cast<std::size_t>(s.Din) || dA.extent(1) != static_cast<std::size_t>(s.N) ||
      dD.extent(0) != static_cast<std::size_t>(s.Din))
    throw std::invalid_argument("selectiv::selective_scan: wrong extents of dA or dD");
  Kokkos::deep_copy(exec, dB, 0.0f);
  Kokkos::deep_copy(exec, dC, 0.0f);
  if (s.B == 0 || s.T == 0 || s.Din == 0) return;
  const View4 decay = workspace<View4>("selectiv::selective_scan::decay", s.B, s.NT, s.Din, s.N);
  const View4 dstates = workspace<View4>("selectiv::selective_scan::dstates", s.B, s.NT, s.Din, s.N);
  const int chunk_channels = s.B * s.NT * s.Din, entries = s.B * s.Din * s.N;
  Kokkos::parallel_for("selectiv::selective_scan::chunked_bwd::chunk_local_dstates",
                       Kokkos::RangePolicy<Exec>(exec, 0, chunk_channels),
                       ChunkLocalDstates{dstates, decay, dy, dt, A, Cm, s});
  Kokkos::parallel_for("selectiv::selective_scan::chunked_bwd::dstate_passing",
                       Kokkos::RangePolicy<Exec>(exec, 0, entries), DstatePassing{dstates, decay, s});
  Kokkos::parallel_for("selectiv::selective_scan::chunked_bwd::chunk_gradients",
                       Kokkos::RangePolicy<Exec>(exec, 0, chunk_channels),
                       ChunkGradients{dx, ddt, dA, dB, dC, dD, states, dstates, dy, x, dt, A, Bm, Cm, D, s});
}

}  // namespace selectiv::selective_scan
