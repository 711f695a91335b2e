# Reliability (bad input, fuzzing, full disks): the folder of bad inputs with the message each
# must give (bad_inputs/, bad_inputs.sh), full and read-only disks (full_disk.sh), the replay
# of the fuzzers' saved inputs, and the libFuzzer harnesses themselves (../fuzz, clang only).

# The HDF5 files with one corruption each are made at test time from a good file.
add_executable(make_bad_h5 bad_inputs/make_bad_h5.c)
target_link_libraries(make_bad_h5 PRIVATE sr_events)

sr_add_script_test(bad_inputs SCRIPT bad_inputs.sh LABELS reliability)
sr_add_script_test(full_disk SCRIPT full_disk.sh LABELS reliability)
set_property(TEST bad_inputs APPEND PROPERTY ENVIRONMENT "MAKE_BAD_H5=$<TARGET_FILE:make_bad_h5>")
set_tests_properties(bad_inputs full_disk PROPERTIES SKIP_RETURN_CODE 77)
if(SEQREC_SANITIZE)
  # "None crashes": the sanitizer stage of tests/run-all runs label unit only, so the bad inputs
  # join it there (seqrec built with ASan/UBSan, each case one short process). Leak checking is
  # off for these processes only: Open MPI's unloaded plugins leak at exit where LSan cannot
  # name them; our code's leaks on the same paths are caught in-process by fuzz_replay_*.
  set_property(TEST bad_inputs APPEND PROPERTY LABELS unit)
  set_property(TEST bad_inputs APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

# Every saved fuzz input (seed corpus and past findings) through its harness, with any compiler.
foreach(harness import config events)
  add_executable(fuzz_replay_${harness} ${PROJECT_SOURCE_DIR}/fuzz/fuzz_${harness}.c
                                        ${PROJECT_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(fuzz_replay_${harness} PRIVATE sr_events)
  add_test(NAME fuzz_replay_${harness}
           COMMAND fuzz_replay_${harness} ${PROJECT_SOURCE_DIR}/fuzz/corpus/${harness}
                   ${PROJECT_SOURCE_DIR}/fuzz/regressions/${harness})
  set_tests_properties(fuzz_replay_${harness} PROPERTIES LABELS "unit;reliability"
    ENVIRONMENT "${SEQREC_TEST_ENV}" TIMEOUT 300)
endforeach()

option(SEQREC_FUZZ "Build the libFuzzer harnesses in fuzz/ (needs clang; fuzz/run-all sets it)" OFF)
if(SEQREC_FUZZ OR CMAKE_C_COMPILER_ID MATCHES "Clang")
  add_subdirectory(${PROJECT_SOURCE_DIR}/fuzz ${PROJECT_BINARY_DIR}/fuzz)
endif()

# Failed writes (a file size limit in-process): clear messages, no crash, nothing published.
sr_add_unit_test(test_h5_write_fail SOURCES test_h5_write_fail.c LIBS sr_events LABELS reliability)
