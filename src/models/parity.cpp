// SPDX-License-Identifier: BSD-3-Clause
#include "models/parity.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "data/h5/file.hpp"
#include "kernels/nn/cross_entropy.hpp"
#include "models/recnet.hpp"

namespace selectiv::models {
namespace {

double err_ratio(const std::vector<float>& ref, const std::vector<float>& ours) {
  SELECTIV_REQUIRE(ref.size() == ours.size(), ExitCode::kFailure, "parity: {} reference values vs {} computed",
                   ref.size(), ours.size());
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff += (double(ref[i]) - ours[i]) * (double(ref[i]) - ours[i]);
    norm += double(ref[i]) * ref[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff / std::max<std::size_t>(ref.size(), 1));
}

template <class ViewType>
std::vector<float> to_host(const ViewType& v) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<float>(host.data(), host.data() + host.size());
}

std::string h5_path(std::string dotted) {
  std::replace(dotted.begin(), dotted.end(), '.', '/');
  return dotted;
}

}  // namespace

bool ParityReport::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const ParityCheck& c) { return c.ok(); });
}

const ParityCheck& ParityReport::worst() const {
  return *std::max_element(checks.begin(), checks.end(), [](const ParityCheck& a, const ParityCheck& b) {
    return a.err_ratio / a.tolerance < b.err_ratio / b.tolerance;
  });
}

ParityReport run_parity(const std::string& path, const ParityTolerances& tol) {
  h5::File file = h5::File::open_read_only(path);
  ParityReport report;
  report.file = path;
  report.model = file.string_attribute("model");
  ModelDims dims;
  dims.mixer = report.model;
  dims.input_size = static_cast<int>(file.int_attribute("V"));
  dims.n_classes = static_cast<int>(file.int_attribute("C"));
  dims.d_model = static_cast<int>(file.int_attribute("d_model"));
  dims.n_heads = static_cast<int>(file.int_attribute("n_head"));
  dims.layers = static_cast<int>(file.int_attribute("layers"));
  dims.d_state = static_cast<int>(file.int_attribute("d_state"));
  const int B = static_cast<int>(file.int_attribute("B")), T = static_cast<int>(file.int_attribute("T"));
  SELECTIV_REQUIRE(is_mixer(dims.mixer), ExitCode::kInvalidInput, "{}: model '{}' is not in the model list", path,
                   dims.mixer);

  RecNet net(dims);
  net.params().allocate(0);
  std::vector<std::string> names = file.dataset("param_names").read_strings();
  SELECTIV_REQUIRE(names.size() == net.params().params().size(), ExitCode::kInvalidInput,
                   "{}: {} parameters in the file, the {} model has {}", path, names.size(), dims.mixer,
                   net.params().params().size());
  for (const auto& name : names) {
    SELECTIV_REQUIRE(net.params().has(name), ExitCode::kInvalidInput, "{}: parameter {} is not one of the {} model's",
                     path, name, dims.mixer);
    net.params().set_host_value(name, file.read<float>("params/" + h5_path(name)));
  }

  Exec exec;
  View3 input("selectiv::parity::input", B, T, dims.input_size);
  {
    std::vector<float> host = file.read<float>("input");
    SELECTIV_REQUIRE(host.size() == input.size(), ExitCode::kInvalidInput, "{}: /input has {} values, expected {}",
                     path, host.size(), input.size());
    Kokkos::View<const float***, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(
        host.data(), B, T, dims.input_size);
    Kokkos::deep_copy(input, src);
  }
  IView1 targets("selectiv::parity::targets", static_cast<std::size_t>(B) * T);
  {
    std::vector<int> host = file.read<int>("targets");
    SELECTIV_REQUIRE(host.size() == targets.size(), ExitCode::kInvalidInput, "{}: /targets has {} values, expected {}",
                     path, host.size(), targets.size());
    Kokkos::View<const int*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(host.data(), host.size());
    Kokkos::deep_copy(targets, src);
  }
  View1 mask("selectiv::parity::mask", static_cast<std::size_t>(B) * T);
  Kokkos::deep_copy(mask, 1.0f);

  CView3 logits = net.forward(exec, input);
  report.checks.push_back({"logits", err_ratio(file.read<float>("logits"), to_host(logits)), tol.logits});
  report.checks.push_back(
      {"hidden/encoder", err_ratio(file.read<float>("hidden/encoder"), to_host(net.encoder_output())), tol.hidden});
  for (int l = 0; l < dims.layers; ++l) {
    std::string mixer = "mixer_out/layer_" + std::to_string(l), hidden = "hidden/layer_" + std::to_string(l);
    report.checks.push_back({mixer, err_ratio(file.read<float>(mixer), to_host(net.mixer_output(l))), tol.hidden});
    report.checks.push_back({hidden, err_ratio(file.read<float>(hidden), to_host(net.hidden(l))), tol.hidden});
  }

  View2 dlogits("selectiv::parity::dlogits", static_cast<std::size_t>(B) * T, dims.n_classes);
  CView2 logits2(logits.data(), static_cast<std::size_t>(B) * T, dims.n_classes);
  nn::CrossEntropyLoss loss = nn::cross_entropy_fwd_bwd(exec, dlogits, logits2, targets, mask);
  double ref_loss = file.dataset("loss").read<double>().at(0);
  report.checks.push_back({"loss", std::fabs(ref_loss - loss.mean) / std::fabs(ref_loss), tol.loss});

  net.params().zero_grads();
  net.backward(exec, CView3(dlogits.data(), B, T, dims.n_classes));
  for (const auto& p : net.params().params()) {
    if (!p.trainable) continue;
    report.checks.push_back({"grad " + p.name,
                             err_ratio(file.read<float>("grads/" + h5_path(p.name)), net.params().host_grad(p.name)),
                             tol.grads});
  }
  return report;
}

}  // namespace selectiv::models
