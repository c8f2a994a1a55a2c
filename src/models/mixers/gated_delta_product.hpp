// SPDX-License-Identifier: BSD-3-Clause
// Gated DeltaProduct mixer: fla GatedDeltaProduct(hidden_size=d, head_dim=d/H, num_heads=H, use_short_conv=True,
// num_householder=4, expand_v=2, conv_size=4) (reference-spec §5.8, golden/README.md §4.5): scalar decay per head
// and token, 4 Householder sub-steps per token (keys/values channel (j H + head) D + e), beta = 2 sigmoid in
// (0, 2) (negative eigenvalues allowed), gated RMSNorm output. The maths is models/mixers/delta_common.hpp.
#pragma once

#include "models/mixers/delta_common.hpp"

namespace selectiv::models {

class GatedDeltaProductMixer : public DeltaFamilyMixer {
 public:
  GatedDeltaProductMixer(const ModelDims& dims, std::string prefix);
};

}  // namespace selectiv::models
