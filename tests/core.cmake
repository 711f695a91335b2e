sr_add_unit_test(test_core SOURCES test_core.c LIBS sr_core)
