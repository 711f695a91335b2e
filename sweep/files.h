/* Small file helpers of the sweep and report commands: folders, whole-file writes that never
 * leave half a file, shell quoting for the scripts they write. Not for HDF5 files. */
#ifndef SR_SWEEP_FILES_H
#define SR_SWEEP_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "core/status.h"

/* mkdir -p */
sr_status sweep_dirs_make(const char *path);
/* Writes text to path.tmp, then renames it to path; `mode` as for chmod (0644, 0755). */
sr_status sweep_file_write(const char *path, const char *text, size_t length, unsigned mode);
/* Opens path.tmp for writing (*f); sweep_file_commit closes it and renames it to path, or
 * removes it when `st` (the caller's status so far) is not SR_OK. Returns the first error. */
sr_status sweep_file_begin(const char *path, FILE **f);
sr_status sweep_file_commit(const char *path, FILE *f, unsigned mode, sr_status st);
/* Reads a whole (small) file into *text (NUL-terminated; free with sr_free). SR_EIO when it
 * cannot be read; *text = NULL when it does not exist and missing_ok. */
sr_status sweep_file_read(const char *path, int missing_ok, char **text, size_t *length);
/* 1 when path exists. */
int sweep_file_exists(const char *path);
/* Writes s to f as one shell word in single quotes. */
void sweep_shell_quote(FILE *f, const char *s);

#endif
