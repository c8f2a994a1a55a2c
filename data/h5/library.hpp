// SPDX-License-Identifier: BSD-3-Clause
// Facts about the HDF5 library this build links.
#pragma once

#include <string>

namespace selectiv::h5 {

// "1.10.8"
std::string library_version();

}  // namespace selectiv::h5
