// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/scheduler.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "core/log.hpp"
#include "pipelines/engine/lock.hpp"

namespace selectiv::engine {
namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void selectiv_engine_request_stop(int signal) { g_stop_signal = signal; }

// SIGINT/SIGTERM end the run at the next instance boundary (the trainer installs its own handlers while it runs).
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    m_int = std::signal(SIGINT, selectiv_engine_request_stop);
    m_term = std::signal(SIGTERM, selectiv_engine_request_stop);
  }
  ~StopSignals() {
    std::signal(SIGINT, m_int);
    std::signal(SIGTERM, m_term);
  }
  void check() const {
    if (g_stop_signal != 0) {
      throw Error(ExitCode::kInterrupted,
                  fmt::format("interrupted by signal {}; finished instances are kept, rerun the same command to go on",
                              g_stop_signal.load()));
    }
  }

 private:
  void (*m_int)(int);
  void (*m_term)(int);
};

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

enum class State { kPending, kDone, kFailed, kBlocked };

}  // namespace

bool all_current(const Plan& plan, const Store& store) {
  std::vector<long long> manifest_ns(plan.instances.size(), -1);
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    if (store.completion(plan.instances[i], nullptr, &manifest_ns[i]) != Completion::kComplete) return false;
    for (std::size_t in : plan.instances[i].inputs) {
      if (manifest_ns[in] > manifest_ns[i]) return false;
    }
  }
  return true;
}

RunSummary run_instances(const Plan& plan, const Store& store, const std::vector<bool>& wanted,
                         const StageAction& action, const RunOptions& options) {
  const std::size_t n = plan.instances.size();
  RunSummary summary;
  summary.ran_here.assign(n, false);
  std::vector<State> state(n, State::kPending);
  std::vector<bool> told_waiting(n, false);
  // Manifest times seen in this run (-2: not looked at yet), so each instance's manifest is stat()ed about once.
  std::vector<long long> manifest_ns(n, -2);
  auto time_of = [&](std::size_t i) {
    if (manifest_ns[i] == -2) manifest_ns[i] = store.manifest_time(plan.instances[i]);
    return manifest_ns[i];
  };
  // Complete, and not older than any input (the same rule as Store::current, with the times cached).
  auto is_current = [&](std::size_t i) {
    long long mine = -1;
    if (store.completion(plan.instances[i], nullptr, &mine) != Completion::kComplete) return false;
    manifest_ns[i] = mine;
    for (std::size_t in : plan.instances[i].inputs) {
      if (time_of(in) > mine) return false;
    }
    return true;
  };
  // First look: what is current now. Stays true until an input of it runs here (then it is outdated anyway).
  std::vector<bool> current_at_start(n, false);
  std::size_t todo = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!wanted[i]) continue;
    current_at_start[i] = is_current(i);
    if (!current_at_start[i]) ++todo;
  }
  if (todo > 0) store.ensure_layout();
  StopSignals signals;
  for (;;) {
    bool progress = false, pending = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!wanted[i] || state[i] != State::kPending) continue;
      const Instance& instance = plan.instances[i];
      bool ready = true, broken = false;
      for (std::size_t in : instance.inputs) {
        // An input outside this worker's selection is usable only if it is complete already.
        if (!wanted[in] && state[in] == State::kPending) {
          state[in] = store.completion(plan.instances[in], nullptr, &manifest_ns[in]) == Completion::kComplete
                          ? State::kDone
                          : State::kBlocked;
        }
        if (state[in] == State::kFailed || state[in] == State::kBlocked) broken = true;
        else if (state[in] != State::kDone) ready = false;
      }
      if (broken) {
        state[i] = State::kBlocked;
        ++summary.blocked;
        progress = true;
        log::warn("skipped {}: an input failed or is missing", instance.label);
        continue;
      }
      if (!ready) {
        pending = true;
        continue;
      }
      bool an_input_ran = false;
      for (std::size_t in : instance.inputs) an_input_ran = an_input_ran || summary.ran_here[in];
      if ((current_at_start[i] && !an_input_ran) || (!current_at_start[i] && is_current(i))) {
        state[i] = State::kDone;
        ++summary.reused;
        progress = true;
        continue;
      }
      LockProbe busy;
      InstanceLock lock = InstanceLock::try_acquire(store.lock_path(instance), &busy);
      if (!lock.held()) {
        pending = true;
        if (!told_waiting[i]) log::info("waiting for {}: {}", instance.label, busy.why);
        told_waiting[i] = true;
        continue;
      }
      // Another worker may have finished it between the check above and the lock.
      if (is_current(i)) {
        state[i] = State::kDone;
        ++summary.reused;
        progress = true;
        continue;
      }
      signals.check();
      progress = true;
      const std::size_t position = summary.ran + summary.failed + 1;
      if (options.on_start) options.on_start(instance, position, todo);
      log::info("[{}/{}] run {} (key {})", position, std::max(todo, position), instance.label,
                instance.key.substr(0, 12));
      const double started = unix_now();
      const auto clock_start = std::chrono::steady_clock::now();
      try {
        store.prepare(instance);
        StageContext ctx{plan, store, i, store.dir(instance)};
        nlohmann::json fields = action(ctx);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start).count();
        store.publish(plan, i, fields, started, seconds);
        manifest_ns[i] = store.manifest_time(instance);
        state[i] = State::kDone;
        ++summary.ran;
        summary.ran_here[i] = true;
      } catch (const Error& e) {
        if (e.code() == ExitCode::kInterrupted) throw;
        log::error("{} failed: {}", instance.label, e.what());
        state[i] = State::kFailed;
        ++summary.failed;
        if (summary.code == ExitCode::kOk) summary.code = e.code();
      } catch (const std::exception& e) {
        log::error("{} failed: internal error: {}", instance.label, e.what());
        state[i] = State::kFailed;
        ++summary.failed;
        if (summary.code == ExitCode::kOk) summary.code = ExitCode::kFailure;
      }
    }
    if (!pending) break;
    signals.check();
    if (!progress) std::this_thread::sleep_for(std::chrono::duration<double>(options.poll_seconds));
  }
  return summary;
}

}  // namespace selectiv::engine
