// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/nn/window_vote.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {

void window_vote_accumulate(const Exec& exec, View3 votes, CView2 logits, int row_begin, int T, IView2 window_start,
                            IView2 window_length) {
  const int E = static_cast<int>(votes.extent(1)), C = static_cast<int>(votes.extent(2));
  const int row_end = row_begin + static_cast<int>(logits.extent(0));
  using Policy = Kokkos::TeamPolicy<Exec>;
  Policy policy(exec, static_cast<int>(votes.extent(0)) * E, Kokkos::AUTO);
  Kokkos::parallel_for(
      "selectiv::window_vote::accumulate", policy, KOKKOS_LAMBDA(const Policy::member_type& team) {
        const int b = team.league_rank() / E, e = team.league_rank() % E;
        const int window_end = kc::min(window_start(b, e) + window_length(b, e), T);
        const int first = kc::max(b * T + window_start(b, e), row_begin);
        const int last = kc::min(b * T + window_end, row_end);
        for (int r = first; r < last; ++r) {
          const int row = r - row_begin;
          float row_max = Kokkos::reduction_identity<float>::max();
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, C), [&](int c, float& m) { m = kc::max(m, logits(row, c)); },
              Kokkos::Max<float>(row_max));
          float row_sum = 0.0f;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, C), [&](int c, float& s) { s += kc::exp(logits(row, c) - row_max); },
              row_sum);
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, C),
                               [&](int c) { votes(b, e, c) += kc::exp(logits(row, c) - row_max) / row_sum; });
          team.team_barrier();
        }
      });
}

void window_vote_argmax(const Exec& exec, IView2 pred, CView3 votes, IView2 window_length) {
  const int E = static_cast<int>(pred.extent(1)), C = static_cast<int>(votes.extent(2));
  // First maximum, scanned in class order by one thread, so ties resolve the same on every backend.
  Kokkos::parallel_for(
      "selectiv::window_vote::argmax", Kokkos::RangePolicy<Exec>(exec, 0, static_cast<int>(pred.extent(0)) * E),
      KOKKOS_LAMBDA(int i) {
        const int b = i / E, e = i % E;
        int best = 0;
        for (int c = 1; c < C; ++c) best = votes(b, e, c) > votes(b, e, best) ? c : best;
        pred(b, e) = window_length(b, e) > 0 ? best : -1;
      });
}

void window_vote_fwd(const Exec& exec, IView2 pred, CView3 logits, IView2 window_start, IView2 window_length) {
  const int B = static_cast<int>(logits.extent(0)), T = static_cast<int>(logits.extent(1));
  const int C = static_cast<int>(logits.extent(2));
  View3 votes("selectiv::window_vote::votes", B, pred.extent(1), C);
  CView2 rows(logits.data(), static_cast<std::size_t>(B) * T, C);
  window_vote_accumulate(exec, votes, rows, 0, T, window_start, window_length);
  window_vote_argmax(exec, pred, votes, window_length);
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
