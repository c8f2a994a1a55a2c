// SPDX-License-Identifier: BSD-3-Clause
// Grammar generation and sampling (data/grammar/) against the reference: the golden files written by the reference
// generator (shared/golden/reference/grammar_*.h5), the measured start states and transition counts of
// reference-spec §2.3, and structural invariants of the reference's definitions (§2.2, §2.4-§2.6).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "data/grammar/grammar.hpp"
#include "data/grammar/sample.hpp"
#include "tests/data/grammar_golden_io.hpp"
#include "support/testing.hpp"

namespace selectiv::data {
namespace {

// The generator parameters train.py uses for amb = D (reference-spec §2.1).
GrammarSpec train_spec(int amb, std::uint64_t seed, int length = 200) {
  GrammarSpec spec;
  spec.alphabet_size = amb + 1;
  spec.ambiguities = amb;
  spec.ambiguity_depth = amb;
  spec.initial_states = 4;
  spec.transition_density = 0.4;
  spec.seed = seed;
  spec.seq_len_min = 1;
  spec.seq_len_max = length;
  spec.combined_seq_length = length;
  return spec;
}

GrammarSpec spec_from_golden(const testing::GoldenH5& file) {
  GrammarSpec spec;
  spec.alphabet_size = static_cast<int>(file.int_attribute("alphabet_size"));
  spec.ambiguities = static_cast<int>(file.int_attribute("ambiguities"));
  spec.ambiguity_depth = static_cast<int>(file.int_attribute("ambiguity_depth"));
  spec.initial_states = static_cast<int>(file.int_attribute("initial_states"));
  spec.transition_density = file.float_attribute("transition_density");
  spec.seed = static_cast<std::uint64_t>(file.int_attribute("seed"));
  spec.seq_len_min = static_cast<int>(file.int_attribute("seq_len_min"));
  spec.seq_len_max = static_cast<int>(file.int_attribute("seq_len_max"));
  spec.combined_seq_length = static_cast<int>(file.int_attribute("combined_seq_length"));
  return spec;
}

std::vector<std::uint64_t> bits_of(const std::vector<double>& values) {
  std::vector<std::uint64_t> bits(values.size());
  if (!values.empty()) std::memcpy(bits.data(), values.data(), values.size() * sizeof(double));
  return bits;
}

// Regenerates the grammar and every sample of a golden file and compares them exactly.
void expect_matches_golden(const std::string& relative) {
  SELECTIV_GOLDEN(path, relative);
  const testing::GoldenH5 file(path);
  const GrammarSpec spec = spec_from_golden(file);
  const Grammar grammar = generate_grammar(spec);

  const std::vector<std::string> golden_states = file.strings("grammar/states");
  ASSERT_EQ(golden_states.size(), static_cast<std::size_t>(file.int_attribute("n_classes")));
  EXPECT_EQ(grammar.states, golden_states);
  EXPECT_EQ(grammar.start_states, file.ints("grammar/start_states"));
  EXPECT_EQ(grammar.transition_src, file.ints("grammar/transition_src"));
  EXPECT_EQ(grammar.transition_dst, file.ints("grammar/transition_dst"));
  EXPECT_EQ(bits_of(grammar.transition_prob), bits_of(file.doubles("grammar/transition_prob")));
  EXPECT_EQ(grammar.class_id_of_state, file.ints("grammar/class_id_of_state"));
  EXPECT_EQ(grammar.n_classes, file.int_attribute("n_classes"));
  EXPECT_EQ(grammar.n_symbols, spec.alphabet_size);
  EXPECT_EQ(grammar.eos_state, static_cast<int>(grammar.states.size()) - 1);
  ASSERT_EQ(grammar.symbol_id_of_state.size(), grammar.states.size());
  for (std::size_t s = 0; s < grammar.states.size(); ++s) {
    EXPECT_EQ(grammar.symbol_id_of_state[s], symbol_id_of_name(grammar.states[s])) << grammar.states[s];
  }

  std::vector<hsize_t> shape;
  const std::vector<int> class_seq = file.ints("samples/class_seq", &shape);
  const std::vector<int> state_idx = file.ints("samples/state_idx");
  const std::vector<int> target = file.ints("samples/target");
  ASSERT_EQ(shape.size(), 2u);
  ASSERT_GT(shape[0], 0u);
  ASSERT_EQ(shape[1], static_cast<hsize_t>(spec.combined_seq_length));
  const auto length = static_cast<std::ptrdiff_t>(shape[1]);
  const SampleGenerator generator(grammar, spec);
  for (hsize_t i = 0; i < shape[0]; ++i) {
    const SymbolSample sample = generator.generate(static_cast<std::int64_t>(i));
    const auto row = static_cast<std::ptrdiff_t>(i) * length;
    EXPECT_EQ(sample.class_seq, std::vector<int>(class_seq.begin() + row, class_seq.begin() + row + length))
        << "sample " << i;
    EXPECT_EQ(sample.state_idx, std::vector<int>(state_idx.begin() + row, state_idx.begin() + row + length))
        << "sample " << i;
    EXPECT_EQ(sample.target, std::vector<int>(target.begin() + row, target.begin() + row + length)) << "sample " << i;
  }
}

TEST(GrammarGolden, Seed1Amb4Len200) { expect_matches_golden("reference/grammar_seed1_amb4_len200.h5"); }
TEST(GrammarGolden, Seed2Amb20Len200) { expect_matches_golden("reference/grammar_seed2_amb20_len200.h5"); }
TEST(GrammarGolden, Seed5Amb8Len30) { expect_matches_golden("reference/grammar_seed5_amb8_len30.h5"); }

// Wall and process-CPU seconds since construction (CPU time is the fairer number on a shared machine).
struct Stopwatch {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  double wall_seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(); }
  double cpu_seconds() const { return static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC; }
};

std::vector<std::string> start_names(const Grammar& grammar) {
  std::vector<std::string> names;
  for (int s : grammar.start_states) names.push_back(grammar.states[static_cast<std::size_t>(s)]);
  return names;
}

// reference-spec §2.3: start states and transition counts measured with the reference code, seeds 1-4.
TEST(GrammarSpecAnchors, Amb20Seeds1To4) {
  const std::vector<std::tuple<std::vector<std::string>, std::size_t>> expected{
      {{"M13", "S8", "P5", "M3"}, 3268},
      {{"E10", "O2", "M4", "N2"}, 3192},
      {{"R18", "O11", "B2", "T14"}, 3157},
      {{"C10", "N2", "K9", "O3"}, 3218}};
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const Grammar grammar = generate_grammar(train_spec(20, seed));
    EXPECT_EQ(start_names(grammar), std::get<0>(expected[seed - 1])) << "seed " << seed;
    EXPECT_EQ(grammar.transition_src.size(), std::get<1>(expected[seed - 1])) << "seed " << seed;
    EXPECT_EQ(grammar.n_classes, 401);
  }
}

TEST(GrammarSpecAnchors, Amb40Seeds1To4) {
  const std::vector<std::tuple<std::vector<std::string>, std::size_t>> expected{
      {{"a36", "c37", "c4", "I32"}, 25650},
      {{"P13", "b24", "Y2", "K17"}, 25504},
      {{"e3", "a28", "L16", "e10"}, 25757},
      {{"K38", "j31", "F38", "J29"}, 25526}};
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const Stopwatch watch;
    const Grammar grammar = generate_grammar(train_spec(40, seed));
    std::printf("[ timing   ] generate_grammar amb=40 seed=%llu: %.3f s wall, %.3f s cpu\n",
                static_cast<unsigned long long>(seed), watch.wall_seconds(), watch.cpu_seconds());
    EXPECT_EQ(start_names(grammar), std::get<0>(expected[seed - 1])) << "seed " << seed;
    EXPECT_EQ(grammar.transition_src.size(), std::get<1>(expected[seed - 1])) << "seed " << seed;
    EXPECT_EQ(grammar.n_classes, 1601);
  }
}

// Class ids rank the states by (symbol id, instance): '#' -> 0, then 1, 2, ... (reference-spec §2.6). Here with
// unambiguous symbols too (amb < alphabet), which the golden files do not cover.
TEST(GrammarStructure, ClassIdsRankStatesBySymbolThenInstance) {
  GrammarSpec spec = train_spec(6, 3);
  spec.ambiguities = 3;  // 3 of the 6 letters ambiguous, depth 6
  const Grammar grammar = generate_grammar(spec);
  ASSERT_EQ(grammar.states.size(), 3u + 3u * 6u + 1u);
  EXPECT_EQ(grammar.n_classes, 22);
  std::vector<std::tuple<int, int, std::size_t>> keys;  // (symbol id, instance, state)
  int n_single_letter = 0;
  for (std::size_t s = 0; s + 1 < grammar.states.size(); ++s) {
    const std::string& name = grammar.states[s];
    const int instance = name.size() > 1 ? std::stoi(name.substr(1)) : 0;
    n_single_letter += name.size() == 1 ? 1 : 0;
    keys.emplace_back(symbol_id_of_name(name), instance, s);
  }
  EXPECT_EQ(n_single_letter, 3);
  std::sort(keys.begin(), keys.end());
  for (std::size_t rank = 0; rank < keys.size(); ++rank) {
    EXPECT_EQ(grammar.class_id_of_state[std::get<2>(keys[rank])], static_cast<int>(rank) + 1);
  }
  EXPECT_EQ(grammar.states.back(), "#");
  EXPECT_EQ(grammar.class_id_of_state.back(), 0);
}

// Every state reaches '#', edges are grouped by source in destination order with probability 1/out-degree, at most
// one edge per (state, symbol), and '#' has none (reference-spec §2.2).
TEST(GrammarStructure, EdgesAreSortedUniformAndOnePerSymbol) {
  const Grammar grammar = generate_grammar(train_spec(20, 7));
  const std::size_t n_states = grammar.states.size();
  std::vector<int> out_degree(n_states, 0);
  for (std::size_t e = 0; e < grammar.transition_src.size(); ++e) {
    ++out_degree[static_cast<std::size_t>(grammar.transition_src[e])];
    if (e > 0) {
      EXPECT_TRUE(std::make_pair(grammar.transition_src[e - 1], grammar.transition_dst[e - 1]) <
                  std::make_pair(grammar.transition_src[e], grammar.transition_dst[e]));
    }
  }
  EXPECT_EQ(out_degree[static_cast<std::size_t>(grammar.eos_state)], 0);
  for (std::size_t e = 0; e < grammar.transition_src.size(); ++e) {
    EXPECT_EQ(grammar.transition_prob[e], 1.0 / out_degree[static_cast<std::size_t>(grammar.transition_src[e])]);
  }
  const std::vector<std::vector<double>> probs = next_symbol_probs(grammar);
  ASSERT_EQ(probs.size(), n_states);
  for (std::size_t s = 0; s < n_states; ++s) {
    ASSERT_EQ(probs[s].size(), static_cast<std::size_t>(grammar.n_symbols));
    int n_allowed = 0;
    double total = 0.0;
    for (double p : probs[s]) {
      n_allowed += p > 0.0 ? 1 : 0;
      total += p;
    }
    // One edge per symbol: as many allowed symbols as edges.
    EXPECT_EQ(n_allowed, out_degree[s]) << grammar.states[s];
    if (static_cast<int>(s) == grammar.eos_state) {
      EXPECT_EQ(total, 0.0);
    } else {
      EXPECT_NEAR(total, 1.0, 1e-12) << grammar.states[s];
    }
  }
}

// Samples are grammatical walks: each starts at a start state, each consecutive non-'#' pair is an edge, each '#'
// is followed by a start state, and the same index gives the same sample (reference-spec §2.4-§2.5).
TEST(GrammarSample, SamplesAreGrammaticalAndReproducible) {
  const GrammarSpec spec = train_spec(20, 7);
  const Grammar grammar = generate_grammar(spec);
  const SampleGenerator generator(grammar, spec);
  std::vector<std::pair<int, int>> edges;
  for (std::size_t e = 0; e < grammar.transition_src.size(); ++e) {
    edges.emplace_back(grammar.transition_src[e], grammar.transition_dst[e]);
  }
  auto is_start = [&grammar](int s) {
    return std::find(grammar.start_states.begin(), grammar.start_states.end(), s) != grammar.start_states.end();
  };
  for (std::int64_t idx : {0, 1, 2, 17, 123456}) {
    const SymbolSample sample = generator.generate(idx);
    ASSERT_EQ(sample.state_idx.size(), 200u);
    EXPECT_TRUE(is_start(sample.state_idx[0]));
    for (std::size_t e = 0; e < sample.state_idx.size(); ++e) {
      const int state = sample.state_idx[e];
      EXPECT_EQ(sample.class_seq[e], grammar.symbol_id_of_state[static_cast<std::size_t>(state)]);
      EXPECT_EQ(sample.target[e], grammar.class_id_of_state[static_cast<std::size_t>(state)]);
      if (e == 0) continue;
      const int previous = sample.state_idx[e - 1];
      if (previous == grammar.eos_state) {
        EXPECT_TRUE(is_start(state));
      } else {
        EXPECT_TRUE(std::binary_search(edges.begin(), edges.end(), std::make_pair(previous, state)));
      }
    }
    const SymbolSample again = generate_sample(grammar, spec, idx);
    EXPECT_EQ(again.state_idx, sample.state_idx);
  }
}

// Throughput at the paper's size (amb = D = 40): grammar generation and samples of 200 elements.
TEST(GrammarSample, TimingAtAmb40) {
  const GrammarSpec spec = train_spec(40, 1);
  const Grammar grammar = generate_grammar(spec);
  const SampleGenerator generator(grammar, spec);
  const int n_samples = 2000;
  std::size_t n_eos = 0;
  const Stopwatch watch;
  for (int idx = 0; idx < n_samples; ++idx) {
    const SymbolSample sample = generator.generate(idx);
    n_eos += static_cast<std::size_t>(std::count(sample.class_seq.begin(), sample.class_seq.end(), 0));
  }
  const double wall = watch.wall_seconds(), cpu = watch.cpu_seconds();
  std::printf("[ timing   ] %d samples amb=40 seed=1: %.1f us/sample wall, %.1f us/sample cpu, %.2f '#' per sample\n",
              n_samples, 1e6 * wall / n_samples, 1e6 * cpu / n_samples, static_cast<double>(n_eos) / n_samples);
  // reference-spec §2.3: about 1.6-1.8 '#' per 200-element sample at amb = 40.
  EXPECT_GT(static_cast<double>(n_eos) / n_samples, 1.2);
  EXPECT_LT(static_cast<double>(n_eos) / n_samples, 2.4);
}

}  // namespace
}  // namespace selectiv::data
