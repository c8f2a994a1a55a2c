// SPDX-License-Identifier: BSD-3-Clause
// Dataset writer: temporary file, row blocks of the (N, E) arrays, ragged distractors, atomic publication.
#include "data/dataset/writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "data/dataset/spec_attributes.hpp"
#include "data/h5/file.hpp"

namespace selectiv::data {

namespace {

std::string errno_text() { return std::strerror(errno); }

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw Error(ExitCode::kFailure, path + ": cannot open to sync: " + errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  // Some file systems (and /proc-like mounts) refuse fsync on directories; the data itself was synced.
  if (rc != 0 && !(directory && (errno == EINVAL || errno == EROFS))) {
    throw Error(ExitCode::kFailure, path + ": fsync failed: " + errno_text());
  }
}

std::string directory_of(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

void publish_file(const std::string& from, const std::string& to, bool overwrite) {
  fsync_path(from, false);
  if (overwrite) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      throw Error(ExitCode::kFailure, to + ": cannot move " + from + " into place: " + errno_text());
    }
  } else {
    // link() fails with EEXIST instead of replacing: no window in which an existing file could be lost.
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
    } else if (errno == EEXIST) {
      throw Error(ExitCode::kInvalidInput, to + ": exists; not overwritten");
    } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS) {
      // File systems without hard links: check, then rename (a concurrent writer could still win the race).
      if (exists(to)) throw Error(ExitCode::kInvalidInput, to + ": exists; not overwritten");
      if (::rename(from.c_str(), to.c_str()) != 0) {
        throw Error(ExitCode::kFailure, to + ": cannot move " + from + " into place: " + errno_text());
      }
    } else {
      throw Error(ExitCode::kFailure, to + ": cannot move " + from + " into place: " + errno_text());
    }
  }
  fsync_path(directory_of(to), true);
}

struct DatasetWriter::State {
  TaskSpec spec;
  Split split;
  std::int64_t n_samples = 0;
  std::int64_t elements = 0;
  std::int64_t n_symbols = 0;
  std::int64_t n_states = 0;
  Options options;
  std::optional<h5::File> file;
  std::optional<h5::DataSet> symbol, target, state, gap;  // (N, E)
  // Rows not yet written: at most rows_per_chunk samples, so every chunk is compressed once.
  std::vector<std::int32_t> block_symbol, block_target, block_state, block_gap;
  std::int64_t block_first = 0;
  std::int64_t appended = 0;
  std::vector<std::int64_t> index;              // (N)
  std::vector<std::int32_t> steps;              // (N)
  std::vector<std::int64_t> distractor_offset;  // (N + 1)
  std::vector<std::int32_t> distractor_symbol;  // (M)
  bool committed = false;

  void flush_block() {
    std::int64_t rows = appended - block_first;
    if (rows == 0) return;
    symbol->write_rows<std::int32_t>(block_first, rows, block_symbol);
    target->write_rows<std::int32_t>(block_first, rows, block_target);
    state->write_rows<std::int32_t>(block_first, rows, block_state);
    gap->write_rows<std::int32_t>(block_first, rows, block_gap);
    for (auto* v : {&block_symbol, &block_target, &block_state, &block_gap}) v->clear();
    block_first = appended;
  }
};

namespace {
void check_grammar(const Grammar& g, const std::string& where) {
  const std::size_t s = g.states.size();
  auto bad = [&](const std::string& what) { throw Error(ExitCode::kInvalidInput, where + ": grammar: " + what); };
  if (s == 0) bad("no states");
  if (g.class_id_of_state.size() != s || g.symbol_id_of_state.size() != s) bad("per-state arrays disagree in size");
  if (g.transition_src.size() != g.transition_dst.size() || g.transition_src.size() != g.transition_prob.size()) {
    bad("transition arrays disagree in size");
  }
  if (g.eos_state < 0 || static_cast<std::size_t>(g.eos_state) >= s) bad("eos_state out of range");
  if (g.n_symbols < 1 || g.n_classes < 1) bad("n_symbols and n_classes must be positive");
}

h5::DataSetOptions row_chunks(std::int64_t n, std::int64_t elements, std::int64_t rows, int level) {
  h5::DataSetOptions o;
  if (n == 0 || elements == 0) return o;
  o.chunk = {std::min(rows, n), elements};
  o.deflate_level = level;
  o.fletcher32 = true;
  return o;
}
}  // namespace

DatasetWriter::DatasetWriter(std::string path, const TaskSpec& spec, Split split, std::int64_t n_samples,
                             const Grammar& grammar, const Provenance& provenance, Options options)
    : m_path(std::move(path)) {
  require_valid_task_spec(spec);
  check_grammar(grammar, m_path);
  if (n_samples < 0 || n_samples > split_size(spec, split)) {
    throw Error(ExitCode::kInvalidInput, m_path + ": " + std::to_string(n_samples) + " samples requested, the " +
                                             split_name(split) + " split has " +
                                             std::to_string(split_size(spec, split)));
  }
  if (options.rows_per_chunk < 1) throw Error(ExitCode::kFailure, m_path + ": rows_per_chunk must be >= 1");
  if (!options.overwrite && exists(m_path)) throw Error(ExitCode::kInvalidInput, m_path + ": exists; not overwritten");
  m_temporary = m_path + ".tmp." + std::to_string(::getpid());

  auto st = std::make_unique<State>();
  st->spec = spec;
  st->split = split;
  st->n_samples = n_samples;
  st->elements = spec.grammar.combined_seq_length;
  st->n_symbols = grammar.n_symbols;
  st->n_states = static_cast<std::int64_t>(grammar.states.size());
  st->options = options;
  st->distractor_offset.push_back(0);
  st->file.emplace(h5::File::create(m_temporary, h5::File::Mode::kCreateTruncate));
  m_state = std::move(st);
  State& s = *m_state;
  h5::File& f = *s.file;

  f.set_attribute("schema", kDatasetSchemaName);
  f.set_attribute("schema_version", kDatasetSchemaVersion);
  f.set_attribute("tool_version", provenance.tool_version);
  f.set_attribute("git_hash", provenance.git_hash);
  f.set_attribute("config_json", provenance.config_json);
  f.set_attribute("config_sha256", provenance.config_sha256);
  f.set_attribute("split", split_name(split));
  write_spec_attributes(f, spec);
  f.set_attribute("n_samples", n_samples);
  f.set_attribute("first_index", sample_index(spec, split, 0));
  f.set_attribute("n_symbols", static_cast<std::int64_t>(grammar.n_symbols));
  f.set_attribute("n_classes", static_cast<std::int64_t>(grammar.n_classes));

  auto ints = [](const std::vector<int>& v) { return std::vector<std::int32_t>(v.begin(), v.end()); };
  auto len = [](const auto& v) { return std::vector<std::int64_t>{static_cast<std::int64_t>(v.size())}; };
  h5::Group g = f.create_group("grammar");
  g.set_attribute("eos_state", grammar.eos_state);
  g.write_strings("states", grammar.states);
  g.write<std::int32_t>("start_states", len(grammar.start_states), ints(grammar.start_states));
  g.write<std::int32_t>("transition_src", len(grammar.transition_src), ints(grammar.transition_src),
                        h5::compressed_rows(len(grammar.transition_src)));
  g.write<std::int32_t>("transition_dst", len(grammar.transition_dst), ints(grammar.transition_dst),
                        h5::compressed_rows(len(grammar.transition_dst)));
  g.write<double>("transition_prob", len(grammar.transition_prob), grammar.transition_prob,
                  h5::compressed_rows(len(grammar.transition_prob)));
  g.write<std::int32_t>("class_id_of_state", len(grammar.class_id_of_state), ints(grammar.class_id_of_state));
  g.write<std::int32_t>("symbol_id_of_state", len(grammar.symbol_id_of_state), ints(grammar.symbol_id_of_state));

  std::vector<std::int64_t> shape = {n_samples, s.elements};
  h5::DataSetOptions chunks = row_chunks(n_samples, s.elements, options.rows_per_chunk, options.deflate_level);
  s.symbol.emplace(f.create_dataset<std::int32_t>("samples/symbol", shape, chunks));
  s.target.emplace(f.create_dataset<std::int32_t>("samples/target", shape, chunks));
  s.state.emplace(f.create_dataset<std::int32_t>("samples/state", shape, chunks));
  s.gap.emplace(f.create_dataset<std::int32_t>("samples/gap", shape, chunks));
  s.index.reserve(static_cast<std::size_t>(n_samples));
  s.steps.reserve(static_cast<std::size_t>(n_samples));
}

DatasetWriter::~DatasetWriter() {
  if (m_state && !m_state->committed) {
    m_state->symbol.reset();
    m_state->target.reset();
    m_state->state.reset();
    m_state->gap.reset();
    m_state->file.reset();
    std::remove(m_temporary.c_str());
  }
}

std::int64_t DatasetWriter::appended() const { return m_state->appended; }

void DatasetWriter::append(std::int64_t index, const SymbolSample& sample, const SampleGaps& gaps) {
  State& s = *m_state;
  const std::string at = m_path + ": sample " + std::to_string(s.appended);
  if (s.committed) throw Error(ExitCode::kFailure, at + ": the file is already committed");
  if (s.appended >= s.n_samples) throw Error(ExitCode::kFailure, at + ": more samples than announced");
  if (index != sample_index(s.spec, s.split, s.appended)) {
    throw Error(ExitCode::kFailure, at + ": generator index " + std::to_string(index) + ", expected " +
                                        std::to_string(sample_index(s.spec, s.split, s.appended)));
  }
  const std::size_t e = static_cast<std::size_t>(s.elements);
  if (sample.class_seq.size() != e || sample.target.size() != e || sample.state_idx.size() != e ||
      gaps.gap.size() != e) {
    throw Error(ExitCode::kFailure, at + ": element arrays must all have " + std::to_string(e) + " entries");
  }
  std::int64_t steps = s.elements;
  for (std::int32_t g : gaps.gap) steps += g;
  if (steps != gaps.steps || steps > std::numeric_limits<std::int32_t>::max()) {
    throw Error(ExitCode::kFailure, at + ": gap lengths do not add up to its time steps");
  }
  std::int64_t expected_distractors = s.spec.gap_kind == GapKind::kDistractors ? steps - s.elements : 0;
  if (static_cast<std::int64_t>(gaps.distractors.size()) != expected_distractors) {
    throw Error(ExitCode::kFailure, at + ": distractor count differs from its gap steps");
  }
  s.block_symbol.insert(s.block_symbol.end(), sample.class_seq.begin(), sample.class_seq.end());
  s.block_target.insert(s.block_target.end(), sample.target.begin(), sample.target.end());
  s.block_state.insert(s.block_state.end(), sample.state_idx.begin(), sample.state_idx.end());
  s.block_gap.insert(s.block_gap.end(), gaps.gap.begin(), gaps.gap.end());
  s.index.push_back(index);
  s.steps.push_back(static_cast<std::int32_t>(steps));
  s.distractor_symbol.insert(s.distractor_symbol.end(), gaps.distractors.begin(), gaps.distractors.end());
  s.distractor_offset.push_back(static_cast<std::int64_t>(s.distractor_symbol.size()));
  ++s.appended;
  if (s.appended - s.block_first == s.options.rows_per_chunk) s.flush_block();
}

void DatasetWriter::commit() {
  State& s = *m_state;
  if (s.committed) return;
  if (s.appended != s.n_samples) {
    throw Error(ExitCode::kFailure, m_path + ": " + std::to_string(s.appended) + " samples appended, " +
                                        std::to_string(s.n_samples) + " announced");
  }
  s.flush_block();
  h5::File& f = *s.file;
  const std::int64_t n = s.n_samples;
  f.write<std::int64_t>("samples/index", {n}, s.index, h5::compressed_rows({n}, 65536, s.options.deflate_level));
  f.write<std::int32_t>("samples/steps", {n}, s.steps, h5::compressed_rows({n}, 65536, s.options.deflate_level));
  f.write<std::int64_t>("samples/distractor_offset", {n + 1}, s.distractor_offset,
                        h5::compressed_rows({n + 1}, 65536, s.options.deflate_level));
  const std::int64_t m = static_cast<std::int64_t>(s.distractor_symbol.size());
  f.write<std::int32_t>("samples/distractor_symbol", {m}, s.distractor_symbol,
                        h5::compressed_rows({m}, 65536, s.options.deflate_level));
  std::int64_t total = 0, longest = 0;
  for (std::int32_t t : s.steps) {
    total += t;
    longest = std::max<std::int64_t>(longest, t);
  }
  f.set_attribute("total_steps", total);
  f.set_attribute("max_steps", longest);
  s.symbol.reset();
  s.target.reset();
  s.state.reset();
  s.gap.reset();
  f.close();
  s.file.reset();
  publish_file(m_temporary, m_path, s.options.overwrite);
  s.committed = true;
}

}  // namespace selectiv::data
