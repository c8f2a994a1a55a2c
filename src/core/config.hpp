// SPDX-License-Identifier: BSD-3-Clause
// Strict YAML configuration: a document (file or text, plus `--set key.path=value` overrides) read into typed
// structs through ConfigReader. An unknown key, a wrong type, a missing required key or an out-of-range value is an
// Error(kInvalidInput) whose message starts with `file:line:col: key.path` (or `--set key.path=...`).
//
// Usage, for a struct with a `void read(ConfigReader&)` member:
//   void TrainConfig::read(ConfigReader& r) {
//     r.require("steps", steps, Bounds<std::int64_t>{1, 1'000'000});
//     r.read("lr", lr, Bounds<double>{0.0, 1.0});
//     r.read("model", model, OneOf{"gla", "transformer"});
//     r.section("optimizer", optimizer);   // nested struct with its own read()
//     r.finish();                          // unknown keys are errors
//   }
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace selectiv {

template <class T>
struct Bounds {
  std::optional<T> lo;
  std::optional<T> hi;
};

struct OneOf {
  OneOf(std::initializer_list<const char*> names) : choices(names.begin(), names.end()) {}
  std::vector<std::string> choices;
};

class ConfigReader;

class ConfigDocument {
 public:
  static ConfigDocument load_file(const std::string& path);
  static ConfigDocument parse(const std::string& text, const std::string& source_name);
  // "a.b.c=value"; value is parsed as YAML (so `[1, 2]` is a list and `3` an integer).
  void apply_override(const std::string& assignment);
  ConfigReader reader() const;
  const YAML::Node& root() const { return m_root; }

 private:
  struct Shared {
    std::string source;
    std::map<std::string, std::string> overrides;  // dotted key path -> the --set text that set it
  };
  YAML::Node m_root;
  std::shared_ptr<Shared> m_shared;
  friend class ConfigReader;
};

class ConfigReader {
 public:
  // Optional key: `out` keeps its default when the key is absent.
  template <class T>
  void read(const std::string& key, T& out, Bounds<T> bounds = {});
  void read(const std::string& key, std::string& out, const OneOf& choices);
  // Required key.
  template <class T>
  void require(const std::string& key, T& out, Bounds<T> bounds = {});
  void require(const std::string& key, std::string& out, const OneOf& choices);
  // Nested map read by T::read(ConfigReader&); absent keeps defaults.
  template <class T>
  void section(const std::string& key, T& out) {
    ConfigReader child = child_reader(key);
    out.read(child);
  }
  bool has(const std::string& key) const;
  // Throws on any key of this map that no read/require/section asked for.
  void finish();

  // `file:line:col: path` (or the --set text) of a key of this map, for messages of the caller's own checks.
  std::string where(const std::string& key) const;
  std::string path_of(const std::string& key) const;

 private:
  friend class ConfigDocument;
  ConfigReader(YAML::Node node, std::string path, std::shared_ptr<const ConfigDocument::Shared> shared);
  ConfigReader child_reader(const std::string& key);
  YAML::Node lookup(const std::string& key);
  std::string location(const YAML::Node& node, const std::string& path) const;
  template <class T>
  T decode(const YAML::Node& node, const std::string& path) const;

  YAML::Node m_node;
  std::string m_path;
  std::shared_ptr<const ConfigDocument::Shared> m_shared;
  std::set<std::string> m_seen;
};

}  // namespace selectiv
