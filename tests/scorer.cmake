sr_add_unit_test(test_topk SOURCES test_topk.c LIBS sr_scorer)
# Two tests call cblas_sgemm themselves, to check the rounding margin the top-k relies on.
target_include_directories(test_topk PRIVATE ${CBLAS_INCLUDE_DIR})
