sr_add_unit_test(test_dataset SOURCES test_dataset.c LIBS sr_trainer RANKS 1 2 3)
