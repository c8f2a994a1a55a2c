// SPDX-License-Identifier: BSD-3-Clause
#include "eval/evaluation.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/error.hpp"
#include "core/files.hpp"
#include "data/dataset/reader.hpp"
#include "data/h5/file.hpp"

namespace selectiv::eval {
namespace {

void write_table(h5::File& file, const std::string& name, const std::map<int, Tally>& table) {
  std::vector<std::int64_t> key, correct, total;
  for (const auto& [k, t] : table) {
    key.push_back(k);
    correct.push_back(t.correct);
    total.push_back(t.total);
  }
  const std::vector<std::int64_t> shape = {static_cast<std::int64_t>(key.size())};
  file.write<std::int64_t>("profile/" + name + "/key", shape, key);
  file.write<std::int64_t>("profile/" + name + "/correct", shape, correct);
  file.write<std::int64_t>("profile/" + name + "/total", shape, total);
}

// Every scalar of the summary (numbers and strings) as an attribute of the file's root.
void write_attributes(h5::File& file, const nlohmann::json& summary) {
  for (const auto& [key, value] : summary.items()) {
    if (value.is_string()) file.set_attribute(key, value.get<std::string>());
    else if (value.is_number_integer()) file.set_attribute(key, value.get<std::int64_t>());
    else if (value.is_number()) file.set_attribute(key, value.get<double>());
  }
}

}  // namespace

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

nlohmann::json Evaluation::summary() const {
  return {{"checkpoint", checkpoint},
          {"checkpoint_step", checkpoint_step},
          {"dataset", dataset},
          {"model", model},
          {"d_model", d_model},
          {"layers", layers},
          {"test_gap", test_gap},
          {"max_steps", max_steps},
          {"accuracy", metrics.accuracy},
          {"loss", metrics.loss},
          {"samples", metrics.samples},
          {"elements", metrics.elements},
          {"steps", metrics.steps},
          {"oracle_accuracy", profile.oracle_accuracy},
          {"memoryless_accuracy", profile.memoryless_accuracy},
          {"wall_seconds", wall_seconds},
          {"peak_rss_mib", peak_rss_mib},
          {"selectivity", profile.to_json()}};
}

Evaluation evaluate_model(models::RecNet& net, const std::string& dataset, const EvaluationOptions& options,
                          bool progress) {
  const auto start = std::chrono::steady_clock::now();
  BatchSource source(dataset);
  const data::DatasetInfo& info = source.info();
  SELECTIV_REQUIRE(info.n_symbols == net.dims().input_size && info.n_classes == net.dims().n_classes,
                   ExitCode::kInvalidInput, "{}: {} symbols / {} classes, the model has {} / {}", dataset,
                   info.n_symbols, info.n_classes, net.dims().input_size, net.dims().n_classes);
  Evaluation e;
  e.dataset = dataset;
  e.model = net.dims().mixer;
  e.d_model = net.dims().d_model;
  e.layers = net.dims().layers;
  e.max_steps = info.max_steps;
  e.test_gap = info.spec.test_gap;
  e.elements_per_sample = info.elements;
  {
    std::unique_ptr<Progress> bar;
    if (progress) {
      bar = std::make_unique<Progress>("evaluate " + std::filesystem::path(dataset).filename().string(),
                                       info.n_samples, "samples");
    }
    e.metrics = evaluate_split(Exec(), net, source, options, &e.predictions, bar.get());
    if (bar) bar->finish();
  }
  const data::DatasetReader& reader = source.reader();
  e.profile = build_profile(reader.read_grammar(), reader.read(0, info.n_samples), e.predictions,
                            info.spec.gap_kind == data::GapKind::kDistractors);
  e.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.peak_rss_mib = peak_rss_mib();
  return e;
}

void write_evaluation(const Evaluation& e, const std::string& prefix) {
  const std::string h5_path = prefix + ".h5", h5_tmp = h5_path + ".tmp" + std::to_string(::getpid());
  const nlohmann::json summary = e.summary();
  {
    h5::File file = h5::File::create(h5_tmp, h5::File::Mode::kCreateTruncate);
    file.set_attribute("schema", "selectivbench.metrics");
    file.set_attribute("schema_version", 1);
    write_attributes(file, summary);
    file.write<std::int32_t>("predictions", {e.metrics.samples, e.elements_per_sample},
                             std::vector<std::int32_t>(e.predictions.begin(), e.predictions.end()));
    write_table(file, "by_gap", e.profile.by_gap);
    write_table(file, "by_context_needed", e.profile.by_context);
    write_table(file, "by_position_decile", e.profile.by_position);
    file.set_attribute("errors_same_symbol", e.profile.errors_same_symbol);
    file.set_attribute("errors_other_symbol", e.profile.errors_other_symbol);
    if (e.profile.has_distractors) {
      file.set_attribute("after_distractor_correct", e.profile.after_distractor.correct);
      file.set_attribute("after_distractor_total", e.profile.after_distractor.total);
      file.set_attribute("elsewhere_correct", e.profile.elsewhere.correct);
      file.set_attribute("elsewhere_total", e.profile.elsewhere.total);
    }
    file.close();
  }
  // The data file first, the summary last, so a summary always has its data beside it.
  SELECTIV_REQUIRE(std::rename(h5_tmp.c_str(), h5_path.c_str()) == 0, ExitCode::kFailure,
                   "{}: cannot rename {} into place", h5_path, h5_tmp);
  write_file_atomically(prefix + ".json", summary.dump(2) + "\n");
}

}  // namespace selectiv::eval
