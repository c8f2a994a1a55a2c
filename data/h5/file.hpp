// SPDX-License-Identifier: BSD-3-Clause
// The HDF5 layer: RAII File / Group / DataSet objects with typed reads and writes of row-major N-d arrays, string
// datasets and scalar attributes. This is the only code in the project that calls the HDF5 C API.
//
//   h5::File file = h5::File::create(path);                          // fails if path exists (kCreateExclusive)
//   file.write<float>("params/w", {2, 3}, values);                   // missing groups are created
//   file.set_attribute("schema_version", 1);
//   h5::File in = h5::File::open_read_only(path);
//   h5::DataSet w = in.dataset("params/w");                          // dtype(), rank(), dims() before reading
//   std::vector<float> v = w.read<float>();
//
// Every failure throws selectiv::Error naming the file and the object: ExitCode::kInvalidInput when an input file
// or an object in it is missing, unreadable or of the wrong type; ExitCode::kFailure when creating or writing fails.
// HDF5's own error-stack printing is switched off; its innermost message is appended to ours instead.
// Files are written with libver bounds [1.8, 1.10] (readable by HDF5 1.10 and h5py 3.7) and without object
// timestamps, so the same content gives a byte-identical file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace selectiv::h5 {

// Element types the layer reads and writes. kOther: anything else (unsigned, compound, enum, ...).
enum class DType { kInt32, kInt64, kFloat32, kFloat64, kString, kOther };
const char* dtype_name(DType dtype);

// What a path inside a file names.
enum class Kind { kGroup, kDataSet, kOther };

// Storage of a new dataset. Filters need a chunked layout; a dataset with no elements is always stored contiguous
// and unfiltered.
struct DataSetOptions {
  std::vector<std::int64_t> chunk;  // empty: contiguous; else one entry per dimension (clamped to the dims)
  int deflate_level = 0;            // 0: off; 1..9: gzip level
  bool fletcher32 = false;          // 4-byte checksum per chunk, verified on every read
};

// Chunks of whole rows holding about `target_elements` elements, deflate `level`, Fletcher32 on.
DataSetOptions compressed_rows(const std::vector<std::int64_t>& shape, std::int64_t target_elements = 65536,
                               int level = 4);

namespace detail {
struct Handle;
}

// Anything with attributes: a file's root group, a group or a dataset.
class Object {
 public:
  const std::string& file_path() const { return m_file; }
  const std::string& name() const { return m_name; }  // absolute path inside the file, e.g. "/grammar/states"

  bool has_attribute(const std::string& key) const;
  std::vector<std::string> attribute_names() const;  // in name order
  DType attribute_dtype(const std::string& key) const;

  // Scalar attributes, replaced when they exist: integers are stored as int64, reals as float64, strings as
  // variable-length UTF-8.
  void set_attribute(const std::string& key, int value);
  void set_attribute(const std::string& key, std::int64_t value);
  void set_attribute(const std::string& key, double value);
  void set_attribute(const std::string& key, const std::string& value);
  void set_attribute(const std::string& key, const char* value);

  std::int64_t int_attribute(const std::string& key) const;    // a scalar integer attribute of any width
  double float_attribute(const std::string& key) const;        // a scalar float32/float64 attribute
  std::string string_attribute(const std::string& key) const;  // a scalar fixed or variable-length string

 protected:
  friend class Group;
  Object() = default;
  Object(std::shared_ptr<detail::Handle> handle, std::string file, std::string name);
  std::int64_t id() const;
  std::string where(const std::string& key = {}) const;  // "file: /object" or "file: /object@key"

  std::shared_ptr<detail::Handle> m_handle;
  std::string m_file;
  std::string m_name;
};

class DataSet : public Object {
 public:
  DType dtype() const;
  int rank() const;
  std::vector<std::int64_t> dims() const;  // empty for a scalar
  std::int64_t element_count() const;      // 1 for a scalar
  std::vector<std::int64_t> chunk() const; // empty when not chunked
  std::vector<std::string> filters() const;  // e.g. {"deflate", "fletcher32"}

  // The whole dataset, row-major. T is float, double, std::int32_t or std::int64_t; the stored type must be of the
  // same kind (integer or real). Integers that do not fit T are an error, never a silent clip.
  template <class T>
  std::vector<T> read() const;
  // Rows [first, first + count) along dimension 0: count * (product of the other dims) values.
  template <class T>
  std::vector<T> read_rows(std::int64_t first, std::int64_t count) const;
  // A 1-D (or scalar) string dataset, fixed or variable length.
  std::vector<std::string> read_strings() const;

  // Writes rows [first, first + count) along dimension 0 of a dataset made by Group::create_dataset
  // (row-major values).
  template <class T>
  void write_rows(std::int64_t first, std::int64_t count, const std::vector<T>& values);

 private:
  friend class Group;
  using Object::Object;
  template <class T>
  std::vector<T> read_selection(std::int64_t first, std::int64_t count) const;
};

class Group : public Object {
 public:
  // Paths are relative to this group ("a/b/c"); a leading '/' makes them absolute in the file.
  bool exists(const std::string& path) const;  // false when any level is missing
  Kind kind(const std::string& path) const;
  std::vector<std::string> children() const;   // link names, in name order

  Group group(const std::string& path) const;
  // Opens the group, creating it and any missing parent levels.
  Group create_group(const std::string& path);
  DataSet dataset(const std::string& path) const;

  // A new dataset of `shape` holding `values` (row-major; values.size() must equal the product of shape; an empty
  // shape is a scalar). Parent groups are created. T is float, double, std::int32_t or std::int64_t.
  template <class T>
  DataSet write(const std::string& path, const std::vector<std::int64_t>& shape, const std::vector<T>& values,
                const DataSetOptions& options = {});
  // A new dataset of `shape` whose contents come later, block by block, through DataSet::write_rows.
  template <class T>
  DataSet create_dataset(const std::string& path, const std::vector<std::int64_t>& shape,
                         const DataSetOptions& options = {});
  // Unlinks the object at `path` (its space is not reclaimed inside the file).
  void remove(const std::string& path);
  // A new 1-D dataset of variable-length UTF-8 strings.
  DataSet write_strings(const std::string& path, const std::vector<std::string>& values);

  template <class T>
  std::vector<T> read(const std::string& path) const {
    return dataset(path).read<T>();
  }

 protected:
  using Object::Object;
  std::string absolute(const std::string& path) const;
};

class File : public Group {
 public:
  enum class Mode {
    kCreateExclusive,  // fail when the file exists
    kCreateTruncate,   // replace an existing file
  };
  static File create(const std::string& path, Mode mode = Mode::kCreateExclusive);
  static File open_read_only(const std::string& path);
  // Opens an existing file to change it in place (tests, repairs); new objects get no timestamps either.
  static File open_read_write(const std::string& path);

  // Writes every buffered change of the file to the OS.
  void flush();
  // Flushes and closes; throws kFailure when that fails. Objects still open keep using the file until they go.
  void close();

 private:
  using Group::Group;
};

}  // namespace selectiv::h5
