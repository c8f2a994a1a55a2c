// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/gated_delta_net.hpp"

namespace selectiv::models {

GatedDeltaNetMixer::GatedDeltaNetMixer(const ModelDims& dims, std::string prefix)
    : DeltaFamilyMixer(dims, std::move(prefix),
                       DeltaVariant{/*gated=*/true, /*householder=*/1, /*beta_max=*/1.0f, /*a_proj_first=*/true}) {}

}  // namespace selectiv::models
