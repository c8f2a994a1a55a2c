// SPDX-License-Identifier: BSD-3-Clause
// Per-element gap lengths and task-3 distractors (reference-spec §2.8), from counter-based draws.
#include "data/tasks/element_gaps.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "data/tasks/counter_rng.hpp"

namespace selectiv::data {

ForbiddenSymbols::ForbiddenSymbols(const Grammar& grammar) {
  const std::size_t n_states = grammar.states.size();
  const int n_symbols = grammar.n_symbols;
  if (grammar.symbol_id_of_state.size() != n_states || grammar.transition_src.size() != grammar.transition_dst.size()) {
    throw Error(ExitCode::kInvalidInput, "grammar: state and transition arrays disagree in length");
  }
  std::vector<std::vector<char>> allowed(n_states, std::vector<char>(static_cast<std::size_t>(n_symbols), 0));
  for (std::size_t i = 0; i < grammar.transition_src.size(); ++i) {
    int src = grammar.transition_src[i], dst = grammar.transition_dst[i];
    if (src < 0 || dst < 0 || static_cast<std::size_t>(src) >= n_states || static_cast<std::size_t>(dst) >= n_states) {
      throw Error(ExitCode::kInvalidInput, "grammar: transition " + std::to_string(i) + " names a state out of range");
    }
    int symbol = grammar.symbol_id_of_state[static_cast<std::size_t>(dst)];
    if (symbol < 0 || symbol >= n_symbols) {
      throw Error(ExitCode::kInvalidInput, "grammar: state " + std::to_string(dst) + " has symbol id " +
                                               std::to_string(symbol) + " outside [0, " + std::to_string(n_symbols) +
                                               ")");
    }
    allowed[static_cast<std::size_t>(src)][static_cast<std::size_t>(symbol)] = 1;
  }
  m_forbidden.resize(n_states);
  for (std::size_t s = 0; s < n_states; ++s) {
    for (int j = 0; j < n_symbols; ++j) {
      if (!allowed[s][static_cast<std::size_t>(j)]) m_forbidden[s].push_back(j);
    }
  }
}

double element_delay(const TaskSpec& spec, Split split, std::int64_t sample, std::int64_t element) {
  if (split != Split::kTrain) return spec.test_gap;
  double u = counter_uniform(spec.grammar.seed, DrawPurpose::kGapLength, split, sample, element, 0);
  double seconds = spec.train_gap_min + (spec.train_gap_max - spec.train_gap_min) * u;
  return std::nearbyint(seconds * 10.0) / 10.0;  // numpy.round(x, 1): rint(x * 10) / 10
}

std::int32_t gap_steps(GapKind kind, double delay, double timestep) {
  double steps = kind == GapKind::kZeros ? std::ceil(delay / timestep) : std::nearbyint(delay / timestep);
  return static_cast<std::int32_t>(steps);
}

SampleGaps draw_sample_gaps(const TaskSpec& spec, Split split, const ForbiddenSymbols& forbidden,
                            const std::vector<int>& state_idx, std::int64_t sample) {
  const std::int64_t n_elements = static_cast<std::int64_t>(state_idx.size());
  SampleGaps out;
  out.gap.assign(state_idx.size(), 0);
  out.steps = n_elements;
  const std::uint64_t seed = spec.grammar.seed;
  for (std::int64_t e = spec.gap_start; e < n_elements; ++e) {
    if (!(counter_uniform(seed, DrawPurpose::kGapOccurs, split, sample, e, 0) < spec.gap_prob)) continue;
    std::int32_t n = gap_steps(spec.gap_kind, element_delay(spec, split, sample, e), spec.timestep);
    if (spec.gap_kind == GapKind::kDistractors) {
      const std::vector<int>& choices = forbidden.of_state(state_idx[static_cast<std::size_t>(e)]);
      if (choices.empty()) n = 0;
      for (std::int32_t k = 0; k < n; ++k) {
        double u = counter_uniform(seed, DrawPurpose::kDistractor, split, sample, e, static_cast<std::uint32_t>(k));
        std::size_t pick = static_cast<std::size_t>(u * static_cast<double>(choices.size()));
        out.distractors.push_back(choices[pick < choices.size() ? pick : choices.size() - 1]);
      }
    }
    out.gap[static_cast<std::size_t>(e)] = n;
    out.steps += n;
  }
  return out;
}

}  // namespace selectiv::data
