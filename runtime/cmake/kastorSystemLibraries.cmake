# kastor::caf and kastor::rdkafka: imported targets for the two Debian packages
# that ship no CMake config, found by header and library name (no path is
# written down). kastor's own build and the installed kastorConfig.cmake both
# include this file, so a consumer finds them exactly as kastor's build did.
#
#   kastor::caf      CAF 0.17.6's core library (libcaf-dev) and Threads::Threads
#   kastor::rdkafka  librdkafka 2.0.2's C library (librdkafka-dev)
#
# Needs Threads::Threads (find_package(Threads) first). Sets
# KASTOR_SYSTEM_LIBRARIES_MISSING to one line per missing header or library,
# naming the Debian package that ships it; empty when everything was found.
# A target already defined (find_package called twice) is left as it is.

set(KASTOR_SYSTEM_LIBRARIES_MISSING "")

# _kastor_import_system_library(<target> <header> <library> <debian-package> [<link-item>...])
function(_kastor_import_system_library target header library package)
  if(TARGET ${target})
    return()
  endif()
  string(MAKE_C_IDENTIFIER "${library}" id)
  string(TOUPPER "${id}" id)
  find_path(KASTOR_${id}_INCLUDE_DIR ${header})
  find_library(KASTOR_${id}_LIBRARY ${library})
  mark_as_advanced(KASTOR_${id}_INCLUDE_DIR KASTOR_${id}_LIBRARY)
  set(missing "")
  if(NOT KASTOR_${id}_INCLUDE_DIR)
    string(APPEND missing "kastor: missing ${header}; install the Debian package '${package}'\n")
  endif()
  if(NOT KASTOR_${id}_LIBRARY)
    string(APPEND missing "kastor: missing library ${library}; install the Debian package '${package}'\n")
  endif()
  if(missing)
    set(KASTOR_SYSTEM_LIBRARIES_MISSING "${KASTOR_SYSTEM_LIBRARIES_MISSING}${missing}" PARENT_SCOPE)
    return()
  endif()
  add_library(${target} UNKNOWN IMPORTED)
  # An implicit include directory such as /usr/include is left off the
  # compile line by CMake, so naming it here is harmless.
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${KASTOR_${id}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${KASTOR_${id}_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${ARGN}")
endfunction()

_kastor_import_system_library(kastor::caf caf/all.hpp caf_core libcaf-dev Threads::Threads)
_kastor_import_system_library(kastor::rdkafka librdkafka/rdkafka.h rdkafka librdkafka-dev)
