// SPDX-License-Identifier: BSD-3-Clause
// Token-by-token Kokkos kernels of the delta rule: one thread per state column forward, one team per (b, h)
// backward over recomputed stretches of kCheckpointEvery tokens (README.md §2).
#include "kernels/delta_rule/recurrent.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::delta_rule {
namespace {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
using ScratchVector = Kokkos::View<float*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;

struct Sizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0, n = 1, NC = 0;
};

// Forward: thread i owns column c of the state of (b, h) and carries it through all tokens in a register array.
struct ColumnForward {
  View4 o, ht, checkpoints;
  CView4 q, k, v;
  CView3 beta, g;
  CView4 h0;
  float scale;
  Sizes s;
  bool has_g, has_h0, has_ht;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int c = i % s.V, bh = i / s.V, h = bh % s.H, b = bh / s.H;
    float col[kMaxKeyDim];
    for (int e = 0; e < s.K; ++e) col[e] = has_h0 ? h0(b, h, e, c) : 0.0f;
    for (int t = 0; t < s.T; ++t) {
      if (t % kCheckpointEvery == 0) {
        const int row = (t / kCheckpointEvery) * s.K;
        for (int e = 0; e < s.K; ++e) checkpoints(b, h, row + e, c) = col[e];
      }
      if (has_g) {
        const float decay = kc::exp(g(b, t, h));
        for (int e = 0; e < s.K; ++e) col[e] *= decay;
      }
      for (int j = 0; j < s.n; ++j) {
        const int r = t * s.n + j;
        float dot = 0.0f;
        for (int e = 0; e < s.K; ++e) dot += col[e] * k(b, r, h, e);
        const float update = beta(b, r, h) * (v(b, r, h, c) - dot);
        for (int e = 0; e < s.K; ++e) col[e] += k(b, r, h, e) * update;
      }
      float out = 0.0f;
      for (int e = 0; e < s.K; ++e) out += col[e] * q(b, t, h, e);
      o(b, t, h, c) = scale * out;
    }
    if (has_ht)
      for (int e = 0; e < s.K; ++e) ht(b, h, e, c) = col[e];
  }
};

// Backward: team bh walks the stretches of kCheckpointEvery tokens from last to first. For each it recomputes the
// pre-update state of every sub-step into `pre` (from the checkpoint), then runs the backward recurrence on dS.
struct TeamBackward {
  View4 dq, dk, dv;
  View3 dbeta, dg;
  View4 dh0;
  CView4 checkpoints, do_, dht, q, k, v;
  CView3 beta, g;
  View4 pre;  // (B * H, kCheckpointEvery * n, K, V) workspace
  View3 dS;   // (B * H, K, V) workspace: dL/dS at the current point of the backward walk
  float scale;
  Sizes s;
  bool has_g, has_dht, has_dh0;

  static std::size_t scratch_bytes(int V) { return 3 * ScratchVector::shmem_size(V); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int bh = team.league_rank(), b = bh / s.H, h = bh % s.H;
    const int K = s.K, V = s.V, n = s.n;
    ScratchVector u(team.team_scratch(0), V), w(team.team_scratch(0), V), du(team.team_scratch(0), V);

    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, K * V), [&](int i) {
      dS(bh, i / V, i % V) = has_dht ? dht(b, h, i / V, i % V) : 0.0f;
    });
    team.team_barrier();

    for (int stretch = s.NC - 1; stretch >= 0; --stretch) {
      const int t0 = stretch * kCheckpointEvery;
      const int t1 = t0 + kCheckpointEvery < s.T ? t0 + kCheckpointEvery : s.T;
      // 1. recompute the pre-update states of the stretch, one column per thread
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, V), [&](int c) {
        float col[kMaxKeyDim];
        for (int e = 0; e < K; ++e) col[e] = checkpoints(b, h, stretch * K + e, c);
        for (int t = t0; t < t1; ++t) {
          if (has_g) {
            const float decay = kc::exp(g(b, t, h));
            for (int e = 0; e < K; ++e) col[e] *= decay;
          }
          for (int j = 0; j < n; ++j) {
            const int r = t * n + j, slot = (t - t0) * n + j;
            float dot = 0.0f;
            for (int e = 0; e < K; ++e) {
              pre(bh, slot, e, c) = col[e];
              dot += col[e] * k(b, r, h, e);
            }
            const float update = beta(b, r, h) * (v(b, r, h, c) - dot);
            for (int e = 0; e < K; ++e) col[e] += k(b, r, h, e) * update;
          }
        }
      });
      team.team_barrier();

      for (int t = t1 - 1; t >= t0; --t) {
        // 2. read-out o_t = scale S_t^T q_t with S_t = P + k (beta u)^T, P the last pre-update state
        {
          const int r = t * n + n - 1, slot = (t - t0) * n + n - 1;
          const float bt = beta(b, r, h);
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, V), [&](int c) {
            float dot = 0.0f;
            for (int e = 0; e < K; ++e) dot += pre(bh, slot, e, c) * k(b, r, h, e);
            u(c) = v(b, r, h, c) - dot;
          });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, K), [&](int e) {
            const float ke = k(b, r, h, e) * bt;
            float acc = 0.0f;
            for (int c = 0; c < V; ++c) acc += (pre(bh, slot, e, c) + ke * u(c)) * do_(b, t, h, c);
            dq(b, t, h, e) = scale * acc;
          });
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, V), [&](int c) {
            const float sd = scale * do_(b, t, h, c);
            for (int e = 0; e < K; ++e) dS(bh, e, c) += q(b, t, h, e) * sd;
          });
          team.team_barrier();
        }
        // 3. sub-steps in reverse: S = P + k (beta u)^T, u = v - P^T k
        for (int j = n - 1; j >= 0; --j) {
          const int r = t * n + j, slot = (t - t0) * n + j;
          const float bt = beta(b, r, h);
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, V), [&](int c) {
            float dot = 0.0f, dot_ds = 0.0f;
            for (int e = 0; e < K; ++e) {
              const float ke = k(b, r, h, e);
              dot += pre(bh, slot, e, c) * ke;
              dot_ds += dS(bh, e, c) * ke;
            }
            u(c) = v(b, r, h, c) - dot;
            w(c) = dot_ds;            // dL/d(beta u)
            du(c) = bt * dot_ds;
            dv(b, r, h, c) = bt * dot_ds;
          });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, K), [&](int e) {
            float acc = 0.0f;
            for (int c = 0; c < V; ++c) acc += dS(bh, e, c) * bt * u(c) - pre(bh, slot, e, c) * du(c);
            dk(b, r, h, e) = acc;
          });
          float db = 0.0f;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, V), [&](int c, float& acc) { acc += u(c) * w(c); }, db);
          Kokkos::single(Kokkos::PerTeam(team), [&]() { dbeta(b, r, h) = db; });
          team.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, V), [&](int c) {
            for (int e = 0; e < K; ++e) dS(bh, e, c) -= k(b, r, h, e) * du(c);
          });
          team.team_barrier();
        }
        // 4. decay: A = exp(g_t) S_{t-1} is the first pre-update state; dg_t = <dA, A>, dS_{t-1} = exp(g_t) dA
        if (has_g) {
          const int slot = (t - t0) * n;
          float dgt = 0.0f;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, K * V),
              [&](int i, float& acc) { acc += dS(bh, i / V, i % V) * pre(bh, slot, i / V, i % V); }, dgt);
          Kokkos::single(Kokkos::PerTeam(team), [&]() { dg(b, t, h) = dgt; });
          team.team_barrier();
          const float decay = kc::exp(g(b, t, h));
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, V), [&](int c) {
            for (int e = 0; e < K; ++e) dS(bh, e, c) *= decay;
          });
          team.team_barrier();
        }
      }
    }
    if (has_dh0) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, K * V), [&](int i) {
        dh0(b, h, i / V, i % V) = dS(bh, i / V, i % V);
      });
    }
  }
};

void require_extents(const CView4& x, int e0, int e1, int e2, int e3, const char* name) {
  if (static_cast<int>(x.extent(0)) != e0 || static_cast<int>(x.extent(1)) != e1 ||
      static_cast<int>(x.extent(2)) != e2 || static_cast<int>(x.extent(3)) != e3)
    throw std::invalid_argument(std::string("selectiv::delta_rule: wrong extents of ") + name);
}
void require_extents(const CView3& x, int e0, int e1, int e2, const char* name) {
  if (static_cast<int>(x.extent(0)) != e0 || static_cast<int>(x.extent(1)) != e1 ||
      static_cast<int>(x.extent(2)) != e2)
    throw std::invalid_argument(std::string("selectiv::delta_rule: wrong extents of ") + name);
}

// Sizes from q (B, T, H, K), v (.., V) and k (B, T * n, ..); checks k, v, beta, g and the checkpoints.
Sizes sizes_of(const CView4& q, const CView4& k, const CView4& v, const CView3& beta, const CView3& g,
               const CView4& checkpoints) {
  Sizes s;
  s.B = static_cast<int>(q.extent(0));
  s.T = static_cast<int>(q.extent(1));
  s.H = static_cast<int>(q.extent(2));
  s.K = static_cast<int>(q.extent(3));
  s.V = static_cast<int>(v.extent(3));
  s.NC = delta_num_checkpoints(s.T);
  if (s.T < 1 || k.extent(1) % s.T != 0) throw std::invalid_argument("selectiv::delta_rule: k rows not T * n");
  s.n = static_cast<int>(k.extent(1)) / s.T;
  if (s.K > kMaxKeyDim) throw std::invalid_argument("selectiv::delta_rule: key dim above kMaxKeyDim");
  require_extents(k, s.B, s.T * s.n, s.H, s.K, "k");
  require_extents(v, s.B, s.T * s.n, s.H, s.V, "v");
  require_extents(beta, s.B, s.T * s.n, s.H, "beta");
  if (g.data() != nullptr) require_extents(g, s.B, s.T, s.H, "g");
  require_extents(checkpoints, s.B, s.H, s.NC * s.K, s.V, "checkpoints");
  return s;
}

}  // namespace

int delta_num_checkpoints(int T) { return (T + kCheckpointEvery - 1) / kCheckpointEvery; }

View4 delta_allocate_checkpoints(int B, int T, int H, int K, int V) {
  return View4(Kokkos::view_alloc(Kokkos::WithoutInitializing, "selectiv::delta_rule::checkpoints"), B, H,
               delta_num_checkpoints(T) * K, V);
}

void delta_recurrent_fwd(const Exec& exec, View4 o, View4 ht, View4 checkpoints, CView4 q, CView4 k, CView4 v,
                         CView3 beta, CView3 g, CView4 h0, float scale) {
  const Sizes s = sizes_of(q, k, v, beta, g, checkpoints);
  const bool has_g = g.data() != nullptr, has_h0 = h0.data() != nullptr, has_ht = ht.data() != nullptr;
  require_extents(o, s.B, s.T, s.H, s.V, "o");
  if (has_h0) require_extents(h0, s.B, s.H, s.K, s.V, "h0");
  if (has_ht) require_extents(ht, s.B, s.H, s.K, s.V, "ht");
  Kokkos::parallel_for("selectiv::delta_rule::recurrent_fwd::columns",
                       Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.H * s.V),
                       ColumnForward{o, ht, checkpoints, q, k, v, beta, g, h0, scale, s, has_g, has_h0, has_ht});
}

void delta_recurrent_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View3 dbeta, View3 dg, View4 dh0,
                         CView4 checkpoints, CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView3 beta,
                         CView3 g, float scale) {
  const Sizes s = sizes_of(q, k, v, beta, g, checkpoints);
  const bool has_g = g.data() != nullptr, has_dht = dht.data() != nullptr, has_dh0 = dh0.data() != nullptr;
  if (has_g != (dg.data() != nullptr)) throw std::invalid_argument("selectiv::delta_rule: dg must match g");
  require_extents(dq, s.B, s.T, s.H, s.K, "dq");
  require_extents(dk, s.B, s.T * s.n, s.H, s.K, "dk");
  require_extents(dv, s.B, s.T * s.n, s.H, s.V, "dv");
  require_extents(dbeta, s.B, s.T * s.n, s.H, "dbeta");
  require_extents(do_, s.B, s.T, s.H, s.V, "do");
  if (has_g) require_extents(dg, s.B, s.T, s.H, "dg");
  if (has_dht) require_extents(dht, s.B, s.H, s.K, s.V, "dht");
  if (has_dh0) require_extents(dh0, s.B, s.H, s.K, s.V, "dh0");
  View4 pre(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::pre_states"), s.B * s.H,
            kCheckpointEvery * s.n, s.K, s.V);
  View3 dS(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::dstate"), s.B * s.H, s.K,
           s.V);
  TeamPolicy policy(exec, s.B * s.H, Kokkos::AUTO);
  policy.set_scratch_size(0, Kokkos::PerTeam(TeamBackward::scratch_bytes(s.V)));
  Kokkos::parallel_for("selectiv::delta_rule::recurrent_bwd::heads", policy,
                       TeamBackward{dq, dk, dv, dbeta, dg, dh0, checkpoints, do_, dht, q, k, v, beta, g, pre, dS,
                                    scale, s, has_g, has_dht, has_dh0});
  // The workspaces are freed on return: wait for the kernel that uses them.
  kc::fence(exec, "selectiv::delta_rule::recurrent_bwd");
}

}  // namespace selectiv::delta_rule
