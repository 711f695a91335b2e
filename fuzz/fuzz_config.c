/* libFuzzer harness for the YAML configuration: sr_config_load on a file of the input's bytes
 * (or sr_config_set on it as one --set argument). A failure leaves the configuration as it was
 * and names the file; a success survives the round trip through sr_config_to_yaml unchanged.
 * Not a test of the schema's values (tests/test_config.c). Input: 1 mode byte, then the text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "fuzz/fuzz_common.h"

/* The effective configuration as YAML must load back to the same values. */
static void round_trip(const sr_config *cfg) {
  char *yaml = NULL;
  sr_status st = sr_config_to_yaml(cfg, &yaml);
  FUZZ_CHECK(st == SR_OK, "to_yaml failed");
  char path[512];
  fuzz_path(path, sizeof path, "config-again.yaml");
  fuzz_write_file(path, yaml, strlen(yaml));
  sr_config *again = calloc(1, sizeof *again);
  FUZZ_CHECK(again != NULL, "out of memory");
  sr_config_defaults(again);
  st = sr_config_load(again, path);
  FUZZ_CHECK(st == SR_OK, "the YAML it wrote does not load back:\n%s", yaml);
  memcpy(again->source, cfg->source, sizeof again->source);
  FUZZ_CHECK(memcmp(again, cfg, sizeof *cfg) == 0, "loading its YAML back changed a value:\n%s",
             yaml);
  sr_config_print(cfg); /* quiet, but the formatting runs */
  (void)sr_config_validate(cfg);
  sr_error_clear();
  free(again);
  sr_free(yaml);
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  if (size < 1) return 0;
  const int as_set = data[0] & 1;
  sr_config *cfg = calloc(1, sizeof *cfg), *before = calloc(1, sizeof *before);
  FUZZ_CHECK(cfg && before, "out of memory");
  sr_config_defaults(cfg);
  memcpy(before, cfg, sizeof *cfg);

  sr_status st;
  char path[512] = "";
  char *assignment = NULL;
  if (as_set) {
    /* One command-line argument: no NUL inside. */
    assignment = malloc(size);
    FUZZ_CHECK(assignment != NULL, "out of memory");
    memcpy(assignment, data + 1, size - 1);
    assignment[size - 1] = '\0';
    st = sr_config_set(cfg, assignment);
  } else {
    fuzz_path(path, sizeof path, "config.yaml");
    fuzz_write_file(path, data + 1, size - 1);
    st = sr_config_load(cfg, path);
  }
  if (st != SR_OK) {
    const char *m = sr_error_message();
    FUZZ_CHECK(fuzz_user_error(st), "status %s: %s", sr_status_name(st), m);
    FUZZ_CHECK(memcmp(cfg, before, sizeof *cfg) == 0, "a failed load changed the configuration");
    FUZZ_CHECK(as_set ? strstr(m, "--set") != NULL : strstr(m, path) != NULL,
               "the message does not say where: %s", m);
    sr_error_clear();
  } else {
    if (!as_set) FUZZ_CHECK(strcmp(cfg->source, path) == 0, "source is '%s'", cfg->source);
    round_trip(cfg);
  }
  free(assignment);
  free(cfg);
  free(before);
  if (path[0]) unlink(path);
  return 0;
}
