// SPDX-License-Identifier: BSD-3-Clause
#include "train/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "core/error.hpp"
#include "data/h5/file.hpp"
#include "train/train_config.hpp"

namespace selectiv::train {
namespace {

std::string h5_path(std::string dotted) {
  std::replace(dotted.begin(), dotted.end(), '.', '/');
  return "params/" + dotted;
}

std::vector<float> to_host(const View1& v) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<float>(host.data(), host.data() + host.extent(0));
}

void from_host(const View1& dst, const std::vector<float>& values) {
  Kokkos::View<const float*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(values.data(),
                                                                                           values.size());
  Kokkos::deep_copy(dst, src);
}

}  // namespace

void save_checkpoint(const std::string& path, const models::RecNet& net, std::int64_t step,
                     const std::string& config_json) {
  const std::string tmp = path + ".tmp";
  std::remove(tmp.c_str());
  {
    h5::File file = h5::File::create(tmp, h5::File::Mode::kCreateTruncate);
    const models::ModelDims& d = net.dims();
    file.set_attribute("schema", kCheckpointSchema);
    file.set_attribute("schema_version", kCheckpointVersion);
    file.set_attribute("model", d.mixer);
    file.set_attribute("V", d.input_size);
    file.set_attribute("C", d.n_classes);
    file.set_attribute("d_model", d.d_model);
    file.set_attribute("n_head", d.n_heads);
    file.set_attribute("layers", d.layers);
    file.set_attribute("d_state", d.d_state);
    file.set_attribute("dropout", static_cast<double>(d.dropout));
    file.set_attribute("step", step);
    file.set_attribute("config_json", config_json);
    std::vector<std::string> names;
    for (const auto& p : net.params().params()) {
      names.push_back(p.name);
      file.write<float>(h5_path(p.name), p.shape, net.params().host_value(p.name));
    }
    file.write_strings("param_names", names);
    const std::int64_t n = net.params().arena_size();
    file.write<float>("optimizer/adam_m", {n}, to_host(net.params().adam_m()));
    file.write<float>("optimizer/adam_v", {n}, to_host(net.params().adam_v()));
    file.flush();
  }
  SELECTIV_REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0, ExitCode::kFailure, "{}: cannot rename {} into place",
                   path, tmp);
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  h5::File file = h5::File::open_read_only(path);
  SELECTIV_REQUIRE(file.has_attribute("schema") && file.string_attribute("schema") == kCheckpointSchema,
                   ExitCode::kInvalidInput, "{}: not a SelectivBench checkpoint (no schema attribute '{}')", path,
                   kCheckpointSchema);
  std::int64_t version = file.int_attribute("schema_version");
  SELECTIV_REQUIRE(version == kCheckpointVersion, ExitCode::kInvalidInput,
                   "{}: checkpoint schema version {} (this tool reads {})", path, version, kCheckpointVersion);
  CheckpointInfo info;
  info.step = file.int_attribute("step");
  info.config_json = file.string_attribute("config_json");
  info.dims.mixer = file.string_attribute("model");
  info.dims.input_size = static_cast<int>(file.int_attribute("V"));
  info.dims.n_classes = static_cast<int>(file.int_attribute("C"));
  info.dims.d_model = static_cast<int>(file.int_attribute("d_model"));
  info.dims.n_heads = static_cast<int>(file.int_attribute("n_head"));
  info.dims.layers = static_cast<int>(file.int_attribute("layers"));
  info.dims.d_state = static_cast<int>(file.int_attribute("d_state"));
  info.dims.dropout = static_cast<float>(file.float_attribute("dropout"));
  return info;
}

void load_checkpoint(const std::string& path, models::RecNet& net, bool with_optimizer) {
  h5::File file = h5::File::open_read_only(path);
  for (const auto& p : net.params().params()) {
    h5::DataSet ds = file.dataset(h5_path(p.name));
    SELECTIV_REQUIRE(ds.dims() == p.shape, ExitCode::kInvalidInput, "{}: {} has the wrong shape for model {}", path,
                     p.name, net.dims().mixer);
    net.params().set_host_value(p.name, ds.read<float>());
  }
  if (with_optimizer) {
    const std::int64_t n = net.params().arena_size();
    for (const char* name : {"optimizer/adam_m", "optimizer/adam_v"}) {
      h5::DataSet ds = file.dataset(name);
      SELECTIV_REQUIRE(ds.dims() == std::vector<std::int64_t>{n}, ExitCode::kInvalidInput,
                       "{}: {} holds {} values, the model has {}", path, name, ds.element_count(), n);
    }
    from_host(net.params().adam_m(), file.read<float>("optimizer/adam_m"));
    from_host(net.params().adam_v(), file.read<float>("optimizer/adam_v"));
  }
}

std::unique_ptr<models::RecNet> load_model(const std::string& path, CheckpointInfo* info) {
  CheckpointInfo header = read_checkpoint_info(path);
  TrainConfig precision_only;  // the model runs in the matmul precision it was trained with
  precision_only.precision = nlohmann::json::parse(header.config_json).value("precision", std::string("auto"));
  precision_only.apply_precision();
  auto net = std::make_unique<models::RecNet>(header.dims);
  net->params().allocate(0);
  load_checkpoint(path, *net, false);
  if (info) *info = std::move(header);
  return net;
}

}  // namespace selectiv::train
