# seqrec import: the parser, ids, filters and ordering (unit), and the binary on real data (e2e).
sr_add_unit_test(test_import SOURCES test_import.c LIBS sr_events)
# The seqrec binary: every error path, small exact cases (and mpirun), the real data sets.
sr_add_script_test(import_errors SCRIPT import_errors.sh)
sr_add_script_test(import_small SCRIPT import_small.sh)
sr_add_script_test(import_data SCRIPT import_data.sh)
