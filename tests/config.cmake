# core/config: YAML configuration loading, --set, validation, round trip (fixtures in data/config).
sr_add_unit_test(test_config SOURCES test_config.c LIBS sr_core)
target_compile_definitions(test_config PRIVATE
  SEQREC_CONFIG_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/data/config"
  SEQREC_CONFIGS="${PROJECT_SOURCE_DIR}/configs")
