/* Configuration loading: being written (see config.h). */
#include "core/config.h"

#include <string.h>

void sr_config_defaults(sr_config *cfg) { memset(cfg, 0, sizeof *cfg); }

sr_status sr_config_load(sr_config *cfg, const char *path) {
  (void)cfg;
  return sr_error(SR_ENOTBUILT, "%s: configuration loading is not built yet", path);
}

sr_status sr_config_set(sr_config *cfg, const char *assignment) {
  (void)cfg;
  return sr_error(SR_ENOTBUILT, "--set %s: configuration overrides are not built yet", assignment);
}

sr_status sr_config_validate(const sr_config *cfg) { (void)cfg; return SR_OK; }

sr_status sr_config_from_args(sr_config *cfg, int argc, char **argv) {
  (void)cfg; (void)argc; (void)argv;
  return sr_error(SR_ENOTBUILT, "configuration loading is not built yet");
}

sr_status sr_config_to_yaml(const sr_config *cfg, char **text) {
  (void)cfg;
  *text = NULL;
  return sr_error(SR_ENOTBUILT, "configuration output is not built yet");
}

void sr_config_print(const sr_config *cfg) { (void)cfg; }
