/* Folders and whole files for sweep plans and reports. Not for large data: files here are
 * configs, scripts and CSV tables. */
#include "sweep/files.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"

/* A file read whole by sweep_file_read larger than this is not one of ours. */
#define SWEEP_READ_MAX (16u << 20)

sr_status sweep_dirs_make(const char *path) {
  char buf[SR_PATH_MAX];
  if (strlen(path) >= sizeof buf) return sr_error(SR_EINVAL, "path too long: %.80s...", path);
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    const int end = *p == '\0';
    if (*p == '/' || end) {
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sr_error(SR_EIO, "cannot create folder %s: %s", buf, strerror(errno));
      if (end) break;
      *p = '/';
    }
  }
  struct stat s;
  if (stat(path, &s) != 0 || !S_ISDIR(s.st_mode))
    return sr_error(SR_EIO, "%s exists and is not a folder", path);
  return SR_OK;
}

sr_status sweep_file_write(const char *path, const char *text, size_t length, unsigned mode) {
  char tmp[SR_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return sr_error(SR_EIO, "cannot create %s: %s", tmp, strerror(errno));
  const size_t n = fwrite(text, 1, length, f);
  const int bad = n != length || fflush(f) != 0;
  const int err = errno;
  if (fclose(f) != 0 || bad) {
    unlink(tmp);
    return sr_error(SR_EIO, "cannot write %s: %s", tmp, strerror(bad ? err : errno));
  }
  if (chmod(tmp, (mode_t)mode) != 0 || rename(tmp, path) != 0) {
    const int e = errno;
    unlink(tmp);
    return sr_error(SR_EIO, "cannot put %s in place: %s", path, strerror(e));
  }
  return SR_OK;
}

sr_status sweep_file_begin(const char *path, FILE **f) {
  char tmp[SR_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  *f = fopen(tmp, "wb");
  if (!*f) return sr_error(SR_EIO, "cannot create %s: %s", tmp, strerror(errno));
  return SR_OK;
}

sr_status sweep_file_commit(const char *path, FILE *f, unsigned mode, sr_status st) {
  char tmp[SR_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (!f) return st;
  const int bad = ferror(f) || fflush(f) != 0;
  const int err = errno;
  if (fclose(f) != 0 || bad)
    st = sr_error(SR_EIO, "cannot write %s: %s", tmp, strerror(bad ? err : errno));
  if (st == SR_OK && (chmod(tmp, (mode_t)mode) != 0 || rename(tmp, path) != 0))
    st = sr_error(SR_EIO, "cannot put %s in place: %s", path, strerror(errno));
  if (st != SR_OK) unlink(tmp);
  return st;
}

sr_status sweep_file_read(const char *path, int missing_ok, char **text, size_t *length) {
  sr_status st = SR_OK;
  *text = NULL;
  *length = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (missing_ok && errno == ENOENT) return SR_OK;
    return sr_error(SR_EIO, "cannot open %s: %s", path, strerror(errno));
  }
  char *buf = NULL;
  size_t cap = 0, used = 0;
  for (;;) {
    if (used + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      if (cap > SWEEP_READ_MAX) FAIL_GOTO(SR_EINVAL, "%s: larger than %u bytes", path, SWEEP_READ_MAX);
      TRY_GOTO(sr_realloc(&buf, cap, 1, path));
    }
    const size_t n = fread(buf + used, 1, cap - used - 1, f);
    used += n;
    if (n == 0) break;
  }
  if (ferror(f)) FAIL_GOTO(SR_EIO, "cannot read %s: %s", path, strerror(errno));
  buf[used] = '\0';
cleanup:
  fclose(f);
  if (st != SR_OK) {
    sr_free(buf);
    return st;
  }
  *text = buf;
  *length = used;
  return SR_OK;
}

int sweep_file_exists(const char *path) { return access(path, F_OK) == 0; }

void sweep_shell_quote(FILE *f, const char *s) {
  fputc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') fputs("'\\''", f);
    else fputc(*s, f);
  }
  fputc('\'', f);
}
