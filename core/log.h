/* Logging: rank 0 alone writes to stdout; warnings and errors go to stderr.
 * Not for metrics (those go to a CSV/JSON-lines file beside the run's outputs). */
#ifndef SR_LOG_H
#define SR_LOG_H

#include <stdio.h>

/* Set once by comm at start-up; before that every process counts as rank 0 of 1. */
void sr_log_set_rank(int rank, int world_size);
int sr_log_rank(void);
int sr_log_is_root(void);
/* Silences sr_info (tests, --quiet). */
void sr_log_set_quiet(int quiet);

/* stdout, rank 0 only. */
void sr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* stderr, rank 0 only, prefixed "warning: ". */
void sr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* stderr, any rank, prefixed with the rank when there is more than one. */
void sr_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* stderr, rank 0, only when SEQREC_DEBUG is set in the environment. */
void sr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
