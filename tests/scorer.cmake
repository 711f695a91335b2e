sr_add_unit_test(test_topk SOURCES test_topk.c LIBS sr_scorer)
# Two tests call cblas_sgemm themselves, to check the rounding margin the top-k relies on.
target_include_directories(test_topk PRIVATE ${CBLAS_INCLUDE_DIR})
sr_add_unit_test(test_rank SOURCES test_rank.c LIBS sr_scorer)
# The GPU top-k against the CPU one, bit for bit; skips where no GPU is visible.
if(SEQREC_CUDA)
  sr_add_unit_test(test_topk_cuda SOURCES test_topk_cuda.c LIBS sr_scorer LABELS cuda)
  # cmocka exits 0 when every test skips: let ctest say "Skipped" rather than "Passed".
  set_tests_properties(test_topk_cuda PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED TEST\\(S\\)")
endif()
