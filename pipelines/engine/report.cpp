// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "core/error.hpp"
#include "core/log.hpp"
#include "pipelines/engine/plan.hpp"
#include "pipelines/engine/store.hpp"

namespace selectiv::engine {
namespace {

using nlohmann::json;

json number_or_null(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? *it : json();
}

// Writes a cell: strings as they are (CSV-quoted when needed), numbers with enough digits, null as empty.
std::string cell(const json& v, bool csv) {
  if (v.is_null()) return csv ? "" : "-";
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (csv && s.find_first_of(",\"\n") != std::string::npos) {
      std::string quoted = "\"";
      for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      return quoted + "\"";
    }
    return s;
  }
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) return csv ? "" : "-";
    return csv ? fmt::format("{}", d) : fmt::format("{:.4g}", d);
  }
  return v.dump();
}

std::string csv_table(const std::vector<std::string>& columns, const json& rows) {
  std::string out;
  for (std::size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + columns[c];
  out += "\n";
  for (const json& row : rows) {
    for (std::size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + cell(row.value(columns[c], json()), true);
    out += "\n";
  }
  return out;
}

std::string markdown_table(const std::vector<std::string>& columns, const json& rows) {
  std::string out = "|";
  for (const auto& c : columns) out += " " + c + " |";
  out += "\n|";
  for (std::size_t c = 0; c < columns.size(); ++c) out += c < 2 ? "---|" : "---:|";
  out += "\n";
  for (const json& row : rows) {
    out += "|";
    for (const auto& c : columns) out += " " + cell(row.value(c, json()), false) + " |";
    out += "\n";
  }
  return out;
}

// One results row from the run's train config, its datasets' specs, its metrics.json and its evaluation.json.
json result_row(const StageContext& ctx, const ReportRow& r, const json& axes, const std::string& run) {
  const Plan& plan = ctx.plan;
  const Instance& train = plan.instances[r.train];
  const data::TaskSpec& task = *plan.instances[train.inputs[0]].task;
  const data::TaskSpec& evaluated = *plan.instances[r.dataset].task;
  const json metrics = json::parse(read_whole_file(ctx.store.dir(train) + "/metrics.json"));
  const json evaluation = json::parse(read_whole_file(ctx.store.dir(plan.instances[r.evaluate]) + "/evaluation.json"));
  const train::TrainConfig& config = *train.train;
  json row = {{"run", run},
              {"set", r.set},
              {"task", task.task},
              {"model", config.model},
              {"d_model", config.d_model},
              {"layers", config.layers},
              {"parameters", number_or_null(metrics, "parameters")},
              {"seed", config.seed},
              {"lr", config.lr},
              {"warmup", config.warmup},
              {"steps", number_or_null(metrics, "steps")},
              {"ambiguities", task.grammar.ambiguities},
              {"noise", task.noise},
              {"test_gap", evaluated.test_gap},
              {"outcome", metrics.value("outcome", "ok")},
              {"final_test_accuracy", number_or_null(metrics, "final_test_accuracy")},
              {"best_test_accuracy", number_or_null(metrics, "best_test_accuracy")},
              {"accuracy", number_or_null(evaluation, "accuracy")},
              {"loss", number_or_null(evaluation, "loss")},
              {"tokens_per_second", number_or_null(metrics, "tokens_per_second")},
              {"wall_seconds", number_or_null(metrics, "wall_seconds")}};
  const json selectivity = evaluation.value("selectivity", json::object());
  const json oracle = number_or_null(selectivity, "oracle_accuracy");
  const json memoryless = number_or_null(selectivity, "memoryless_accuracy");
  row["oracle_accuracy"] = oracle;
  row["memoryless_accuracy"] = memoryless;
  row["selectivity_score"] = json();
  if (!oracle.is_null() && !memoryless.is_null() && !row["accuracy"].is_null() &&
      oracle.get<double>() > memoryless.get<double>()) {
    row["selectivity_score"] = (row["accuracy"].get<double>() - memoryless.get<double>()) /
                               (oracle.get<double>() - memoryless.get<double>());
  }
  const json same = number_or_null(selectivity, "errors_same_symbol");
  const json other = number_or_null(selectivity, "errors_other_symbol");
  row["same_symbol_error_share"] = json();
  if (!same.is_null() && !other.is_null() && same.get<double>() + other.get<double>() > 0) {
    row["same_symbol_error_share"] = same.get<double>() / (same.get<double>() + other.get<double>());
  }
  row["after_distractor_accuracy"] =
      selectivity.contains("after_distractor") ? number_or_null(selectivity["after_distractor"], "accuracy") : json();
  row["axes"] = axes;
  return row;
}

struct Stats {
  double mean = NAN, std = NAN;
  std::size_t n = 0;
};

Stats stats_of(const std::vector<double>& values) {
  Stats s;
  s.n = values.size();
  if (values.empty()) return s;
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / values.size();
  double sq = 0.0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = values.size() > 1 ? std::sqrt(sq / (values.size() - 1)) : 0.0;
  return s;
}

json mean_of(const std::vector<const json*>& rows, const char* key) {
  std::vector<double> values;
  for (const json* r : rows) {
    const json v = r->value(key, json());
    if (v.is_number()) values.push_back(v.get<double>());
  }
  return values.empty() ? json() : json(stats_of(values).mean);
}

// The paper's comparison: per (set, grid values other than seed / lr / warmup), the lr and warmup with the best mean
// accuracy over seeds (diverged seeds excluded from the mean and counted), then mean and std over seeds there.
json summarise(const json& rows) {
  struct Group {
    json first;
    std::vector<std::string> settings;                             // "lr|warmup" in order of appearance
    std::map<std::string, std::vector<const json*>> by_setting;    // -> rows (one per seed)
  };
  std::vector<std::string> order;
  std::map<std::string, Group> groups;
  for (const json& row : rows) {
    std::string config;
    for (const auto& [axis, value] : row["axes"].items()) {
      if (axis == "seed" || axis == "lr" || axis == "warmup") continue;
      config += (config.empty() ? "" : ",") + axis + "=" + value.get<std::string>();
    }
    const std::string id = row["set"].get<std::string>() + "|" + config;
    auto [it, inserted] = groups.emplace(id, Group{});
    if (inserted) {
      order.push_back(id);
      it->second.first = row;
      it->second.first["config"] = config.empty() ? "default" : config;
    }
    const std::string setting = fmt::format("{}|{}", row["lr"].dump(), row["warmup"].dump());
    if (!it->second.by_setting.count(setting)) it->second.settings.push_back(setting);
    it->second.by_setting[setting].push_back(&row);
  }
  json out = json::array();
  for (const std::string& id : order) {
    const Group& g = groups[id];
    std::string best;
    Stats best_stats;
    for (const std::string& setting : g.settings) {
      std::vector<double> acc;
      for (const json* r : g.by_setting.at(setting)) {
        const json v = r->value("accuracy", json());
        if (v.is_number()) acc.push_back(v.get<double>());
      }
      Stats s = stats_of(acc);
      if (best.empty() || (s.n > 0 && (best_stats.n == 0 || s.mean > best_stats.mean))) {
        best = setting;
        best_stats = s;
      }
    }
    const std::vector<const json*>& chosen = g.by_setting.at(best);
    std::size_t diverged = 0;
    for (const json* r : chosen) diverged += r->value("outcome", "ok") == "diverged" ? 1 : 0;
    const json& f = g.first;
    out.push_back({{"set", f["set"]},
                   {"config", f["config"]},
                   {"task", f["task"]},
                   {"model", f["model"]},
                   {"d_model", f["d_model"]},
                   {"parameters", f["parameters"]},
                   {"ambiguities", f["ambiguities"]},
                   {"test_gap", f["test_gap"]},
                   {"best_lr", chosen.front()->at("lr")},
                   {"best_warmup", chosen.front()->at("warmup")},
                   {"seeds", chosen.size()},
                   {"diverged", diverged},
                   {"accuracy_mean", best_stats.n ? json(best_stats.mean) : json()},
                   {"accuracy_std", best_stats.n ? json(best_stats.std) : json()},
                   {"best_test_accuracy_mean", mean_of(chosen, "best_test_accuracy")},
                   {"oracle_accuracy_mean", mean_of(chosen, "oracle_accuracy")},
                   {"memoryless_accuracy_mean", mean_of(chosen, "memoryless_accuracy")},
                   {"selectivity_score_mean", mean_of(chosen, "selectivity_score")}});
  }
  return out;
}

}  // namespace

const std::vector<std::string>& result_columns() {
  static const std::vector<std::string> columns = {
      "run", "set", "task", "model", "d_model", "layers", "parameters", "seed", "lr", "warmup", "steps",
      "ambiguities", "noise", "test_gap", "outcome", "final_test_accuracy", "best_test_accuracy", "accuracy", "loss",
      "oracle_accuracy", "memoryless_accuracy", "selectivity_score", "same_symbol_error_share",
      "after_distractor_accuracy", "tokens_per_second", "wall_seconds"};
  return columns;
}

const std::vector<std::string>& summary_columns() {
  static const std::vector<std::string> columns = {
      "set", "config", "task", "model", "d_model", "parameters", "ambiguities", "test_gap", "best_lr", "best_warmup",
      "seeds", "diverged", "accuracy_mean", "accuracy_std", "best_test_accuracy_mean", "oracle_accuracy_mean",
      "memoryless_accuracy_mean", "selectivity_score_mean"};
  return columns;
}

json write_report(const StageContext& ctx) {
  const Instance& report = ctx.instance();
  const std::vector<ReportRow> rows = report_rows(ctx.plan, ctx.index);
  const json& row_params = report.params->at("rows");
  json results = json::array();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    results.push_back(result_row(ctx, rows[r], row_params[r].at("axes"), row_params[r].at("run").get<std::string>()));
  }
  const json summary = summarise(results);

  static const std::vector<std::string> md_results = {
      "model", "d_model", "parameters", "seed", "lr", "warmup", "set", "test_gap", "accuracy", "best_test_accuracy",
      "oracle_accuracy", "memoryless_accuracy", "selectivity_score", "tokens_per_second", "wall_seconds"};
  static const std::vector<std::string> md_summary = {
      "set", "model", "d_model", "parameters", "ambiguities", "test_gap", "best_lr", "best_warmup", "seeds",
      "accuracy_mean", "accuracy_std", "selectivity_score_mean"};
  json results_for_json = results;
  for (json& r : results_for_json) r.erase("axes");
  write_file_atomically(ctx.dir + "/results.csv", csv_table(result_columns(), results));
  write_file_atomically(ctx.dir + "/results.json", results_for_json.dump(2) + "\n");
  write_file_atomically(ctx.dir + "/results.md", markdown_table(md_results, results));
  write_file_atomically(ctx.dir + "/summary.csv", csv_table(summary_columns(), summary));
  write_file_atomically(ctx.dir + "/summary.json", summary.dump(2) + "\n");
  write_file_atomically(ctx.dir + "/summary.md", markdown_table(md_summary, summary));
  json fields = {{"rows", results.size()}, {"summary_rows", summary.size()}};
  if (report.params->value("plots", true)) fields["plots"] = draw_plots(ctx.dir);
  return fields;
}

}  // namespace selectiv::engine
