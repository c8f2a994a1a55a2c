// SPDX-License-Identifier: BSD-3-Clause
// The four tasks' per-element gaps and distractors (reference-spec §1.1, §2.8, §2.10), checked against the
// reference's stated distributions and time lengths, on hand-made grammars and the golden reference grammars.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/h5/file.hpp"
#include "data/tasks/counter_rng.hpp"
#include "data/tasks/element_gaps.hpp"
#include "data/tasks/task_spec.hpp"
#include "support/testing.hpp"

namespace {

using namespace selectiv;
using namespace selectiv::data;

// The four tasks as the sweep files define them (reference-spec §1.1).
TaskSpec task(int number, double test_dur = 0.0) {
  TaskSpec s;
  s.task = "task" + std::to_string(number);
  s.grammar.seed = 3;
  if (number == 2 || number == 4) {
    s.train_gap_max = 1.0;
    s.test_gap = number == 2 ? 1.0 : test_dur;
    s.noise = 0.2;
  }
  if (number == 3) {
    s.gap_kind = GapKind::kDistractors;
    s.gap_start = 50;
    s.gap_prob = 0.1;
  }
  return s;
}

// A golden reference grammar file read into the plain structs (the layout of golden/README.md §1).
struct Golden {
  Grammar grammar;
  std::vector<std::vector<int>> states;  // (N, L) hidden state per element
};

Golden load_golden(const std::string& path) {
  h5::File file = h5::File::open_read_only(path);
  Golden g;
  g.grammar.states = file.dataset("grammar/states").read_strings();
  auto ints = [&](const std::string& name) {
    std::vector<std::int32_t> v = file.read<std::int32_t>(name);
    return std::vector<int>(v.begin(), v.end());
  };
  g.grammar.start_states = ints("grammar/start_states");
  g.grammar.transition_src = ints("grammar/transition_src");
  g.grammar.transition_dst = ints("grammar/transition_dst");
  g.grammar.transition_prob = file.read<double>("grammar/transition_prob");
  g.grammar.class_id_of_state = ints("grammar/class_id_of_state");
  g.grammar.n_symbols = static_cast<int>(file.int_attribute("alphabet_size"));
  g.grammar.n_classes = static_cast<int>(file.int_attribute("n_classes"));
  for (std::size_t s = 0; s < g.grammar.states.size(); ++s) {
    char c = g.grammar.states[s][0];
    g.grammar.symbol_id_of_state.push_back(c == '#' ? 0 : c <= 'Z' ? c - 'A' + 1 : c - 'a' + 27);
    if (c == '#') g.grammar.eos_state = static_cast<int>(s);
  }
  std::vector<std::int64_t> dims = file.dataset("samples/state_idx").dims();
  std::vector<int> flat = ints("samples/state_idx");
  for (std::int64_t i = 0; i < dims[0]; ++i) {
    g.states.emplace_back(flat.begin() + i * dims[1], flat.begin() + (i + 1) * dims[1]);
  }
  return g;
}

// Does some transition out of `state` emit `symbol`? (a scan of the edge list, independent of ForbiddenSymbols)
bool emits(const Grammar& g, int state, int symbol) {
  for (std::size_t i = 0; i < g.transition_src.size(); ++i) {
    if (g.transition_src[i] == state && g.symbol_id_of_state[g.transition_dst[i]] == symbol) return true;
  }
  return false;
}

TEST(Tasks, SplitsNamesAndIndices) {
  TaskSpec s = task(1);
  s.train_size = 500;
  s.test_size = 20;
  s.heldout_size = 30;
  EXPECT_EQ(parse_split("heldout"), Split::kHeldout);
  EXPECT_FALSE(parse_split("valid").has_value());
  EXPECT_EQ(parse_gap_kind("distractors"), GapKind::kDistractors);
  EXPECT_EQ(split_size(s, Split::kTest), 20);
  EXPECT_EQ(sample_index(s, Split::kTrain, 7), 7);
  EXPECT_EQ(sample_index(s, Split::kTest, 7), 7);      // the first training sequences (quirk 2)
  EXPECT_EQ(sample_index(s, Split::kHeldout, 0), 500);  // beyond the training range
}

TEST(Tasks, SpecChecksNameTheKey) {
  EXPECT_TRUE(check_task_spec(task(2)).empty());
  TaskSpec s = task(2);
  s.train_gap_min = 1.5;
  ASSERT_FALSE(check_task_spec(s).empty());
  EXPECT_EQ(check_task_spec(s).front().key, "gaps.train_max");
  s = task(1);
  s.test_size = s.train_size + 1;
  EXPECT_EQ(check_task_spec(s).front().key, "splits.test_size");
  s = task(1);
  s.grammar.ambiguities = s.grammar.alphabet_size;
  EXPECT_EQ(check_task_spec(s).front().key, "grammar.ambiguities");
  s = task(3);
  s.gap_prob = 1.5;
  try {
    require_valid_task_spec(s);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("gaps.prob"), std::string::npos) << e.what();
  }
}

TEST(Tasks, DelayToStepsIsExactForEveryTenth) {
  for (int k = 0; k <= 1000; ++k) {
    double delay = k / 10.0;  // what round(x, 1) returns
    EXPECT_EQ(gap_steps(GapKind::kZeros, delay, 0.1), k) << delay;
    EXPECT_EQ(gap_steps(GapKind::kDistractors, delay, 0.1), k) << delay;
  }
  // ceil vs round differ between tenths (quirk 5).
  EXPECT_EQ(gap_steps(GapKind::kZeros, 0.14, 0.1), 2);
  EXPECT_EQ(gap_steps(GapKind::kDistractors, 0.14, 0.1), 1);
}

TEST(Tasks, CounterDrawsArePureFunctionsOfTheirKey) {
  double a = counter_uniform(1, DrawPurpose::kGapLength, Split::kTrain, 12345, 17, 0);
  EXPECT_EQ(a, counter_uniform(1, DrawPurpose::kGapLength, Split::kTrain, 12345, 17, 0));
  std::vector<double> others = {counter_uniform(2, DrawPurpose::kGapLength, Split::kTrain, 12345, 17, 0),
                                counter_uniform(1, DrawPurpose::kGapOccurs, Split::kTrain, 12345, 17, 0),
                                counter_uniform(1, DrawPurpose::kGapLength, Split::kTest, 12345, 17, 0),
                                counter_uniform(1, DrawPurpose::kGapLength, Split::kTrain, 12346, 17, 0),
                                counter_uniform(1, DrawPurpose::kGapLength, Split::kTrain, 12345, 18, 0),
                                counter_uniform(1, DrawPurpose::kGapLength, Split::kTrain, 12345, 17, 1),
                                counter_uniform(1, DrawPurpose::kGapLength, Split::kTrain, 12345 + (1LL << 32), 17, 0)};
  for (double b : others) EXPECT_NE(a, b);
  // Uniform on [0, 1): mean 1/2, variance 1/12.
  double sum = 0.0, sum2 = 0.0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double u = counter_uniform(7, DrawPurpose::kDistractor, Split::kTrain, i / 100, i % 100, 3);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
}

TEST(Tasks, ForbiddenSymbolsOfAHandMadeGrammar) {
  // States A0 A1 B0 #, symbols # = 0, A = 1, B = 2. Edges: A0->A1, A0->B0, A1->#, B0->A0.
  Grammar g;
  g.states = {"A0", "A1", "B0", "#"};
  g.symbol_id_of_state = {1, 1, 2, 0};
  g.transition_src = {0, 0, 1, 2};
  g.transition_dst = {1, 2, 3, 0};
  g.transition_prob = {0.5, 0.5, 1.0, 1.0};
  g.n_symbols = 3;
  g.eos_state = 3;
  ForbiddenSymbols f(g);
  EXPECT_EQ(f.of_state(0), (std::vector<int>{0}));        // A0 emits A and B
  EXPECT_EQ(f.of_state(1), (std::vector<int>{1, 2}));     // A1 emits only #
  EXPECT_EQ(f.of_state(2), (std::vector<int>{0, 2}));     // B0 emits only A
  EXPECT_EQ(f.of_state(3), (std::vector<int>{0, 1, 2}));  // '#' emits nothing: every symbol (quirk 4)
}

TEST(Tasks, ForbiddenSymbolsNeverContainAnObservedSuccessor) {
  for (const char* name : {"reference/grammar_seed1_amb4_len200.h5", "reference/grammar_seed2_amb20_len200.h5"}) {
    SELECTIV_GOLDEN(path, name);
    Golden g = load_golden(path);
    ForbiddenSymbols f(g.grammar);
    for (std::size_t s = 0; s < g.grammar.states.size(); ++s) {
      for (int j : f.of_state(static_cast<int>(s))) ASSERT_FALSE(emits(g.grammar, static_cast<int>(s), j));
      int allowed = g.grammar.n_symbols - static_cast<int>(f.of_state(static_cast<int>(s)).size());
      for (int j = 0; j < g.grammar.n_symbols; ++j) allowed -= emits(g.grammar, static_cast<int>(s), j) ? 1 : 0;
      EXPECT_EQ(allowed, 0) << name << " state " << s;
    }
    // Within every sample, the next element's symbol is never forbidden after a non-'#' state.
    for (const std::vector<int>& seq : g.states) {
      for (std::size_t e = 0; e + 1 < seq.size(); ++e) {
        if (seq[e] == g.grammar.eos_state) continue;
        const std::vector<int>& bad = f.of_state(seq[e]);
        int next_symbol = g.grammar.symbol_id_of_state[seq[e + 1]];
        ASSERT_FALSE(std::binary_search(bad.begin(), bad.end(), next_symbol)) << name;
      }
    }
  }
}

// Time steps of a sample of E = 200 elements, through draw_sample_gaps.
std::int64_t steps_of(const TaskSpec& spec, Split split, std::int64_t sample) {
  Grammar g;  // zero gaps never look at the grammar
  g.n_symbols = 1;
  ForbiddenSymbols none(g);
  return draw_sample_gaps(spec, split, none, std::vector<int>(200, 0), sample).steps;
}

TEST(Tasks, Task1HasOneZeroStepAfterEveryElement) {
  for (Split split : {Split::kTrain, Split::kTest, Split::kHeldout}) {
    for (std::int64_t i : {0, 1, 99999}) EXPECT_EQ(steps_of(task(1), split, i), 400);
  }
}

TEST(Tasks, Task2TrainGapsFollowRoundedUniformAndTestIsFixed) {
  TaskSpec spec = task(2);
  Grammar g;
  g.n_symbols = 1;
  ForbiddenSymbols none(g);
  std::map<int, std::int64_t> counts;
  const int n_samples = 2000;
  double total_steps = 0.0;
  for (int i = 0; i < n_samples; ++i) {
    SampleGaps gaps = draw_sample_gaps(spec, Split::kTrain, none, std::vector<int>(200, 0), i);
    EXPECT_TRUE(gaps.distractors.empty());
    EXPECT_EQ(gaps.steps, 200 + std::accumulate(gaps.gap.begin(), gaps.gap.end(), std::int64_t{0}));
    EXPECT_GE(gaps.steps, 1000);  // reference range 1211-1386 over 200 samples
    EXPECT_LE(gaps.steps, 1600);
    for (std::int32_t k : gaps.gap) ++counts[k];
    total_steps += static_cast<double>(gaps.steps);
  }
  // round(U(0.1, 1.0), 1) -> k tenths: P(1) = P(10) = 1/18, P(2..9) = 1/9 (reference-spec §2.8).
  const double n = 200.0 * n_samples;
  ASSERT_EQ(counts.size(), 10u);
  for (int k = 1; k <= 10; ++k) {
    double p = (k == 1 || k == 10) ? 1.0 / 18 : 1.0 / 9;
    EXPECT_NEAR(counts[k] / n, p, 5 * std::sqrt(p * (1 - p) / n)) << "k=" << k;
  }
  EXPECT_NEAR(total_steps / n_samples, 1300.0, 3.0);  // expectation 200 * (1 + 5.5)
  for (std::int64_t i : {0, 5, 777}) {
    EXPECT_EQ(steps_of(spec, Split::kTest, i), 2200);
    EXPECT_EQ(steps_of(spec, Split::kHeldout, i), 2200);
  }
}

TEST(Tasks, Task4TestLengths) {
  const std::map<double, std::int64_t> expected = {{1.0, 2200}, {2.0, 4200}, {5.0, 10200}, {10.0, 20200}};
  for (const auto& [dur, steps] : expected) EXPECT_EQ(steps_of(task(4, dur), Split::kTest, 3), steps) << dur;
}

TEST(Tasks, Task3DistractorsAreRareUngrammaticalAndLate) {
  SELECTIV_GOLDEN(path, "reference/grammar_seed2_amb20_len200.h5");
  Golden g = load_golden(path);
  ForbiddenSymbols forbidden(g.grammar);
  TaskSpec spec = task(3);
  const int n_samples = 1000;
  double total_steps = 0.0;
  std::int64_t eligible = 0, with_gap = 0, after_eos = 0;
  for (int i = 0; i < n_samples; ++i) {
    const std::vector<int>& states = g.states[i % g.states.size()];
    SampleGaps gaps = draw_sample_gaps(spec, Split::kTrain, forbidden, states, i);
    ASSERT_EQ(static_cast<std::int64_t>(gaps.distractors.size()),
              std::accumulate(gaps.gap.begin(), gaps.gap.end(), std::int64_t{0}));
    std::size_t d = 0;
    for (std::size_t e = 0; e < states.size(); ++e) {
      if (e < 50) {
        ASSERT_EQ(gaps.gap[e], 0);
        continue;
      }
      ++eligible;
      ASSERT_LE(gaps.gap[e], 1);  // delay 0.1 -> one distractor
      for (int k = 0; k < gaps.gap[e]; ++k, ++d) {
        ++with_gap;
        int symbol = gaps.distractors[d];
        ASSERT_GE(symbol, 0);
        ASSERT_LT(symbol, g.grammar.n_symbols);
        ASSERT_FALSE(emits(g.grammar, states[e], symbol)) << "distractor " << symbol << " follows state " << states[e];
        after_eos += states[e] == g.grammar.eos_state;
      }
    }
    total_steps += static_cast<double>(gaps.steps);
  }
  double p = static_cast<double>(with_gap) / static_cast<double>(eligible);
  EXPECT_NEAR(p, 0.1, 5 * std::sqrt(0.09 / static_cast<double>(eligible)));
  EXPECT_NEAR(total_steps / n_samples, 215.0, 0.6);  // reference: mean 215 (150 eligible x 0.1)
  EXPECT_GT(after_eos, 0);  // '#' elements get distractors too (any symbol)
  // The test split redraws the pattern with its own key.
  SampleGaps train = draw_sample_gaps(spec, Split::kTrain, forbidden, g.states[0], 0);
  SampleGaps test = draw_sample_gaps(spec, Split::kTest, forbidden, g.states[0], 0);
  EXPECT_NE(train.gap, test.gap);
  SampleGaps again = draw_sample_gaps(spec, Split::kTrain, forbidden, g.states[0], 0);
  EXPECT_EQ(train.gap, again.gap);
  EXPECT_EQ(train.distractors, again.distractors);
}

TEST(Tasks, DistractorsAreUniformAmongForbiddenSymbols) {
  // Hand-made grammar: state 0 allows only symbol 1, so symbols {0, 2, 3, 4} are the distractors of state 0.
  Grammar g;
  g.states = {"A0", "B0", "C0", "D0", "#"};
  g.symbol_id_of_state = {1, 2, 3, 4, 0};
  g.transition_src = {0, 1, 2, 3};
  g.transition_dst = {0, 4, 4, 4};
  g.transition_prob = {1.0, 1.0, 1.0, 1.0};
  g.n_symbols = 5;
  ForbiddenSymbols forbidden(g);
  TaskSpec spec = task(3);
  spec.gap_start = 0;
  spec.gap_prob = 1.0;
  spec.train_gap_min = spec.train_gap_max = 0.3;  // three distractors per element
  std::map<int, std::int64_t> counts;
  const int n_samples = 500;
  for (int i = 0; i < n_samples; ++i) {
    SampleGaps gaps = draw_sample_gaps(spec, Split::kTrain, forbidden, std::vector<int>(100, 0), i);
    ASSERT_EQ(gaps.steps, 400);
    for (int s : gaps.distractors) ++counts[s];
  }
  const double n = 3.0 * 100 * n_samples;
  EXPECT_EQ(counts.count(1), 0u);
  for (int s : {0, 2, 3, 4}) EXPECT_NEAR(counts[s] / n, 0.25, 5 * std::sqrt(0.25 * 0.75 / n)) << s;
}

}  // namespace
