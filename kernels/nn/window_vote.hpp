// SPDX-License-Identifier: BSD-3-Clause
// The reference accuracy's vote (reference-spec §3.2): for every element window [start, start + length) of a
// sample, sum the softmax probabilities of its steps and take the argmax class. The sum is streamed: logits arrive
// in blocks of consecutive rows of the flattened (B * T) step axis and are added into per-window vote totals
// (B, E, C), so no caller ever needs the (B, T, C) probabilities of a whole sequence. One team per window; each
// step's softmax is computed once (a step belongs to at most one window).
#pragma once

#include <vector>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

// votes(b, e, :) += softmax(logits(r - row_begin, :)) for every row r = b * T + t of the block
// [row_begin, row_begin + rows) with t in window (b, e) and t < T.
void window_vote_accumulate(const Exec& exec,
                            View3 votes,           // (B, E, C) running totals
                            CView2 logits,         // (rows, C) a block of the flattened (B * T, C) logits
                            int row_begin,         // flattened index of the block's first row
                            int T,                 // steps per sample in the flattened layout
                            IView2 window_start,   // (B, E) first step of each element
                            IView2 window_length); // (B, E) number of steps (symbol + gap/distractor steps)

// pred(b, e) = argmax_c votes(b, e, c); windows of length 0 give -1. Ties go to the smallest class id (torch.argmax
// returns the first maximum).
void window_vote_argmax(const Exec& exec, IView2 pred, CView3 votes, IView2 window_length);

// Both steps on whole-sequence logits (B, T, C) (the training loop's per-batch accuracy).
void window_vote_fwd(const Exec& exec,
                     IView2 pred,           // (B, E)
                     CView3 logits,         // (B, T, C)
                     IView2 window_start,   // (B, E)
                     IView2 window_length); // (B, E)

// Host twin (double accumulation).
void window_vote_reference(std::vector<int>& pred, const std::vector<float>& logits, const std::vector<int>& start,
                           const std::vector<int>& length, int B, int T, int C, int E);

}  // namespace selectiv::nn
