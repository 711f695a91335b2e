# Reliability of training and scoring (tests/README-guarantees.md): kill -9 at random moments
# (training resumes to the same bits, recs.h5 is never half written), signals (checkpoint, exit
# 3), a failing or killed rank (the job stops with a message, never hangs), non-finite steps
# (skipped, counted, a stop after train.max_nonfinite_steps in a row, no non-finite checkpoint).
# tests/crash_trials.sh 20 is the benchmark (bench/RESULTS.md); ctest runs 5 trials.
sr_add_unit_test(test_checkpoint_nonfinite SOURCES test_checkpoint_nonfinite.c LIBS sr_model
                 LABELS reliability)
sr_add_script_test(crash_trials SCRIPT crash_trials.sh LABELS reliability)
set_tests_properties(crash_trials PROPERTIES TIMEOUT 300)
sr_add_script_test(crash_score SCRIPT crash_score.sh LABELS reliability)
sr_add_script_test(signal_stop SCRIPT signal_stop.sh LABELS "reliability;mpi")
sr_add_script_test(rank_fail SCRIPT rank_fail.sh LABELS "reliability;mpi")
sr_add_script_test(nonfinite_stop SCRIPT nonfinite_stop.sh LABELS reliability)
