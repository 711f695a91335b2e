/* Rank-aware printing; see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdlib.h>

static int log_rank = 0;
static int log_world = 1;
static int log_quiet = 0;

void sr_log_set_rank(int rank, int world_size) {
  log_rank = rank;
  log_world = world_size;
}

int sr_log_rank(void) { return log_rank; }
int sr_log_is_root(void) { return log_rank == 0; }
void sr_log_set_quiet(int quiet) { log_quiet = quiet; }

void sr_info(const char *fmt, ...) {
  if (log_rank != 0 || log_quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

void sr_warn(const char *fmt, ...) {
  if (log_rank != 0) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("seqrec: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void sr_log_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (log_world > 1)
    fprintf(stderr, "seqrec: rank %d: error: ", log_rank);
  else
    fputs("seqrec: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void sr_debug(const char *fmt, ...) {
  static int enabled = -1;
  if (enabled < 0) enabled = getenv("SEQREC_DEBUG") != NULL;
  if (!enabled || log_rank != 0) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("debug: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}
