// SPDX-License-Identifier: BSD-3-Clause
#include "train/trainer.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>

#include "batch/batch_source.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/hash.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "eval/evaluate.hpp"
#include "kernels/nn/adam.hpp"
#include "kernels/nn/cross_entropy.hpp"
#include "kernels/nn/schedule.hpp"
#include "models/recnet.hpp"
#include "train/checkpoint.hpp"

namespace selectiv::train {
namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void request_stop(int signal) { g_stop_signal = signal; }

// Installs the SIGINT/SIGTERM handlers for the lifetime of a run and restores the previous ones.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    m_int = std::signal(SIGINT, request_stop);
    m_term = std::signal(SIGTERM, request_stop);
  }
  ~StopSignals() {
    std::signal(SIGINT, m_int);
    std::signal(SIGTERM, m_term);
  }

 private:
  void (*m_int)(int);
  void (*m_term)(int);
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

nlohmann::json TrainResult::to_json() const {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : history) {
    points.push_back({{"step", p.step},
                      {"lr", p.lr},
                      {"train_loss", p.train_loss},
                      {"train_accuracy", p.train_accuracy},
                      {"test_loss", p.test_loss},
                      {"test_accuracy", p.test_accuracy},
                      {"seconds", p.seconds}});
  }
  double best = 0.0;
  for (const auto& p : history) best = std::max(best, p.test_accuracy);
  return {{"history", points},
          {"steps", steps},
          {"parameters", parameters},
          {"wall_seconds", wall_seconds},
          {"steps_per_second", steps_per_second},
          {"tokens_per_second", tokens_per_second},
          {"final_test_accuracy", history.empty() ? 0.0 : history.back().test_accuracy},
          {"best_test_accuracy", best}};
}

TrainResult run_training(const TrainConfig& cfg, const TrainPaths& paths) {
  const auto start = std::chrono::steady_clock::now();
  const std::string precision = cfg.apply_precision();  // first: an unavailable precision leaves nothing behind
  BatchSource train_source(paths.train_data);
  BatchSource test_source(paths.test_data);
  const data::DatasetInfo& info = train_source.info();
  SELECTIV_REQUIRE(test_source.info().n_symbols == info.n_symbols && test_source.info().n_classes == info.n_classes,
                   ExitCode::kInvalidInput, "{} and {} come from different grammars ({} vs {} classes)",
                   paths.train_data, paths.test_data, info.n_classes, test_source.info().n_classes);
  const std::int64_t N = train_source.size();
  SELECTIV_REQUIRE(N >= cfg.batch_size, ExitCode::kInvalidInput, "{}: {} samples, fewer than one batch of {}",
                   paths.train_data, N, cfg.batch_size);
  const std::int64_t batches_per_pass = N / cfg.batch_size;
  const std::int64_t total_steps = cfg.steps > 0 ? cfg.steps : batches_per_pass;
  SELECTIV_REQUIRE(cfg.warmup < total_steps, ExitCode::kInvalidInput,
                   "warmup = {} updates must be fewer than the run's {} updates", cfg.warmup, total_steps);

  models::RecNet net(cfg.model_dims(static_cast<int>(info.n_symbols), static_cast<int>(info.n_classes)));
  net.params().allocate(cfg.seed);
  const std::string config_json = canonical_json(cfg.to_json());
  std::filesystem::create_directories(paths.out_dir);
  const std::string checkpoint = paths.out_dir + "/checkpoint.h5";

  TrainResult result;
  result.parameters = net.params().trainable_count();
  std::int64_t step = 0;
  if (paths.resume && std::filesystem::exists(checkpoint)) {
    CheckpointInfo ck = read_checkpoint_info(checkpoint);
    SELECTIV_REQUIRE(ck.config_json == config_json, ExitCode::kInvalidInput,
                     "{}: the checkpoint was written by a different config; refusing to resume", checkpoint);
    load_checkpoint(checkpoint, net, true);
    step = ck.step;
    log::info("resuming {} from update {}", checkpoint, step);
  } else {
    SELECTIV_REQUIRE(!std::filesystem::exists(checkpoint), ExitCode::kInvalidInput,
                     "{} exists: pass --resume to continue that run, or choose another output folder", checkpoint);
  }
  log::info("training {} (d={}, layers={}, heads={}, {} parameters, {} matmuls) for {} updates of {} samples",
            cfg.model, cfg.d_model, cfg.layers, net.dims().n_heads, result.parameters, precision, total_steps,
            cfg.batch_size);

  Exec exec;
  StopSignals signals;
  Progress progress("train", total_steps, "updates");
  progress.set(step);
  View2 dlogits;
  double window_loss = 0.0, window_accuracy = 0.0;
  std::int64_t window_steps = 0, tokens = 0, steps_this_run = 0;
  const auto loop_start = std::chrono::steady_clock::now();
  for (; step < total_steps; ++step) {
    const std::int64_t first = (step % batches_per_pass) * cfg.batch_size;
    const DeviceBatch& batch = train_source.load(first, cfg.batch_size);
    const bool dropout_on = cfg.dropout > 0 && !(cfg.dropout_until_first_eval && step >= cfg.eval_every);
    CView3 logits = net.forward(exec, batch.inputs,
                                models::ForwardMode{dropout_on, cfg.seed, static_cast<std::uint64_t>(step)});
    const std::size_t rows = static_cast<std::size_t>(batch.B) * batch.T;
    if (dlogits.extent(0) != rows) dlogits = View2("selectiv::train::dlogits", rows, logits.extent(2));
    nn::CrossEntropyLoss loss =
        nn::cross_entropy_fwd_bwd(exec, dlogits, CView2(logits.data(), rows, logits.extent(2)), batch.targets,
                                  batch.mask);
    window_accuracy += eval::batch_accuracy(exec, logits, batch);
    net.params().zero_grads();
    net.backward(exec, CView3(dlogits.data(), batch.B, batch.T, logits.extent(2)));
    const double norm = nn::clip_grad_norm(exec, net.params().grads(), cfg.clip_norm);
    SELECTIV_REQUIRE(std::isfinite(loss.mean) && std::isfinite(norm), ExitCode::kDiverged,
                     "training diverged at update {}: loss {}, gradient norm {} (no checkpoint of these weights is "
                     "written)", step + 1, loss.mean, norm);
    const double lr = nn::warmup_cosine_lr(cfg.lr, step, cfg.warmup, total_steps);
    nn::adam_update(exec, net.params().values(), net.params().adam_m(), net.params().adam_v(), net.params().grads(),
                    lr, step + 1);
    window_loss += loss.mean;
    ++window_steps;
    ++steps_this_run;
    tokens += loss.n_valid;
    progress.advance();

    const bool last = step + 1 == total_steps;
    if ((step + 1) % cfg.eval_every == 0 || last) {
      eval::SplitMetrics test =
          eval::evaluate_split(exec, net, test_source, eval::EvaluationOptions{cfg.eval_batch_size});
      EvalPoint point{step + 1, lr, window_loss / window_steps, window_accuracy / window_steps, test.loss,
                      test.accuracy, seconds_since(start)};
      result.history.push_back(point);
      log::info("update {}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | lr {:.3g}", point.step,
                point.train_loss, point.train_accuracy, point.test_loss, point.test_accuracy, lr);
      window_loss = window_accuracy = 0.0;
      window_steps = 0;
      save_checkpoint(checkpoint, net, step + 1, config_json);
    }
    if (g_stop_signal != 0) {
      save_checkpoint(checkpoint, net, step + 1, config_json);
      throw Error(ExitCode::kInterrupted,
                  fmt::format("interrupted by signal {} after update {}; checkpoint {} written, rerun with --resume",
                              g_stop_signal.load(), step + 1, checkpoint));
    }
  }
  progress.finish();
  const double loop_seconds = seconds_since(loop_start);
  result.steps = step;
  result.wall_seconds = seconds_since(start);
  result.steps_per_second = loop_seconds > 0 ? steps_this_run / loop_seconds : 0.0;
  result.tokens_per_second = loop_seconds > 0 ? tokens / loop_seconds : 0.0;
  nlohmann::json metrics = result.to_json();
  metrics["config"] = cfg.to_json();
  metrics["train_data"] = paths.train_data;
  metrics["test_data"] = paths.test_data;
  write_file_atomically(paths.out_dir + "/metrics.json", metrics.dump(2) + "\n");
  return result;
}

}  // namespace selectiv::train
