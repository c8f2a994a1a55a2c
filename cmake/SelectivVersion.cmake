# selectiv/version.hpp: the project version and the git hash of the source tree. Written at configure time and
# refreshed by every build (target selectiv_version_header; the file is rewritten only when the hash changes), so
# `selectiv --version` and the pipeline engine's cache keys follow each commit without a re-configure.
find_package(Git QUIET)
set(SELECTIV_VERSION_HEADER "${PROJECT_BINARY_DIR}/generated/selectiv/version.hpp")
set(_selectiv_version_args -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUTPUT=${SELECTIV_VERSION_HEADER}
    -DVERSION=${PROJECT_VERSION} -DGIT_EXECUTABLE=${GIT_EXECUTABLE})
execute_process(COMMAND "${CMAKE_COMMAND}" ${_selectiv_version_args} -P "${PROJECT_SOURCE_DIR}/cmake/WriteVersionHeader.cmake")
add_custom_target(selectiv_version_header
                  COMMAND "${CMAKE_COMMAND}" ${_selectiv_version_args}
                          -P "${PROJECT_SOURCE_DIR}/cmake/WriteVersionHeader.cmake"
                  BYPRODUCTS "${SELECTIV_VERSION_HEADER}"
                  COMMENT "git hash -> selectiv/version.hpp" VERBATIM)
