// SPDX-License-Identifier: BSD-3-Clause
// Test-only reader of the golden grammar files (shared/golden/README.md §1) through the HDF5 C API: root integer and
// float attributes, int32/float64 datasets and variable-length UTF-8 string datasets.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace selectiv::testing {

class GoldenH5 {
 public:
  explicit GoldenH5(const std::string& path) : m_file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)) {
    if (m_file < 0) throw std::runtime_error("cannot open " + path);
  }
  ~GoldenH5() { H5Fclose(m_file); }
  GoldenH5(const GoldenH5&) = delete;
  GoldenH5& operator=(const GoldenH5&) = delete;

  std::int64_t int_attribute(const std::string& name) const {
    std::int64_t value = 0;
    read_attribute(name, H5T_NATIVE_INT64, &value);
    return value;
  }
  double float_attribute(const std::string& name) const {
    double value = 0;
    read_attribute(name, H5T_NATIVE_DOUBLE, &value);
    return value;
  }

  // Any integer dataset converted to int; `shape` receives its dimensions.
  std::vector<int> ints(const std::string& path, std::vector<hsize_t>* shape = nullptr) const {
    const Dataset dataset(m_file, path);
    std::vector<int> values(dataset.size(shape));
    if (!values.empty() &&
        H5Dread(dataset.id, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
      throw std::runtime_error("cannot read " + path);
    }
    return values;
  }

  std::vector<double> doubles(const std::string& path) const {
    const Dataset dataset(m_file, path);
    std::vector<double> values(dataset.size(nullptr));
    if (!values.empty() &&
        H5Dread(dataset.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
      throw std::runtime_error("cannot read " + path);
    }
    return values;
  }

  // A 1-d dataset of variable-length UTF-8 strings.
  std::vector<std::string> strings(const std::string& path) const {
    const Dataset dataset(m_file, path);
    const std::size_t n = dataset.size(nullptr);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    std::vector<char*> raw(n, nullptr);
    const herr_t status = n == 0 ? 0 : H5Dread(dataset.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data());
    std::vector<std::string> values;
    for (char* s : raw) values.emplace_back(s != nullptr ? s : "");
    if (n > 0) {
      const hid_t space = H5Dget_space(dataset.id);
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(type, space, H5P_DEFAULT, raw.data());
#else
      H5Dvlen_reclaim(type, space, H5P_DEFAULT, raw.data());
#endif
      H5Sclose(space);
    }
    H5Tclose(type);
    if (status < 0) throw std::runtime_error("cannot read strings " + path);
    return values;
  }

 private:
  struct Dataset {
    Dataset(hid_t file, const std::string& path) : id(H5Dopen2(file, path.c_str(), H5P_DEFAULT)) {
      if (id < 0) throw std::runtime_error("missing dataset " + path);
    }
    ~Dataset() { H5Dclose(id); }
    std::size_t size(std::vector<hsize_t>* shape) const {
      const hid_t space = H5Dget_space(id);
      const int rank = H5Sget_simple_extent_ndims(space);
      std::vector<hsize_t> dims(static_cast<std::size_t>(rank > 0 ? rank : 0));
      if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
      H5Sclose(space);
      std::size_t n = 1;
      for (hsize_t d : dims) n *= static_cast<std::size_t>(d);
      if (shape != nullptr) *shape = dims;
      return n;
    }
    hid_t id;
  };

  void read_attribute(const std::string& name, hid_t type, void* out) const {
    const hid_t attribute = H5Aopen(m_file, name.c_str(), H5P_DEFAULT);
    if (attribute < 0) throw std::runtime_error("missing attribute " + name);
    const herr_t status = H5Aread(attribute, type, out);
    H5Aclose(attribute);
    if (status < 0) throw std::runtime_error("cannot read attribute " + name);
  }

  hid_t m_file;
};

}  // namespace selectiv::testing
