# Property-based tests: tests/unit/property_test.cpp uses RapidCheck and its
# Boost.Test integration (Debian: librapidcheck-dev). The unit-test glob in
# this directory already made the target; this adds the library, or, without
# RapidCheck, leaves the test out of the build and disables it (CTest lists
# it as "Not Run (Disabled)").
if(TARGET property_test)
  find_package(rapidcheck CONFIG QUIET)
  if(rapidcheck_FOUND)
    target_link_libraries(property_test PRIVATE rapidcheck rapidcheck_boost_test)
    foreach(io uring syscalls)
      set_tests_properties(unit.property_test.${io} PROPERTIES
        ENVIRONMENT "MUTX_IO=${io};MUTX_TEST_SIZE=${MUTX_TEST_SIZE};MUTX_SANITIZED=$<BOOL:${MUTX_SANITIZE}>"
        LABELS "unit;property" TIMEOUT 600)
    endforeach()
  else()
    message(STATUS "RapidCheck not found: property tests are skipped (install librapidcheck-dev)")
    set_target_properties(property_test PROPERTIES EXCLUDE_FROM_ALL TRUE)
    foreach(io uring syscalls)
      set_tests_properties(unit.property_test.${io} PROPERTIES DISABLED TRUE)
    endforeach()
  endif()
endif()
