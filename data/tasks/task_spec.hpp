// SPDX-License-Identifier: BSD-3-Clause
// A SelectivBench task as plain data (reference-spec §1.1, §2.8): the grammar, the split sizes, how the gap after
// each element is drawn (zero steps for tasks 1, 2, 4; grammar-violating distractor symbols for task 3) and the
// input noise. Reading it from YAML is the caller's business (pipelines/cli/generate.cpp); this file only says
// what a valid spec is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/grammar/grammar.hpp"

namespace selectiv::data {

// Which samples a file holds (reference-spec §2.7, quirk 2):
//   train:   generator indices 0 .. train_size-1, gaps drawn from the training distribution;
//   test:    indices 0 .. test_size-1 (the reference's test set: the first training symbol sequences), with
//            freshly drawn gaps of the fixed test duration;
//   heldout: indices train_size .. train_size+heldout_size-1 (never trained on), gaps as in test.
enum class Split : std::uint8_t { kTrain = 0, kTest = 1, kHeldout = 2 };
const char* split_name(Split split);
std::optional<Split> parse_split(const std::string& name);

// What fills the gap after an element's symbol step.
enum class GapKind : std::uint8_t {
  kZeros = 0,        // tasks 1, 2, 4: n = ceil(delay / timestep) all-zero input steps
  kDistractors = 1,  // task 3: n = round(delay / timestep) one-hot steps of symbols that may not follow the state
};
const char* gap_kind_name(GapKind kind);
std::optional<GapKind> parse_gap_kind(const std::string& name);

struct TaskSpec {
  std::string task = "task1";   // a label carried into the files (task1 .. task4, or anything)
  GrammarSpec grammar;          // grammar.seed also keys every gap, distractor and noise draw
  std::int64_t train_size = 200000;
  std::int64_t test_size = 1000;
  std::int64_t heldout_size = 1000;

  GapKind gap_kind = GapKind::kZeros;
  double timestep = 0.1;        // seconds per time step
  double train_gap_min = 0.1;   // train: delay = round(U(train_gap_min, train_gap_max), 1) seconds
  double train_gap_max = 0.1;
  double test_gap = 0.1;        // test and heldout: delay = test_gap seconds (the reference: train_gap_max, or
                                // task 4's test_dur; quirk 7)
  int gap_start = 0;            // elements e < gap_start never have a gap
  double gap_prob = 1.0;        // P(an element e >= gap_start has a gap)
  double noise = 0.0;           // amplitude of the U[0, 1) noise added to every input entry (train = test, quirk 6)
};

// One problem of a spec: the dotted key it is about (as in the YAML, e.g. "gaps.train_max") and what is wrong.
struct SpecProblem {
  std::string key;
  std::string message;
};
// Every range and consistency problem of `spec`; empty when the spec is valid.
std::vector<SpecProblem> check_task_spec(const TaskSpec& spec);
// Throws selectiv::Error(kInvalidInput) with the first problem of check_task_spec, if any.
void require_valid_task_spec(const TaskSpec& spec);

// Number of samples of a split, and the generator index of its i-th sample.
std::int64_t split_size(const TaskSpec& spec, Split split);
std::int64_t sample_index(const TaskSpec& spec, Split split, std::int64_t i);

}  // namespace selectiv::data
