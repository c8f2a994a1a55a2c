// SPDX-License-Identifier: BSD-3-Clause
// The selectivity profile of a model's predictions (issue 5, reference-spec §2.10): accuracy by gap length, by how
// many past symbols are needed to fix the hidden state, right after a distractor versus elsewhere (task 3), by
// position in the sample, and which errors confuse instances of the same symbol. Two anchors frame every score:
// the oracle (an exact causal belief filter over the grammar, MAP state) and the memoryless baseline (the best class
// given the current symbol alone).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset/schema.hpp"
#include "data/grammar/grammar.hpp"

namespace selectiv::eval {

inline constexpr int kMaxContext = 16;  // context lengths above this are reported as kMaxContext + 1

// Deterministic successor by observed symbol: next[s * V + symbol] = state or -1. '#' is followed by any start state.
class GrammarIndex {
 public:
  explicit GrammarIndex(const data::Grammar& grammar);
  const data::Grammar& grammar() const { return m_grammar; }
  int next(int state, int symbol) const { return m_next[static_cast<std::size_t>(state) * m_V + symbol]; }
  double prob(int state, int symbol) const { return m_prob[static_cast<std::size_t>(state) * m_V + symbol]; }
  int symbol_of_class(int class_id) const { return m_symbol_of_class[class_id]; }
  const std::vector<int>& states_of_symbol(int symbol) const { return m_states_of_symbol[symbol]; }

 private:
  const data::Grammar& m_grammar;
  int m_V;
  std::vector<int> m_next;
  std::vector<double> m_prob;
  std::vector<int> m_symbol_of_class;
  std::vector<std::vector<int>> m_states_of_symbol;
};

// Per element of one sample (symbols = observed symbol ids): the smallest k such that the last k symbols (with the
// fact that a sample starts at a start state, once k reaches the start) leave exactly one possible hidden state.
std::vector<int> context_needed(const GrammarIndex& index, const std::vector<int>& symbols);
// Per element: the class of the MAP state of the exact causal filter (uniform over start states, the grammar's
// transition probabilities, '#' followed by a uniform start state).
std::vector<int> oracle_classes(const GrammarIndex& index, const std::vector<int>& symbols);

struct Tally {
  std::int64_t correct = 0;
  std::int64_t total = 0;
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
};

struct SelectivityProfile {
  Tally overall;
  std::map<int, Tally> by_gap;             // steps after the element's symbol
  std::map<int, Tally> by_context;         // symbols needed to fix the state (kMaxContext + 1 = more)
  std::map<int, Tally> by_position;        // element position bucket: floor(10 e / E) -> 0..9
  Tally after_distractor, elsewhere;       // distractor datasets only (task 3)
  bool has_distractors = false;
  std::int64_t errors_same_symbol = 0;     // wrong instance of the right symbol
  std::int64_t errors_other_symbol = 0;
  double oracle_accuracy = 0.0;
  double memoryless_accuracy = 0.0;
  nlohmann::json to_json() const;
};

// samples: (N, E) compact samples; predictions: (N * E) predicted class per element, row-major.
SelectivityProfile build_profile(const data::Grammar& grammar, const data::CompactSamples& samples,
                                 const std::vector<int>& predictions, bool distractors);

}  // namespace selectiv::eval
