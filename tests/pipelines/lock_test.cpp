// SPDX-License-Identifier: BSD-3-Clause
// Instance locks: exclusive while the owner lives; a lock of a process that is gone (or whose pid was reused by a
// younger process) is stale and is broken by the next worker; a lock of another host is never broken from here; an
// empty lock file is "being created" at first and garbage after 30 s.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <chrono>
#include <ctime>
#include <thread>
#include <fstream>

#include "pipelines/engine/lock.hpp"
#include "pipelines/engine/store.hpp"
#include "tests/pipelines/fixtures.hpp"

namespace selectiv::engine {
namespace {

// The pid of a child process that has exited and been reaped (so no process has it, unless reused).
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return static_cast<long>(child);
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Lock, ExclusiveWhileHeldAndRemovedOnRelease) {
  const std::string path = testing::fresh_dir("lock_exclusive") + "/x.lock";
  LockProbe busy;
  {
    InstanceLock first = InstanceLock::try_acquire(path, &busy);
    ASSERT_TRUE(first.held());
    EXPECT_TRUE(file_exists(path));
    InstanceLock second = InstanceLock::try_acquire(path, &busy);
    EXPECT_FALSE(second.held());
    EXPECT_EQ(busy.state, LockState::kHeld);
    EXPECT_EQ(busy.owner.pid, static_cast<long>(::getpid()));
    EXPECT_NE(busy.why.find("locked by pid " + std::to_string(::getpid())), std::string::npos) << busy.why;
  }
  EXPECT_FALSE(file_exists(path));
  EXPECT_TRUE(InstanceLock::try_acquire(path).held());
}

TEST(Lock, AGoneOwnerOnThisHostIsStaleAndBroken) {
  const std::string path = testing::fresh_dir("lock_stale") + "/x.lock";
  const long pid = dead_pid();
  write_text(path, this_host() + " " + std::to_string(pid) + " 12345\n");
  const LockProbe probe = probe_lock(path);
  EXPECT_EQ(probe.state, LockState::kStale);
  EXPECT_NE(probe.why.find("pid " + std::to_string(pid)), std::string::npos) << probe.why;
  InstanceLock lock = InstanceLock::try_acquire(path);
  ASSERT_TRUE(lock.held());
  EXPECT_EQ(probe_lock(path).owner.pid, static_cast<long>(::getpid()));
  EXPECT_FALSE(file_exists(path + ".break"));
}

TEST(Lock, AKilledButUnreapedOwnerIsStale) {
  // kill -9 of a worker whose parent does not reap it leaves a zombie: kill(pid, 0) still succeeds.
  const std::string path = testing::fresh_dir("lock_zombie") + "/x.lock";
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it exit, not reaped
  write_text(path, this_host() + " " + std::to_string(child) + " -1\n");
  EXPECT_EQ(probe_lock(path).state, LockState::kStale);
  int status = 0;
  ::waitpid(child, &status, 0);
}

TEST(Lock, AReusedPidIsStaleALiveOneIsNot) {
  const std::string path = testing::fresh_dir("lock_reuse") + "/x.lock";
  const LockOwner me = this_process();
  ASSERT_GE(me.start_time, 0) << "no /proc/self/stat";
  // Our pid, but a start time that is not ours: the recorded owner is another (gone) process.
  write_text(path, me.host + " " + std::to_string(me.pid) + " " + std::to_string(me.start_time + 1) + "\n");
  EXPECT_EQ(probe_lock(path).state, LockState::kStale);
  write_text(path, me.host + " " + std::to_string(me.pid) + " " + std::to_string(me.start_time) + "\n");
  EXPECT_EQ(probe_lock(path).state, LockState::kHeld);
  EXPECT_FALSE(InstanceLock::try_acquire(path).held());
}

TEST(Lock, AnotherHostIsNeverBrokenFromHere) {
  const std::string path = testing::fresh_dir("lock_host") + "/x.lock";
  write_text(path, "some-other-node-" + this_host() + " " + std::to_string(dead_pid()) + " 1\n");
  LockProbe busy;
  EXPECT_FALSE(InstanceLock::try_acquire(path, &busy).held());
  EXPECT_EQ(busy.state, LockState::kHeld);
  EXPECT_NE(busy.why.find("another host"), std::string::npos) << busy.why;
}

TEST(Lock, EmptyLockFileIsBeingCreatedThenGarbage) {
  const std::string path = testing::fresh_dir("lock_empty") + "/x.lock";
  write_text(path, "");
  EXPECT_EQ(probe_lock(path).state, LockState::kHeld);
  struct utimbuf old {};
  old.actime = old.modtime = std::time(nullptr) - 120;
  ASSERT_EQ(::utime(path.c_str(), &old), 0);
  EXPECT_EQ(probe_lock(path).state, LockState::kStale);
  EXPECT_TRUE(InstanceLock::try_acquire(path).held());
}

TEST(Lock, AStaleLockReplacedMeanwhileIsNotBroken) {
  // A worker that judged a lock stale must not remove a fresh lock another worker created in between: the break
  // compares the file with what it judged. Simulate: judge stale, then another owner (this live process) takes it.
  const std::string path = testing::fresh_dir("lock_race") + "/x.lock";
  write_text(path, this_host() + " " + std::to_string(dead_pid()) + " 1\n");
  ASSERT_EQ(probe_lock(path).state, LockState::kStale);
  ::unlink(path.c_str());
  InstanceLock fresh = InstanceLock::try_acquire(path);
  ASSERT_TRUE(fresh.held());
  // The late breaker arrives: the lock now reads as held, so try_acquire gives up instead of breaking it.
  EXPECT_FALSE(InstanceLock::try_acquire(path).held());
  EXPECT_TRUE(file_exists(path));
}

}  // namespace
}  // namespace selectiv::engine
