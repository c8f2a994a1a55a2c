// SPDX-License-Identifier: BSD-3-Clause
// Names, validity and split indexing of a task spec.
#include "data/tasks/task_spec.hpp"

#include <cmath>
#include <cstdint>
#include <sstream>

#include "core/error.hpp"

namespace selectiv::data {

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain: return "train";
    case Split::kTest: return "test";
    case Split::kHeldout: return "heldout";
  }
  return "unknown";
}

std::optional<Split> parse_split(const std::string& name) {
  for (Split s : {Split::kTrain, Split::kTest, Split::kHeldout}) {
    if (name == split_name(s)) return s;
  }
  return std::nullopt;
}

const char* gap_kind_name(GapKind kind) {
  switch (kind) {
    case GapKind::kZeros: return "zeros";
    case GapKind::kDistractors: return "distractors";
  }
  return "unknown";
}

std::optional<GapKind> parse_gap_kind(const std::string& name) {
  for (GapKind k : {GapKind::kZeros, GapKind::kDistractors}) {
    if (name == gap_kind_name(k)) return k;
  }
  return std::nullopt;
}

namespace {
std::string text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

std::vector<SpecProblem> check_task_spec(const TaskSpec& spec) {
  std::vector<SpecProblem> problems;
  auto problem = [&](const char* key, const std::string& message) { problems.push_back({key, message}); };
  const GrammarSpec& g = spec.grammar;
  // Symbols are the letters A..Z a..z plus '#'.
  if (g.alphabet_size < 2 || g.alphabet_size > 53) {
    problem("grammar.alphabet_size", "must be in [2, 53] (up to 52 letters plus '#'), got " +
                                         std::to_string(g.alphabet_size));
  }
  if (g.ambiguities < 0 || g.ambiguities > g.alphabet_size - 1) {
    problem("grammar.ambiguities", "must be in [0, alphabet_size - 1 = " + std::to_string(g.alphabet_size - 1) +
                                       "], got " + std::to_string(g.ambiguities));
  }
  if (g.ambiguity_depth < 1 || g.ambiguity_depth > 1000) {
    problem("grammar.ambiguity_depth", "must be in [1, 1000], got " + std::to_string(g.ambiguity_depth));
  }
  if (g.initial_states < 1) problem("grammar.initial_states", "must be >= 1");
  if (!(g.transition_density > 0.0 && g.transition_density <= 1.0)) {
    problem("grammar.transition_density", "must be in (0, 1], got " + text(g.transition_density));
  }
  if (g.seq_len_min < 1 || g.seq_len_min > g.seq_len_max) {
    problem("grammar.seq_len_min", "must be in [1, seq_len_max = " + std::to_string(g.seq_len_max) + "]");
  }
  if (g.combined_seq_length < 1 || g.combined_seq_length > 1000000) {
    problem("grammar.combined_seq_length", "must be in [1, 1000000], got " + std::to_string(g.combined_seq_length));
  }
  if (g.seed > static_cast<std::uint64_t>(INT64_MAX)) problem("seed", "must be in [0, 2^63 - 1]");
  // Sample indices are keyed as 48-bit counters, and seed * idx must not overflow the reference's int64.
  const std::int64_t max_index = std::int64_t{1} << 40;
  if (spec.train_size < 0 || spec.train_size > max_index) problem("splits.train_size", "must be in [0, 2^40]");
  if (spec.test_size < 0 || spec.test_size > spec.train_size) {
    problem("splits.test_size", "must be in [0, train_size]: the test sequences are the first training ones");
  }
  if (spec.heldout_size < 0 || spec.heldout_size > max_index) problem("splits.heldout_size", "must be in [0, 2^40]");
  if (!(spec.timestep > 0.0 && spec.timestep <= 1000.0)) problem("gaps.timestep", "must be in (0, 1000]");
  // A gap may be at most 100000 steps long: one element's window must fit comfortably in int32 time indices.
  const double max_gap_s = spec.timestep * 100000.0;
  if (!(spec.train_gap_min >= 0.0 && spec.train_gap_min <= max_gap_s)) {
    problem("gaps.train_min", "must be in [0, 100000 * timestep], got " + text(spec.train_gap_min));
  }
  if (!(spec.train_gap_max >= spec.train_gap_min && spec.train_gap_max <= max_gap_s)) {
    problem("gaps.train_max", "must be in [train_min, 100000 * timestep], got " + text(spec.train_gap_max));
  }
  if (!(spec.test_gap >= 0.0 && spec.test_gap <= max_gap_s)) {
    problem("gaps.test", "must be in [0, 100000 * timestep], got " + text(spec.test_gap));
  }
  if (spec.gap_start < 0) problem("gaps.start", "must be >= 0");
  if (!(spec.gap_prob >= 0.0 && spec.gap_prob <= 1.0)) problem("gaps.prob", "must be in [0, 1]");
  if (!(spec.noise >= 0.0 && spec.noise <= 1000.0)) problem("noise", "must be in [0, 1000], got " + text(spec.noise));
  return problems;
}

void require_valid_task_spec(const TaskSpec& spec) {
  std::vector<SpecProblem> problems = check_task_spec(spec);
  if (!problems.empty()) {
    throw Error(ExitCode::kInvalidInput, "task spec " + spec.task + ": " + problems.front().key + ": " +
                                             problems.front().message);
  }
}

std::int64_t split_size(const TaskSpec& spec, Split split) {
  switch (split) {
    case Split::kTrain: return spec.train_size;
    case Split::kTest: return spec.test_size;
    case Split::kHeldout: return spec.heldout_size;
  }
  return 0;
}

std::int64_t sample_index(const TaskSpec& spec, Split split, std::int64_t i) {
  return split == Split::kHeldout ? spec.train_size + i : i;
}

}  // namespace selectiv::data
