// SPDX-License-Identifier: BSD-3-Clause
// `selectiv generate`: a task spec (YAML, strict) -> grammar -> one dataset file per split (data/SCHEMA.md).
// The spec keys are those of data/specs/*.yaml; the canonical JSON of the spec and its SHA-256 go into every file.
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "data/dataset/generate_split.hpp"
#include "data/grammar/grammar.hpp"
#include "data/tasks/task_spec.hpp"
#include "pipelines/cli/command.hpp"
#include "selectiv/version.hpp"

namespace selectiv::cli {
namespace {

using data::TaskSpec;

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

struct Args {
  std::string config;
  std::string out;
  std::vector<std::string> sets;
  std::string split = "all";
  std::int64_t samples = -1;
  int threads = 0;
  bool force = false;
};

ExitCode run_generate(const Args& args) {
  ConfigDocument doc = ConfigDocument::load_file(args.config);
  for (const std::string& s : args.sets) doc.apply_override(s);
  ConfigReader reader = doc.reader();
  TaskSpec spec = read_task_spec(reader);

  std::vector<data::Split> splits;
  if (args.split == "all") {
    splits = {data::Split::kTrain, data::Split::kTest, data::Split::kHeldout};
  } else {
    splits = {*data::parse_split(args.split)};
  }
  // Every output is checked before any work, so nothing is half done.
  make_directories(args.out);
  std::vector<std::string> paths;
  for (data::Split split : splits) {
    std::string path = args.out + "/" + data::split_name(split) + ".h5";
    if (path_exists(path) && !args.force) {
      throw Error(ExitCode::kInvalidInput, fmt::format("{}: exists; not overwritten (pass --force to replace it)", path));
    }
    std::int64_t size = data::split_size(spec, split);
    if (args.samples > size) {
      throw Error(ExitCode::kInvalidInput, fmt::format("--samples {}: the {} split of {} has only {} samples",
                                                       args.samples, data::split_name(split), args.config, size));
    }
    paths.push_back(path);
  }

  nlohmann::json json = spec_json(spec);
  data::Provenance provenance{kToolVersion, kGitHash, canonical_json(json), sha256_of_json(json)};
  log::info("{}: {} (config sha256 {})", args.config, spec.task, provenance.config_sha256.substr(0, 12));

  auto t0 = std::chrono::steady_clock::now();
  data::Grammar grammar;
  try {
    grammar = data::generate_grammar(spec.grammar);
  } catch (const std::invalid_argument& e) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: grammar: {}", args.config, e.what()));
  }
  double grammar_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("grammar: {} states, {} transitions, {} classes ({:.2f} s)", grammar.states.size(),
            grammar.transition_src.size(), grammar.n_classes, grammar_s);

  const int threads = args.threads > 0 ? args.threads : std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < splits.size(); ++i) {
    data::GenerateOptions options;
    options.n_samples = args.samples;
    options.threads = threads;
    options.writer.overwrite = args.force;
    std::int64_t total = args.samples >= 0 ? args.samples : data::split_size(spec, splits[i]);
    Progress progress(fmt::format("generate {}", data::split_name(splits[i])), total, "samples");
    options.progress = [&progress](std::int64_t done) { progress.set(done); };
    std::int64_t written = data::generate_split(paths[i], spec, splits[i], grammar, provenance, options);
    progress.finish();
    fmt::print("{}\t{} samples\n", paths[i], written);
  }
  return ExitCode::kOk;
}

}  // namespace

void add_generate_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand(
      "generate", "Generate a task's grammar and samples into one HDF5 file per split (OUT/<split>.h5)");
  auto args = std::make_shared<Args>();
  cmd->add_option("--config", args->config, "Task spec (YAML), e.g. data/specs/task1.yaml")->required();
  cmd->add_option("--out", args->out, "Output folder (created if missing)")->required();
  cmd->add_option("--set", args->sets, "Override a spec key: --set grammar.ambiguities=8 (repeatable)");
  cmd->add_option("--split", args->split, "Which split to write")
      ->check(CLI::IsMember({"train", "test", "heldout", "all"}));
  cmd->add_option("--samples", args->samples, "Write only the first N samples of each split")
      ->check(CLI::Range(std::int64_t{0}, std::numeric_limits<std::int64_t>::max()));
  cmd->add_option("--threads", args->threads, "Worker threads (default: all cores; the output does not depend on it)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--force", args->force, "Replace existing output files");
  cmd->callback([&registry, args]() { registry.action = [args]() { return run_generate(*args); }; });
}

}  // namespace selectiv::cli
