# jobs/ and sweep/: sweep files, plans and the metrics reader (unit); seqrec sweep/report and
# jobs/run-local on this machine (e2e); and a real one-node Slurm (label slurm, run it alone
# with `ctest -L slurm`): munge, slurmctld and slurmd started by the test as root.
sr_add_unit_test(test_sweep SOURCES test_sweep.c LIBS sr_sweep)
target_compile_definitions(test_sweep PRIVATE SEQREC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

sr_add_script_test(sweep_local SCRIPT sweep_local.sh LABELS jobs)
sr_add_script_test(slurm_jobs SCRIPT slurm_jobs.sh LABELS jobs slurm)
# The Slurm test owns the machine's 2 cores while it runs (its jobs fill them), and waits for
# its jobs: no other test beside it, and a longer limit than the usual 600 s.
set_tests_properties(slurm_jobs PROPERTIES RUN_SERIAL TRUE TIMEOUT 900 SKIP_RETURN_CODE 77)
set_tests_properties(sweep_local PROPERTIES SKIP_RETURN_CODE 77)
# The requeue check takes the strongest form that the trainer's behaviour allows: a resume from
# the step it stopped at when seqrec train checkpoints on SIGTERM and exits 3 (the preemption
# contract of jobs/README-sections.md), else from the last epoch checkpoint. ON requires the
# contract, so that losing it fails the test.
option(SEQREC_SIGNAL_CHECKPOINT "The jobs test requires seqrec train to checkpoint on SIGTERM" ON)
if(SEQREC_SIGNAL_CHECKPOINT)
  set(_sr_signal_checkpoint 1)
else()
  set(_sr_signal_checkpoint 0)
endif()
set_property(TEST slurm_jobs APPEND PROPERTY ENVIRONMENT
  "SEQREC_SOURCE_DIR=${PROJECT_SOURCE_DIR};SEQREC_SIGNAL_CHECKPOINT=${_sr_signal_checkpoint}")
set_property(TEST sweep_local APPEND PROPERTY ENVIRONMENT "SEQREC_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
