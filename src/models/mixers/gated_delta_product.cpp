// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/gated_delta_product.hpp"

namespace selectiv::models {

GatedDeltaProductMixer::GatedDeltaProductMixer(const ModelDims& dims, std::string prefix)
    : DeltaFamilyMixer(dims, std::move(prefix),
                       DeltaVariant{/*gated=*/true, /*householder=*/4, /*beta_max=*/2.0f, /*a_proj_first=*/false}) {}

}  // namespace selectiv::models
