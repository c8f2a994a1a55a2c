// SPDX-License-Identifier: BSD-3-Clause
// The HDF5 layer: round trips of every supported type, chunked+filtered storage, byte-identical rewrites, errors
// that name the file and the object, and reading a golden reference file written by h5py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/h5/file.hpp"
#include "support/testing.hpp"

namespace {

using namespace selectiv;

std::string temp_path(const std::string& name) {
  std::string path = ::testing::TempDir() + "/selectiv_h5_" + std::to_string(::getpid()) + "_" + name;
  std::remove(path.c_str());
  return path;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `body`, expects a selectiv::Error with `code` whose message contains every one of `needles`.
template <class Body>
void expect_error(Body body, ExitCode code, const std::vector<std::string>& needles) {
  try {
    body();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "'" << needle << "' not in: " << e.what();
    }
  }
}

void write_sample_file(const std::string& path) {
  h5::File file = h5::File::create(path);
  file.set_attribute("schema_version", 1);
  file.set_attribute("rate", 0.25);
  file.set_attribute("tool", std::string("selectiv \xce\xbb"));  // UTF-8
  std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, 7.0f};
  file.write<float>("tensors/f32", {2, 3}, f32);
  file.write<double>("tensors/scalar", {}, {3.141592653589793});
  file.write<std::int32_t>("ints/i32", {4}, {-1, 0, 2147483647, -2147483647 - 1});
  std::vector<std::int64_t> i64(8);
  for (int i = 0; i < 8; ++i) i64[i] = (std::int64_t{1} << 40) * (i - 3);
  h5::DataSet d = file.write<std::int64_t>("ints/nested/i64", {2, 2, 2}, i64);
  d.set_attribute("note", "eight values");
  file.write_strings("names", {"A0", "K17", "#", ""});
  std::vector<float> big(1000 * 7);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 97) * 0.5f;
  file.write<float>("packed/rows", {1000, 7}, big, h5::compressed_rows({1000, 7}, 700, 6));
  file.write<std::int32_t>("packed/empty", {0, 5}, {}, h5::compressed_rows({0, 5}));
  file.close();
}

TEST(H5, RoundTripOfEveryType) {
  std::string path = temp_path("roundtrip.h5");
  write_sample_file(path);
  h5::File file = h5::File::open_read_only(path);

  EXPECT_EQ(file.int_attribute("schema_version"), 1);
  EXPECT_EQ(file.attribute_dtype("schema_version"), h5::DType::kInt64);
  EXPECT_DOUBLE_EQ(file.float_attribute("rate"), 0.25);
  EXPECT_EQ(file.string_attribute("tool"), "selectiv \xce\xbb");
  EXPECT_EQ(file.attribute_names(), (std::vector<std::string>{"rate", "schema_version", "tool"}));
  EXPECT_EQ(file.children(), (std::vector<std::string>{"ints", "names", "packed", "tensors"}));
  EXPECT_TRUE(file.exists("ints/nested/i64"));
  EXPECT_TRUE(file.exists("/ints/nested"));
  EXPECT_FALSE(file.exists("ints/nested/i64/deeper"));
  EXPECT_FALSE(file.exists("nothing/here"));
  EXPECT_EQ(file.kind("ints/nested"), h5::Kind::kGroup);
  EXPECT_EQ(file.kind("ints/i32"), h5::Kind::kDataSet);

  h5::DataSet f32 = file.dataset("tensors/f32");
  EXPECT_EQ(f32.dtype(), h5::DType::kFloat32);
  EXPECT_EQ(f32.rank(), 2);
  EXPECT_EQ(f32.dims(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(f32.read<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, 7.0f}));
  EXPECT_EQ(f32.read_rows<float>(1, 1), (std::vector<float>{0.0f, 1e-30f, 7.0f}));
  EXPECT_EQ(f32.read<double>()[0], 1.5);  // converted by HDF5 within the same kind

  h5::DataSet scalar = file.dataset("tensors/scalar");
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.element_count(), 1);
  EXPECT_EQ(scalar.read<double>(), (std::vector<double>{3.141592653589793}));

  EXPECT_EQ(file.read<std::int32_t>("ints/i32"), (std::vector<std::int32_t>{-1, 0, 2147483647, -2147483647 - 1}));
  EXPECT_EQ(file.dataset("ints/i32").dtype(), h5::DType::kInt32);
  h5::Group nested = file.group("ints/nested");
  EXPECT_EQ(nested.name(), "/ints/nested");
  h5::DataSet i64 = nested.dataset("i64");
  EXPECT_EQ(i64.name(), "/ints/nested/i64");
  EXPECT_EQ(i64.dtype(), h5::DType::kInt64);
  EXPECT_EQ(i64.dims(), (std::vector<std::int64_t>{2, 2, 2}));
  std::vector<std::int64_t> values = i64.read<std::int64_t>();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(values[i], (std::int64_t{1} << 40) * (i - 3));
  EXPECT_EQ(i64.string_attribute("note"), "eight values");

  h5::DataSet names = file.dataset("names");
  EXPECT_EQ(names.dtype(), h5::DType::kString);
  EXPECT_EQ(names.read_strings(), (std::vector<std::string>{"A0", "K17", "#", ""}));

  h5::DataSet rows = file.dataset("packed/rows");
  EXPECT_EQ(rows.chunk(), (std::vector<std::int64_t>{100, 7}));
  EXPECT_EQ(rows.filters(), (std::vector<std::string>{"fletcher32", "deflate"}));
  std::vector<float> block = rows.read_rows<float>(995, 5);
  ASSERT_EQ(block.size(), 35u);
  for (std::size_t i = 0; i < block.size(); ++i) {
    EXPECT_EQ(block[i], static_cast<float>((995 * 7 + i) % 97) * 0.5f);
  }
  h5::DataSet empty = file.dataset("packed/empty");
  EXPECT_EQ(empty.dims(), (std::vector<std::int64_t>{0, 5}));
  EXPECT_TRUE(empty.read<std::int32_t>().empty());
  EXPECT_TRUE(empty.chunk().empty());
  std::remove(path.c_str());
}

TEST(H5, SameContentGivesByteIdenticalFiles) {
  std::string a = temp_path("same_a.h5");
  std::string b = temp_path("same_b.h5");
  write_sample_file(a);
  ::usleep(1100 * 1000);  // timestamps, if any were kept, would now differ
  write_sample_file(b);
  std::string bytes_a = file_bytes(a), bytes_b = file_bytes(b);
  ASSERT_GT(bytes_a.size(), 1000u);
  EXPECT_TRUE(bytes_a == bytes_b) << "files differ";
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(H5, ErrorsNameTheFileAndTheObject) {
  std::string path = temp_path("errors.h5");
  write_sample_file(path);
  h5::File file = h5::File::open_read_only(path);

  expect_error([&] { file.dataset("tensors/missing"); }, ExitCode::kInvalidInput, {path, "/tensors/missing"});
  expect_error([&] { file.dataset("ints"); }, ExitCode::kInvalidInput, {path, "/ints", "not a dataset"});
  expect_error([&] { file.group("names"); }, ExitCode::kInvalidInput, {path, "/names", "not a group"});
  expect_error([&] { file.dataset("tensors/f32").read<std::int32_t>(); }, ExitCode::kInvalidInput,
               {path, "/tensors/f32", "float32"});
  expect_error([&] { file.dataset("names").read<float>(); }, ExitCode::kInvalidInput, {path, "/names"});
  expect_error([&] { file.dataset("ints/i32").read_strings(); }, ExitCode::kInvalidInput, {path, "/ints/i32"});
  expect_error([&] { file.dataset("ints/nested/i64").read<std::int32_t>(); }, ExitCode::kInvalidInput,
               {path, "/ints/nested/i64", "does not fit"});
  expect_error([&] { file.dataset("tensors/f32").read_rows<float>(1, 2); }, ExitCode::kInvalidInput,
               {path, "/tensors/f32", "outside"});
  expect_error([&] { file.int_attribute("absent"); }, ExitCode::kInvalidInput, {path, "absent", "missing"});
  expect_error([&] { file.int_attribute("rate"); }, ExitCode::kInvalidInput, {path, "rate", "integer"});
  expect_error([&] { file.string_attribute("schema_version"); }, ExitCode::kInvalidInput,
               {path, "schema_version", "string"});
  // Writing into a read-only file is a write failure.
  expect_error([&] { file.write<float>("new", {1}, {1.0f}); }, ExitCode::kFailure, {path, "/new"});
  file.close();

  expect_error([&] { h5::File::open_read_only(path + ".absent"); }, ExitCode::kInvalidInput,
               {path + ".absent", "no such file"});
  std::string garbage = temp_path("garbage.h5");
  std::ofstream(garbage) << "this is not an HDF5 file, just some text long enough to look like one maybe";
  expect_error([&] { h5::File::open_read_only(garbage); }, ExitCode::kInvalidInput, {garbage, "signature"});

  // An existing file is never overwritten by an exclusive create.
  std::string before = file_bytes(path);
  expect_error([&] { h5::File::create(path); }, ExitCode::kFailure, {path, "exists"});
  EXPECT_TRUE(file_bytes(path) == before);
  std::remove(path.c_str());
  std::remove(garbage.c_str());
}

TEST(H5, ShapeAndValueCountMustAgree) {
  std::string path = temp_path("shape.h5");
  h5::File file = h5::File::create(path);
  expect_error([&] { file.write<float>("x", {2, 2}, {1.0f, 2.0f, 3.0f}); }, ExitCode::kFailure, {path, "/x"});
  expect_error([&] { file.write<float>("y", {3}, {1.0f, 2.0f, 3.0f}, h5::DataSetOptions{{}, 4, false}); },
               ExitCode::kFailure, {path, "/y", "chunked"});
  file.write<float>("z", {1}, {1.0f});
  expect_error([&] { file.write<float>("z", {1}, {1.0f}); }, ExitCode::kFailure, {path, "/z"});
  file.close();
  std::remove(path.c_str());
}

TEST(H5, Fletcher32DetectsAFlippedByte) {
  std::string path = temp_path("checksum.h5");
  std::vector<std::int32_t> pattern(4096);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = 0x5A5A0000 + static_cast<std::int32_t>(i);
  {
    h5::File file = h5::File::create(path);
    file.write<std::int32_t>("data", {4096}, pattern, h5::DataSetOptions{{1024}, 0, true});
    file.close();
  }
  std::string bytes = file_bytes(path);
  std::string needle(reinterpret_cast<const char*>(&pattern[2000]), 16);
  std::size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] ^= 0x01;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;

  h5::File file = h5::File::open_read_only(path);
  h5::DataSet data = file.dataset("data");
  EXPECT_EQ(data.read_rows<std::int32_t>(0, 1024), std::vector<std::int32_t>(pattern.begin(), pattern.begin() + 1024));
  expect_error([&] { data.read<std::int32_t>(); }, ExitCode::kInvalidInput, {path, "/data", "Fletcher32"});
  std::remove(path.c_str());
}

// The golden files come from h5py: their layout (sizes in attributes, names in a string dataset, one dataset per
// parameter) is checked against itself.
TEST(H5, ReadsTheGoldenGlaFile) {
  SELECTIV_GOLDEN(path, "layers/gla.h5");
  h5::File file = h5::File::open_read_only(path);
  std::int64_t B = file.int_attribute("B"), T = file.int_attribute("T"), C = file.int_attribute("C");
  EXPECT_EQ(file.string_attribute("model"), "gla");
  h5::DataSet logits = file.dataset("logits");
  EXPECT_EQ(logits.dtype(), h5::DType::kFloat32);
  EXPECT_EQ(logits.dims(), (std::vector<std::int64_t>{B, T, C}));
  std::vector<float> values = logits.read<float>();
  EXPECT_EQ(static_cast<std::int64_t>(values.size()), B * T * C);

  h5::DataSet names = file.dataset("param_names");
  EXPECT_EQ(names.dtype(), h5::DType::kString);
  std::vector<std::string> param_names = names.read_strings();
  ASSERT_FALSE(param_names.empty());
  EXPECT_EQ(param_names.front().rfind("encoder.", 0), 0u) << param_names.front();
  for (const std::string& name : param_names) {
    std::string slashed = name;
    for (char& c : slashed) c = c == '.' ? '/' : c;
    ASSERT_TRUE(file.exists("params/" + slashed)) << name;
    EXPECT_EQ(file.dataset("params/" + slashed).string_attribute("state_dict_name"), name);
  }
  h5::DataSet loss = file.dataset("loss");
  EXPECT_EQ(loss.rank(), 0);
  EXPECT_EQ(loss.dtype(), h5::DType::kFloat64);
  EXPECT_GT(loss.read<double>().at(0), 0.0);
}

}  // namespace
