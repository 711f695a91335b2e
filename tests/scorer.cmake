sr_add_unit_test(test_topk SOURCES test_topk.c LIBS sr_scorer)
# The brute-force reference calls cblas_sgemm itself.
target_include_directories(test_topk PRIVATE ${CBLAS_INCLUDE_DIR})
