/* The pending error message: one per thread, first error wins. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_text[2048];
static _Thread_local int error_pending;

sr_status sr_error(sr_status st, const char *fmt, ...) {
  if (st == SR_OK || error_pending) return st;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_text, sizeof error_text, fmt, ap);
  va_end(ap);
  error_pending = 1;
  return st;
}

void sr_error_context(const char *fmt, ...) {
  if (!error_pending) return;
  size_t used = strlen(error_text);
  if (used + 3 >= sizeof error_text) return;
  strcat(error_text, " (");
  used += 2;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_text + used, sizeof error_text - used, fmt, ap);
  va_end(ap);
  used = strlen(error_text);
  if (used + 2 <= sizeof error_text) strcat(error_text, ")");
}

const char *sr_error_message(void) { return error_pending ? error_text : ""; }

void sr_error_clear(void) {
  error_pending = 0;
  error_text[0] = '\0';
}

const char *sr_status_name(sr_status st) {
  switch (st) {
    case SR_OK: return "ok";
    case SR_EINVAL: return "invalid input";
    case SR_EIO: return "i/o error";
    case SR_EFORMAT: return "bad file format";
    case SR_ENOMEM: return "out of memory";
    case SR_ENOTBUILT: return "not built yet";
    case SR_EINTERNAL: return "internal error";
    case SR_EINTERRUPTED: return "interrupted";
  }
  return "unknown status";
}

int sr_status_exit_code(sr_status st) {
  switch (st) {
    case SR_OK: return 0;
    case SR_EINVAL:
    case SR_EIO:
    case SR_EFORMAT:
    case SR_ENOTBUILT: return 1;
    case SR_ENOMEM:
    case SR_EINTERNAL: return 2;
    case SR_EINTERRUPTED: return 3;
  }
  return 2;
}
