// SPDX-License-Identifier: BSD-3-Clause
// The selectivity anchors on reference-exact generated data, against the ranges the reference measured
// (reference-spec §2.10: oracle 0.994-1.000 and memoryless 0.054-0.063 at amb = 40, 300 samples; the fraction of
// positions fixed by the last k symbols), and the profile's bookkeeping against direct counts.
#include <gtest/gtest.h>

#include "data/grammar/grammar.hpp"
#include "data/grammar/sample.hpp"
#include "eval/selectivity.hpp"

namespace selectiv::eval {
namespace {

struct Generated {
  data::Grammar grammar;
  data::CompactSamples samples;
};

Generated generate(int amb, std::uint64_t seed, int n) {
  data::GrammarSpec spec;
  spec.alphabet_size = amb + 1;
  spec.ambiguities = amb;
  spec.ambiguity_depth = amb;
  spec.seed = seed;
  Generated g{data::generate_grammar(spec), {}};
  g.samples.count = n;
  g.samples.elements = spec.combined_seq_length;
  for (int i = 0; i < n; ++i) {
    data::SymbolSample s = data::generate_sample(g.grammar, spec, i);
    g.samples.symbol.insert(g.samples.symbol.end(), s.class_seq.begin(), s.class_seq.end());
    g.samples.target.insert(g.samples.target.end(), s.target.begin(), s.target.end());
    g.samples.state.insert(g.samples.state.end(), s.state_idx.begin(), s.state_idx.end());
    g.samples.gap.insert(g.samples.gap.end(), s.class_seq.size(), 1);
  }
  return g;
}

}  // namespace

TEST(Selectivity, OracleAndMemorylessAnchorsFallInTheReferenceRangesAtAmb40) {
  for (std::uint64_t seed : {1u, 2u}) {
    Generated g = generate(40, seed, 300);
    SelectivityProfile p = build_profile(g.grammar, g.samples, g.samples.target, false);
    EXPECT_DOUBLE_EQ(p.overall.accuracy(), 1.0);
    EXPECT_GE(p.oracle_accuracy, 0.994) << "seed " << seed;
    EXPECT_LE(p.oracle_accuracy, 1.0);
    EXPECT_GE(p.memoryless_accuracy, 0.05) << "seed " << seed;
    EXPECT_LE(p.memoryless_accuracy, 0.07) << "seed " << seed;
  }
}

TEST(Selectivity, ContextNeededMatchesTheMeasuredFractionsAtAmb40) {
  Generated g = generate(40, 1, 300);
  GrammarIndex index(g.grammar);
  // reference-spec §2.10, amb = 40: fraction of positions determined by the last k symbols.
  const std::map<int, double> measured = {{3, 0.034}, {4, 0.182}, {5, 0.514}, {6, 0.771}, {8, 0.953}};
  std::map<int, std::int64_t> at_most;
  std::int64_t total = 0;
  for (int b = 0; b < g.samples.count; ++b) {
    std::vector<int> symbols(g.samples.symbol.begin() + b * 200, g.samples.symbol.begin() + (b + 1) * 200);
    std::vector<int> k = context_needed(index, symbols);
    for (std::size_t e = 20; e < k.size(); ++e) {  // away from the sample start, where the start states help
      for (const auto& [kk, frac] : measured) at_most[kk] += k[e] <= kk;
      ++total;
    }
  }
  for (const auto& [kk, frac] : measured) {
    EXPECT_NEAR(static_cast<double>(at_most[kk]) / total, frac, 0.05) << "k = " << kk;
  }
}

TEST(Selectivity, ProfileCountsMatchDirectCounts) {
  Generated g = generate(8, 5, 20);
  std::vector<int> pred = g.samples.target;
  // Corrupt every 7th element: alternately another instance of the same symbol and a class of another symbol.
  GrammarIndex index(g.grammar);
  std::int64_t same = 0, other = 0;
  for (std::size_t i = 0; i < pred.size(); i += 7) {
    if (pred[i] == 0) continue;  // '#' has one instance
    int symbol = index.symbol_of_class(pred[i]);
    if ((i / 7) % 2 == 0) {
      pred[i] = pred[i] % 8 == 0 ? pred[i] - 1 : pred[i] + 1;  // same symbol block of 8 instances
      ++same;
    } else {
      pred[i] = symbol == 1 ? 9 : 1;
      ++other;
    }
    EXPECT_EQ(index.symbol_of_class(pred[i]) == symbol, (i / 7) % 2 == 0);
  }
  SelectivityProfile p = build_profile(g.grammar, g.samples, pred, false);
  EXPECT_EQ(p.errors_same_symbol, same);
  EXPECT_EQ(p.errors_other_symbol, other);
  EXPECT_EQ(p.overall.total - p.overall.correct, same + other);
  std::int64_t by_position = 0;
  for (const auto& [bucket, t] : p.by_position) by_position += t.total;
  EXPECT_EQ(by_position, p.overall.total);
  EXPECT_EQ(p.by_gap.size(), 1u);
  EXPECT_EQ(p.by_gap.at(1).total, p.overall.total);
}

}  // namespace selectiv::eval
