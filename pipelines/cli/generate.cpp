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
#include "pipelines/cli/task_config.hpp"
#include "selectiv/version.hpp"

namespace selectiv::cli {
namespace {

using data::TaskSpec;

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
