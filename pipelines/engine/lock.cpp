// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace selectiv::engine {
namespace {

// An unreadable lock file (its writer died between create and write) or a break guard is garbage after this long.
constexpr double kGarbageAgeSeconds = 30.0;

// Fields 3 (state) and 22 (start time in clock ticks after boot) of /proc/<pid>/stat; false when unavailable.
bool process_stat(long pid, char* state, long long* start_time) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  if (!in) return false;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return false;
    if (i == 3) *state = field.empty() ? '?' : field[0];
  }
  try {
    *start_time = std::stoll(field);
  } catch (...) {
    return false;
  }
  return true;
}

long long process_start_time(long pid) {
  char state = '?';
  long long start = -1;
  return process_stat(pid, &state, &start) ? start : -1;
}

std::string read_text(const std::string& path, bool* exists) {
  std::ifstream in(path, std::ios::binary);
  *exists = static_cast<bool>(in);
  if (!in) return {};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

double age_seconds(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0.0;
  return std::difftime(std::time(nullptr), st.st_mtime);
}

std::string owner_text(const LockOwner& o) { return fmt::format("{} {} {}\n", o.host, o.pid, o.start_time); }

LockOwner parse_owner(const std::string& text) {
  LockOwner owner;
  std::istringstream in(text);
  if (in >> owner.host >> owner.pid >> owner.start_time && owner.pid > 0) owner.readable = true;
  return owner;
}

// Breaks the stale lock `path` whose content was `seen`, unless another worker already replaced it.
void break_stale_lock(const std::string& path, const std::string& seen) {
  const std::string guard = path + ".break";
  const int fd = ::open(guard.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) {
    // Another worker is breaking it now; a guard left by a worker that died is garbage after a while.
    if (errno == EEXIST && age_seconds(guard) > kGarbageAgeSeconds) ::unlink(guard.c_str());
    return;
  }
  ::close(fd);
  bool exists = false;
  if (read_text(path, &exists) == seen && exists) ::unlink(path.c_str());
  ::unlink(guard.c_str());
}

}  // namespace

std::string LockOwner::describe() const {
  if (!readable) return "an unknown owner (empty lock file)";
  return fmt::format("pid {} on host {}", pid, host);
}

std::string this_host() {
  char name[256] = {0};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

LockOwner this_process() {
  LockOwner owner;
  owner.host = this_host();
  owner.pid = static_cast<long>(::getpid());
  owner.start_time = process_start_time(owner.pid);
  owner.readable = true;
  return owner;
}

bool owner_alive(const LockOwner& owner) {
  if (owner.host != this_host()) return true;
  if (::kill(static_cast<pid_t>(owner.pid), 0) != 0 && errno == ESRCH) return false;
  char state = '?';
  long long start = -1;
  if (!process_stat(owner.pid, &state, &start)) return true;  // no /proc: the pid exists, assume it is the owner
  // A killed process that nobody reaped yet (zombie) is gone; a pid that started at another time was reused.
  if (state == 'Z' || state == 'X') return false;
  return !(owner.start_time >= 0 && start != owner.start_time);
}

LockProbe probe_lock(const std::string& path) {
  LockProbe probe;
  bool exists = false;
  const std::string text = read_text(path, &exists);
  if (!exists) return probe;
  probe.raw = text;
  probe.owner = parse_owner(text);
  if (!probe.owner.readable) {
    const bool garbage = age_seconds(path) > kGarbageAgeSeconds;
    probe.state = garbage ? LockState::kStale : LockState::kHeld;
    probe.why = garbage ? "an empty lock file older than 30 s (its writer died)" : "a lock being created";
    return probe;
  }
  if (owner_alive(probe.owner)) {
    probe.state = LockState::kHeld;
    probe.why = fmt::format("locked by {} (running{})", probe.owner.describe(),
                            probe.owner.host == this_host() ? "" : "; on another host, not checked from here");
  } else {
    probe.state = LockState::kStale;
    probe.why = fmt::format("stale lock: {} is gone", probe.owner.describe());
  }
  return probe;
}

InstanceLock::~InstanceLock() { release(); }

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : m_path(std::move(other.m_path)) { other.m_path.clear(); }

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    release();
    m_path = std::move(other.m_path);
    other.m_path.clear();
  }
  return *this;
}

InstanceLock InstanceLock::try_acquire(const std::string& path, LockProbe* busy) {
  const std::string mine = owner_text(this_process());
  for (int attempt = 0; attempt < 4; ++attempt) {
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd >= 0) {
      const bool written = ::write(fd, mine.data(), mine.size()) == static_cast<ssize_t>(mine.size());
      ::close(fd);
      if (!written) {
        ::unlink(path.c_str());
        throw Error(ExitCode::kFailure, fmt::format("{}: cannot write the lock file: {}", path, std::strerror(errno)));
      }
      return InstanceLock(path);
    }
    if (errno != EEXIST) {
      throw Error(ExitCode::kFailure, fmt::format("{}: cannot create the lock file: {}", path, std::strerror(errno)));
    }
    LockProbe probe = probe_lock(path);
    if (probe.state == LockState::kHeld) {
      if (busy) *busy = probe;
      return InstanceLock();
    }
    if (probe.state == LockState::kStale) break_stale_lock(path, probe.raw);
  }
  if (busy) *busy = probe_lock(path);
  return InstanceLock();
}

void InstanceLock::release() {
  if (m_path.empty()) return;
  bool exists = false;
  if (read_text(m_path, &exists) == owner_text(this_process()) && exists) ::unlink(m_path.c_str());
  m_path.clear();
}

}  // namespace selectiv::engine
