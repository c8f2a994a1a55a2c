// SPDX-License-Identifier: BSD-3-Clause
// Logging: human-readable lines on stderr (stdout is reserved for results), with a rank prefix under MPI.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace selectiv::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_level(Level level);
Level level();
// Under MPI with more than one rank every line starts with "[rank r/n] ".
void set_rank(int rank, int size);
// Where lines go (stderr by default); tests redirect it.
void set_sink(std::FILE* sink);
void write(Level level, const std::string& message);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kDebug) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kInfo) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kWarn) write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kError) write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace selectiv::log
