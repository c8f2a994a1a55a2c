// SPDX-License-Identifier: BSD-3-Clause
// Dataset schema v1: writer -> reader round trips, byte-identical rewrites for any thread count, the reference's
// split semantics, atomic publication, and rejection of mismatched or corrupted files with messages that name the
// file and the object.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/dataset/generate_split.hpp"
#include "data/dataset/reader.hpp"
#include "data/dataset/writer.hpp"
#include "data/grammar/grammar.hpp"
#include "data/grammar/sample.hpp"
#include "data/h5/file.hpp"
#include "data/tasks/element_gaps.hpp"
#include "support/testing.hpp"

namespace {

using namespace selectiv;
using namespace selectiv::data;

std::string temp_path(const std::string& name) {
  std::string path = ::testing::TempDir() + "/selectiv_dataset_" + std::to_string(::getpid()) + "_" + name;
  std::remove(path.c_str());
  return path;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

template <class Body>
void expect_error(Body body, ExitCode code, const std::vector<std::string>& needles) {
  try {
    body();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "'" << needle << "' not in: " << e.what();
    }
  }
}

Provenance provenance() { return {"0.1.0-test", "abc123", "{\"task\":\"t\"}", std::string(64, 'f')}; }

// Hand-made grammar: symbols # = 0, A = 1, B = 2; states A0 A1 B0 B1 #; every state but '#' can emit A or B.
Grammar tiny_grammar() {
  Grammar g;
  g.states = {"A0", "A1", "B0", "B1", "#"};
  g.start_states = {0, 2};
  g.transition_src = {0, 0, 1, 1, 1, 2, 3, 3};
  g.transition_dst = {1, 2, 0, 3, 4, 0, 1, 4};
  g.transition_prob = {0.5, 0.5, 1 / 3.0, 1 / 3.0, 1 / 3.0, 1.0, 0.5, 0.5};
  g.class_id_of_state = {1, 2, 3, 4, 0};
  g.symbol_id_of_state = {1, 1, 2, 2, 0};
  g.eos_state = 4;
  g.n_classes = 5;
  g.n_symbols = 3;
  return g;
}

TaskSpec tiny_spec(GapKind kind) {
  TaskSpec s;
  s.task = "tiny";
  s.grammar.alphabet_size = 3;
  s.grammar.ambiguities = 2;
  s.grammar.ambiguity_depth = 2;
  s.grammar.initial_states = 2;
  s.grammar.seed = 11;
  s.grammar.combined_seq_length = 6;
  s.grammar.seq_len_max = 6;
  s.train_size = 40;
  s.test_size = 10;
  s.heldout_size = 5;
  s.gap_kind = kind;
  s.train_gap_max = 0.3;
  s.gap_start = 1;
  s.gap_prob = 0.5;
  s.noise = 0.25;
  return s;
}

// A walk through tiny_grammar chosen by i (not from the reference generator: any valid state sequence will do).
SymbolSample tiny_sample(const Grammar& g, std::int64_t i) {
  SymbolSample s;
  int state = g.start_states[static_cast<std::size_t>(i % 2)];
  for (int e = 0; e < 6; ++e) {
    s.state_idx.push_back(state);
    s.class_seq.push_back(g.symbol_id_of_state[static_cast<std::size_t>(state)]);
    s.target.push_back(g.class_id_of_state[static_cast<std::size_t>(state)]);
    if (state == g.eos_state) {
      state = g.start_states[0];
      continue;
    }
    std::vector<int> next;
    for (std::size_t k = 0; k < g.transition_src.size(); ++k) {
      if (g.transition_src[k] == state) next.push_back(g.transition_dst[k]);
    }
    state = next[static_cast<std::size_t>((i + e) % static_cast<std::int64_t>(next.size()))];
  }
  return s;
}

// Writes n samples of tiny_grammar through DatasetWriter; returns what was appended.
std::vector<std::pair<SymbolSample, SampleGaps>> write_tiny(const std::string& path, const TaskSpec& spec,
                                                            Split split, std::int64_t n,
                                                            DatasetWriter::Options options = {}) {
  Grammar g = tiny_grammar();
  ForbiddenSymbols forbidden(g);
  DatasetWriter writer(path, spec, split, n, g, provenance(), options);
  std::vector<std::pair<SymbolSample, SampleGaps>> written;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t index = sample_index(spec, split, i);
    SymbolSample s = tiny_sample(g, index);
    SampleGaps gaps = draw_sample_gaps(spec, split, forbidden, s.state_idx, index);
    writer.append(index, s, gaps);
    written.emplace_back(s, gaps);
  }
  writer.commit();
  return written;
}

void expect_same_spec(const TaskSpec& a, const TaskSpec& b) {
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.grammar.alphabet_size, b.grammar.alphabet_size);
  EXPECT_EQ(a.grammar.ambiguities, b.grammar.ambiguities);
  EXPECT_EQ(a.grammar.ambiguity_depth, b.grammar.ambiguity_depth);
  EXPECT_EQ(a.grammar.initial_states, b.grammar.initial_states);
  EXPECT_EQ(a.grammar.transition_density, b.grammar.transition_density);
  EXPECT_EQ(a.grammar.seed, b.grammar.seed);
  EXPECT_EQ(a.grammar.seq_len_min, b.grammar.seq_len_min);
  EXPECT_EQ(a.grammar.seq_len_max, b.grammar.seq_len_max);
  EXPECT_EQ(a.grammar.combined_seq_length, b.grammar.combined_seq_length);
  EXPECT_EQ(a.train_size, b.train_size);
  EXPECT_EQ(a.test_size, b.test_size);
  EXPECT_EQ(a.heldout_size, b.heldout_size);
  EXPECT_EQ(a.gap_kind, b.gap_kind);
  EXPECT_EQ(a.timestep, b.timestep);
  EXPECT_EQ(a.train_gap_min, b.train_gap_min);
  EXPECT_EQ(a.train_gap_max, b.train_gap_max);
  EXPECT_EQ(a.test_gap, b.test_gap);
  EXPECT_EQ(a.gap_start, b.gap_start);
  EXPECT_EQ(a.gap_prob, b.gap_prob);
  EXPECT_EQ(a.noise, b.noise);
}

TEST(Dataset, RoundTripOfHandMadeSamples) {
  for (GapKind kind : {GapKind::kZeros, GapKind::kDistractors}) {
    std::string path = temp_path(std::string("roundtrip_") + gap_kind_name(kind) + ".h5");
    TaskSpec spec = tiny_spec(kind);
    DatasetWriter::Options options;
    options.rows_per_chunk = 3;  // several blocks, the last one partial
    auto written = write_tiny(path, spec, Split::kHeldout, 5, options);
    EXPECT_FALSE(exists(path + ".tmp." + std::to_string(::getpid())));

    DatasetReader reader(path);
    const DatasetInfo& info = reader.info();
    EXPECT_EQ(info.schema_version, 1);
    EXPECT_EQ(info.split, Split::kHeldout);
    expect_same_spec(info.spec, spec);
    EXPECT_EQ(info.provenance.git_hash, "abc123");
    EXPECT_EQ(info.provenance.config_json, "{\"task\":\"t\"}");
    EXPECT_EQ(info.provenance.config_sha256, std::string(64, 'f'));
    EXPECT_EQ(info.n_samples, 5);
    EXPECT_EQ(info.elements, 6);
    EXPECT_EQ(info.first_index, 40);  // heldout starts after the training range
    EXPECT_EQ(info.n_states, 5);
    EXPECT_EQ(info.n_symbols, 3);
    EXPECT_EQ(info.n_classes, 5);
    std::int64_t total = 0, longest = 0, distractors = 0;
    for (const auto& [s, gaps] : written) {
      total += gaps.steps;
      longest = std::max(longest, gaps.steps);
      distractors += static_cast<std::int64_t>(gaps.distractors.size());
    }
    EXPECT_EQ(info.total_steps, total);
    EXPECT_EQ(info.max_steps, longest);
    EXPECT_EQ(info.n_distractors, distractors);
    if (kind == GapKind::kDistractors) EXPECT_GT(distractors, 0);

    Grammar g = reader.read_grammar();
    Grammar expected = tiny_grammar();
    EXPECT_EQ(g.states, expected.states);
    EXPECT_EQ(g.start_states, expected.start_states);
    EXPECT_EQ(g.transition_src, expected.transition_src);
    EXPECT_EQ(g.transition_dst, expected.transition_dst);
    EXPECT_EQ(g.transition_prob, expected.transition_prob);
    EXPECT_EQ(g.class_id_of_state, expected.class_id_of_state);
    EXPECT_EQ(g.symbol_id_of_state, expected.symbol_id_of_state);
    EXPECT_EQ(g.eos_state, expected.eos_state);

    CompactSamples block = reader.read(1, 4);
    ASSERT_EQ(block.count, 4);
    ASSERT_EQ(block.distractor_offset.size(), 5u);
    EXPECT_EQ(block.distractor_offset.front(), 0);
    for (std::int64_t b = 0; b < 4; ++b) {
      const auto& [s, gaps] = written[static_cast<std::size_t>(b + 1)];
      auto row = [&](const std::vector<std::int32_t>& v) {
        return std::vector<int>(v.begin() + b * 6, v.begin() + (b + 1) * 6);
      };
      EXPECT_EQ(block.index[static_cast<std::size_t>(b)], 41 + b);
      EXPECT_EQ(row(block.symbol), s.class_seq);
      EXPECT_EQ(row(block.target), s.target);
      EXPECT_EQ(row(block.state), s.state_idx);
      EXPECT_EQ(std::vector<std::int32_t>(block.gap.begin() + b * 6, block.gap.begin() + (b + 1) * 6), gaps.gap);
      EXPECT_EQ(block.steps[static_cast<std::size_t>(b)], gaps.steps);
      std::vector<std::int32_t> d(block.distractor_symbol.begin() + block.distractor_offset[static_cast<std::size_t>(b)],
                                  block.distractor_symbol.begin() +
                                      block.distractor_offset[static_cast<std::size_t>(b) + 1]);
      EXPECT_EQ(d, gaps.distractors);
    }
    // An empty block is fine too.
    EXPECT_EQ(reader.read(5, 0).count, 0);
    expect_error([&] { reader.read(3, 3); }, ExitCode::kInvalidInput, {path, "[3, 6)"});
    std::remove(path.c_str());
  }
}

TEST(Dataset, FilesAreChunkedCompressedAndChecksummed) {
  std::string path = temp_path("layout.h5");
  DatasetWriter::Options options;
  options.rows_per_chunk = 4;
  write_tiny(path, tiny_spec(GapKind::kDistractors), Split::kTrain, 10, options);
  h5::File file = h5::File::open_read_only(path);
  h5::DataSet symbol = file.dataset("samples/symbol");
  EXPECT_EQ(symbol.chunk(), (std::vector<std::int64_t>{4, 6}));
  EXPECT_EQ(symbol.filters(), (std::vector<std::string>{"fletcher32", "deflate"}));
  EXPECT_EQ(file.dataset("samples/steps").filters(), (std::vector<std::string>{"fletcher32", "deflate"}));
  std::remove(path.c_str());
}

Grammar small_reference_grammar(TaskSpec& spec) {
  spec.grammar.alphabet_size = 5;
  spec.grammar.ambiguities = 4;
  spec.grammar.ambiguity_depth = 4;
  spec.grammar.seed = 1;
  spec.grammar.combined_seq_length = 50;
  spec.grammar.seq_len_max = 50;
  return generate_grammar(spec.grammar);
}

TEST(Dataset, GeneratedSplitsAreByteIdenticalForAnyThreadCount) {
  TaskSpec spec;
  spec.task = "task3-small";
  spec.gap_kind = GapKind::kDistractors;
  spec.gap_start = 5;
  spec.gap_prob = 0.3;
  spec.train_size = 300;
  spec.test_size = 20;
  spec.heldout_size = 20;
  Grammar grammar = small_reference_grammar(spec);
  std::string one = temp_path("threads1.h5"), three = temp_path("threads3.h5"), again = temp_path("again.h5");
  GenerateOptions options;
  options.writer.rows_per_chunk = 64;
  std::vector<std::int64_t> progress;
  options.progress = [&](std::int64_t done) { progress.push_back(done); };
  EXPECT_EQ(generate_split(one, spec, Split::kTrain, grammar, provenance(), options), 300);
  EXPECT_EQ(progress, (std::vector<std::int64_t>{64, 128, 192, 256, 300}));
  options.threads = 3;
  generate_split(three, spec, Split::kTrain, grammar, provenance(), options);
  options.threads = 1;
  ::usleep(1100 * 1000);
  generate_split(again, spec, Split::kTrain, grammar, provenance(), options);
  std::string bytes = file_bytes(one);
  EXPECT_TRUE(bytes == file_bytes(three)) << "thread count changed the file";
  EXPECT_TRUE(bytes == file_bytes(again)) << "a rewrite changed the file";

  // The samples are the reference generator's, and the gaps the task's.
  DatasetReader reader(one);
  SampleGenerator generator(grammar, spec.grammar);
  ForbiddenSymbols forbidden(grammar);
  CompactSamples all = reader.read(0, 300);
  for (std::int64_t i : {0, 1, 137, 299}) {
    SymbolSample s = generator.generate(i);
    SampleGaps gaps = draw_sample_gaps(spec, Split::kTrain, forbidden, s.state_idx, i);
    EXPECT_EQ(std::vector<int>(all.state.begin() + i * 50, all.state.begin() + (i + 1) * 50), s.state_idx);
    EXPECT_EQ(std::vector<std::int32_t>(all.gap.begin() + i * 50, all.gap.begin() + (i + 1) * 50), gaps.gap);
  }
  for (const std::string& p : {one, three, again}) std::remove(p.c_str());
}

TEST(Dataset, TestSplitRepeatsTheFirstTrainingSequencesWithFreshGaps) {
  TaskSpec spec;
  spec.gap_kind = GapKind::kDistractors;
  spec.gap_prob = 0.5;
  spec.train_size = 30;
  spec.test_size = 10;
  spec.heldout_size = 10;
  Grammar grammar = small_reference_grammar(spec);
  std::string train = temp_path("split_train.h5"), test = temp_path("split_test.h5"),
              heldout = temp_path("split_heldout.h5");
  GenerateOptions options;
  generate_split(train, spec, Split::kTrain, grammar, provenance(), options);
  generate_split(test, spec, Split::kTest, grammar, provenance(), options);
  generate_split(heldout, spec, Split::kHeldout, grammar, provenance(), options);
  CompactSamples a = DatasetReader(train).read(0, 10);
  CompactSamples b = DatasetReader(test).read(0, 10);
  CompactSamples c = DatasetReader(heldout).read(0, 10);
  EXPECT_EQ(a.state, b.state);  // reference quirk 2
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_NE(a.gap, b.gap);      // gaps redrawn
  EXPECT_NE(a.state, c.state);  // held out: other sequences
  EXPECT_EQ(c.index.front(), 30);
  for (const std::string& p : {train, test, heldout}) std::remove(p.c_str());
}

TEST(Dataset, NothingExistingIsOverwrittenAndFailuresLeaveNothing) {
  std::string path = temp_path("existing.h5");
  std::ofstream(path) << "precious";
  TaskSpec spec = tiny_spec(GapKind::kZeros);
  expect_error([&] { write_tiny(path, spec, Split::kTrain, 4); }, ExitCode::kInvalidInput, {path, "exists"});
  EXPECT_EQ(file_bytes(path), "precious");

  // A file that appears while the writer works is not replaced either.
  std::string racing = temp_path("racing.h5");
  {
    Grammar g = tiny_grammar();
    ForbiddenSymbols forbidden(g);
    DatasetWriter writer(racing, spec, Split::kTrain, 1, g, provenance());
    SymbolSample s = tiny_sample(g, 0);
    writer.append(0, s, draw_sample_gaps(spec, Split::kTrain, forbidden, s.state_idx, 0));
    std::ofstream(racing) << "arrived first";
    expect_error([&] { writer.commit(); }, ExitCode::kInvalidInput, {racing, "exists"});
  }
  EXPECT_EQ(file_bytes(racing), "arrived first");
  EXPECT_FALSE(exists(racing + ".tmp." + std::to_string(::getpid())));

  // An abandoned writer (an error mid-way) removes its temporary file and publishes nothing.
  std::string abandoned = temp_path("abandoned.h5");
  {
    Grammar g = tiny_grammar();
    DatasetWriter writer(abandoned, spec, Split::kTrain, 4, g, provenance());
    EXPECT_TRUE(exists(writer.temporary_path()));
    expect_error([&] { writer.commit(); }, ExitCode::kFailure, {"0 samples appended, 4 announced"});
  }
  EXPECT_FALSE(exists(abandoned));
  EXPECT_FALSE(exists(abandoned + ".tmp." + std::to_string(::getpid())));

  // With overwrite, the old file is replaced only on success.
  DatasetWriter::Options replace;
  replace.overwrite = true;
  write_tiny(path, spec, Split::kTrain, 4, replace);
  EXPECT_EQ(DatasetReader(path).info().n_samples, 4);
  for (const std::string& p : {path, racing}) std::remove(p.c_str());
}

// A valid file, then `damage` applied to it in place; the reader must reject it naming the file and `needles`.
template <class Damage>
void expect_rejected(const std::string& name, Damage damage, const std::vector<std::string>& needles,
                     bool on_read = false) {
  std::string path = temp_path(name);
  write_tiny(path, tiny_spec(GapKind::kDistractors), Split::kTrain, 8);
  {
    h5::File file = h5::File::open_read_write(path);
    damage(file);
    file.close();
  }
  std::vector<std::string> all = needles;
  all.push_back(path);
  if (on_read) {
    DatasetReader reader(path);
    expect_error([&] { reader.read(0, 8); }, ExitCode::kInvalidInput, all);
  } else {
    expect_error([&] { DatasetReader reader(path); }, ExitCode::kInvalidInput, all);
  }
  std::remove(path.c_str());
}

TEST(Dataset, MismatchedFilesAreRejectedBeforeAnyPayload) {
  expect_rejected("schema.h5", [](h5::File& f) { f.set_attribute("schema", "something.else"); },
                  {"not a SelectivBench dataset"});
  expect_rejected("version.h5", [](h5::File& f) { f.set_attribute("schema_version", 2); },
                  {"schema version 2", "reads version 1"});
  expect_rejected("attribute.h5", [](h5::File& f) { f.set_attribute("noise", "loud"); }, {"noise", "real"});
  expect_rejected("spec.h5", [](h5::File& f) { f.set_attribute("gap_prob", 2.0); }, {"gaps.prob"});
  expect_rejected("split.h5", [](h5::File& f) { f.set_attribute("split", "valid"); }, {"split", "valid"});
  expect_rejected("missing.h5", [](h5::File& f) { f.remove("samples/gap"); }, {"/samples/gap", "missing"});
  expect_rejected(
      "dtype.h5",
      [](h5::File& f) {
        f.remove("samples/gap");
        f.write<std::int64_t>("samples/gap", {8, 6}, std::vector<std::int64_t>(48, 0));
      },
      {"/samples/gap", "expected int32 of shape (8, 6)", "found int64"});
  expect_rejected(
      "dims.h5",
      [](h5::File& f) {
        f.remove("samples/target");
        f.write<std::int32_t>("samples/target", {8, 7}, std::vector<std::int32_t>(56, 0));
      },
      {"/samples/target", "(8, 7)"});
  expect_rejected(
      "states.h5", [](h5::File& f) { f.remove("grammar/states"); f.write_strings("grammar/states", {"A0"}); },
      {"/grammar/states", "(5,)"});
  expect_rejected("count.h5", [](h5::File& f) { f.set_attribute("n_samples", std::int64_t{9}); },
                  {"/samples/symbol", "(9, 6)"});
}

TEST(Dataset, CorruptedValuesAreRejectedOnRead) {
  expect_rejected("state.h5",
                  [](h5::File& f) {
                    std::vector<std::int32_t> row = f.dataset("samples/state").read_rows<std::int32_t>(2, 1);
                    row[0] = 99;
                    f.dataset("samples/state").write_rows<std::int32_t>(2, 1, row);
                  },
                  {"/samples/state", "sample 2"}, true);
  expect_rejected(
      "target.h5",
      [](h5::File& f) {
        std::vector<std::int32_t> row = f.dataset("samples/target").read_rows<std::int32_t>(5, 1);
        row[0] = (row[0] + 1) % 5;
        f.dataset("samples/target").write_rows<std::int32_t>(5, 1, row);
      },
      {"/samples/target", "sample 5"}, true);
  expect_rejected(
      "gap.h5",
      [](h5::File& f) {
        std::vector<std::int32_t> row = f.dataset("samples/gap").read_rows<std::int32_t>(3, 1);
        row[4] += 1;
        f.dataset("samples/gap").write_rows<std::int32_t>(3, 1, row);
      },
      {"/samples/steps", "sample 3"}, true);
}

TEST(Dataset, TruncatedAndForeignFilesAreRejected) {
  std::string path = temp_path("truncated.h5");
  write_tiny(path, tiny_spec(GapKind::kZeros), Split::kTrain, 8);
  std::string bytes = file_bytes(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  expect_error([&] { DatasetReader reader(path); }, ExitCode::kInvalidInput, {path});
  std::remove(path.c_str());

  SELECTIV_GOLDEN(golden, "reference/grammar_seed5_amb8_len30.h5");
  expect_error([&] { DatasetReader reader(golden); }, ExitCode::kInvalidInput, {golden, "not a SelectivBench"});
  expect_error([&] { DatasetReader reader(path + ".nothing"); }, ExitCode::kInvalidInput, {"no such file"});
}

}  // namespace
