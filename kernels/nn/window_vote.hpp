// SPDX-License-Identifier: BSD-3-Clause
// The reference accuracy's vote (reference-spec §3.2): for every element window [start, start + length) of a
// sample, sum the softmax probabilities of its steps and take the argmax class. One team per window; each step's
// softmax is computed once (a step belongs to exactly one window).
#pragma once

#include <vector>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

// pred(b, e) = argmax_c sum_{t in window(b,e)} softmax(logits(b, t, :))_c; windows of length 0 give -1.
// Ties go to the smallest class id (torch.argmax returns the first maximum).
void window_vote_fwd(const Exec& exec,
                     IView2 pred,           // (B, E)
                     CView3 logits,         // (B, T, C)
                     IView2 window_start,   // (B, E) first step of each element
                     IView2 window_length); // (B, E) number of steps (symbol + gap/distractor steps)

// Host twin (double accumulation).
void window_vote_reference(std::vector<int>& pred, const std::vector<float>& logits, const std::vector<int>& start,
                           const std::vector<int>& length, int B, int T, int C, int E);

}  // namespace selectiv::nn
