# kernels/: each op on every backend against a double-precision reference and finite
# differences (layers), the losses, and the optimizer with its schedule. Label cuda: the tests
# with GPU cases (skipped without a GPU; tools/cudaemu runs them in its emulator).
sr_add_unit_test(test_kernels SOURCES test_kernels.c gradcheck.c LIBS sr_kernels LABELS cuda)
sr_add_unit_test(test_kernels_loss SOURCES test_kernels_loss.c gradcheck.c LIBS sr_kernels LABELS cuda)
sr_add_unit_test(test_kernels_optim SOURCES test_kernels_optim.c gradcheck.c LIBS sr_kernels LABELS cuda)
sr_add_unit_test(test_kernels_bf16 SOURCES test_kernels_bf16.c gradcheck.c LIBS sr_kernels LABELS cuda)
