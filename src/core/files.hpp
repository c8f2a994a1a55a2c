// SPDX-License-Identifier: BSD-3-Clause
// Whole-file writes that a crash never leaves half done: the text goes to <path>.tmp.<pid>, is flushed to disk and
// renamed over <path>, so readers see the old file or the new one. Failures throw Error(kFailure) naming the path.
#pragma once

#include <string>

namespace selectiv {

void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace selectiv
