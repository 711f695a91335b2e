sr_add_unit_test(test_comm SOURCES test_comm.c LIBS sr_comm RANKS 1 2 3)
sr_add_unit_test(test_grad_reduce SOURCES test_grad_reduce.c LIBS sr_comm RANKS 1 2 3 LABELS cuda)
