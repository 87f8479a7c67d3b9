# Install layout, the CMake package (find_package(mutx) -> mutx::engine), the
# man page and the Debian package. Included last from the top-level
# CMakeLists.txt.
#
#   cmake --install build --prefix /usr/local
#     bin/mutx
#     share/man/man1/mutx.1.gz
#     share/bash-completion/completions/mutx
#     share/zsh/site-functions/_mutx
#     share/fish/vendor_completions.d/mutx.fish
#     include/mutx/*.hpp
#     lib*/libmutx.a
#     lib*/cmake/mutx/mutx{Config,ConfigVersion,Targets}.cmake
#     share/doc/mutx/copyright, share/doc/mutx-dev/copyright
#
# Components: "runtime" (the tool, its man page and completions) and
# "development" (headers, library, CMake package); cpack -G DEB makes one
# package of each.

include(CMakePackageConfigHelpers)

set(MUTX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mutx)

# --- Man page: scdoc source -> roff -> gzip (Debian policy wants .gz) -------
find_program(SCDOC_EXECUTABLE scdoc)
find_program(GZIP_EXECUTABLE gzip)
set(MUTX_MAN_SOURCE ${PROJECT_SOURCE_DIR}/cli/mutx.1.scd)
set(MUTX_MAN_PAGE ${PROJECT_BINARY_DIR}/man/mutx.1)
if(SCDOC_EXECUTABLE AND GZIP_EXECUTABLE)
  add_custom_command(
    OUTPUT ${MUTX_MAN_PAGE} ${MUTX_MAN_PAGE}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${SCDOC_EXECUTABLE} < ${MUTX_MAN_SOURCE} > ${MUTX_MAN_PAGE}
    COMMAND ${GZIP_EXECUTABLE} -9 -n -c ${MUTX_MAN_PAGE} > ${MUTX_MAN_PAGE}.gz
    DEPENDS ${MUTX_MAN_SOURCE}
    COMMENT "Generating man page mutx.1"
    VERBATIM)
  add_custom_target(mutx_man ALL DEPENDS ${MUTX_MAN_PAGE} ${MUTX_MAN_PAGE}.gz)
  install(FILES ${MUTX_MAN_PAGE}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
else()
  message(WARNING "scdoc or gzip not found: the man page is not built (./scripts/bootstrap installs scdoc)")
endif()

# --- Completions, where bash-completion, zsh and fish look for them --------
set(MUTX_COMPLETIONS ${PROJECT_SOURCE_DIR}/cli/completions)
install(FILES ${MUTX_COMPLETIONS}/mutx.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME mutx COMPONENT runtime)
install(FILES ${MUTX_COMPLETIONS}/_mutx
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions COMPONENT runtime)
install(FILES ${MUTX_COMPLETIONS}/mutx.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT runtime)

# --- The library and its CMake package --------------------------------------
set_target_properties(mutx_engine PROPERTIES EXPORT_NAME engine)
install(TARGETS mutx_engine EXPORT mutxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development)
# Only the public API: a program that includes mutx/mutx.hpp gets the options,
# the result, the errors and housekeeping, and no Asio, liburing or engine
# internals (the ring, ops, pump, lock and writer headers stay in the tree
# for cli/ and the tests).
set(MUTX_PUBLIC_HEADERS mutx.hpp error.hpp types.hpp housekeep.hpp names.hpp)
list(TRANSFORM MUTX_PUBLIC_HEADERS PREPEND ${PROJECT_SOURCE_DIR}/engine/include/mutx/)
install(FILES ${MUTX_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mutx COMPONENT development)
# The design notes the installed headers cite (docs/design.md), beside them
# in the development package's documentation.
install(FILES ${PROJECT_SOURCE_DIR}/docs/design.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/mutx-dev
        COMPONENT development)
install(EXPORT mutxTargets NAMESPACE mutx:: DESTINATION ${MUTX_CMAKE_DIR} COMPONENT development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mutxConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mutxConfig.cmake
                              INSTALL_DESTINATION ${MUTX_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mutxConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mutxConfig.cmake ${PROJECT_BINARY_DIR}/mutxConfigVersion.cmake
        DESTINATION ${MUTX_CMAKE_DIR} COMPONENT development)

# --- The license, as a machine-readable Debian copyright file --------------
# Debian policy wants /usr/share/doc/PACKAGE/copyright in every package, in
# the DEP-5 format. It is made from LICENSE, so the two cannot drift apart:
# the copyright line and the permission text are taken from it, the text
# indented one space, its blank lines written " ." (DEP-5's paragraph
# break). Debian's name for this license text (the MIT license) is Expat.
set(MUTX_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${MUTX_LICENSE})
file(READ ${MUTX_LICENSE} MUTX_LICENSE_TEXT)
string(REGEX MATCH "Copyright \\(c\\) ([^\n]+)" MUTX_LICENSE_COPYRIGHT "${MUTX_LICENSE_TEXT}")
set(MUTX_LICENSE_COPYRIGHT "${CMAKE_MATCH_1}")
string(FIND "${MUTX_LICENSE_TEXT}" "Permission is hereby granted" MUTX_LICENSE_START)
if(NOT MUTX_LICENSE_COPYRIGHT OR MUTX_LICENSE_START EQUAL -1)
  message(FATAL_ERROR "${MUTX_LICENSE} is not the MIT license text this file expects: update cmake/install.cmake")
endif()
string(SUBSTRING "${MUTX_LICENSE_TEXT}" ${MUTX_LICENSE_START} -1 MUTX_LICENSE_BODY)
string(STRIP "${MUTX_LICENSE_BODY}" MUTX_LICENSE_BODY)
string(REPLACE "\n\n" "\n.\n" MUTX_LICENSE_BODY "${MUTX_LICENSE_BODY}")
string(REPLACE "\n" "\n " MUTX_LICENSE_BODY "${MUTX_LICENSE_BODY}")
set(MUTX_MAINTAINER "mutx maintainers <maintainers@mutx.invalid>")
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/copyright CONTENT
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mutx
Upstream-Contact: ${MUTX_MAINTAINER}

Files: *
Copyright: ${MUTX_LICENSE_COPYRIGHT}
License: Expat
 ${MUTX_LICENSE_BODY}
" @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/mutx COMPONENT runtime)
install(FILES ${PROJECT_BINARY_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/mutx-dev COMPONENT development)

# --- Debian packages: cpack -G DEB ------------------------------------------
set(CPACK_PACKAGE_NAME mutx)
set(CPACK_PACKAGE_VENDOR "mutx")
set(CPACK_PACKAGE_CONTACT "${MUTX_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MUTX_MAINTAINER}")
# Empty, so that CPack does not put one summary on both packages: each
# component's description below starts with its own (Debian's synopsis).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The packaged binary is stripped (release build: 4,121,352 -> 3,179,336
# bytes); libmutx.a keeps its symbols (CMake strips executables and shared
# libraries only). `cmake --install --strip` does the same for an install.
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME mutx)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION utils)
# What `ldd mutx` names, by owning package (Debian 12). The highest symbol
# versions the binary needs: GLIBC_2.34, GLIBCXX_3.4.29 (GCC 11),
# LIBURING_2.0.
# With MUTX_STATIC_RUNTIME (the default) the binary is static: it needs no
# shared library at all, so the package depends on nothing.
if(NOT MUTX_STATIC_RUNTIME)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS
      "libc6 (>= 2.34), libstdc++6 (>= 11), libgcc-s1, liburing2 (>= 2.0), libssl3, libarchive13, libboost-program-options1.81.0, libboost-json1.81.0")
endif()
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME mutx-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# The headers include Boost.Asio; the static library needs liburing and
# libarchive at link time (found through pkg-config by mutxConfig.cmake), and
# libcrypto.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "libboost1.81-dev, liburing-dev (>= 2.0), libssl-dev, libarchive-dev, pkg-config")
# Debian's Description: a synopsis line, then the long description,
# wrapped; CPack indents each line by one space and writes " ." for a blank
# line. No double quotes: CPack's escaping turns the text between them into
# a list (spaces became semicolons).
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION [[
replace a file atomically and durably, under a lock
mutx reads new content from standard input, a file or a command's output,
writes it to a temporary file in the target's directory, syncs it to disk
and renames it over the target, then syncs the directory. A reader sees the
old content or the new, never a partial file, and a crash or power loss at
any instant leaves the one or the other.

Writers of the same file take turns through an advisory lock file
(flock(2) on FILE.lock), so concurrent appends and read-modify-write
commands (mutx FILE -- COMMAND) never lose an update. mutx keeps the old
file's mode, extended attributes and ACLs, can keep backups and create
missing directories, and mutx housekeep removes what killed writers leave
behind.

It does what sponge, flock and install do together, and reports success
only once the new content is on disk.
]])
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION [[
replace a file atomically and durably, under a lock - C++ library
The mutx engine as a static C++20 library (libmutx.a) with its headers and
CMake package: find_package(mutx) gives the target mutx::engine, and
mutx/mutx.hpp declares write_file() and write_stream(), which replace a file
with the same guarantees as the mutx command: the old content or the new,
never a mix, durable before the call returns, serialised with other writers
through the same lock file.
]])
include(CPack)
