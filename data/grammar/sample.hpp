// SPDX-License-Identifier: BSD-3-Clause
// Symbol sequences sampled from a grammar, bit-exact with the reference (reference-spec §2.4-§2.5):
// ArtificialGrammar.generate_string, SequenceGenerator.generate_sequence (retry until the length fits) and
// SequenceGenerator.generate(idx) (per-sample default_rng(seed * idx), strings concatenated and cut).
#pragma once

#include <cstdint>
#include <vector>

#include "data/grammar/grammar.hpp"
#include "data/grammar/successor_table.hpp"
#include "data/rng/numpy_generator.hpp"

namespace selectiv::data {

// One walk: a start state drawn with rng.integers(0, n_start), then from each state its only successor (no draw)
// or the successor at bisect_right(cumsum(probs), rng.random()); stops after '#'. Returns the state indices
// (ending with '#'), or an empty vector as soon as the walk grows longer than max_length (rejected).
std::vector<int> generate_string(const Grammar& grammar, const SuccessorTable& table, NumpyGenerator& rng,
                                 int max_length);

// Walks until seq_len_min <= length <= seq_len_max; the reference gives up (std::runtime_error) when the
// 10002nd attempt is reached.
std::vector<int> generate_sequence(const Grammar& grammar, const SuccessorTable& table, NumpyGenerator& rng,
                                   const GrammarSpec& spec);

// Builds samples of one grammar; holds the successor table, so build it once and call generate() per sample.
class SampleGenerator {
 public:
  // Keeps a reference to `grammar`, which must outlive this object.
  SampleGenerator(const Grammar& grammar, const GrammarSpec& spec);

  // Sample idx (>= 0): rng = default_rng(seed * idx); strings (each ending in '#') are concatenated until there
  // are at least combined_seq_length elements, then cut to exactly that many. Const and free of shared mutable
  // state: safe to call from several threads at once.
  SymbolSample generate(std::int64_t idx) const;

  const SuccessorTable& successor_table() const { return m_table; }

 private:
  const Grammar& m_grammar;
  GrammarSpec m_spec;
  SuccessorTable m_table;
};

// One-off convenience: SampleGenerator(grammar, spec).generate(idx) (rebuilds the successor table each call).
SymbolSample generate_sample(const Grammar& grammar, const GrammarSpec& spec, std::int64_t idx);

}  // namespace selectiv::data
