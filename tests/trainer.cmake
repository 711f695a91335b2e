sr_add_unit_test(test_dataset SOURCES test_dataset.c LIBS sr_trainer RANKS 1 2 3)
# seqrec train end to end: data parallel equals one rank with the global batch, an interrupted
# run resumes bit for bit, a planted signal beats popularity, errors name the key or file.
sr_add_script_test(train_parallel SCRIPT train_parallel.sh LABELS mpi)
set_tests_properties(train_parallel PROPERTIES SKIP_RETURN_CODE 77)
sr_add_script_test(train_resume SCRIPT train_resume.sh LABELS mpi)
sr_add_script_test(train_e2e SCRIPT train_e2e.sh)
sr_add_script_test(train_errors SCRIPT train_errors.sh)
# bench/bench_train still builds, runs and prints its figures, on 1 and 2 ranks (not a speed test).
sr_add_script_test(bench_train_smoke SCRIPT bench_train_smoke.sh LABELS mpi)
set_property(TEST bench_train_smoke APPEND PROPERTY ENVIRONMENT "BENCH_TRAIN=$<TARGET_FILE:bench_train>")
# The same on a GPU against the CPU (fp32, bf16), two ranks sharing it, resume; skipped without one.
sr_add_script_test(train_cuda SCRIPT train_cuda.sh LABELS mpi cuda)
