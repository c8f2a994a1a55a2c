// SPDX-License-Identifier: BSD-3-Clause
#include "train/train_config.hpp"

#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "core/error.hpp"
#include "kernels/common/precision.hpp"

namespace selectiv::train {

void TrainConfig::read(ConfigReader& r) {
  r.read("model", model);
  SELECTIV_REQUIRE(models::is_mixer(model), ExitCode::kInvalidInput, "{}: unknown model '{}'", r.where("model"),
                   model);
  r.read("d_model", d_model, Bounds<int>{1, 65536});
  r.read("layers", layers, Bounds<int>{1, 1024});
  r.read("heads", heads, Bounds<int>{0, 4096});
  r.read("d_state", d_state, Bounds<int>{1, 4096});
  r.read("dropout", dropout, Bounds<double>{0.0, 0.99});
  r.read("lr", lr, Bounds<double>{0.0, 10.0});
  r.read("warmup", warmup, Bounds<std::int64_t>{0, {}});
  r.read("steps", steps, Bounds<std::int64_t>{0, {}});
  r.read("batch_size", batch_size, Bounds<int>{1, 1 << 20});
  r.read("eval_batch_size", eval_batch_size, Bounds<int>{1, 1 << 20});
  r.read("eval_every", eval_every, Bounds<std::int64_t>{1, {}});
  r.read("dropout_until_first_eval", dropout_until_first_eval);
  r.read("clip_norm", clip_norm, Bounds<double>{0.0, {}});
  std::int64_t s = static_cast<std::int64_t>(seed);
  r.read("seed", s, Bounds<std::int64_t>{0, {}});
  seed = static_cast<std::uint64_t>(s);
  r.read("precision", precision);
  SELECTIV_REQUIRE(precision == "auto" || parse_matmul_precision(precision).has_value(), ExitCode::kInvalidInput,
                   "{}: '{}' is not one of auto, fp32, tf32, bf16", r.where("precision"), precision);
  r.finish();
  SELECTIV_REQUIRE(heads == 0 || d_model % heads == 0, ExitCode::kInvalidInput,
                   "{}: d_model {} is not a multiple of heads {}", r.where("heads"), d_model, heads);
}

nlohmann::json TrainConfig::to_json() const {
  return {{"model", model},       {"d_model", d_model},
          {"layers", layers},     {"heads", heads},
          {"d_state", d_state},   {"dropout", dropout},
          {"lr", lr},             {"warmup", warmup},
          {"steps", steps},       {"batch_size", batch_size},
          {"eval_batch_size", eval_batch_size}, {"eval_every", eval_every},
          {"dropout_until_first_eval", dropout_until_first_eval},
          {"clip_norm", clip_norm}, {"seed", seed},
          {"precision", precision}};
}

models::ModelDims TrainConfig::model_dims(int input_size, int n_classes) const {
  models::ModelDims dims;
  dims.mixer = model;
  dims.input_size = input_size;
  dims.n_classes = n_classes;
  dims.d_model = d_model;
  dims.n_heads = heads > 0 ? heads : models::reference_num_heads(d_model);
  dims.layers = layers;
  dims.d_state = d_state;
  dims.dropout = static_cast<float>(dropout);
  return dims;
}

std::string TrainConfig::apply_precision() const {
  std::optional<MatmulPrecision> resolved;
  try {
    resolved = resolve_matmul_precision(precision);
  } catch (const std::invalid_argument& e) {
    throw Error(ExitCode::kInvalidInput, fmt::format("precision: {}", e.what()));
  }
  SELECTIV_REQUIRE(resolved.has_value(), ExitCode::kInvalidInput, "precision: '{}' is not one of auto, fp32, tf32, bf16",
                   precision);
  set_matmul_precision(*resolved);
  return matmul_precision_name(*resolved);
}

}  // namespace selectiv::train
