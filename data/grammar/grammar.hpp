// SPDX-License-Identifier: BSD-3-Clause
// A random finite-state grammar as the reference generator builds it (reference-spec §2.2), and the symbol sequences
// sampled from it (§2.4-§2.6). Bit-exact with the reference for the same seed (golden/reference/*.h5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace selectiv::data {

// Generator parameters as train.py passes them (reference-spec §2.1).
struct GrammarSpec {
  int alphabet_size = 41;           // V = amb + 1 (includes the end marker '#')
  int ambiguities = 40;             // number of ambiguous symbols
  int ambiguity_depth = 40;         // hidden instances per ambiguous symbol (D)
  int initial_states = 4;
  double transition_density = 0.4; // nominal; the generator uses transition_density / ambiguity_depth
  std::uint64_t seed = 1;
  int seq_len_min = 1;              // string length limits (walks longer than seq_len_max are rejected)
  int seq_len_max = 200;
  int combined_seq_length = 200;    // elements per sample (E)
};

struct Grammar {
  std::vector<std::string> states;            // (S) state names, e.g. "K17"; '#' is the last state
  std::vector<int> start_states;              // (initial_states) indices into states
  std::vector<int> transition_src;            // (E) edges sorted by source, in the reference's order
  std::vector<int> transition_dst;            // (E)
  std::vector<double> transition_prob;        // (E) uniform over a state's outgoing edges
  std::vector<int> class_id_of_state;         // (S) training target of each state ('#' -> 0)
  std::vector<int> symbol_id_of_state;        // (S) observed input symbol ('#' -> 0, 'A'..'Z' -> 1..26, 'a'..'z' -> 27..52)
  int eos_state = -1;                         // index of '#'
  int n_classes = 0;                          // amb * D + 1 with every symbol ambiguous
  int n_symbols = 0;                          // V (input size of the model)
};

// One sample of exactly combined_seq_length elements (reference-spec §2.5).
struct SymbolSample {
  std::vector<int> class_seq;   // (E) input symbol id of each element
  std::vector<int> state_idx;   // (E) hidden state (index into Grammar::states)
  std::vector<int> target;      // (E) class id of the hidden state
};

// The reference's generate_grammar(...) (symseq/grammar_generation.py) with the arguments train.py passes, driven by
// numpy.random.default_rng(spec.seed) and a CPython `random` seeded from rng.integers(0, 100):
//   repeat: random.sample the ambiguous symbols (fixes the state order); for every (source state, symbol) pick an
//   instance with rng.permutation(k)[0] and keep the edge when rng.random() < k * density; drop edges out of '#';
//   l1-normalise each source's edges (row-major order); rng.choice 4 start states without replacement;
//   until every state reaches '#' and '#' is not a start state (at most 1e5 attempts, else std::runtime_error).
// density = spec.transition_density / spec.ambiguity_depth, as train.py's prepare_config divides it.
// Throws std::invalid_argument for parameters the reference cannot handle (alphabet beyond 52 letters, ...).
Grammar generate_grammar(const GrammarSpec& spec);

// Observed symbol id of a state name's first character: '#' -> 0, 'A'..'Z' -> 1..26, 'a'..'z' -> 27..52.
int symbol_id_of_name(const std::string& state_name);

// (S, n_symbols) probability that the next observed symbol is each symbol id, per state: the reference's
// RestrictedTargetProbGenerator.transition_probs. The row of '#' is all zeros. Symbols with probability 0 may not
// follow the state (task 3 draws its grammar-violating distractors among them).
std::vector<std::vector<double>> next_symbol_probs(const Grammar& grammar);

}  // namespace selectiv::data
