// SPDX-License-Identifier: BSD-3-Clause
// What follows each element's symbol step in time (reference-spec §2.8): a number of all-zero steps (tasks 1, 2,
// 4) or of one-hot distractor symbols that may not follow the element's hidden state (task 3). The symbols and
// states come from the grammar; this draws only the gaps, from the counter-based RNG of counter_rng.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "data/grammar/grammar.hpp"
#include "data/tasks/task_spec.hpp"

namespace selectiv::data {

// For every state, the symbol ids 0..n_symbols-1 (with '#' = 0) that no transition out of the state emits: the
// reference's {j : transition_probs[state][j] == 0}. '#' has no outgoing edge, so after a '#' element every
// symbol is a distractor (quirk 4).
class ForbiddenSymbols {
 public:
  explicit ForbiddenSymbols(const Grammar& grammar);
  const std::vector<int>& of_state(int state) const { return m_forbidden.at(static_cast<std::size_t>(state)); }

 private:
  std::vector<std::vector<int>> m_forbidden;  // (S) ascending symbol ids
};

// The delay in seconds of an element that has a gap: round(U(train_gap_min, train_gap_max), 1) in train (one
// decimal, half to even like numpy.round), test_gap in test and heldout.
double element_delay(const TaskSpec& spec, Split split, std::int64_t sample, std::int64_t element);

// Steps a delay takes: ceil(delay / timestep) zero steps (tasks 1, 2, 4), round(delay / timestep) distractors
// (task 3, half to even like Python's round).
std::int32_t gap_steps(GapKind kind, double delay, double timestep);

struct SampleGaps {
  std::vector<std::int32_t> gap;          // (E) steps after element e's symbol step
  std::vector<std::int32_t> distractors;  // (sum of gap) symbol ids in time order; empty for zero gaps
  std::int64_t steps = 0;                 // E + sum(gap): time steps of the sample
};

// The gaps of one sample: element e < gap_start has none; otherwise it has one with probability gap_prob, of
// gap_steps(element_delay(...)) steps. Distractors are drawn uniformly among forbidden.of_state(state[e]); an
// element whose state allows every symbol gets no distractor. `sample` is the generator index of the sample.
SampleGaps draw_sample_gaps(const TaskSpec& spec, Split split, const ForbiddenSymbols& forbidden,
                            const std::vector<int>& state_idx, std::int64_t sample);

}  // namespace selectiv::data
