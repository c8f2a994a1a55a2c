// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/cli/task_config.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <thread>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "data/dataset/generate_split.hpp"
#include "data/dataset/reader.hpp"
#include "data/grammar/grammar.hpp"
#include "selectiv/version.hpp"

namespace selectiv::cli {

using data::TaskSpec;

namespace {
// Problems check_task_spec finds under `prefix` ("grammar", "splits", "gaps" or "" for top-level keys) become
// errors at the key's file:line:col.
void check_keys(const TaskSpec& spec, const ConfigReader& r, const std::string& prefix) {
  for (const data::SpecProblem& p : data::check_task_spec(spec)) {
    bool here = prefix.empty() ? p.key.find('.') == std::string::npos : p.key.rfind(prefix + ".", 0) == 0;
    if (!here) continue;
    std::string leaf = prefix.empty() ? p.key : p.key.substr(prefix.size() + 1);
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: {}", r.where(leaf), p.message));
  }
}

struct GrammarSection {
  TaskSpec& spec;
  void read(ConfigReader& r) {
    data::GrammarSpec& g = spec.grammar;
    r.read("ambiguities", g.ambiguities, Bounds<int>{0, 52});
    r.read("ambiguity_depth", g.ambiguity_depth, Bounds<int>{1, 1000});
    g.alphabet_size = g.ambiguities + 1;  // every letter ambiguous, as in every sweep
    r.read("alphabet_size", g.alphabet_size, Bounds<int>{2, 53});
    r.read("initial_states", g.initial_states, Bounds<int>{1, 10000});
    r.read("transition_density", g.transition_density, Bounds<double>{0.0, 1.0});
    r.read("seq_len_min", g.seq_len_min, Bounds<int>{1, 1000000});
    r.read("seq_len_max", g.seq_len_max, Bounds<int>{1, 1000000});
    r.read("combined_seq_length", g.combined_seq_length, Bounds<int>{1, 1000000});
    r.finish();
    check_keys(spec, r, "grammar");
  }
};

struct SplitsSection {
  TaskSpec& spec;
  void read(ConfigReader& r) {
    r.read("train_size", spec.train_size, Bounds<std::int64_t>{0, std::int64_t{1} << 40});
    r.read("test_size", spec.test_size, Bounds<std::int64_t>{0, std::int64_t{1} << 40});
    r.read("heldout_size", spec.heldout_size, Bounds<std::int64_t>{0, std::int64_t{1} << 40});
    r.finish();
    check_keys(spec, r, "splits");
  }
};

struct GapsSection {
  TaskSpec& spec;
  void read(ConfigReader& r) {
    std::string kind = data::gap_kind_name(spec.gap_kind);
    r.read("kind", kind, OneOf{"zeros", "distractors"});
    spec.gap_kind = *data::parse_gap_kind(kind);
    r.read("timestep", spec.timestep, Bounds<double>{1e-6, 1000.0});
    r.read("train_min", spec.train_gap_min, Bounds<double>{0.0, {}});
    r.read("train_max", spec.train_gap_max, Bounds<double>{0.0, {}});
    r.read("test", spec.test_gap, Bounds<double>{0.0, {}});
    r.read("start", spec.gap_start, Bounds<int>{0, {}});
    r.read("prob", spec.gap_prob, Bounds<double>{0.0, 1.0});
    r.finish();
    check_keys(spec, r, "gaps");
  }
};

}  // namespace

TaskSpec read_task_spec(ConfigReader& r) {
  TaskSpec spec;
  r.read("task", spec.task);
  std::int64_t seed = static_cast<std::int64_t>(spec.grammar.seed);
  r.read("seed", seed, Bounds<std::int64_t>{0, std::numeric_limits<std::int64_t>::max()});
  spec.grammar.seed = static_cast<std::uint64_t>(seed);
  r.read("noise", spec.noise, Bounds<double>{0.0, 1000.0});
  GrammarSection grammar{spec};
  SplitsSection splits{spec};
  GapsSection gaps{spec};
  r.section("grammar", grammar);
  r.section("splits", splits);
  r.section("gaps", gaps);
  r.finish();
  check_keys(spec, r, "");
  data::require_valid_task_spec(spec);
  return spec;
}

// The spec as JSON with the YAML's key names: what config_sha256 is computed over.
nlohmann::json spec_json(const TaskSpec& s) {
  const data::GrammarSpec& g = s.grammar;
  return {{"task", s.task},
          {"seed", static_cast<std::int64_t>(g.seed)},
          {"noise", s.noise},
          {"grammar",
           {{"ambiguities", g.ambiguities},
            {"ambiguity_depth", g.ambiguity_depth},
            {"alphabet_size", g.alphabet_size},
            {"initial_states", g.initial_states},
            {"transition_density", g.transition_density},
            {"seq_len_min", g.seq_len_min},
            {"seq_len_max", g.seq_len_max},
            {"combined_seq_length", g.combined_seq_length}}},
          {"splits", {{"train_size", s.train_size}, {"test_size", s.test_size}, {"heldout_size", s.heldout_size}}},
          {"gaps",
           {{"kind", data::gap_kind_name(s.gap_kind)},
            {"timestep", s.timestep},
            {"train_min", s.train_gap_min},
            {"train_max", s.train_gap_max},
            {"test", s.test_gap},
            {"start", s.gap_start},
            {"prob", s.gap_prob}}}};
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void make_directories(const std::string& dir) {
  std::string prefix;
  for (std::size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      prefix = dir.substr(0, i);
      if (!path_exists(prefix) && ::mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) {
        throw Error(ExitCode::kFailure, fmt::format("{}: cannot create the output folder", prefix));
      }
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(ExitCode::kInvalidInput, fmt::format("--out {}: not a folder", dir));
  }
}


void ensure_datasets(const TaskSpec& spec, const std::string& dir, const std::vector<data::Split>& splits) {
  const nlohmann::json json = spec_json(spec);
  const data::Provenance provenance{kToolVersion, kGitHash, canonical_json(json), sha256_of_json(json)};
  make_directories(dir);
  std::vector<data::Split> missing;
  for (data::Split split : splits) {
    const std::string path = dir + "/" + data::split_name(split) + ".h5";
    if (!path_exists(path)) {
      missing.push_back(split);
      continue;
    }
    data::DatasetReader existing(path);
    SELECTIV_REQUIRE(existing.info().provenance.config_sha256 == provenance.config_sha256, ExitCode::kInvalidInput,
                     "{}: exists with another task config (sha256 {} vs {}); not overwritten: remove it or choose "
                     "another output folder",
                     path, existing.info().provenance.config_sha256.substr(0, 12), provenance.config_sha256.substr(0, 12));
    log::info("{}: up to date", path);
  }
  if (missing.empty()) return;
  data::Grammar grammar = data::generate_grammar(spec.grammar);
  for (data::Split split : missing) {
    const std::string path = dir + "/" + data::split_name(split) + ".h5";
    data::GenerateOptions options;
    options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Progress progress(fmt::format("generate {}", data::split_name(split)), data::split_size(spec, split), "samples");
    options.progress = [&progress](std::int64_t done) { progress.set(done); };
    data::generate_split(path, spec, split, grammar, provenance, options);
    progress.finish();
  }
}

}  // namespace selectiv::cli
