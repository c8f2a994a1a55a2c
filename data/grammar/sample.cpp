// SPDX-License-Identifier: BSD-3-Clause
#include "data/grammar/sample.hpp"

#include <algorithm>
#include <stdexcept>

#include "data/rng/seed_sequence.hpp"

namespace selectiv::data {
namespace {
constexpr int kMaxTries = 10000;  // SequenceGenerator.n_max_tries = 1e4
}  // namespace

std::vector<int> generate_string(const Grammar& grammar, const SuccessorTable& table, NumpyGenerator& rng,
                                 int max_length) {
  const auto n_start = static_cast<std::int64_t>(grammar.start_states.size());
  std::vector<int> walk;
  walk.reserve(static_cast<std::size_t>(std::max(max_length, 0)) + 1);
  walk.push_back(grammar.start_states[static_cast<std::size_t>(rng.integers(0, n_start))]);
  while (walk.back() != grammar.eos_state) {
    const auto state = static_cast<std::size_t>(walk.back());
    const int begin = table.offsets[state], end = table.offsets[state + 1];
    if (end - begin == 1) {
      walk.push_back(table.targets[static_cast<std::size_t>(begin)]);
    } else {
      if (end == begin) throw std::runtime_error("generate_string: state without successors: " + grammar.states[state]);
      const double r = rng.random();
      // bisect_right: the first edge whose cumulative probability exceeds r. When rounding leaves the last sum
      // below r (probability <= 2^-53 per draw) the reference would raise IndexError; we take the last edge.
      const auto first = table.cumulative.begin() + begin, last = table.cumulative.begin() + end;
      const auto hit = std::min(std::upper_bound(first, last, r), last - 1);
      walk.push_back(table.targets[static_cast<std::size_t>(hit - table.cumulative.begin())]);
    }
    if (static_cast<int>(walk.size()) > max_length) return {};
  }
  return walk;
}

std::vector<int> generate_sequence(const Grammar& grammar, const SuccessorTable& table, NumpyGenerator& rng,
                                   const GrammarSpec& spec) {
  // The reference checks its attempt counter after each walk and raises once it exceeds 1e4, i.e. at most
  // kMaxTries + 1 walks count.
  for (int attempt = 0; attempt <= kMaxTries; ++attempt) {
    std::vector<int> walk = generate_string(grammar, table, rng, spec.seq_len_max);
    const auto length = static_cast<int>(walk.size());
    if (spec.seq_len_min <= length && length <= spec.seq_len_max) return walk;
  }
  throw std::runtime_error("generate_sequence: could not generate a string of wanted length");
}

SampleGenerator::SampleGenerator(const Grammar& grammar, const GrammarSpec& spec)
    : m_grammar(grammar), m_spec(spec), m_table(build_successor_table(grammar)) {
  if (grammar.start_states.empty()) throw std::invalid_argument("SampleGenerator: grammar without start states");
  if (grammar.eos_state < 0 || static_cast<std::size_t>(grammar.eos_state) >= grammar.states.size()) {
    throw std::invalid_argument("SampleGenerator: grammar without an end state");
  }
  if (spec.combined_seq_length < 1 || spec.seq_len_max < 1) {
    throw std::invalid_argument("SampleGenerator: combined_seq_length and seq_len_max must be >= 1");
  }
}

SymbolSample SampleGenerator::generate(std::int64_t idx) const {
  if (idx < 0) throw std::invalid_argument("SampleGenerator::generate: negative sample index");
  NumpyGenerator rng = NumpyGenerator::default_rng(uint32_words_of_product(m_spec.seed, static_cast<std::uint64_t>(idx)));
  const auto length = static_cast<std::size_t>(m_spec.combined_seq_length);
  SymbolSample sample;
  sample.state_idx.reserve(length + static_cast<std::size_t>(m_spec.seq_len_max));
  while (sample.state_idx.size() < length) {
    const std::vector<int> walk = generate_sequence(m_grammar, m_table, rng, m_spec);
    sample.state_idx.insert(sample.state_idx.end(), walk.begin(), walk.end());
  }
  sample.state_idx.resize(length);
  sample.class_seq.resize(length);
  sample.target.resize(length);
  for (std::size_t e = 0; e < length; ++e) {
    const auto state = static_cast<std::size_t>(sample.state_idx[e]);
    sample.class_seq[e] = m_grammar.symbol_id_of_state[state];
    sample.target[e] = m_grammar.class_id_of_state[state];
  }
  return sample;
}

SymbolSample generate_sample(const Grammar& grammar, const GrammarSpec& spec, std::int64_t idx) {
  return SampleGenerator(grammar, spec).generate(idx);
}

}  // namespace selectiv::data
