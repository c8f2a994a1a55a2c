// SPDX-License-Identifier: BSD-3-Clause
#include "core/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <sstream>
#include <type_traits>

#include "core/error.hpp"

namespace selectiv {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

void assign_path(YAML::Node node, const std::vector<std::string>& parts, std::size_t i, const YAML::Node& value) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  YAML::Node child = node[parts[i]];
  if (!child.IsMap()) child = YAML::Node(YAML::NodeType::Map);
  assign_path(child, parts, i + 1, value);
}

template <class T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else return "a string";
}

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
std::string show(const T& value) {
  if constexpr (IsVector<T>::value) return "[...]";
  else return fmt::format("{}", value);
}

}  // namespace

// ---------------------------------------------------------------------------------------------- ConfigDocument

ConfigDocument ConfigDocument::parse(const std::string& text, const std::string& source_name) {
  ConfigDocument doc;
  doc.m_shared = std::make_shared<Shared>();
  doc.m_shared->source = source_name;
  try {
    doc.m_root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}:{}:{}: YAML syntax error: {}", source_name, e.mark.line + 1,
                                                     e.mark.column + 1, e.msg));
  }
  if (doc.m_root.IsNull()) doc.m_root = YAML::Node(YAML::NodeType::Map);
  SELECTIV_REQUIRE(doc.m_root.IsMap(), ExitCode::kInvalidInput, "{}:{}:{}: the top level must be a mapping of keys",
                   source_name, doc.m_root.Mark().line + 1, doc.m_root.Mark().column + 1);
  return doc;
}

ConfigDocument ConfigDocument::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SELECTIV_REQUIRE(in.good(), ExitCode::kInvalidInput, "{}: cannot open config file", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), path);
}

void ConfigDocument::apply_override(const std::string& assignment) {
  auto eq = assignment.find('=');
  SELECTIV_REQUIRE(eq != std::string::npos && eq > 0, ExitCode::kInvalidInput,
                   "--set {}: expected key.path=value", assignment);
  std::string key = assignment.substr(0, eq);
  std::vector<std::string> parts = split(key, '.');
  for (const auto& part : parts) {
    SELECTIV_REQUIRE(!part.empty(), ExitCode::kInvalidInput, "--set {}: empty component in key path '{}'",
                     assignment, key);
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::ParserException& e) {
    throw Error(ExitCode::kInvalidInput, fmt::format("--set {}: value is not valid YAML: {}", assignment, e.msg));
  }
  assign_path(m_root, parts, 0, value);
  m_shared->overrides[key] = "--set " + assignment;
}

ConfigReader ConfigDocument::reader() const { return ConfigReader(m_root, "", m_shared); }

// ------------------------------------------------------------------------------------------------ ConfigReader

ConfigReader::ConfigReader(YAML::Node node, std::string path, std::shared_ptr<const ConfigDocument::Shared> shared)
    : m_node(std::move(node)), m_path(std::move(path)), m_shared(std::move(shared)) {}

std::string ConfigReader::path_of(const std::string& key) const { return m_path.empty() ? key : m_path + "." + key; }

std::string ConfigReader::location(const YAML::Node& node, const std::string& path) const {
  auto it = m_shared->overrides.find(path);
  if (it != m_shared->overrides.end()) return fmt::format("{}: {}", it->second, path);
  // An override of a parent map also owns everything below it.
  for (const auto& [key, text] : m_shared->overrides) {
    if (path.rfind(key + ".", 0) == 0) return fmt::format("{}: {}", text, path);
  }
  YAML::Mark mark = node.Mark();
  if (mark.is_null()) return fmt::format("{}: {}", m_shared->source, path);
  return fmt::format("{}:{}:{}: {}", m_shared->source, mark.line + 1, mark.column + 1, path);
}

std::string ConfigReader::where(const std::string& key) const {
  YAML::Node node = m_node[key];
  return location(node ? node : m_node, path_of(key));
}

bool ConfigReader::has(const std::string& key) const { return static_cast<bool>(m_node[key]); }

YAML::Node ConfigReader::lookup(const std::string& key) {
  m_seen.insert(key);
  return m_node[key];
}

template <class T>
T ConfigReader::decode(const YAML::Node& node, const std::string& path) const {
  if constexpr (IsVector<T>::value) {
    using Item = typename T::value_type;
    SELECTIV_REQUIRE(node.IsSequence(), ExitCode::kInvalidInput, "{}: expected a list", location(node, path));
    T out;
    for (std::size_t i = 0; i < node.size(); ++i) {
      out.push_back(decode<Item>(node[i], fmt::format("{}[{}]", path, i)));
    }
    return out;
  } else {
    SELECTIV_REQUIRE(node.IsScalar(), ExitCode::kInvalidInput, "{}: expected {}, got a {}", location(node, path),
                     type_name<T>(), node.IsMap() ? "mapping" : node.IsSequence() ? "list" : "null value");
    try {
      return node.as<T>();
    } catch (const YAML::BadConversion&) {
      throw Error(ExitCode::kInvalidInput,
                  fmt::format("{}: expected {}, got '{}'", location(node, path), type_name<T>(), node.Scalar()));
    }
  }
}

template <class T>
void ConfigReader::read(const std::string& key, T& out, Bounds<T> bounds) {
  YAML::Node node = lookup(key);
  if (!node) return;
  std::string path = path_of(key);
  T value = decode<T>(node, path);
  if constexpr (!IsVector<T>::value && !std::is_same_v<T, std::string> && !std::is_same_v<T, bool>) {
    bool low = bounds.lo && value < *bounds.lo;
    bool high = bounds.hi && value > *bounds.hi;
    SELECTIV_REQUIRE(!low && !high, ExitCode::kInvalidInput, "{}: value {} is out of range [{}, {}]",
                     location(node, path), show(value), bounds.lo ? show(*bounds.lo) : "-inf",
                     bounds.hi ? show(*bounds.hi) : "inf");
  }
  out = std::move(value);
}

template <class T>
void ConfigReader::require(const std::string& key, T& out, Bounds<T> bounds) {
  SELECTIV_REQUIRE(has(key), ExitCode::kInvalidInput, "{}: required key '{}' is missing",
                   location(m_node, m_path.empty() ? "<top level>" : m_path), path_of(key));
  read(key, out, bounds);
}

void ConfigReader::read(const std::string& key, std::string& out, const OneOf& choices) {
  std::string value = out;
  read<std::string>(key, value);
  bool ok = false;
  for (const auto& choice : choices.choices) ok = ok || choice == value;
  SELECTIV_REQUIRE(ok, ExitCode::kInvalidInput, "{}: '{}' is not one of {}", where(key), value,
                   fmt::join(choices.choices, ", "));
  out = value;
}

void ConfigReader::require(const std::string& key, std::string& out, const OneOf& choices) {
  SELECTIV_REQUIRE(has(key), ExitCode::kInvalidInput, "{}: required key '{}' is missing",
                   location(m_node, m_path.empty() ? "<top level>" : m_path), path_of(key));
  read(key, out, choices);
}

ConfigReader ConfigReader::child_reader(const std::string& key) {
  YAML::Node node = lookup(key);
  std::string path = path_of(key);
  if (!node) return ConfigReader(YAML::Node(YAML::NodeType::Map), path, m_shared);
  SELECTIV_REQUIRE(node.IsMap(), ExitCode::kInvalidInput, "{}: expected a mapping of keys", location(node, path));
  return ConfigReader(node, path, m_shared);
}

void ConfigReader::finish() {
  std::vector<std::string> known(m_seen.begin(), m_seen.end());
  for (auto it = m_node.begin(); it != m_node.end(); ++it) {
    std::string key = it->first.as<std::string>();
    if (m_seen.count(key)) continue;
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: unknown key (known keys here: {})",
                                                     location(it->first, path_of(key)), fmt::join(known, ", ")));
  }
}

// The value types a config may hold.
#define SELECTIV_CONFIG_TYPE(T)                                                  \
  template void ConfigReader::read<T>(const std::string&, T&, Bounds<T>);        \
  template void ConfigReader::require<T>(const std::string&, T&, Bounds<T>);
SELECTIV_CONFIG_TYPE(bool)
SELECTIV_CONFIG_TYPE(int)
SELECTIV_CONFIG_TYPE(std::int64_t)
SELECTIV_CONFIG_TYPE(double)
SELECTIV_CONFIG_TYPE(std::string)
SELECTIV_CONFIG_TYPE(std::vector<int>)
SELECTIV_CONFIG_TYPE(std::vector<std::int64_t>)
SELECTIV_CONFIG_TYPE(std::vector<double>)
SELECTIV_CONFIG_TYPE(std::vector<std::string>)
#undef SELECTIV_CONFIG_TYPE

}  // namespace selectiv
