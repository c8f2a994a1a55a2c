// SPDX-License-Identifier: BSD-3-Clause
// The HDF5 layer over the C API (versioned names only, so 1.10 and 1.12/1.14 builds behave alike).
#include "data/h5/file.hpp"

#include <fmt/format.h>
#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/error.hpp"

namespace selectiv::h5 {

static_assert(std::is_same<hid_t, std::int64_t>::value, "HDF5 >= 1.10 uses 64-bit identifiers");

namespace detail {
// One HDF5 identifier and the function that releases it.
struct Handle {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  Handle(hid_t id_, herr_t (*close_)(hid_t)) : id(id_), close(close_) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id >= 0 && close) close(id);
  }
  hid_t release() { return std::exchange(id, -1); }
};
}  // namespace detail

namespace {

using detail::Handle;

// HDF5 prints its error stack on every failing call unless told not to; the setting is per thread in thread-safe
// builds, so every entry point makes sure it is off on the calling thread.
void silence() {
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

herr_t keep_deepest(unsigned, const H5E_error2_t* entry, void* data) {
  if (entry->desc && entry->desc[0] != '\0') *static_cast<std::string*>(data) = entry->desc;
  return 0;
}

// The innermost message of the current HDF5 error stack ("file signature not found", ...), then clears it.
std::string hdf5_message() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_deepest, &message);
  H5Eclear2(H5E_DEFAULT);
  return message;
}

[[noreturn]] void fail(ExitCode code, const std::string& where, const std::string& what) {
  std::string detail = hdf5_message();
  if (detail.empty()) throw Error(code, fmt::format("{}: {}", where, what));
  throw Error(code, fmt::format("{}: {} (HDF5: {})", where, what, detail));
}

// Owned temporary identifiers (dataspaces, types, property lists, attributes).
using Owned = std::unique_ptr<Handle>;
Owned own(hid_t id, herr_t (*close)(hid_t)) { return std::make_unique<Handle>(id, close); }

hid_t check(hid_t id, ExitCode code, const std::string& where, const std::string& what) {
  if (id < 0) fail(code, where, what);
  return id;
}

void check_status(herr_t status, ExitCode code, const std::string& where, const std::string& what) {
  if (status < 0) fail(code, where, what);
}

template <class T>
struct Native;
template <>
struct Native<float> {
  static hid_t memory() { return H5T_NATIVE_FLOAT; }
  static hid_t file() { return H5T_IEEE_F32LE; }
  static constexpr bool integer = false;
};
template <>
struct Native<double> {
  static hid_t memory() { return H5T_NATIVE_DOUBLE; }
  static hid_t file() { return H5T_IEEE_F64LE; }
  static constexpr bool integer = false;
};
template <>
struct Native<std::int32_t> {
  static hid_t memory() { return H5T_NATIVE_INT32; }
  static hid_t file() { return H5T_STD_I32LE; }
  static constexpr bool integer = true;
};
template <>
struct Native<std::int64_t> {
  static hid_t memory() { return H5T_NATIVE_INT64; }
  static hid_t file() { return H5T_STD_I64LE; }
  static constexpr bool integer = true;
};

DType classify(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      if (H5Tget_sign(type) != H5T_SGN_2) return DType::kOther;
      std::size_t size = H5Tget_size(type);
      return size == 4 ? DType::kInt32 : size == 8 ? DType::kInt64 : DType::kOther;
    }
    case H5T_FLOAT: {
      std::size_t size = H5Tget_size(type);
      return size == 4 ? DType::kFloat32 : size == 8 ? DType::kFloat64 : DType::kOther;
    }
    case H5T_STRING: return DType::kString;
    default: return DType::kOther;
  }
}

// A variable-length UTF-8 string type for memory and file.
Owned vlen_string_type(const std::string& where) {
  Owned type = own(check(H5Tcopy(H5T_C_S1), ExitCode::kFailure, where, "cannot copy the string type"), H5Tclose);
  check_status(H5Tset_size(type->id, H5T_VARIABLE), ExitCode::kFailure, where, "cannot make a string type");
  check_status(H5Tset_cset(type->id, H5T_CSET_UTF8), ExitCode::kFailure, where, "cannot make a string type");
  return type;
}

void reclaim_vlen(hid_t type, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

// Reads `count` strings stored with `stored_type` through `read(memory_type, buffer)` (an H5Dread or H5Aread).
template <class ReadFn>
std::vector<std::string> read_string_values(hid_t stored_type, hid_t space, std::size_t count, ExitCode code,
                                            const std::string& where, ReadFn read) {
  std::vector<std::string> out;
  out.reserve(count);
  htri_t is_variable = H5Tis_variable_str(stored_type);
  check_status(is_variable, code, where, "cannot inspect the string type");
  if (is_variable > 0) {
    Owned memory = own(check(H5Tcopy(H5T_C_S1), code, where, "cannot copy the string type"), H5Tclose);
    H5Tset_size(memory->id, H5T_VARIABLE);
    H5Tset_cset(memory->id, H5Tget_cset(stored_type));
    std::vector<char*> pointers(count, nullptr);
    if (count > 0) {
      check_status(read(memory->id, pointers.data()), code, where, "cannot read the strings");
    }
    for (char* p : pointers) out.emplace_back(p ? p : "");
    if (count > 0) reclaim_vlen(memory->id, space, pointers.data());
    return out;
  }
  std::size_t size = H5Tget_size(stored_type);
  Owned memory = own(check(H5Tcopy(stored_type), code, where, "cannot copy the string type"), H5Tclose);
  std::vector<char> buffer(size * count + 1, '\0');
  if (count > 0) check_status(read(memory->id, buffer.data()), code, where, "cannot read the strings");
  bool space_padded = H5Tget_strpad(stored_type) == H5T_STR_SPACEPAD;
  for (std::size_t i = 0; i < count; ++i) {
    const char* begin = buffer.data() + i * size;
    std::size_t length = 0;
    while (length < size && begin[length] != '\0') ++length;
    if (space_padded) {
      while (length > 0 && begin[length - 1] == ' ') --length;
    }
    out.emplace_back(begin, length);
  }
  return out;
}

Owned track_times_off(hid_t property_class, const std::string& where) {
  Owned plist = own(check(H5Pcreate(property_class), ExitCode::kFailure, where, "cannot create a property list"),
                    H5Pclose);
  check_status(H5Pset_obj_track_times(plist->id, false), ExitCode::kFailure, where, "cannot turn timestamps off");
  return plist;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : path) {
    if (c == '/') {
      if (!current.empty()) parts.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(std::move(current));
  return parts;
}

std::string join_path(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += "/" + parts[i];
  return out.empty() ? "/" : out;
}

std::int64_t product(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::vector<hsize_t> to_hsize(const std::vector<std::int64_t>& dims) {
  return std::vector<hsize_t>(dims.begin(), dims.end());
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kString: return "string";
    case DType::kOther: return "other";
  }
  return "other";
}

DataSetOptions compressed_rows(const std::vector<std::int64_t>& shape, std::int64_t target_elements, int level) {
  DataSetOptions options;
  if (shape.empty() || product(shape) == 0) return options;
  std::int64_t row = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) row *= shape[i];
  std::int64_t rows = std::max<std::int64_t>(1, target_elements / std::max<std::int64_t>(1, row));
  options.chunk = shape;
  options.chunk[0] = std::min(rows, shape[0]);
  options.deflate_level = level;
  options.fletcher32 = true;
  return options;
}

// ---------------------------------------------------------------------------------------------------- Object

Object::Object(std::shared_ptr<detail::Handle> handle, std::string file, std::string name)
    : m_handle(std::move(handle)), m_file(std::move(file)), m_name(std::move(name)) {}

std::int64_t Object::id() const {
  if (!m_handle || m_handle->id < 0) {
    throw Error(ExitCode::kFailure, fmt::format("{}: {}: the object is closed", m_file, m_name));
  }
  return m_handle->id;
}

std::string Object::where(const std::string& key) const {
  if (key.empty()) return fmt::format("{}: {}", m_file, m_name);
  return fmt::format("{}: {} attribute '{}'", m_file, m_name, key);
}

bool Object::has_attribute(const std::string& key) const {
  silence();
  htri_t found = H5Aexists(id(), key.c_str());
  check_status(found, ExitCode::kInvalidInput, where(key), "cannot look up the attribute");
  return found > 0;
}

namespace {
herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Object::attribute_names() const {
  silence();
  std::vector<std::string> names;
  hsize_t index = 0;
  check_status(H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute_name, &names),
               ExitCode::kInvalidInput, where(), "cannot list the attributes");
  return names;
}

namespace {
// An open scalar attribute with its stored type; kInvalidInput when missing or not a single value.
struct OpenAttribute {
  Owned attribute;
  Owned type;
  Owned space;
};

OpenAttribute open_attribute(hid_t object, const std::string& key, const std::string& where) {
  htri_t found = H5Aexists(object, key.c_str());
  check_status(found, ExitCode::kInvalidInput, where, "cannot look up the attribute");
  if (found == 0) throw Error(ExitCode::kInvalidInput, fmt::format("{}: missing", where));
  OpenAttribute a;
  a.attribute = own(check(H5Aopen(object, key.c_str(), H5P_DEFAULT), ExitCode::kInvalidInput, where,
                          "cannot open the attribute"),
                    H5Aclose);
  a.type = own(check(H5Aget_type(a.attribute->id), ExitCode::kInvalidInput, where, "cannot read its type"),
               H5Tclose);
  a.space = own(check(H5Aget_space(a.attribute->id), ExitCode::kInvalidInput, where, "cannot read its shape"),
                H5Sclose);
  hssize_t points = H5Sget_simple_extent_npoints(a.space->id);
  if (points != 1) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: expected a single value, found {}", where, points));
  }
  return a;
}
}  // namespace

DType Object::attribute_dtype(const std::string& key) const {
  silence();
  OpenAttribute a = open_attribute(id(), key, where(key));
  return classify(a.type->id);
}

namespace {
void write_scalar_attribute(hid_t object, const std::string& key, hid_t file_type, hid_t memory_type,
                            const void* value, const std::string& where) {
  htri_t found = H5Aexists(object, key.c_str());
  check_status(found, ExitCode::kFailure, where, "cannot look up the attribute");
  if (found > 0) check_status(H5Adelete(object, key.c_str()), ExitCode::kFailure, where, "cannot replace it");
  Owned space = own(check(H5Screate(H5S_SCALAR), ExitCode::kFailure, where, "cannot make a dataspace"), H5Sclose);
  Owned attribute = own(check(H5Acreate2(object, key.c_str(), file_type, space->id, H5P_DEFAULT, H5P_DEFAULT),
                              ExitCode::kFailure, where, "cannot create the attribute"),
                        H5Aclose);
  check_status(H5Awrite(attribute->id, memory_type, value), ExitCode::kFailure, where, "cannot write it");
}
}  // namespace

void Object::set_attribute(const std::string& key, int value) {
  set_attribute(key, static_cast<std::int64_t>(value));
}

void Object::set_attribute(const std::string& key, std::int64_t value) {
  silence();
  write_scalar_attribute(id(), key, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, where(key));
}

void Object::set_attribute(const std::string& key, double value) {
  silence();
  write_scalar_attribute(id(), key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, where(key));
}

void Object::set_attribute(const std::string& key, const std::string& value) {
  silence();
  Owned type = vlen_string_type(where(key));
  const char* text = value.c_str();
  write_scalar_attribute(id(), key, type->id, type->id, &text, where(key));
}

void Object::set_attribute(const std::string& key, const char* value) { set_attribute(key, std::string(value)); }

std::int64_t Object::int_attribute(const std::string& key) const {
  silence();
  std::string at = where(key);
  OpenAttribute a = open_attribute(id(), key, at);
  if (H5Tget_class(a.type->id) != H5T_INTEGER) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: expected an integer, found {}", at,
                                                     dtype_name(classify(a.type->id))));
  }
  if (H5Tget_sign(a.type->id) == H5T_SGN_NONE && H5Tget_size(a.type->id) >= 8) {
    std::uint64_t value = 0;
    check_status(H5Aread(a.attribute->id, H5T_NATIVE_UINT64, &value), ExitCode::kInvalidInput, at, "cannot read");
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw Error(ExitCode::kInvalidInput, fmt::format("{}: value {} does not fit int64", at, value));
    }
    return static_cast<std::int64_t>(value);
  }
  std::int64_t value = 0;
  check_status(H5Aread(a.attribute->id, H5T_NATIVE_INT64, &value), ExitCode::kInvalidInput, at, "cannot read");
  return value;
}

double Object::float_attribute(const std::string& key) const {
  silence();
  std::string at = where(key);
  OpenAttribute a = open_attribute(id(), key, at);
  if (H5Tget_class(a.type->id) != H5T_FLOAT) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: expected a real number, found {}", at,
                                                     dtype_name(classify(a.type->id))));
  }
  double value = 0.0;
  check_status(H5Aread(a.attribute->id, H5T_NATIVE_DOUBLE, &value), ExitCode::kInvalidInput, at, "cannot read");
  return value;
}

std::string Object::string_attribute(const std::string& key) const {
  silence();
  std::string at = where(key);
  OpenAttribute a = open_attribute(id(), key, at);
  if (H5Tget_class(a.type->id) != H5T_STRING) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: expected a string, found {}", at,
                                                     dtype_name(classify(a.type->id))));
  }
  hid_t attribute = a.attribute->id;
  std::vector<std::string> values =
      read_string_values(a.type->id, a.space->id, 1, ExitCode::kInvalidInput, at,
                         [attribute](hid_t memory, void* buffer) { return H5Aread(attribute, memory, buffer); });
  return values.front();
}

// ---------------------------------------------------------------------------------------------------- DataSet

namespace {
struct Inspected {
  Owned type;
  Owned space;
  std::vector<std::int64_t> dims;
};

Inspected inspect(hid_t dataset, const std::string& where) {
  Inspected out;
  out.type = own(check(H5Dget_type(dataset), ExitCode::kInvalidInput, where, "cannot read its type"), H5Tclose);
  out.space = own(check(H5Dget_space(dataset), ExitCode::kInvalidInput, where, "cannot read its shape"), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(out.space->id);
  check_status(rank, ExitCode::kInvalidInput, where, "cannot read its rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) {
    check_status(H5Sget_simple_extent_dims(out.space->id, dims.data(), nullptr), ExitCode::kInvalidInput, where,
                 "cannot read its dims");
  }
  out.dims.assign(dims.begin(), dims.end());
  return out;
}
}  // namespace

DType DataSet::dtype() const {
  silence();
  return classify(inspect(id(), where()).type->id);
}

int DataSet::rank() const {
  silence();
  return static_cast<int>(inspect(id(), where()).dims.size());
}

std::vector<std::int64_t> DataSet::dims() const {
  silence();
  return inspect(id(), where()).dims;
}

std::int64_t DataSet::element_count() const { return product(dims()); }

std::vector<std::int64_t> DataSet::chunk() const {
  silence();
  std::string at = where();
  Owned plist = own(check(H5Dget_create_plist(id()), ExitCode::kInvalidInput, at, "cannot read its layout"),
                    H5Pclose);
  if (H5Pget_layout(plist->id) != H5D_CHUNKED) return {};
  std::vector<hsize_t> dims(32);
  int rank = H5Pget_chunk(plist->id, static_cast<int>(dims.size()), dims.data());
  check_status(rank, ExitCode::kInvalidInput, at, "cannot read its chunk shape");
  return std::vector<std::int64_t>(dims.begin(), dims.begin() + rank);
}

std::vector<std::string> DataSet::filters() const {
  silence();
  std::string at = where();
  Owned plist = own(check(H5Dget_create_plist(id()), ExitCode::kInvalidInput, at, "cannot read its filters"),
                    H5Pclose);
  int count = H5Pget_nfilters(plist->id);
  check_status(count, ExitCode::kInvalidInput, at, "cannot read its filters");
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t n_values = 0;
    char name[64] = {0};
    H5Z_filter_t filter = H5Pget_filter2(plist->id, static_cast<unsigned>(i), &flags, &n_values, nullptr,
                                         sizeof name, name, &config);
    if (filter == H5Z_FILTER_DEFLATE) {
      names.emplace_back("deflate");
    } else if (filter == H5Z_FILTER_FLETCHER32) {
      names.emplace_back("fletcher32");
    } else if (filter == H5Z_FILTER_SHUFFLE) {
      names.emplace_back("shuffle");
    } else {
      names.emplace_back(name);
    }
  }
  return names;
}

template <class T>
std::vector<T> DataSet::read_selection(std::int64_t first, std::int64_t count) const {
  silence();
  std::string at = where();
  hid_t dataset = id();
  Inspected info = inspect(dataset, at);
  H5T_class_t stored_class = H5Tget_class(info.type->id);
  bool integer_kind = stored_class == H5T_INTEGER;
  if (Native<T>::integer ? !integer_kind : stored_class != H5T_FLOAT) {
    throw Error(ExitCode::kInvalidInput,
                fmt::format("{}: stored as {} (rank {}), cannot be read as {}", at, dtype_name(classify(info.type->id)),
                            info.dims.size(), Native<T>::integer ? "an integer array" : "a real array"));
  }

  // Whole dataset (first < 0) or a block of rows.
  std::vector<std::int64_t> block = info.dims;
  Owned memory_space;
  hid_t file_space = H5S_ALL;
  hid_t memory_space_id = H5S_ALL;
  if (first >= 0) {
    if (info.dims.empty()) throw Error(ExitCode::kFailure, fmt::format("{}: a scalar has no rows", at));
    if (count < 0 || first + count > info.dims[0]) {
      throw Error(ExitCode::kInvalidInput, fmt::format("{}: rows [{}, {}) are outside its {} rows", at, first,
                                                       first + count, info.dims[0]));
    }
    block[0] = count;
    std::vector<hsize_t> start(info.dims.size(), 0), extent = to_hsize(block);
    start[0] = static_cast<hsize_t>(first);
    check_status(H5Sselect_hyperslab(info.space->id, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
                 ExitCode::kInvalidInput, at, "cannot select the rows");
    memory_space = own(check(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                             ExitCode::kInvalidInput, at, "cannot make a dataspace"),
                       H5Sclose);
    file_space = info.space->id;
    memory_space_id = memory_space->id;
  }
  std::int64_t n = product(block);
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n == 0) return out;

  bool narrowing = false;
  if (Native<T>::integer) {
    std::size_t size = H5Tget_size(info.type->id);
    bool is_signed = H5Tget_sign(info.type->id) == H5T_SGN_2;
    narrowing = is_signed ? size > sizeof(T) : size >= sizeof(T);
  }
  if (!narrowing) {
    check_status(H5Dread(dataset, Native<T>::memory(), memory_space_id, file_space, H5P_DEFAULT, out.data()),
                 ExitCode::kInvalidInput, at, "cannot read the data");
    return out;
  }
  // Wider or unsigned integers: read as 64-bit and check that every value fits T.
  bool is_signed = H5Tget_sign(info.type->id) == H5T_SGN_2;
  std::vector<std::int64_t> wide(static_cast<std::size_t>(n));
  check_status(H5Dread(dataset, is_signed ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64, memory_space_id, file_space,
                       H5P_DEFAULT, wide.data()),
               ExitCode::kInvalidInput, at, "cannot read the data");
  for (std::size_t i = 0; i < wide.size(); ++i) {
    std::int64_t v = wide[i];
    bool fits = is_signed ? (v >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                             v <= static_cast<std::int64_t>(std::numeric_limits<T>::max()))
                          : (static_cast<std::uint64_t>(v) <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()));
    if (!fits) {
      throw Error(ExitCode::kInvalidInput, fmt::format("{}: element {} does not fit {}", at, i,
                                                       sizeof(T) == 4 ? "int32" : "int64"));
    }
    out[i] = static_cast<T>(v);
  }
  return out;
}

template <class T>
std::vector<T> DataSet::read() const {
  return read_selection<T>(-1, 0);
}

template <class T>
std::vector<T> DataSet::read_rows(std::int64_t first, std::int64_t count) const {
  if (first < 0) throw Error(ExitCode::kInvalidInput, fmt::format("{}: negative first row {}", where(), first));
  return read_selection<T>(first, count);
}

std::vector<std::string> DataSet::read_strings() const {
  silence();
  std::string at = where();
  hid_t dataset = id();
  Inspected info = inspect(dataset, at);
  if (H5Tget_class(info.type->id) != H5T_STRING || info.dims.size() > 1) {
    throw Error(ExitCode::kInvalidInput, fmt::format("{}: stored as {} of rank {}, expected 1-D strings", at,
                                                     dtype_name(classify(info.type->id)), info.dims.size()));
  }
  std::size_t count = static_cast<std::size_t>(product(info.dims));
  return read_string_values(info.type->id, info.space->id, count, ExitCode::kInvalidInput, at,
                            [dataset](hid_t memory, void* buffer) {
                              return H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
                            });
}

template <class T>
void DataSet::write_rows(std::int64_t first, std::int64_t count, const std::vector<T>& values) {
  silence();
  std::string at = where();
  hid_t dataset = id();
  Inspected info = inspect(dataset, at);
  if (info.dims.empty()) throw Error(ExitCode::kFailure, fmt::format("{}: a scalar has no rows", at));
  if (first < 0 || count < 0 || first + count > info.dims[0]) {
    throw Error(ExitCode::kFailure, fmt::format("{}: rows [{}, {}) are outside its {} rows", at, first,
                                                first + count, info.dims[0]));
  }
  std::vector<std::int64_t> block = info.dims;
  block[0] = count;
  if (product(block) != static_cast<std::int64_t>(values.size())) {
    throw Error(ExitCode::kFailure, fmt::format("{}: {} rows need {} values, got {}", at, count, product(block),
                                                values.size()));
  }
  if (count == 0) return;
  std::vector<hsize_t> start(info.dims.size(), 0), extent = to_hsize(block);
  start[0] = static_cast<hsize_t>(first);
  check_status(H5Sselect_hyperslab(info.space->id, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
               ExitCode::kFailure, at, "cannot select the rows");
  Owned memory = own(check(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                           ExitCode::kFailure, at, "cannot make a dataspace"),
                     H5Sclose);
  check_status(H5Dwrite(dataset, Native<T>::memory(), memory->id, info.space->id, H5P_DEFAULT, values.data()),
               ExitCode::kFailure, at, "cannot write the rows");
}

// ---------------------------------------------------------------------------------------------------- Group

std::string Group::absolute(const std::string& path) const {
  std::string full = (!path.empty() && path[0] == '/') ? path : m_name + "/" + path;
  std::vector<std::string> parts = split_path(full);
  return join_path(parts, parts.size());
}

bool Group::exists(const std::string& path) const {
  silence();
  std::vector<std::string> parts = split_path(absolute(path));
  hid_t location = id();
  for (std::size_t i = 1; i <= parts.size(); ++i) {
    std::string prefix = join_path(parts, i);
    htri_t found = H5Lexists(location, prefix.c_str(), H5P_DEFAULT);
    if (found <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (i < parts.size()) {
      Owned object = own(H5Oopen(location, prefix.c_str(), H5P_DEFAULT), H5Oclose);
      if (object->id < 0 || H5Iget_type(object->id) != H5I_GROUP) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
  }
  return true;
}

Kind Group::kind(const std::string& path) const {
  silence();
  std::string full = absolute(path);
  std::string at = fmt::format("{}: {}", m_file, full);
  if (!exists(full)) throw Error(ExitCode::kInvalidInput, fmt::format("{}: missing", at));
  Owned object = own(check(H5Oopen(id(), full.c_str(), H5P_DEFAULT), ExitCode::kInvalidInput, at, "cannot open"),
                     H5Oclose);
  switch (H5Iget_type(object->id)) {
    case H5I_GROUP: return Kind::kGroup;
    case H5I_DATASET: return Kind::kDataSet;
    default: return Kind::kOther;
  }
}

std::vector<std::string> Group::children() const {
  silence();
  std::string at = where();
  H5G_info_t info;
  check_status(H5Gget_info(id(), &info), ExitCode::kInvalidInput, at, "cannot list the group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t length = H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    check_status(static_cast<herr_t>(length < 0 ? -1 : 0), ExitCode::kInvalidInput, at, "cannot list the group");
    std::string name(static_cast<std::size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, &name[0], name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(length));
    names.push_back(std::move(name));
  }
  return names;
}

Group Group::group(const std::string& path) const {
  silence();
  std::string full = absolute(path);
  std::string at = fmt::format("{}: {}", m_file, full);
  if (!exists(full)) throw Error(ExitCode::kInvalidInput, fmt::format("{}: missing group", at));
  if (kind(full) != Kind::kGroup) throw Error(ExitCode::kInvalidInput, fmt::format("{}: not a group", at));
  hid_t group = check(H5Gopen2(id(), full.c_str(), H5P_DEFAULT), ExitCode::kInvalidInput, at, "cannot open group");
  return Group(std::make_shared<Handle>(group, H5Gclose), m_file, full);
}

Group Group::create_group(const std::string& path) {
  silence();
  std::string full = absolute(path);
  std::vector<std::string> parts = split_path(full);
  hid_t location = id();
  for (std::size_t i = 1; i <= parts.size(); ++i) {
    std::string prefix = join_path(parts, i);
    std::string at = fmt::format("{}: {}", m_file, prefix);
    if (exists(prefix)) {
      if (kind(prefix) != Kind::kGroup) throw Error(ExitCode::kFailure, fmt::format("{}: exists, not a group", at));
      continue;
    }
    Owned gcpl = track_times_off(H5P_GROUP_CREATE, at);
    Owned created = own(check(H5Gcreate2(location, prefix.c_str(), H5P_DEFAULT, gcpl->id, H5P_DEFAULT),
                              ExitCode::kFailure, at, "cannot create the group"),
                        H5Gclose);
  }
  if (parts.empty()) return Group(m_handle, m_file, "/");
  std::string at = fmt::format("{}: {}", m_file, full);
  hid_t group = check(H5Gopen2(location, full.c_str(), H5P_DEFAULT), ExitCode::kFailure, at, "cannot open group");
  return Group(std::make_shared<Handle>(group, H5Gclose), m_file, full);
}

DataSet Group::dataset(const std::string& path) const {
  silence();
  std::string full = absolute(path);
  std::string at = fmt::format("{}: {}", m_file, full);
  if (!exists(full)) throw Error(ExitCode::kInvalidInput, fmt::format("{}: missing dataset", at));
  if (kind(full) != Kind::kDataSet) throw Error(ExitCode::kInvalidInput, fmt::format("{}: not a dataset", at));
  hid_t dataset = check(H5Dopen2(id(), full.c_str(), H5P_DEFAULT), ExitCode::kInvalidInput, at, "cannot open");
  return DataSet(std::make_shared<Handle>(dataset, H5Dclose), m_file, full);
}

namespace {
// Parent groups of `full` (an absolute path) exist afterwards.
void create_parents(Group& self, const std::string& full) {
  std::vector<std::string> parts = split_path(full);
  if (parts.size() > 1) self.create_group(join_path(parts, parts.size() - 1));
}

Owned dataset_creation_plist(const std::vector<std::int64_t>& shape, const DataSetOptions& options,
                             const std::string& at) {
  Owned dcpl = track_times_off(H5P_DATASET_CREATE, at);
  std::int64_t n = product(shape);
  bool filtered = options.deflate_level > 0 || options.fletcher32;
  if (options.chunk.empty() || n == 0 || shape.empty()) {
    if (filtered && n > 0) {
      throw Error(ExitCode::kFailure, fmt::format("{}: compression and checksums need a chunked layout", at));
    }
    return dcpl;
  }
  if (options.chunk.size() != shape.size()) {
    throw Error(ExitCode::kFailure, fmt::format("{}: chunk rank {} differs from the data rank {}", at,
                                                options.chunk.size(), shape.size()));
  }
  std::vector<hsize_t> chunk(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) {
    chunk[i] = static_cast<hsize_t>(std::max<std::int64_t>(1, std::min(options.chunk[i], shape[i])));
  }
  check_status(H5Pset_chunk(dcpl->id, static_cast<int>(chunk.size()), chunk.data()), ExitCode::kFailure, at,
               "cannot set the chunk shape");
  if (options.fletcher32) {
    check_status(H5Pset_fletcher32(dcpl->id), ExitCode::kFailure, at, "cannot add the Fletcher32 filter");
  }
  if (options.deflate_level > 0) {
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) {
      throw Error(ExitCode::kFailure, fmt::format("{}: this HDF5 library has no deflate filter", at));
    }
    check_status(H5Pset_deflate(dcpl->id, static_cast<unsigned>(std::min(options.deflate_level, 9))),
                 ExitCode::kFailure, at, "cannot add the deflate filter");
  }
  return dcpl;
}

Owned dataspace_of(const std::vector<std::int64_t>& shape, const std::string& at) {
  if (shape.empty()) {
    return own(check(H5Screate(H5S_SCALAR), ExitCode::kFailure, at, "cannot make a dataspace"), H5Sclose);
  }
  std::vector<hsize_t> dims = to_hsize(shape);
  return own(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), ExitCode::kFailure, at,
                   "cannot make a dataspace"),
             H5Sclose);
}
}  // namespace

template <class T>
DataSet Group::create_dataset(const std::string& path, const std::vector<std::int64_t>& shape,
                      const DataSetOptions& options) {
  silence();
  std::string full = absolute(path);
  std::string at = fmt::format("{}: {}", m_file, full);
  for (std::int64_t d : shape) {
    if (d < 0) throw Error(ExitCode::kFailure, fmt::format("{}: negative dimension {}", at, d));
  }
  create_parents(*this, full);
  Owned space = dataspace_of(shape, at);
  Owned dcpl = dataset_creation_plist(shape, options, at);
  hid_t dataset = check(H5Dcreate2(id(), full.c_str(), Native<T>::file(), space->id, H5P_DEFAULT, dcpl->id,
                                   H5P_DEFAULT),
                        ExitCode::kFailure, at, "cannot create the dataset");
  return DataSet(std::make_shared<Handle>(dataset, H5Dclose), m_file, full);
}

template <class T>
DataSet Group::write(const std::string& path, const std::vector<std::int64_t>& shape, const std::vector<T>& values,
                     const DataSetOptions& options) {
  silence();
  if (product(shape) != static_cast<std::int64_t>(values.size())) {
    throw Error(ExitCode::kFailure, fmt::format("{}: {}: a shape of {} elements cannot hold {} values", m_file,
                                                absolute(path), product(shape), values.size()));
  }
  DataSet dataset = create_dataset<T>(path, shape, options);
  if (!values.empty()) {
    check_status(H5Dwrite(dataset.id(), Native<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 ExitCode::kFailure, dataset.where(), "cannot write the data");
  }
  return dataset;
}

void Group::remove(const std::string& path) {
  silence();
  std::string full = absolute(path);
  std::string at = fmt::format("{}: {}", m_file, full);
  if (!exists(full)) throw Error(ExitCode::kInvalidInput, fmt::format("{}: missing", at));
  check_status(H5Ldelete(id(), full.c_str(), H5P_DEFAULT), ExitCode::kFailure, at, "cannot remove");
}

DataSet Group::write_strings(const std::string& path, const std::vector<std::string>& values) {
  silence();
  std::string full = absolute(path);
  std::string at = fmt::format("{}: {}", m_file, full);
  create_parents(*this, full);
  Owned type = vlen_string_type(at);
  Owned space = dataspace_of({static_cast<std::int64_t>(values.size())}, at);
  Owned dcpl = track_times_off(H5P_DATASET_CREATE, at);
  hid_t dataset = check(H5Dcreate2(id(), full.c_str(), type->id, space->id, H5P_DEFAULT, dcpl->id, H5P_DEFAULT),
                        ExitCode::kFailure, at, "cannot create the dataset");
  auto handle = std::make_shared<Handle>(dataset, H5Dclose);
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& v : values) pointers.push_back(v.c_str());
  if (!values.empty()) {
    check_status(H5Dwrite(dataset, type->id, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), ExitCode::kFailure,
                 at, "cannot write the strings");
  }
  return DataSet(handle, m_file, full);
}

// ---------------------------------------------------------------------------------------------------- File

File File::create(const std::string& path, Mode mode) {
  silence();
  std::string at = fmt::format("{}: /", path);
  Owned fcpl = track_times_off(H5P_FILE_CREATE, at);
  Owned fapl = own(check(H5Pcreate(H5P_FILE_ACCESS), ExitCode::kFailure, at, "cannot create a property list"),
                   H5Pclose);
  check_status(H5Pset_libver_bounds(fapl->id, H5F_LIBVER_V18, H5F_LIBVER_V110), ExitCode::kFailure, at,
               "cannot bound the file format to HDF5 1.8-1.10");
  unsigned flags = mode == Mode::kCreateExclusive ? H5F_ACC_EXCL : H5F_ACC_TRUNC;
  hid_t file = H5Fcreate(path.c_str(), flags, fcpl->id, fapl->id);
  if (file < 0) {
    struct stat st;
    if (mode == Mode::kCreateExclusive && ::stat(path.c_str(), &st) == 0) {
      hdf5_message();
      throw Error(ExitCode::kFailure, fmt::format("{}: exists; not overwritten", path));
    }
    fail(ExitCode::kFailure, path, "cannot create the file");
  }
  return File(std::make_shared<Handle>(file, H5Fclose), path, "/");
}

File File::open_read_only(const std::string& path) {
  silence();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(ExitCode::kInvalidInput, fmt::format("{}: no such file", path));
  if (!S_ISREG(st.st_mode)) throw Error(ExitCode::kInvalidInput, fmt::format("{}: not a regular file", path));
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) fail(ExitCode::kInvalidInput, path, "cannot open as HDF5");
  return File(std::make_shared<Handle>(file, H5Fclose), path, "/");
}

File File::open_read_write(const std::string& path) {
  silence();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(ExitCode::kInvalidInput, fmt::format("{}: no such file", path));
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) fail(ExitCode::kInvalidInput, path, "cannot open as HDF5 for writing");
  return File(std::make_shared<Handle>(file, H5Fclose), path, "/");
}

void File::flush() {
  silence();
  check_status(H5Fflush(id(), H5F_SCOPE_GLOBAL), ExitCode::kFailure, m_file, "cannot flush the file");
}

void File::close() {
  silence();
  if (!m_handle || m_handle->id < 0) return;
  hid_t file = m_handle->id;
  herr_t flushed = H5Fflush(file, H5F_SCOPE_GLOBAL);
  if (flushed < 0) fail(ExitCode::kFailure, m_file, "cannot flush the file");
  herr_t closed = H5Fclose(m_handle->release());
  if (closed < 0) fail(ExitCode::kFailure, m_file, "cannot close the file");
}

// ---------------------------------------------------------------------------------------------------- instances

#define SELECTIV_H5_INSTANTIATE(T)                                                                             \
  template std::vector<T> DataSet::read<T>() const;                                                           \
  template std::vector<T> DataSet::read_rows<T>(std::int64_t, std::int64_t) const;                            \
  template void DataSet::write_rows<T>(std::int64_t, std::int64_t, const std::vector<T>&);                     \
  template DataSet Group::create_dataset<T>(const std::string&, const std::vector<std::int64_t>&, const DataSetOptions&); \
  template DataSet Group::write<T>(const std::string&, const std::vector<std::int64_t>&, const std::vector<T>&, \
                                   const DataSetOptions&);
SELECTIV_H5_INSTANTIATE(float)
SELECTIV_H5_INSTANTIATE(double)
SELECTIV_H5_INSTANTIATE(std::int32_t)
SELECTIV_H5_INSTANTIATE(std::int64_t)
#undef SELECTIV_H5_INSTANTIATE

}  // namespace selectiv::h5
