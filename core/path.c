/* Folders for outputs; see path.h. */
#include "core/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"

static sr_status make_dir(const char *dir) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return sr_error(SR_EIO, "%s: cannot create folder: %s", dir, strerror(errno));
  return SR_OK;
}

sr_status sr_path_make_parents(const char *file) {
  char dir[SR_PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", file) >= (int)sizeof dir)
    return sr_error(SR_EINVAL, "%s: path too long", file);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return SR_OK;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    TRY(make_dir(dir));
    *p = '/';
  }
  return make_dir(dir);
}
