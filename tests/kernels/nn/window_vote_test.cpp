// SPDX-License-Identifier: BSD-3-Clause
// The windowed vote of the reference accuracy against its host twin and against a direct transcription of the
// reference formula (softmax, einsum with a dense gap mask, argmax) on a small batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/nn/window_vote.hpp"

namespace selectiv::nn {
namespace {

struct Case {
  int B, T, C, E;
  std::vector<float> logits;
  std::vector<int> start, length;
};

// Windows partition [0, T_b) with random lengths, like elements followed by 0..3 gap steps.
Case make_case(int B, int E, int C, unsigned seed) {
  std::mt19937 rng(seed);
  Case c{B, 0, C, E, {}, {}, {}};
  std::vector<int> total(B, 0);
  for (int b = 0; b < B; ++b) {
    for (int e = 0; e < E; ++e) {
      int n = 1 + static_cast<int>(rng() % 4);
      c.start.push_back(total[b]);
      c.length.push_back(n);
      total[b] += n;
    }
    c.T = std::max(c.T, total[b]);
  }
  std::normal_distribution<float> normal(0.0f, 3.0f);
  c.logits.resize(static_cast<std::size_t>(B) * c.T * C);
  for (auto& x : c.logits) x = normal(rng);
  return c;
}

std::vector<int> run_device(const Case& c) {
  View3 logits("logits", c.B, c.T, c.C);
  IView2 start("start", c.B, c.E), length("length", c.B, c.E), pred("pred", c.B, c.E);
  auto h_logits = Kokkos::create_mirror_view(logits);
  auto h_start = Kokkos::create_mirror_view(start);
  auto h_length = Kokkos::create_mirror_view(length);
  for (std::size_t i = 0; i < c.logits.size(); ++i) h_logits.data()[i] = c.logits[i];
  for (std::size_t i = 0; i < c.start.size(); ++i) {
    h_start.data()[i] = c.start[i];
    h_length.data()[i] = c.length[i];
  }
  Kokkos::deep_copy(logits, h_logits);
  Kokkos::deep_copy(start, h_start);
  Kokkos::deep_copy(length, h_length);
  window_vote_fwd(Exec(), pred, logits, start, length);
  auto h_pred = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pred);
  return std::vector<int>(h_pred.data(), h_pred.data() + h_pred.size());
}

// The reference code, transcribed: P = softmax(logits); S = einsum('btc,bet->bec', P, gap_mask); argmax(S).
std::vector<int> reference_formula(const Case& c) {
  std::vector<double> P(c.logits.size());
  for (int r = 0; r < c.B * c.T; ++r) {
    double m = -INFINITY, s = 0;
    for (int k = 0; k < c.C; ++k) m = std::max(m, double(c.logits[r * c.C + k]));
    for (int k = 0; k < c.C; ++k) s += std::exp(c.logits[r * c.C + k] - m);
    for (int k = 0; k < c.C; ++k) P[r * c.C + k] = std::exp(c.logits[r * c.C + k] - m) / s;
  }
  std::vector<int> pred;
  for (int b = 0; b < c.B; ++b) {
    for (int e = 0; e < c.E; ++e) {
      std::vector<double> S(c.C, 0.0);
      for (int t = 0; t < c.T; ++t) {
        double mask = (t >= c.start[b * c.E + e] && t < c.start[b * c.E + e] + c.length[b * c.E + e]) ? 1.0 : 0.0;
        for (int k = 0; k < c.C; ++k) S[k] += P[(b * c.T + t) * c.C + k] * mask;
      }
      pred.push_back(static_cast<int>(std::max_element(S.begin(), S.end()) - S.begin()));
    }
  }
  return pred;
}

// The streamed form: the flattened (B * T) rows arrive in blocks of `block` rows (blocks straddle windows and
// samples); the vote totals are copied back so they can be compared with double sums.
std::vector<int> run_streamed(const Case& c, int block, std::vector<float>* votes_out) {
  View2 rows("rows", static_cast<std::size_t>(c.B) * c.T, c.C);
  IView2 start("start", c.B, c.E), length("length", c.B, c.E), pred("pred", c.B, c.E);
  View3 votes("votes", c.B, c.E, c.C);
  auto h_rows = Kokkos::create_mirror_view(rows);
  auto h_start = Kokkos::create_mirror_view(start);
  auto h_length = Kokkos::create_mirror_view(length);
  for (std::size_t i = 0; i < c.logits.size(); ++i) h_rows.data()[i] = c.logits[i];
  for (std::size_t i = 0; i < c.start.size(); ++i) {
    h_start.data()[i] = c.start[i];
    h_length.data()[i] = c.length[i];
  }
  Kokkos::deep_copy(rows, h_rows);
  Kokkos::deep_copy(start, h_start);
  Kokkos::deep_copy(length, h_length);
  const int R = c.B * c.T;
  for (int r0 = 0; r0 < R; r0 += block) {
    const int r1 = std::min(R, r0 + block);
    CView2 part = Kokkos::subview(CView2(rows), Kokkos::make_pair(r0, r1), Kokkos::ALL());
    window_vote_accumulate(Exec(), votes, part, r0, c.T, start, length);
  }
  window_vote_argmax(Exec(), pred, votes, length);
  auto h_votes = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), votes);
  votes_out->assign(h_votes.data(), h_votes.data() + h_votes.size());
  auto h_pred = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pred);
  return std::vector<int>(h_pred.data(), h_pred.data() + h_pred.size());
}

// Per window, the double sum of the softmax of its steps (the vote totals of the reference formula).
std::vector<double> reference_votes(const Case& c) {
  std::vector<double> S(static_cast<std::size_t>(c.B) * c.E * c.C, 0.0);
  for (int b = 0; b < c.B; ++b)
    for (int e = 0; e < c.E; ++e)
      for (int t = c.start[b * c.E + e]; t < std::min(c.T, c.start[b * c.E + e] + c.length[b * c.E + e]); ++t) {
        const float* row = &c.logits[(static_cast<std::size_t>(b) * c.T + t) * c.C];
        double m = *std::max_element(row, row + c.C), s = 0.0;
        for (int k = 0; k < c.C; ++k) s += std::exp(row[k] - m);
        for (int k = 0; k < c.C; ++k) S[(static_cast<std::size_t>(b) * c.E + e) * c.C + k] += std::exp(row[k] - m) / s;
      }
  return S;
}

}  // namespace

TEST(WindowVote, StreamedBlocksGiveTheSameVotesAsTheWholeSequence) {
  Case c = make_case(3, 20, 37, 5u);
  std::vector<int> host;
  window_vote_reference(host, c.logits, c.start, c.length, c.B, c.T, c.C, c.E);
  std::vector<double> expected = reference_votes(c);
  for (int block : {1, 7, c.T - 1, c.T, c.T + 3, c.B * c.T}) {
    std::vector<float> votes;
    EXPECT_EQ(run_streamed(c, block, &votes), host) << "block " << block;
    double worst = 0.0;
    for (std::size_t i = 0; i < votes.size(); ++i) worst = std::max(worst, std::abs(votes[i] - expected[i]));
    EXPECT_LT(worst, 1e-5) << "block " << block;
  }
}

TEST(WindowVote, DeviceMatchesHostTwinAndTheReferenceFormula) {
  for (auto [B, E, C] : {std::tuple{1, 1, 1}, std::tuple{2, 7, 13}, std::tuple{3, 20, 65}}) {
    Case c = make_case(B, E, C, 17u + B);
    std::vector<int> host;
    window_vote_reference(host, c.logits, c.start, c.length, c.B, c.T, c.C, c.E);
    EXPECT_EQ(host, reference_formula(c)) << B << " " << E << " " << C;
    EXPECT_EQ(run_device(c), host) << B << " " << E << " " << C;
  }
}

TEST(WindowVote, SumOfProbabilitiesNotOfLogitsDecides) {
  // Three steps: step 0 strongly favours class 0 (logit 10), steps 1 and 2 favour class 1 (logit 3 each). Summed
  // probabilities pick class 1 (about 1.82 vs 1.09); summed logits would pick class 0 (10 vs 6).
  Case c{1, 3, 3, 1, {10.0f, 0.0f, 0.0f, 0.0f, 3.0f, 0.0f, 0.0f, 3.0f, 0.0f}, {0}, {3}};
  std::vector<int> host;
  window_vote_reference(host, c.logits, c.start, c.length, 1, 3, 3, 1);
  EXPECT_EQ(host, std::vector<int>{1});
  EXPECT_EQ(reference_formula(c), host);
  EXPECT_EQ(run_device(c), host);
}

}  // namespace selectiv::nn
