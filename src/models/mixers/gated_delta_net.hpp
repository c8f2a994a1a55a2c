// SPDX-License-Identifier: BSD-3-Clause
// Gated DeltaNet mixer: fla GatedDeltaNet(hidden_size=d, head_dim=d/H, num_heads=H, use_short_conv=True,
// expand_v=2, conv_size=4) (reference-spec §5.7, golden/README.md §4.4): scalar decay per head and token, one
// sub-step per token, beta = sigmoid, gated RMSNorm output. The maths is models/mixers/delta_common.hpp.
#pragma once

#include "models/mixers/delta_common.hpp"

namespace selectiv::models {

class GatedDeltaNetMixer : public DeltaFamilyMixer {
 public:
  GatedDeltaNetMixer(const ModelDims& dims, std::string prefix);
};

}  // namespace selectiv::models
