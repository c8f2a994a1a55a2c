// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "pipelines/engine/lock.hpp"

namespace selectiv::engine {

namespace fs = std::filesystem;

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SELECTIV_REQUIRE(in.good(), ExitCode::kFailure, "{}: cannot read", path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string sha256_of_file(const std::string& path) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  SELECTIV_REQUIRE(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, ExitCode::kFailure,
                   "OpenSSL SHA-256 failed");
  std::ifstream in(path, std::ios::binary);
  SELECTIV_REQUIRE(in.good(), ExitCode::kFailure, "{}: cannot read", path);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    SELECTIV_REQUIRE(EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount())) == 1,
                     ExitCode::kFailure, "OpenSSL SHA-256 failed");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SELECTIV_REQUIRE(EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1, ExitCode::kFailure, "OpenSSL SHA-256 failed");
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string utc_timestamp(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

Store::Store(std::string root) : m_root(std::move(root)) {
  while (m_root.size() > 1 && m_root.back() == '/') m_root.pop_back();
}

std::string Store::dir_of(const std::string& stage, const std::string& key) const {
  return m_root + "/" + stage + "/" + key;
}
std::string Store::dir(const Instance& i) const { return dir_of(stage_name(i.stage), i.key); }
std::string Store::lock_path(const Instance& i) const { return dir(i) + ".lock"; }
std::string Store::manifest_path(const Instance& i) const { return dir(i) + "/manifest.json"; }

Completion Store::completion(const Instance& instance, std::string* missing_output, long long* manifest_ns) const {
  const std::string folder = dir(instance);
  struct stat st;
  if (manifest_ns) *manifest_ns = -1;
  if (::stat((folder + "/manifest.json").c_str(), &st) != 0) {
    if (!file_exists(folder)) return Completion::kMissing;
    if (missing_output) *missing_output = "manifest.json";
    return Completion::kPartial;
  }
  if (manifest_ns) *manifest_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
  for (const std::string& output : instance.outputs) {
    if (!file_exists(folder + "/" + output)) {
      if (missing_output) *missing_output = output;
      return Completion::kPartial;
    }
  }
  return Completion::kComplete;
}

long long Store::manifest_time(const Instance& instance) const {
  struct stat st;
  if (::stat(manifest_path(instance).c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
}

bool Store::current(const Plan& plan, std::size_t index, std::size_t* newer_input) const {
  const Instance& instance = plan.instances[index];
  if (!complete(instance)) return false;
  const long long mine = manifest_time(instance);
  for (std::size_t in : instance.inputs) {
    if (manifest_time(plan.instances[in]) > mine) {
      if (newer_input) *newer_input = in;
      return false;
    }
  }
  return true;
}

void Store::ensure_layout() const {
  for (Stage stage : {Stage::kGenerate, Stage::kTrain, Stage::kEvaluate, Stage::kReport}) {
    std::error_code ec;
    fs::create_directories(m_root + "/" + stage_name(stage), ec);
    SELECTIV_REQUIRE(!ec, ExitCode::kFailure, "{}/{}: cannot create the store folder: {}", m_root, stage_name(stage),
                     ec.message());
  }
}

void Store::prepare(const Instance& instance) const {
  const std::string folder = dir(instance);
  std::error_code ec;
  fs::remove(folder + "/manifest.json", ec);  // first, so a half-removed folder never looks complete
  fs::remove_all(folder, ec);
  SELECTIV_REQUIRE(!ec, ExitCode::kFailure, "{}: cannot remove the partial output: {}", folder, ec.message());
  fs::create_directories(folder, ec);
  SELECTIV_REQUIRE(!ec, ExitCode::kFailure, "{}: cannot create: {}", folder, ec.message());
}

void Store::publish(const Plan& plan, std::size_t index, const nlohmann::json& stage_fields, double started_unix,
                    double seconds) const {
  const Instance& instance = plan.instances[index];
  const std::string folder = dir(instance);
  nlohmann::json inputs = nlohmann::json::array();
  for (std::size_t i : instance.inputs) {
    const Instance& in = plan.instances[i];
    inputs.push_back({{"stage", stage_name(in.stage)}, {"label", in.label}, {"key", in.key}});
  }
  nlohmann::json outputs = nlohmann::json::array();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().filename() != "manifest.json") {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = folder + "/" + name;
    outputs.push_back({{"file", name}, {"bytes", fs::file_size(path)}, {"sha256", sha256_of_file(path)}});
  }
  const CodeIdentity code = CodeIdentity::of_this_build();
  const LockOwner me = this_process();
  nlohmann::json manifest = {{"stage", stage_name(instance.stage)},
                             {"key", instance.key},
                             {"label", instance.label},
                             {"pipeline", plan.name},
                             {"params", *instance.params},
                             {"inputs", inputs},
                             {"code_version", code.version},
                             {"backend", instance.backend},
                             {"host", me.host},
                             {"pid", me.pid},
                             {"started", utc_timestamp(started_unix)},
                             {"seconds", seconds},
                             {"outputs", outputs},
                             {"outcome", "ok"}};
  for (const auto& [k, v] : stage_fields.items()) manifest[k] = v;
  write_file_atomically(folder + "/manifest.json", manifest.dump(2) + "\n");
}

nlohmann::json Store::read_manifest(const std::string& stage, const std::string& key) const {
  const std::string path = dir_of(stage, key) + "/manifest.json";
  try {
    return nlohmann::json::parse(read_whole_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ExitCode::kFailure, fmt::format("{}: unreadable manifest: {}", path, e.what()));
  }
}

std::map<std::string, std::string> Store::read_labels(const std::string& pipeline) const {
  std::map<std::string, std::string> labels;
  const std::string path = m_root + "/pipelines/" + pipeline + ".json";
  if (!file_exists(path)) return labels;
  try {
    nlohmann::json j = nlohmann::json::parse(read_whole_file(path));
    for (const auto& [label, key] : j.at("instances").items()) labels[label] = key.get<std::string>();
  } catch (const std::exception&) {
    labels.clear();  // an unreadable history only costs the "what changed" explanations
  }
  return labels;
}

void Store::write_labels(const Plan& plan) const {
  nlohmann::json instances = nlohmann::json::object();
  for (const Instance& i : plan.instances) instances[i.label] = i.key;
  fs::create_directories(m_root + "/pipelines");
  write_file_atomically(m_root + "/pipelines/" + plan.name + ".json",
                        nlohmann::json{{"pipeline", plan.name}, {"instances", instances}}.dump(1) + "\n");
}

}  // namespace selectiv::engine
