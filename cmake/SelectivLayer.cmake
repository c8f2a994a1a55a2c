# selectiv_add_layer(<name> DIRS <folders...> [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One static library per layer, target selectiv_<name> with alias selectiv::<name>. Sources are the *.cpp files of
# the listed folders (each folder holds one concern; see DESIGN.md). Includes resolve from the project root
# ("kernels/gla/reference.hpp", "data/h5/file.hpp") and from src/ ("core/error.hpp", "models/...").
function(selectiv_add_layer name)
  cmake_parse_arguments(ARG "" "" "DIRS;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(sources)
  foreach(dir IN LISTS ARG_DIRS)
    file(GLOB_RECURSE found CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cpp")
    list(APPEND sources ${found})
  endforeach()
  add_library(selectiv_${name} STATIC ${sources})
  add_library(selectiv::${name} ALIAS selectiv_${name})
  set_target_properties(selectiv_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(selectiv_${name} PUBLIC
    "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>" "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>"
    "$<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/selectiv>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/selectiv/src>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/selectiv/generated>")
  target_link_libraries(selectiv_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_features(selectiv_${name} PUBLIC cxx_std_17)
  set_property(GLOBAL APPEND PROPERTY SELECTIV_LAYERS selectiv_${name})
endfunction()
