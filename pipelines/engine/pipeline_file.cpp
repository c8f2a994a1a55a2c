// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/pipeline_file.hpp"

#include <fmt/format.h>

#include <map>
#include <sstream>

#include "core/error.hpp"
#include "models/mixer.hpp"
#include "pipelines/cli/task_config.hpp"

namespace selectiv::engine {
namespace {

constexpr std::size_t kMaxGridPoints = 10'000'000;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '.')) parts.push_back(part);
  return parts;
}

// Copies `value` into `node` at parts[i..]; a mapping value is merged key by key into an existing mapping.
void merge_at(YAML::Node node, const std::vector<std::string>& parts, std::size_t i, const YAML::Node& value) {
  if (i == parts.size()) return;
  const std::string& key = parts[i];
  if (i + 1 == parts.size()) {
    YAML::Node existing = node[key];
    if (value.IsMap() && existing.IsMap()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        merge_at(existing, {it->first.as<std::string>()}, 0, it->second);
      }
    } else {
      node[key] = YAML::Clone(value);
    }
    return;
  }
  YAML::Node child = node[key];
  if (!child.IsMap()) {
    node[key] = YAML::Node(YAML::NodeType::Map);
    child = node[key];
  }
  merge_at(child, parts, i + 1, value);
}

std::string value_label(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  if (value.IsMap()) {
    std::string out = "{";
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (out.size() > 1) out += ",";
      out += it->first.as<std::string>() + "=" + value_label(it->second);
    }
    return out + "}";
  }
  if (value.IsSequence()) {
    std::string out = "[";
    for (std::size_t i = 0; i < value.size(); ++i) out += (i ? "," : "") + value_label(value[i]);
    return out + "]";
  }
  return "null";
}

// Records every key of a mapping the ConfigReader cannot type (grid axes, evaluation sets) with its location.
struct OpenMapping {
  YAML::Node node;
  std::vector<std::pair<std::string, std::string>> keys;  // key -> where
  void read(ConfigReader& r) {
    if (!node || !node.IsMap()) return;  // absent: nothing; not a mapping: section() already refused it
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      keys.emplace_back(key, r.where(key));
    }
  }
};

struct TaskCheck {
  void read(ConfigReader& r) { cli::read_task_spec(r); }
};

struct TrainCheck {
  void read(ConfigReader& r) {
    train::TrainConfig config;
    config.read(r);
  }
};

struct EvaluateSection {
  int& batch_size;
  std::int64_t& max_tokens;
  OpenMapping sets;
  void read(ConfigReader& r) {
    r.read("batch_size", batch_size, Bounds<int>{1, 1 << 20});
    r.read("max_tokens", max_tokens, Bounds<std::int64_t>{1, {}});
    r.section("sets", sets);
    r.finish();
  }
};

struct ReportSection {
  bool& plots;
  void read(ConfigReader& r) {
    r.read("plots", plots);
    r.finish();
  }
};

GridAxis make_axis(const std::string& name, const YAML::Node& values, const std::string& where) {
  GridAxis axis;
  axis.name = name;
  axis.where = where;
  if (name == "seed") {
    axis.paths = {"task.seed", "train.seed"};
  } else if (name.rfind("task.", 0) == 0 || name.rfind("train.", 0) == 0) {
    axis.paths = {name};
  } else if (name.find('.') == std::string::npos && name != "task" && name != "train") {
    axis.paths = {"train." + name};
  } else {
    throw Error(ExitCode::kInvalidInput,
                fmt::format("{}: unknown grid axis (use a train key such as lr, seed, task.<path> or train.<path>)",
                            where));
  }
  SELECTIV_REQUIRE(values.IsSequence() && values.size() > 0, ExitCode::kInvalidInput,
                   "{}: a grid axis is a non-empty list of values", where);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const YAML::Node& v = values[i];
    SELECTIV_REQUIRE(v.IsScalar() || v.IsMap(), ExitCode::kInvalidInput,
                     "{}[{}]: a grid value is a scalar or a mapping", where, i);
    if (axis.paths == std::vector<std::string>{"train.model"} && v.IsScalar() && v.Scalar() == "all") {
      for (const std::string& model : models::mixer_names()) {
        axis.values.push_back(YAML::Node(model));
        axis.labels.push_back(model);
      }
      continue;
    }
    axis.values.push_back(YAML::Clone(v));
    axis.labels.push_back(value_label(v));
  }
  return axis;
}

std::string section_of(const std::string& path) { return path.substr(0, path.find('.')); }

// Parses one section node (after grid values were merged in) through the strict readers.
template <class Read>
auto parse_section(const YAML::Node& node, const std::string& what, Read read) {
  ConfigDocument doc = ConfigDocument::parse(YAML::Dump(node), what);
  ConfigReader r = doc.reader();
  return read(r);
}

}  // namespace

bool GridAxis::affects(const std::string& section) const {
  for (const auto& p : paths) {
    if (section_of(p) == section) return true;
  }
  return false;
}

PipelineFile PipelineFile::read(const ConfigDocument& doc, const std::string& source) {
  PipelineFile file;
  file.source = source;
  ConfigReader r = doc.reader();
  r.read("name", file.name);
  SELECTIV_REQUIRE(!file.name.empty() && file.name.find('/') == std::string::npos && file.name != "." &&
                       file.name != "..",
                   ExitCode::kInvalidInput, "{}: the name is a plain folder name", r.where("name"));
  SELECTIV_REQUIRE(r.has("task"), ExitCode::kInvalidInput, "{}: required section 'task' is missing",
                   r.where("task"));
  TaskCheck task_check;
  TrainCheck train_check;
  r.section("task", task_check);
  r.section("train", train_check);
  file.task = YAML::Clone(doc.root()["task"]);
  file.train = doc.root()["train"] ? YAML::Clone(doc.root()["train"]) : YAML::Node(YAML::NodeType::Map);

  OpenMapping grid{doc.root()["grid"], {}};
  r.section("grid", grid);
  for (const auto& [name, where] : grid.keys) file.grid.push_back(make_axis(name, doc.root()["grid"][name], where));

  EvaluateSection evaluate{file.eval_batch_size, file.eval_max_tokens, {}};
  YAML::Node evaluate_node = doc.root()["evaluate"];
  if (evaluate_node && evaluate_node.IsMap()) evaluate.sets.node = evaluate_node["sets"];
  r.section("evaluate", evaluate);
  for (const auto& [name, where] : evaluate.sets.keys) {
    YAML::Node overrides = evaluate_node["sets"][name];
    SELECTIV_REQUIRE(overrides.IsNull() || overrides.IsMap(), ExitCode::kInvalidInput,
                     "{}: an evaluation set is a mapping of task-spec keys ({{}} for the run's own test split)",
                     where);
    SELECTIV_REQUIRE(!name.empty() && name.find_first_of("/,= ") == std::string::npos, ExitCode::kInvalidInput,
                     "{}: an evaluation set name has no '/', ',', '=' or spaces", where);
    file.sets.push_back({name, overrides.IsMap() ? YAML::Clone(overrides) : YAML::Node(YAML::NodeType::Map), where});
  }
  if (file.sets.empty()) file.sets.push_back({"test", YAML::Node(YAML::NodeType::Map), r.where("evaluate")});

  ReportSection report{file.plots};
  r.section("report", report);
  r.finish();
  return file;
}

Expansion expand_grid(const PipelineFile& file) {
  Expansion out;
  std::size_t n_points = 1;
  for (const GridAxis& axis : file.grid) {
    SELECTIV_REQUIRE(n_points <= kMaxGridPoints / axis.values.size(), ExitCode::kInvalidInput,
                     "{}: the grid has more than {} points", axis.where, kMaxGridPoints);
    n_points *= axis.values.size();
  }
  std::map<std::string, std::size_t> task_cache, train_cache, eval_cache;
  std::vector<std::size_t> index(file.grid.size(), 0);
  std::vector<bool> task_axis, train_axis;
  for (const GridAxis& axis : file.grid) {
    task_axis.push_back(axis.affects("task"));
    train_axis.push_back(axis.affects("train"));
  }
  // The grid values that shape a section, for messages about them.
  auto shown = [&](const std::vector<bool>& of_section) {
    std::string text;
    for (std::size_t a = 0; a < file.grid.size(); ++a) {
      if (of_section[a]) text += fmt::format("{}={} ({}) ", file.grid[a].name, file.grid[a].labels[index[a]], file.grid[a].where);
    }
    return text;
  };
  out.points.reserve(n_points);
  for (std::size_t p = 0; p < n_points; ++p) {
    GridPoint point;
    std::string task_combo, train_combo;
    for (std::size_t a = 0; a < file.grid.size(); ++a) {
      const GridAxis& axis = file.grid[a];
      point.axes.emplace_back(axis.name, axis.labels[index[a]]);
      if (a) point.label += ',';
      point.label += axis.name;
      point.label += '=';
      point.label += axis.labels[index[a]];
      const std::string mine = std::to_string(index[a]) + ";";
      task_combo += task_axis[a] ? mine : ";";
      train_combo += train_axis[a] ? mine : ";";
    }
    if (point.label.empty()) point.label = "default";

    // The run's task spec and train config (each distinct combination parsed once).
    auto with_axes = [&](const std::string& section, const YAML::Node& base) {
      YAML::Node node = YAML::Clone(base);
      for (std::size_t a = 0; a < file.grid.size(); ++a) {
        for (const std::string& path : file.grid[a].paths) {
          if (section_of(path) != section) continue;
          std::vector<std::string> parts = split_path(path.substr(section.size() + 1));
          merge_at(node, parts, 0, file.grid[a].values[index[a]]);
        }
      }
      return node;
    };
    auto rethrow = [](const Error& e, const std::string& context) {
      throw Error(e.code(), fmt::format("{}: {}", context, e.what()));
    };
    auto [task_it, new_task] = task_cache.emplace(task_combo, out.tasks.size());
    if (new_task) {
      try {
        out.tasks.push_back(parse_section(with_axes("task", file.task), "task", [](ConfigReader& r) {
          return cli::read_task_spec(r);
        }));
      } catch (const Error& e) {
        rethrow(e, "grid values " + shown(task_axis));
      }
    }
    point.task = task_it->second;
    auto [train_it, new_train] = train_cache.emplace(train_combo, out.trains.size());
    if (new_train) {
      try {
        out.trains.push_back(parse_section(with_axes("train", file.train), "train", [](ConfigReader& r) {
          train::TrainConfig config;
          config.read(r);
          return config;
        }));
      } catch (const Error& e) {
        rethrow(e, "grid values " + shown(train_axis));
      }
    }
    point.train = train_it->second;

    // Evaluation sets: the run's task spec with the set's overrides (empty overrides: the run's own spec).
    for (std::size_t s = 0; s < file.sets.size(); ++s) {
      const EvaluationSet& set = file.sets[s];
      if (set.overrides.size() == 0) {
        point.eval_tasks.push_back(point.task);
        continue;
      }
      auto [eval_it, new_eval] = eval_cache.emplace(task_combo + "|" + std::to_string(s), out.tasks.size());
      if (new_eval) {
        YAML::Node node = with_axes("task", file.task);
        for (auto it = set.overrides.begin(); it != set.overrides.end(); ++it) {
          merge_at(node, split_path(it->first.as<std::string>()), 0, it->second);
        }
        try {
          out.tasks.push_back(parse_section(node, "task", [](ConfigReader& r) { return cli::read_task_spec(r); }));
        } catch (const Error& e) {
          rethrow(e, fmt::format("evaluation set {} ({}) with grid values {}", set.name, set.where, shown(task_axis)));
        }
      }
      point.eval_tasks.push_back(eval_it->second);
    }
    out.points.push_back(std::move(point));

    // Next index: the last axis turns fastest.
    for (std::size_t a = file.grid.size(); a-- > 0;) {
      if (++index[a] < file.grid[a].values.size()) break;
      index[a] = 0;
    }
  }
  return out;
}

}  // namespace selectiv::engine
