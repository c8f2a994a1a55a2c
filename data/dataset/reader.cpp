// SPDX-License-Identifier: BSD-3-Clause
// Dataset reader: schema validation up front, value checks on every read.
#include "data/dataset/reader.hpp"

#include <optional>
#include <sstream>

#include "core/error.hpp"
#include "data/dataset/spec_attributes.hpp"

namespace selectiv::data {

namespace {

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::ostringstream out;
  out << "(";
  for (std::size_t i = 0; i < dims.size(); ++i) out << (i ? ", " : "") << dims[i];
  out << (dims.size() == 1 ? ",)" : ")");
  return out.str();
}

[[noreturn]] void invalid(const std::string& message) { throw Error(ExitCode::kInvalidInput, message); }

// The dataset at `name` exists with exactly `dtype` and `dims`.
void expect_dataset(const h5::File& file, const std::string& name, h5::DType dtype,
                    const std::vector<std::int64_t>& dims, const char* meaning) {
  if (!file.exists(name) || file.kind(name) != h5::Kind::kDataSet) {
    invalid(file.file_path() + ": /" + name + ": missing dataset (" + meaning + ")");
  }
  h5::DataSet d = file.dataset(name);
  h5::DType found = d.dtype();
  std::vector<std::int64_t> found_dims = d.dims();
  if (found != dtype || found_dims != dims) {
    invalid(file.file_path() + ": /" + name + ": expected " + h5::dtype_name(dtype) + " of shape " +
            shape_text(dims) + " (" + meaning + "), found " + h5::dtype_name(found) + " of shape " +
            shape_text(found_dims));
  }
}

std::int64_t leading_dim(const h5::File& file, const std::string& name, std::int64_t limit) {
  if (!file.exists(name) || file.kind(name) != h5::Kind::kDataSet) {
    invalid(file.file_path() + ": /" + name + ": missing dataset");
  }
  std::vector<std::int64_t> dims = file.dataset(name).dims();
  if (dims.size() != 1) invalid(file.file_path() + ": /" + name + ": expected rank 1, found " + shape_text(dims));
  if (dims[0] > limit) {
    invalid(file.file_path() + ": /" + name + ": " + std::to_string(dims[0]) + " entries, more than the limit " +
            std::to_string(limit));
  }
  return dims[0];
}

std::int64_t bounded(const h5::Object& object, const char* key, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = object.int_attribute(key);
  if (v < lo || v > hi) {
    invalid(object.file_path() + ": attribute '" + key + "' = " + std::to_string(v) + " is outside [" +
            std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

}  // namespace

DatasetReader::DatasetReader(const std::string& path) : m_path(path), m_file(h5::File::open_read_only(path)) {
  const h5::File& f = m_file;
  if (!f.has_attribute("schema") || f.attribute_dtype("schema") != h5::DType::kString ||
      f.string_attribute("schema") != kDatasetSchemaName) {
    invalid(path + ": not a SelectivBench dataset (root attribute 'schema' is not '" +
            std::string(kDatasetSchemaName) + "')");
  }
  m_info.schema_version = f.int_attribute("schema_version");
  if (m_info.schema_version != kDatasetSchemaVersion) {
    invalid(path + ": dataset schema version " + std::to_string(m_info.schema_version) + "; this tool reads version " +
            std::to_string(kDatasetSchemaVersion));
  }
  m_info.provenance.tool_version = f.string_attribute("tool_version");
  m_info.provenance.git_hash = f.string_attribute("git_hash");
  m_info.provenance.config_json = f.string_attribute("config_json");
  m_info.provenance.config_sha256 = f.string_attribute("config_sha256");
  m_info.spec = read_spec_attributes(f);
  const TaskSpec& spec = m_info.spec;
  std::string split = f.string_attribute("split");
  std::optional<Split> parsed = parse_split(split);
  if (!parsed) invalid(path + ": attribute 'split' = '" + split + "' is not train, test or heldout");
  m_info.split = *parsed;
  m_info.n_samples = bounded(f, "n_samples", 0, split_size(spec, m_info.split));
  m_info.first_index = f.int_attribute("first_index");
  if (m_info.first_index != sample_index(spec, m_info.split, 0)) {
    invalid(path + ": attribute 'first_index' = " + std::to_string(m_info.first_index) + " does not match the " +
            split + " split (" + std::to_string(sample_index(spec, m_info.split, 0)) + ")");
  }
  const GrammarSpec& g = spec.grammar;
  m_info.elements = g.combined_seq_length;
  m_info.n_symbols = bounded(f, "n_symbols", g.alphabet_size, g.alphabet_size);
  // Every ambiguous symbol has ambiguity_depth states, every other letter one, plus '#'.
  const std::int64_t n_states = static_cast<std::int64_t>(g.alphabet_size - 1 - g.ambiguities) +
                                static_cast<std::int64_t>(g.ambiguities) * g.ambiguity_depth + 1;
  m_info.n_classes = bounded(f, "n_classes", 1, n_states);
  const std::int64_t max_steps_limit = m_info.elements * (1 + 100000);
  m_info.max_steps = bounded(f, "max_steps", 0, max_steps_limit);
  m_info.total_steps = bounded(f, "total_steps", 0, m_info.n_samples * m_info.max_steps);

  const std::int64_t n = m_info.n_samples, e = m_info.elements;
  expect_dataset(f, "grammar/states", h5::DType::kString, {n_states}, "state names");
  m_info.n_states = n_states;
  expect_dataset(f, "grammar/start_states", h5::DType::kInt32, {g.initial_states}, "start state indices");
  m_info.n_transitions = leading_dim(f, "grammar/transition_src", n_states * (g.alphabet_size + 1));
  expect_dataset(f, "grammar/transition_src", h5::DType::kInt32, {m_info.n_transitions}, "edge sources");
  expect_dataset(f, "grammar/transition_dst", h5::DType::kInt32, {m_info.n_transitions}, "edge targets");
  expect_dataset(f, "grammar/transition_prob", h5::DType::kFloat64, {m_info.n_transitions}, "edge probabilities");
  expect_dataset(f, "grammar/class_id_of_state", h5::DType::kInt32, {n_states}, "class id per state");
  expect_dataset(f, "grammar/symbol_id_of_state", h5::DType::kInt32, {n_states}, "symbol id per state");
  for (const char* name : {"samples/symbol", "samples/target", "samples/state", "samples/gap"}) {
    expect_dataset(f, name, h5::DType::kInt32, {n, e}, "per sample and element");
  }
  expect_dataset(f, "samples/index", h5::DType::kInt64, {n}, "generator index per sample");
  expect_dataset(f, "samples/steps", h5::DType::kInt32, {n}, "time steps per sample");
  expect_dataset(f, "samples/distractor_offset", h5::DType::kInt64, {n + 1}, "ragged offsets");
  m_info.n_distractors = leading_dim(f, "samples/distractor_symbol", m_info.total_steps);
  expect_dataset(f, "samples/distractor_symbol", h5::DType::kInt32, {m_info.n_distractors}, "distractor symbols");
  h5::Group grammar = f.group("grammar");
  bounded(grammar, "eos_state", 0, n_states - 1);

  // Small per-state maps used to check every sample read.
  m_class_of_state = f.read<std::int32_t>("grammar/class_id_of_state");
  m_symbol_of_state = f.read<std::int32_t>("grammar/symbol_id_of_state");
  for (std::int64_t s = 0; s < n_states; ++s) {
    std::int32_t c = m_class_of_state[static_cast<std::size_t>(s)], y = m_symbol_of_state[static_cast<std::size_t>(s)];
    if (c < 0 || c >= m_info.n_classes || y < 0 || y >= m_info.n_symbols) {
      invalid(path + ": /grammar: state " + std::to_string(s) + " has class " + std::to_string(c) + " / symbol " +
              std::to_string(y) + " out of range");
    }
  }
}

Grammar DatasetReader::read_grammar() const {
  const h5::File& f = m_file;
  Grammar g;
  auto ints = [&](const char* name) {
    std::vector<std::int32_t> v = f.read<std::int32_t>(name);
    return std::vector<int>(v.begin(), v.end());
  };
  g.states = f.dataset("grammar/states").read_strings();
  g.start_states = ints("grammar/start_states");
  g.transition_src = ints("grammar/transition_src");
  g.transition_dst = ints("grammar/transition_dst");
  g.transition_prob = f.read<double>("grammar/transition_prob");
  g.class_id_of_state = std::vector<int>(m_class_of_state.begin(), m_class_of_state.end());
  g.symbol_id_of_state = std::vector<int>(m_symbol_of_state.begin(), m_symbol_of_state.end());
  g.eos_state = static_cast<int>(f.group("grammar").int_attribute("eos_state"));
  g.n_classes = static_cast<int>(m_info.n_classes);
  g.n_symbols = static_cast<int>(m_info.n_symbols);
  const int n_states = static_cast<int>(m_info.n_states);
  auto in_range = [&](const std::vector<int>& v, const char* name) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] < 0 || v[i] >= n_states) {
        invalid(m_path + ": /grammar/" + name + ": entry " + std::to_string(i) + " = " + std::to_string(v[i]) +
                " is not a state index");
      }
    }
  };
  in_range(g.start_states, "start_states");
  in_range(g.transition_src, "transition_src");
  in_range(g.transition_dst, "transition_dst");
  return g;
}

CompactSamples DatasetReader::read(std::int64_t first, std::int64_t count) const {
  const std::int64_t n = m_info.n_samples, e = m_info.elements;
  if (first < 0 || count < 0 || first + count > n) {
    invalid(m_path + ": samples [" + std::to_string(first) + ", " + std::to_string(first + count) +
            ") requested, the file holds " + std::to_string(n));
  }
  const h5::File& f = m_file;
  CompactSamples out;
  out.count = count;
  out.elements = e;
  out.index = f.dataset("samples/index").read_rows<std::int64_t>(first, count);
  out.symbol = f.dataset("samples/symbol").read_rows<std::int32_t>(first, count);
  out.target = f.dataset("samples/target").read_rows<std::int32_t>(first, count);
  out.state = f.dataset("samples/state").read_rows<std::int32_t>(first, count);
  out.gap = f.dataset("samples/gap").read_rows<std::int32_t>(first, count);
  out.steps = f.dataset("samples/steps").read_rows<std::int32_t>(first, count);
  std::vector<std::int64_t> offsets = f.dataset("samples/distractor_offset").read_rows<std::int64_t>(first, count + 1);

  const bool distractors = m_info.spec.gap_kind == GapKind::kDistractors;
  auto bad = [&](const char* name, std::int64_t b, const std::string& what) {
    invalid(m_path + ": /samples/" + name + ": sample " + std::to_string(first + b) + ": " + what);
  };
  for (std::int64_t b = 0; b < count; ++b) {
    if (out.index[static_cast<std::size_t>(b)] != m_info.first_index + first + b) bad("index", b, "wrong generator index");
    std::int64_t steps = e;
    for (std::int64_t k = b * e; k < (b + 1) * e; ++k) {
      const std::size_t i = static_cast<std::size_t>(k);
      std::int32_t s = out.state[i];
      if (s < 0 || s >= m_info.n_states) bad("state", b, "state " + std::to_string(s) + " out of range");
      if (out.symbol[i] != m_symbol_of_state[static_cast<std::size_t>(s)]) bad("symbol", b, "not the state's symbol");
      if (out.target[i] != m_class_of_state[static_cast<std::size_t>(s)]) bad("target", b, "not the state's class");
      if (out.gap[i] < 0 || out.gap[i] > 100000) bad("gap", b, "gap " + std::to_string(out.gap[i]) + " out of range");
      steps += out.gap[i];
    }
    if (steps != out.steps[static_cast<std::size_t>(b)]) bad("steps", b, "does not equal E + the sum of its gaps");
    std::int64_t begin = offsets[static_cast<std::size_t>(b)], end = offsets[static_cast<std::size_t>(b) + 1];
    std::int64_t expected = distractors ? steps - e : 0;
    if (begin < 0 || end - begin != expected || end > m_info.n_distractors) {
      bad("distractor_offset", b, "offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                                      ") do not hold its " + std::to_string(expected) + " distractors");
    }
  }
  const std::int64_t base = offsets.front(), m = offsets.back() - base;
  out.distractor_symbol = f.dataset("samples/distractor_symbol").read_rows<std::int32_t>(base, m);
  for (std::int32_t y : out.distractor_symbol) {
    if (y < 0 || y >= m_info.n_symbols) invalid(m_path + ": /samples/distractor_symbol: symbol out of range");
  }
  out.distractor_offset.resize(offsets.size());
  for (std::size_t i = 0; i < offsets.size(); ++i) out.distractor_offset[i] = offsets[i] - base;
  return out;
}

}  // namespace selectiv::data
