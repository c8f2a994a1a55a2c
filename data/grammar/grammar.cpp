// SPDX-License-Identifier: BSD-3-Clause
// Grammar generation, bit-exact with the reference generate_grammar (reference-spec §2.2, §2.6, quirk §9.19).
#include "data/grammar/grammar.hpp"

#include <algorithm>
#include <stdexcept>

#include "data/rng/numpy_generator.hpp"
#include "data/rng/python_random.hpp"

namespace selectiv::data {
namespace {

// The reference's Symbols(n): the letters among chr(0..122), i.e. 'A'..'Z' then 'a'..'z'.
constexpr char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kMaxLetters = 52;
constexpr char kEos = '#';
constexpr int kMaxAttempts = 100000;  // n_max_iter = 1e5

// The state list of one attempt: names, and which symbol (letter index, n for '#') and instance each state is.
struct StateLayout {
  std::vector<std::string> names;            // (S)
  std::vector<int> symbol;                   // (S) letter index 0..n-1, n for '#'
  std::vector<int> instance;                 // (S) instance number (0 for unambiguous symbols and '#')
  std::vector<std::vector<int>> instances;   // (n + 1) state indices of each symbol, in state order
};

// states = unambiguous letters in alphabet order, then each ambiguous letter's D instances in sample order, '#'.
StateLayout layout_states(int n_letters, const std::vector<std::size_t>& ambiguous, int depth) {
  StateLayout layout;
  std::vector<bool> is_ambiguous(static_cast<std::size_t>(n_letters), false);
  for (std::size_t letter : ambiguous) is_ambiguous[letter] = true;
  auto add = [&layout](std::string name, int symbol, int instance) {
    layout.names.push_back(std::move(name));
    layout.symbol.push_back(symbol);
    layout.instance.push_back(instance);
  };
  for (int letter = 0; letter < n_letters; ++letter) {
    if (!is_ambiguous[static_cast<std::size_t>(letter)]) add(std::string(1, kLetters[letter]), letter, 0);
  }
  for (std::size_t letter : ambiguous) {
    for (int i = 0; i < depth; ++i) {
      add(std::string(1, kLetters[letter]) + std::to_string(i), static_cast<int>(letter), i);
    }
  }
  add(std::string(1, kEos), n_letters, 0);
  layout.instances.assign(static_cast<std::size_t>(n_letters) + 1, {});
  for (std::size_t s = 0; s < layout.names.size(); ++s) {
    layout.instances[static_cast<std::size_t>(layout.symbol[s])].push_back(static_cast<int>(s));
  }
  return layout;
}

// True when every state has a path to `eos` (breadth-first search backwards from it).
bool all_states_reach(int eos, std::size_t n_states, const std::vector<int>& src, const std::vector<int>& dst) {
  std::vector<std::vector<int>> predecessors(n_states);
  for (std::size_t e = 0; e < src.size(); ++e) {
    predecessors[static_cast<std::size_t>(dst[e])].push_back(src[e]);
  }
  std::vector<bool> reached(n_states, false);
  std::vector<int> frontier{eos};
  reached[static_cast<std::size_t>(eos)] = true;
  std::size_t n_reached = 1;
  while (!frontier.empty()) {
    const int state = frontier.back();
    frontier.pop_back();
    for (int pred : predecessors[static_cast<std::size_t>(state)]) {
      if (!reached[static_cast<std::size_t>(pred)]) {
        reached[static_cast<std::size_t>(pred)] = true;
        ++n_reached;
        frontier.push_back(pred);
      }
    }
  }
  return n_reached == n_states;
}

void check_spec(const GrammarSpec& spec) {
  const int n_letters = spec.alphabet_size - 1;
  if (n_letters < 1 || n_letters > kMaxLetters) {
    throw std::invalid_argument("generate_grammar: alphabet_size must be in [2, 53] (letters plus '#')");
  }
  if (spec.ambiguities < 0 || spec.ambiguities > n_letters) {
    throw std::invalid_argument("generate_grammar: ambiguities must be in [0, alphabet_size - 1]");
  }
  if (spec.ambiguity_depth < 1) throw std::invalid_argument("generate_grammar: ambiguity_depth must be >= 1");
  const int n_states = (n_letters - spec.ambiguities) + spec.ambiguities * spec.ambiguity_depth + 1;
  if (spec.initial_states < 1 || spec.initial_states >= n_states) {
    throw std::invalid_argument("generate_grammar: initial_states must be in [1, number of states - 1]");
  }
}

}  // namespace

int symbol_id_of_name(const std::string& state_name) {
  if (state_name.empty()) throw std::invalid_argument("symbol_id_of_name: empty state name");
  const char c = state_name[0];
  if (c == kEos) return 0;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 1;
  if (c >= 'a' && c <= 'z') return c - 'a' + 27;
  throw std::invalid_argument("symbol_id_of_name: not a grammar state: " + state_name);
}

Grammar generate_grammar(const GrammarSpec& spec) {
  check_spec(spec);
  const int n_letters = spec.alphabet_size - 1;  // '#' counts as one alphabet symbol
  const double density = spec.transition_density / spec.ambiguity_depth;

  NumpyGenerator rng = NumpyGenerator::default_rng(spec.seed);
  PythonRandom python_random(static_cast<std::uint64_t>(rng.integers(0, 100)));

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::vector<std::size_t> ambiguous;
    if (spec.ambiguities > 0) {
      ambiguous = python_random.sample_indices(static_cast<std::size_t>(n_letters),
                                               static_cast<std::size_t>(spec.ambiguities));
    }
    const StateLayout layout = layout_states(n_letters, ambiguous, spec.ambiguity_depth);
    const std::size_t n_states = layout.names.size();
    const int eos = static_cast<int>(n_states) - 1;

    // Edges per source in symbol order; every (source, symbol) pair draws, '#' included, whether kept or not.
    std::vector<std::vector<int>> targets(n_states);
    for (std::size_t src = 0; src < n_states; ++src) {
      for (const std::vector<int>& candidates : layout.instances) {
        const auto k = static_cast<std::int64_t>(candidates.size());
        const std::int64_t pick = rng.permutation(k)[0];
        if (rng.random() < static_cast<double>(k) * density && static_cast<int>(src) != eos) {
          targets[src].push_back(candidates[static_cast<std::size_t>(pick)]);
        }
      }
    }
    // Row-major nonzero order of the (source, target) matrix, each edge 1 / out-degree.
    std::vector<int> src_list, dst_list;
    std::vector<double> prob_list;
    for (std::size_t src = 0; src < n_states; ++src) {
      std::sort(targets[src].begin(), targets[src].end());
      const double prob = 1.0 / static_cast<double>(targets[src].size());
      for (int dst : targets[src]) {
        src_list.push_back(static_cast<int>(src));
        dst_list.push_back(dst);
        prob_list.push_back(prob);
      }
    }
    const std::vector<std::int64_t> start =
        rng.choice_without_replacement(static_cast<std::int64_t>(n_states), spec.initial_states);

    // Valid when every state reaches '#' (so every start state has a path of length >= min_string_length = 1)
    // and '#' is not a start state.
    const bool eos_is_start = std::find(start.begin(), start.end(), eos) != start.end();
    if (eos_is_start || !all_states_reach(eos, n_states, src_list, dst_list)) continue;

    Grammar grammar;
    grammar.states = layout.names;
    grammar.start_states.assign(start.begin(), start.end());
    grammar.transition_src = std::move(src_list);
    grammar.transition_dst = std::move(dst_list);
    grammar.transition_prob = std::move(prob_list);
    grammar.eos_state = eos;
    grammar.n_symbols = spec.alphabet_size;
    grammar.n_classes = static_cast<int>(n_states);
    // Class ids (RestrictedTargetProbGenerator): '#' -> 0; symbols by id, each symbol's instances numbered
    // consecutively (one id for an unambiguous symbol).
    std::vector<int> first_class(static_cast<std::size_t>(n_letters) + 1, 1);
    for (int letter = 1; letter <= n_letters; ++letter) {
      first_class[static_cast<std::size_t>(letter)] =
          first_class[static_cast<std::size_t>(letter) - 1] +
          static_cast<int>(layout.instances[static_cast<std::size_t>(letter) - 1].size());
    }
    grammar.class_id_of_state.resize(n_states);
    grammar.symbol_id_of_state.resize(n_states);
    for (std::size_t s = 0; s < n_states; ++s) {
      const int letter = layout.symbol[s];
      const bool is_eos = static_cast<int>(s) == eos;
      grammar.symbol_id_of_state[s] = is_eos ? 0 : letter + 1;
      grammar.class_id_of_state[s] = is_eos ? 0 : first_class[static_cast<std::size_t>(letter)] + layout.instance[s];
    }
    return grammar;
  }
  throw std::runtime_error("generate_grammar: no valid grammar after 1e5 attempts");
}

std::vector<std::vector<double>> next_symbol_probs(const Grammar& grammar) {
  std::vector<std::vector<double>> probs(grammar.states.size(),
                                         std::vector<double>(static_cast<std::size_t>(grammar.n_symbols), 0.0));
  for (std::size_t e = 0; e < grammar.transition_src.size(); ++e) {
    const auto src = static_cast<std::size_t>(grammar.transition_src[e]);
    const auto symbol = static_cast<std::size_t>(grammar.symbol_id_of_state[static_cast<std::size_t>(
        grammar.transition_dst[e])]);
    probs[src][symbol] += grammar.transition_prob[e];
  }
  return probs;
}

}  // namespace selectiv::data
