// SPDX-License-Identifier: BSD-3-Clause
// The content-addressed store. Instance outputs live in <store>/<stage>/<key>/; manifest.json is written last
// (temporary name, then rename), so an instance is complete exactly when its manifest and its declared outputs exist;
// a folder without them is partial (an interrupted or failed run) and is removed before the instance is redone.
// <store>/<stage>/<key>.lock is the instance's lock (engine/lock.hpp). <store>/pipelines/<name>.json remembers the
// key each instance label had in the last run of a pipeline, so --dry-run can say what changed.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/files.hpp"  // write_file_atomically, used by every stage
#include "pipelines/engine/instance.hpp"

namespace selectiv::engine {

enum class Completion { kComplete, kPartial, kMissing };

class Store {
 public:
  explicit Store(std::string root);
  const std::string& root() const { return m_root; }

  std::string dir(const Instance& instance) const;           // <store>/<stage>/<key>
  std::string lock_path(const Instance& instance) const;     // <store>/<stage>/<key>.lock
  std::string manifest_path(const Instance& instance) const;  // <store>/<stage>/<key>/manifest.json
  std::string dir_of(const std::string& stage, const std::string& key) const;

  // Only stat() calls: this is what a rerun check does for every instance. `manifest_ns` (when given) receives the
  // manifest's modification time in nanoseconds since the epoch, -1 when there is none.
  Completion completion(const Instance& instance, std::string* missing_output = nullptr,
                        long long* manifest_ns = nullptr) const;
  bool complete(const Instance& instance) const { return completion(instance) == Completion::kComplete; }
  // Modification time of the manifest in nanoseconds since the epoch; -1 when there is none.
  long long manifest_time(const Instance& instance) const;
  // Complete, and not older than any input's manifest (an input redone after it makes it outdated, as in make).
  // `newer_input` receives the index of such an input.
  bool current(const Plan& plan, std::size_t index, std::size_t* newer_input = nullptr) const;

  // Creates <store>/<stage>/ for every stage (lock files live there).
  void ensure_layout() const;
  // Removes whatever an earlier (partial, or to-be-replaced) run left, and creates the empty folder.
  void prepare(const Instance& instance) const;
  // Writes the manifest: instance identity, inputs, per-output size and SHA-256, plus the stage's own fields.
  void publish(const Plan& plan, std::size_t index, const nlohmann::json& stage_fields, double started_unix,
               double seconds) const;
  nlohmann::json read_manifest(const std::string& stage, const std::string& key) const;

  // label -> key of the pipeline's last run (empty when it never ran here).
  std::map<std::string, std::string> read_labels(const std::string& pipeline) const;
  void write_labels(const Plan& plan) const;

 private:
  std::string m_root;
};

// Helpers shared by the stages.
bool file_exists(const std::string& path);
std::string read_whole_file(const std::string& path);
std::string sha256_of_file(const std::string& path);
std::string utc_timestamp(double unix_seconds);

}  // namespace selectiv::engine
