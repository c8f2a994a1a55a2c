// SPDX-License-Identifier: BSD-3-Clause
// The streamed evaluation against an independent host computation of the reference metric on the same model:
// whole-sequence logits from RecNet::forward, the cross-entropy of every valid step in double, the per-batch mean
// weighted by batch size, and the window vote of the host twin (itself tested against a transcription of the
// reference formula). Streaming splits batches into micro-batches and logits into row blocks; neither may change
// a prediction, and the loss only by float rounding. Run for every model of the list (forward_hidden replaces each
// mixer after its forward, so every mixer is exercised).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "batch/batch_source.hpp"
#include "data/dataset/generate_split.hpp"
#include "data/grammar/grammar.hpp"
#include "eval/evaluate.hpp"
#include "eval/evaluation.hpp"
#include "data/h5/file.hpp"
#include "kernels/nn/window_vote.hpp"
#include "models/mixer.hpp"

namespace selectiv::eval {
namespace {

// amb = 4 (V = 5, C = 17), 30 elements, gaps of 1..4 zero steps in the train split, so samples differ in length
// and batches are padded.
std::string small_dataset() {
  static std::string path = [] {
    std::string dir = ::testing::TempDir() + "/selectiv_evaluate_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    data::TaskSpec spec;
    spec.task = "task2";
    spec.grammar.alphabet_size = 5;
    spec.grammar.ambiguities = 4;
    spec.grammar.ambiguity_depth = 4;
    spec.grammar.seed = 2;
    spec.grammar.seq_len_max = 30;
    spec.grammar.combined_seq_length = 30;
    spec.train_size = 19;
    spec.test_size = 4;
    spec.heldout_size = 4;
    spec.train_gap_min = 0.1;
    spec.train_gap_max = 0.4;
    data::Grammar grammar = data::generate_grammar(spec.grammar);
    data::Provenance provenance{"test", "test", "{}", ""};
    data::generate_split(dir + "/train.h5", spec, data::Split::kTrain, grammar, provenance, {});
    return dir + "/train.h5";
  }();
  return path;
}

models::ModelDims small_dims(const std::string& mixer) {
  models::ModelDims d;
  d.mixer = mixer;
  d.input_size = 5;
  d.n_classes = 17;
  d.d_model = 32;
  d.n_heads = 2;
  d.layers = 2;
  d.d_state = 8;
  return d;
}

template <class View>
std::vector<typename View::non_const_value_type> to_host(const View& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<typename View::non_const_value_type>(h.data(), h.data() + h.size());
}

struct HostMetrics {
  double loss = 0.0, accuracy = 0.0;
  std::vector<int> predictions;
};

// The reference metric from whole-sequence logits, on the host, batch by batch as the reference's test loop.
HostMetrics host_metrics(models::RecNet& net, BatchSource& source, int batch_size) {
  HostMetrics m;
  const std::int64_t N = source.size();
  std::int64_t correct = 0, elements = 0;
  for (std::int64_t first = 0; first < N; first += batch_size) {
    const int count = static_cast<int>(std::min<std::int64_t>(batch_size, N - first));
    const DeviceBatch& batch = source.load(first, count);
    std::vector<float> logits = to_host(net.forward(Exec(), batch.inputs));
    std::vector<int> targets = to_host(batch.targets), start = to_host(batch.window_start),
                     length = to_host(batch.window_length), element_target = to_host(batch.element_target);
    std::vector<float> mask = to_host(batch.mask);
    const int C = net.dims().n_classes;
    double sum = 0.0;
    std::int64_t valid = 0;
    for (std::size_t r = 0; r < mask.size(); ++r) {
      if (mask[r] < 0.5f) continue;
      const float* row = &logits[r * C];
      double mx = row[0], z = 0.0;
      for (int c = 1; c < C; ++c) mx = std::max(mx, double(row[c]));
      for (int c = 0; c < C; ++c) z += std::exp(row[c] - mx);
      sum += mx + std::log(z) - row[targets[r]];
      ++valid;
    }
    m.loss += sum / valid * count / static_cast<double>(N);
    std::vector<int> pred;
    nn::window_vote_reference(pred, logits, start, length, batch.B, batch.T, C, batch.E);
    for (std::size_t i = 0; i < pred.size(); ++i) correct += pred[i] == element_target[i] ? 1 : 0;
    elements += static_cast<std::int64_t>(pred.size());
    m.predictions.insert(m.predictions.end(), pred.begin(), pred.end());
  }
  m.accuracy = static_cast<double>(correct) / elements;
  return m;
}

}  // namespace

class StreamedEvaluation : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamedEvaluation, MatchesTheHostMetricForEveryMicroBatchAndBlockSize) {
  models::RecNet net(small_dims(GetParam()));
  net.params().allocate(11);
  BatchSource source(small_dataset());
  const HostMetrics expected = host_metrics(net, source, 8);
  const std::int64_t longest = source.info().max_steps;
  // (max_tokens, logit_rows): whole batches and one block; one sample per forward and blocks that straddle
  // windows and samples; three samples per forward.
  for (auto [max_tokens, rows] : {std::pair<std::int64_t, std::int64_t>{1 << 20, 1 << 20}, {1, 7},
                                  {3 * longest, longest + 1}}) {
    std::vector<int> predictions;
    SplitMetrics got = evaluate_split(Exec(), net, source, EvaluationOptions{8, max_tokens, rows}, &predictions);
    EXPECT_EQ(predictions, expected.predictions) << max_tokens << " " << rows;
    EXPECT_DOUBLE_EQ(got.accuracy, expected.accuracy) << max_tokens << " " << rows;
    EXPECT_NEAR(got.loss, expected.loss, 1e-5 * std::abs(expected.loss)) << max_tokens << " " << rows;
    EXPECT_EQ(got.samples, source.size());
    EXPECT_EQ(got.elements, source.size() * source.info().elements);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryModel, StreamedEvaluation, ::testing::ValuesIn(models::mixer_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(Evaluation, WritesTheMetricsFileAndSummaryThatAgreeWithTheResult) {
  models::RecNet net(small_dims("gla"));
  net.params().allocate(5);
  Evaluation e = evaluate_model(net, small_dataset(), EvaluationOptions{8, 64, 16}, false);
  e.checkpoint = "none";
  const std::string prefix = ::testing::TempDir() + "/selectiv_evaluation_" + std::to_string(::getpid());
  write_evaluation(e, prefix);
  h5::File file = h5::File::open_read_only(prefix + ".h5");
  EXPECT_EQ(file.read<std::int32_t>("predictions"), std::vector<std::int32_t>(e.predictions.begin(),
                                                                              e.predictions.end()));
  EXPECT_EQ(file.dataset("predictions").dims(), (std::vector<std::int64_t>{19, 30}));
  EXPECT_DOUBLE_EQ(file.float_attribute("accuracy"), e.metrics.accuracy);
  EXPECT_DOUBLE_EQ(file.float_attribute("oracle_accuracy"), e.profile.oracle_accuracy);
  std::int64_t total = 0;
  for (std::int64_t n : file.read<std::int64_t>("profile/by_gap/total")) total += n;
  EXPECT_EQ(total, 19 * 30);
  EXPECT_TRUE(std::filesystem::exists(prefix + ".json"));
  EXPECT_FALSE(std::filesystem::exists(prefix + ".h5.tmp" + std::to_string(::getpid())));
  EXPECT_GT(e.peak_rss_mib, 0.0);
}

}  // namespace selectiv::eval
