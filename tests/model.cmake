# model/: the whole model's gradient against finite differences (every loss, dropout, padding),
# and checkpoints (round trip, and each kind of bad file named with its HDF5 path).
sr_add_unit_test(test_model SOURCES test_model.c gradcheck.c LIBS sr_model LABELS cuda)
sr_add_unit_test(test_model_checkpoint SOURCES test_model_checkpoint.c LIBS sr_model)
