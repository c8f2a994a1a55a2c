// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/plan.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "pipelines/cli/task_config.hpp"

namespace selectiv::engine {
namespace {

constexpr std::size_t kInputsPerRow = 3;  // train, evaluate, generate (of the evaluated dataset)

nlohmann::json split_names(const std::vector<data::Split>& splits) {
  nlohmann::json names = nlohmann::json::array();
  for (data::Split s : splits) names.push_back(data::split_name(s));
  return names;
}

std::vector<std::string> split_files(const std::vector<data::Split>& splits) {
  std::vector<std::string> files;
  for (data::Split s : splits) files.push_back(std::string(data::split_name(s)) + ".h5");
  return files;
}

// The grid values that shape the task spec, as a label ("seed=1,task.grammar={...}").
std::string task_axes_label(const PipelineFile& file, const GridPoint& point) {
  std::string label;
  for (std::size_t a = 0; a < file.grid.size(); ++a) {
    if (!file.grid[a].affects("task")) continue;
    label += (label.empty() ? "" : ",") + point.axes[a].first + "=" + point.axes[a].second;
  }
  return label.empty() ? "default" : label;
}

}  // namespace

Plan build_plan(const PipelineFile& file, const Expansion& expansion, const CodeIdentity& code) {
  Plan plan;
  plan.name = file.name;
  plan.units = expansion.points.size();
  std::vector<std::size_t> generate_of_task(expansion.tasks.size(), kNoUnit);
  std::vector<nlohmann::json> task_json;
  task_json.reserve(expansion.tasks.size());
  for (const auto& spec : expansion.tasks) task_json.push_back(cli::spec_json(spec));

  auto generate = [&](std::size_t task, std::vector<data::Split> splits, const std::string& label) {
    Instance g;
    g.stage = Stage::kGenerate;
    g.label = label;
    g.params = std::make_shared<const nlohmann::json>(
        nlohmann::json{{"spec", task_json[task]}, {"splits", split_names(splits)}});
    g.outputs = split_files(splits);
    g.backend = "host";  // generation runs on host threads and is bit-identical whatever the Kokkos backend
    g.task = expansion.tasks[task];
    g.splits = std::move(splits);
    return plan.add(std::move(g), code);
  };

  // Parameters of the distinct train configs and of the evaluations, made (and made canonical) once.
  std::vector<std::shared_ptr<const nlohmann::json>> train_json;
  std::vector<std::string> train_canonical;
  for (const auto& config : expansion.trains) {
    train_json.push_back(std::make_shared<const nlohmann::json>(config.to_json()));
    train_canonical.push_back(canonical_json(*train_json.back()));
  }
  // max_tokens only bounds memory; the results do not depend on it, but it stays in the key so that an evaluation is
  // always reproducible from its manifest alone.
  const auto eval_params = std::make_shared<const nlohmann::json>(nlohmann::json{
      {"batch_size", file.eval_batch_size}, {"max_tokens", file.eval_max_tokens}, {"split", "test"}});
  const std::string eval_canonical = canonical_json(*eval_params);
  plan.reserve(expansion.tasks.size() + expansion.points.size() * (1 + file.sets.size()) + 1);

  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::size_t> report_inputs;
  for (std::size_t p = 0; p < expansion.points.size(); ++p) {
    const GridPoint& point = expansion.points[p];
    const std::string task_label = task_axes_label(file, point);
    if (generate_of_task[point.task] == kNoUnit) {
      generate_of_task[point.task] =
          generate(point.task, {data::Split::kTrain, data::Split::kTest}, "generate@" + task_label);
    }
    const std::size_t data = generate_of_task[point.task];

    Instance t;
    t.stage = Stage::kTrain;
    t.label = "train@" + point.label;
    t.params = train_json[point.train];
    t.params_canonical = train_canonical[point.train];
    t.inputs = {data};
    t.outputs = {"metrics.json"};  // checkpoint.h5 too, except for a run that diverged before its first evaluation
    t.unit = p;
    t.train = expansion.trains[point.train];
    const std::size_t train = plan.add(std::move(t), code);

    nlohmann::json axes = nlohmann::json::object();
    for (const auto& [name, value] : point.axes) axes[name] = value;
    for (std::size_t s = 0; s < file.sets.size(); ++s) {
      const std::size_t eval_task = point.eval_tasks[s];
      std::size_t dataset = data;
      if (task_json[eval_task] != task_json[point.task]) {
        if (generate_of_task[eval_task] == kNoUnit) {
          generate_of_task[eval_task] =
              generate(eval_task, {data::Split::kTest}, fmt::format("generate@{},set={}", task_label, file.sets[s].name));
        }
        dataset = generate_of_task[eval_task];
      }
      Instance e;
      e.stage = Stage::kEvaluate;
      e.label = fmt::format("evaluate@{},set={}", point.label, file.sets[s].name);
      e.params = eval_params;
      e.params_canonical = eval_canonical;
      e.inputs = {train, dataset};
      e.outputs = {"evaluation.json", "evaluation.h5"};
      e.unit = p;
      const std::size_t evaluate = plan.add(std::move(e), code);
      rows.push_back({{"run", point.label}, {"set", file.sets[s].name}, {"axes", axes}, {"point", p}});
      report_inputs.insert(report_inputs.end(), {train, evaluate, dataset});
    }
  }

  Instance r;
  r.stage = Stage::kReport;
  r.label = "report@" + file.name;
  r.params = std::make_shared<const nlohmann::json>(
      nlohmann::json{{"pipeline", file.name}, {"plots", file.plots}, {"rows", std::move(rows)}});
  r.inputs = std::move(report_inputs);
  r.outputs = {"results.csv", "results.json", "results.md", "summary.csv", "summary.json", "summary.md"};
  plan.add(std::move(r), code);
  return plan;
}

std::size_t report_index(const Plan& plan) {
  for (std::size_t i = plan.instances.size(); i-- > 0;) {
    if (plan.instances[i].stage == Stage::kReport) return i;
  }
  throw Error(ExitCode::kFailure, "the plan has no report instance");
}

std::vector<ReportRow> report_rows(const Plan& plan, std::size_t index) {
  const Instance& report = plan.instances[index];
  const nlohmann::json& rows = report.params->at("rows");
  SELECTIV_REQUIRE(report.inputs.size() == kInputsPerRow * rows.size(), ExitCode::kFailure,
                   "{}: {} inputs for {} rows", report.label, report.inputs.size(), rows.size());
  std::vector<ReportRow> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    ReportRow row;
    row.point = rows[r].at("point").get<std::size_t>();
    row.set = rows[r].at("set").get<std::string>();
    row.train = report.inputs[kInputsPerRow * r];
    row.evaluate = report.inputs[kInputsPerRow * r + 1];
    row.dataset = report.inputs[kInputsPerRow * r + 2];
    out.push_back(row);
  }
  return out;
}

}  // namespace selectiv::engine
