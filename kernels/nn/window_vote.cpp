// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/nn/window_vote.hpp"

#include <cmath>
#include <limits>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {

void window_vote_fwd(const Exec& exec, IView2 pred, CView3 logits, IView2 window_start, IView2 window_length) {
  const int B = static_cast<int>(pred.extent(0)), E = static_cast<int>(pred.extent(1));
  const int T = static_cast<int>(logits.extent(1)), C = static_cast<int>(logits.extent(2));
  using Policy = Kokkos::TeamPolicy<Exec>;
  using Scratch = Kokkos::View<float*, Exec::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  const std::size_t bytes = Scratch::shmem_size(C);
  Policy policy(exec, B * E, Kokkos::AUTO);
  Kokkos::parallel_for(
      "selectiv::window_vote::fwd", policy.set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Policy::member_type& team) {
        const int b = team.league_rank() / E, e = team.league_rank() % E;
        const int start = window_start(b, e), length = window_length(b, e);
        Scratch votes(team.team_scratch(0), C);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, C), [&](int c) { votes(c) = 0.0f; });
        team.team_barrier();
        for (int t = start; t < start + length && t < T; ++t) {
          float row_max = -std::numeric_limits<float>::infinity();
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, C), [&](int c, float& m) { m = kc::max(m, logits(b, t, c)); },
              Kokkos::Max<float>(row_max));
          float row_sum = 0.0f;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, C), [&](int c, float& s) { s += kc::exp(logits(b, t, c) - row_max); },
              row_sum);
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, C),
                               [&](int c) { votes(c) += kc::exp(logits(b, t, c) - row_max) / row_sum; });
          team.team_barrier();
        }
        team.team_barrier();
        // First maximum, as torch.argmax; one thread, so ties resolve the same on every backend.
        Kokkos::single(Kokkos::PerTeam(team), [&]() {
          int best = 0;
          for (int c = 1; c < C; ++c) best = votes(c) > votes(best) ? c : best;
          pred(b, e) = length > 0 ? best : -1;
        });
      });
}

void window_vote_reference(std::vector<int>& pred, const std::vector<float>& logits, const std::vector<int>& start,
                           const std::vector<int>& length, int B, int T, int C, int E) {
  pred.assign(static_cast<std::size_t>(B) * E, -1);
  std::vector<double> votes(C);
  for (int b = 0; b < B; ++b) {
    for (int e = 0; e < E; ++e) {
      std::fill(votes.begin(), votes.end(), 0.0);
      int s = start[b * E + e], n = length[b * E + e];
      for (int t = s; t < s + n && t < T; ++t) {
        const float* row = &logits[(static_cast<std::size_t>(b) * T + t) * C];
        double m = row[0], sum = 0.0;
        for (int c = 1; c < C; ++c) m = std::max(m, double(row[c]));
        for (int c = 0; c < C; ++c) sum += std::exp(row[c] - m);
        for (int c = 0; c < C; ++c) votes[c] += std::exp(row[c] - m) / sum;
      }
      if (n == 0) continue;
      int best = 0;
      for (int c = 1; c < C; ++c) best = votes[c] > votes[best] ? c : best;
      pred[b * E + e] = best;
    }
  }
}

}  // namespace selectiv::nn
