// SPDX-License-Identifier: BSD-3-Clause
// The lock that keeps two workers (processes, MPI ranks, array tasks) from running the same stage instance:
// <store>/<stage>/<key>.lock created with O_CREAT | O_EXCL, holding "host pid start-time". A lock whose owner is a
// process of this host that no longer exists (or whose pid now belongs to a younger process) is stale and is broken
// under a second, short-lived guard file, so that two workers breaking the same stale lock cannot both win.
#pragma once

#include <optional>
#include <string>

namespace selectiv::engine {

struct LockOwner {
  std::string host;
  long pid = 0;
  long long start_time = -1;  // the owner's start time in clock ticks since boot (/proc/<pid>/stat), -1 unknown
  bool readable = false;      // false: the file is empty or unreadable (being written, or garbage)

  std::string describe() const;  // "pid 123 on host node7"
};

enum class LockState { kFree, kHeld, kStale };

struct LockProbe {
  LockState state = LockState::kFree;
  LockOwner owner;
  std::string raw;  // the file's content when probed (a stale lock is broken only if it still reads the same)
  std::string why;  // human-readable: "held by pid 123 on host h (running)", "pid 123 on this host is gone"
};

// What this process writes into its lock files.
LockOwner this_process();
std::string this_host();
// Whether `owner` is a live process (on another host: assumed live, it cannot be checked from here).
bool owner_alive(const LockOwner& owner);
// Looks at a lock path without changing anything.
LockProbe probe_lock(const std::string& path);

// RAII lock on one path. try_acquire creates the file (breaking a stale one first); the destructor removes it.
class InstanceLock {
 public:
  InstanceLock() = default;
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;

  // On success the returned lock holds the path; otherwise it is empty and `busy` (when given) says who holds it.
  static InstanceLock try_acquire(const std::string& path, LockProbe* busy = nullptr);
  bool held() const { return !m_path.empty(); }
  const std::string& path() const { return m_path; }
  void release();

 private:
  explicit InstanceLock(std::string path) : m_path(std::move(path)) {}
  std::string m_path;
};

}  // namespace selectiv::engine
