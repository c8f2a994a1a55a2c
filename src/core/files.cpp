// SPDX-License-Identifier: BSD-3-Clause
#include "core/files.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.hpp"

namespace selectiv {

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  SELECTIV_REQUIRE(f != nullptr, ExitCode::kFailure, "{}: cannot create: {}", tmp, std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!(written && flushed && closed)) {
    std::remove(tmp.c_str());
    throw Error(ExitCode::kFailure, fmt::format("{}: cannot write: {}", tmp, std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(ExitCode::kFailure, fmt::format("{}: cannot rename into place: {}", path, std::strerror(errno)));
  }
}

}  // namespace selectiv
