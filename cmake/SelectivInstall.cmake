# Install rules and the exported package: find_package(SelectivBench) then link selectiv::core (or any layer).
include(CMakePackageConfigHelpers)
set(SELECTIV_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/SelectivBench")

get_property(selectiv_layers GLOBAL PROPERTY SELECTIV_LAYERS)
install(TARGETS ${selectiv_layers} selectiv_random123
        EXPORT SelectivBenchTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/selectiv")
install(TARGETS selectiv RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
foreach(layer IN ITEMS src kernels data pipelines)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/${layer}/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/selectiv/${layer}"
          FILES_MATCHING PATTERN "*.hpp")
endforeach()
install(FILES "${PROJECT_BINARY_DIR}/generated/selectiv/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/selectiv/generated/selectiv")
install(EXPORT SelectivBenchTargets NAMESPACE selectiv:: DESTINATION "${SELECTIV_INSTALL_CMAKEDIR}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/SelectivBenchConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/SelectivBenchConfig.cmake" INSTALL_DESTINATION "${SELECTIV_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/SelectivBenchConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/SelectivBenchConfig.cmake" "${PROJECT_BINARY_DIR}/SelectivBenchConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/SelectivDependencies.cmake"
        DESTINATION "${SELECTIV_INSTALL_CMAKEDIR}")
