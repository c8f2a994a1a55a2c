# cmake -DSOURCE_DIR=.. -DOUTPUT=.. -DVERSION=.. [-DGIT_EXECUTABLE=..] -P WriteVersionHeader.cmake
# Writes OUTPUT (selectiv/version.hpp) with VERSION and the git hash of SOURCE_DIR (suffix -dirty when the tree has
# uncommitted changes), rewriting the file only when its content changes.
set(SELECTIV_GIT_HASH "unknown")
if(GIT_EXECUTABLE AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" describe --always --abbrev=12 --dirty --match=NO_TAGS
                  WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE _hash
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _hash)
    set(SELECTIV_GIT_HASH "${_hash}")
  endif()
endif()
set(PROJECT_VERSION "${VERSION}")
configure_file("${SOURCE_DIR}/cmake/version.hpp.in" "${OUTPUT}" @ONLY)
