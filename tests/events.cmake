# events/: the events.h5 format (writer, shard reader, check), gen and info.
sr_add_unit_test(test_events SOURCES test_events.c LIBS sr_events)
sr_add_unit_test(test_events_info SOURCES test_events_info.c LIBS sr_events)
sr_add_unit_test(test_events_mpi SOURCES test_events_mpi.c LIBS sr_events RANKS 2 3)
sr_add_script_test(events_cli SCRIPT events_cli.sh)
