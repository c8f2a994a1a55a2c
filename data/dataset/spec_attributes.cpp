// SPDX-License-Identifier: BSD-3-Clause
// Task spec <-> root attributes.
#include "data/dataset/spec_attributes.hpp"

#include <limits>
#include <string>

#include "core/error.hpp"

namespace selectiv::data {

void write_spec_attributes(h5::Object& object, const TaskSpec& spec) {
  const GrammarSpec& g = spec.grammar;
  object.set_attribute("task", spec.task);
  object.set_attribute("seed", static_cast<std::int64_t>(g.seed));
  object.set_attribute("alphabet_size", g.alphabet_size);
  object.set_attribute("ambiguities", g.ambiguities);
  object.set_attribute("ambiguity_depth", g.ambiguity_depth);
  object.set_attribute("initial_states", g.initial_states);
  object.set_attribute("transition_density", g.transition_density);
  object.set_attribute("seq_len_min", g.seq_len_min);
  object.set_attribute("seq_len_max", g.seq_len_max);
  object.set_attribute("combined_seq_length", g.combined_seq_length);
  object.set_attribute("train_size", spec.train_size);
  object.set_attribute("test_size", spec.test_size);
  object.set_attribute("heldout_size", spec.heldout_size);
  object.set_attribute("gap_kind", gap_kind_name(spec.gap_kind));
  object.set_attribute("timestep", spec.timestep);
  object.set_attribute("train_gap_min", spec.train_gap_min);
  object.set_attribute("train_gap_max", spec.train_gap_max);
  object.set_attribute("test_gap", spec.test_gap);
  object.set_attribute("gap_start", spec.gap_start);
  object.set_attribute("gap_prob", spec.gap_prob);
  object.set_attribute("noise", spec.noise);
}

namespace {
int small_int(const h5::Object& object, const char* key) {
  std::int64_t v = object.int_attribute(key);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    throw Error(ExitCode::kInvalidInput,
                object.file_path() + ": attribute '" + key + "' = " + std::to_string(v) + " is out of range");
  }
  return static_cast<int>(v);
}
}  // namespace

TaskSpec read_spec_attributes(const h5::Object& object) {
  TaskSpec spec;
  GrammarSpec& g = spec.grammar;
  spec.task = object.string_attribute("task");
  std::int64_t seed = object.int_attribute("seed");
  if (seed < 0) throw Error(ExitCode::kInvalidInput, object.file_path() + ": attribute 'seed' is negative");
  g.seed = static_cast<std::uint64_t>(seed);
  g.alphabet_size = small_int(object, "alphabet_size");
  g.ambiguities = small_int(object, "ambiguities");
  g.ambiguity_depth = small_int(object, "ambiguity_depth");
  g.initial_states = small_int(object, "initial_states");
  g.transition_density = object.float_attribute("transition_density");
  g.seq_len_min = small_int(object, "seq_len_min");
  g.seq_len_max = small_int(object, "seq_len_max");
  g.combined_seq_length = small_int(object, "combined_seq_length");
  spec.train_size = object.int_attribute("train_size");
  spec.test_size = object.int_attribute("test_size");
  spec.heldout_size = object.int_attribute("heldout_size");
  std::string kind = object.string_attribute("gap_kind");
  std::optional<GapKind> parsed = parse_gap_kind(kind);
  if (!parsed) {
    throw Error(ExitCode::kInvalidInput,
                object.file_path() + ": attribute 'gap_kind' = '" + kind + "' is not 'zeros' or 'distractors'");
  }
  spec.gap_kind = *parsed;
  spec.timestep = object.float_attribute("timestep");
  spec.train_gap_min = object.float_attribute("train_gap_min");
  spec.train_gap_max = object.float_attribute("train_gap_max");
  spec.test_gap = object.float_attribute("test_gap");
  spec.gap_start = small_int(object, "gap_start");
  spec.gap_prob = object.float_attribute("gap_prob");
  spec.noise = object.float_attribute("noise");
  std::vector<SpecProblem> problems = check_task_spec(spec);
  if (!problems.empty()) {
    throw Error(ExitCode::kInvalidInput, object.file_path() + ": the stored task spec is invalid: " +
                                             problems.front().key + ": " + problems.front().message);
  }
  return spec;
}

}  // namespace selectiv::data
