// SPDX-License-Identifier: BSD-3-Clause
// Every model of the model list (models/zoo.def) against the reference's own outputs and gradients
// (golden/layers/<model>.h5), and its parameter count against golden/param_counts.csv at every listed size.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "models/mixer.hpp"
#include "models/parity.hpp"
#include "models/recnet.hpp"
#include "support/testing.hpp"

namespace selectiv::models {

class ModelList : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelList, MatchesReferenceLogitsLossHiddenAndEveryGradient) {
  SELECTIV_GOLDEN(path, "layers/" + GetParam() + ".h5");
  ParityReport report = run_parity(path);
  EXPECT_EQ(report.model, GetParam());
  EXPECT_GT(report.checks.size(), 10u);
  for (const auto& check : report.checks) {
    EXPECT_LE(check.err_ratio, check.tolerance) << GetParam() << ": " << check.what;
  }
}

TEST_P(ModelList, ParameterCountsEqualTheReference) {
  SELECTIV_GOLDEN(path, "param_counts.csv");
  std::ifstream csv(path);
  std::string line;
  std::getline(csv, line);  // header: model,d_model,n_head,d_state,n_params
  int rows = 0;
  while (std::getline(csv, line)) {
    std::stringstream row(line);
    std::string model, field;
    std::getline(row, model, ',');
    if (model != GetParam()) continue;
    ModelDims dims;
    dims.mixer = model;
    std::getline(row, field, ',');
    dims.d_model = std::stoi(field);
    std::getline(row, field, ',');
    dims.n_heads = std::stoi(field);
    std::getline(row, field, ',');
    dims.d_state = std::stoi(field);
    std::getline(row, field, ',');
    long long expected = std::stoll(field);
    dims.input_size = 41;
    dims.n_classes = 1601;
    dims.layers = 8;
    RecNet net(dims);  // declaring is enough: no arena is allocated
    EXPECT_EQ(net.params().trainable_count(), expected) << line;
    if (model != "transformer") EXPECT_EQ(reference_num_heads(dims.d_model), dims.n_heads) << line;
    ++rows;
  }
  EXPECT_GT(rows, 0) << "no row for " << GetParam() << " in " << path;
}

INSTANTIATE_TEST_SUITE_P(Zoo, ModelList, ::testing::ValuesIn(mixer_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace selectiv::models
