# Finds every dependency and normalises the targets the layers link against.

# --- Kokkos: Debian's 3.4.01 (Serial, CI) or >= 4.6 with any backend -------------------------------
# No version in find_package: Debian's config file is SameMajorVersion and would reject a range.
find_package(Kokkos REQUIRED)
if(Kokkos_VERSION VERSION_LESS 4.6)
  if(NOT Kokkos_VERSION VERSION_EQUAL 3.4.01 AND NOT Kokkos_VERSION VERSION_EQUAL 3.4.1)
    message(FATAL_ERROR "Kokkos ${Kokkos_VERSION} found at ${Kokkos_DIR}: SelectivBench needs Kokkos >= 4.6, "
                        "or exactly Debian 12's 3.4.01 (Serial) for CPU CI. Point Kokkos_ROOT at a newer install.")
  endif()
  set(SELECTIV_KOKKOS_DEBIAN ON)
  # Debian's TriBITS-generated config points Kokkos::kokkos at a non-existent /usr/lib/include.
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIRS}")
else()
  set(SELECTIV_KOKKOS_DEBIAN OFF)
endif()

find_package(KokkosKernels QUIET)
if(NOT TARGET Kokkos::kokkoskernels)
  if(SELECTIV_KOKKOS_DEBIAN AND KokkosKernels_INCLUDE_DIRS)
    # Debian has no Kokkos::kokkoskernels target: synthesise it from the TriBITS variables.
    add_library(Kokkos::kokkoskernels INTERFACE IMPORTED)
    set_target_properties(Kokkos::kokkoskernels PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${KokkosKernels_INCLUDE_DIRS}"
      INTERFACE_LINK_LIBRARIES "${KokkosKernels_LIBRARIES};Kokkos::kokkos")
  else()
    message(FATAL_ERROR "Kokkos Kernels not found: set KokkosKernels_ROOT (>= 4.6) next to Kokkos_ROOT.")
  endif()
endif()
message(STATUS "SelectivBench: Kokkos ${Kokkos_VERSION} (Debian fix-up: ${SELECTIV_KOKKOS_DEBIAN})")

# --- host libraries -------------------------------------------------------------------------------
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT TARGET hdf5::hdf5)
  add_library(hdf5::hdf5 INTERFACE IMPORTED)
  set_target_properties(hdf5::hdf5 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${HDF5_C_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${HDF5_C_LIBRARIES}"
    INTERFACE_COMPILE_DEFINITIONS "${HDF5_C_DEFINITIONS}")
endif()
find_package(yaml-cpp REQUIRED)
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp INTERFACE IMPORTED)
  set_target_properties(yaml-cpp::yaml-cpp PROPERTIES INTERFACE_LINK_LIBRARIES yaml-cpp)
endif()
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)
add_library(selectiv_random123 INTERFACE)
target_include_directories(selectiv_random123 SYSTEM INTERFACE "$<BUILD_INTERFACE:${RANDOM123_INCLUDE_DIR}>")
find_package(Threads REQUIRED)

# --- MPI: optional, on when found ------------------------------------------------------------------
find_package(MPI QUIET COMPONENTS CXX)
option(SELECTIV_ENABLE_MPI "Build MPI task farming and rank-aware logging" ${MPI_CXX_FOUND})
if(SELECTIV_ENABLE_MPI AND NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "SELECTIV_ENABLE_MPI=ON but no MPI C++ compiler/library was found")
endif()
message(STATUS "SelectivBench: MPI ${SELECTIV_ENABLE_MPI}")
