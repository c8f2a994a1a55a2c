// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/delta_net.hpp"

namespace selectiv::models {

DeltaNetMixer::DeltaNetMixer(const ModelDims& dims, std::string prefix)
    : DeltaFamilyMixer(dims, std::move(prefix),
                       DeltaVariant{/*gated=*/false, /*householder=*/1, /*beta_max=*/1.0f, /*a_proj_first=*/true}) {}

}  // namespace selectiv::models
