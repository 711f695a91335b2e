# scorer/ and `seqrec score`/`eval`: the brute-force reference, SHA-256, the scripts end to end.
sr_add_unit_test(test_sha256 SOURCES test_sha256.c LIBS sr_core)
sr_add_unit_test(test_score SOURCES test_score.c LIBS sr_scorer)
target_compile_definitions(test_score PRIVATE
  SEQREC_EXAMPLE_READ_RECS="$<TARGET_FILE:example_read_recs>")
add_dependencies(test_score seqrec example_read_recs)
sr_add_script_test(score_e2e SCRIPT score_e2e.sh LABELS mpi)
sr_add_script_test(score_kill SCRIPT score_kill.sh)
sr_add_script_test(score_errors SCRIPT score_errors.sh)
sr_add_script_test(score_cuda SCRIPT score_cuda.sh LABELS mpi cuda)
