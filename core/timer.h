/* Wall-clock timing and the progress line that every long loop prints on rank 0.
 * Not a profiler: the per-phase step split lives with the trainer. */
#ifndef SR_TIMER_H
#define SR_TIMER_H

#include <stdint.h>

/* Seconds on a monotonic clock. */
double sr_time_now(void);

/* "label  done/total  rate unit/s  elapsed  ETA", redrawn at most every `interval` seconds
 * (on a terminal in place; in a log file as a new line), and always once at the end. */
typedef struct {
  const char *label;
  const char *unit;
  int64_t total;   /* 0 when unknown: no ETA */
  double start;
  double last_print;
  double interval;
  int to_terminal;
} sr_progress;

void sr_progress_start(sr_progress *p, const char *label, const char *unit, int64_t total);
void sr_progress_update(sr_progress *p, int64_t done);
void sr_progress_finish(sr_progress *p, int64_t done);
/* Formats seconds as "42.0s", "3m05s" or "2h07m" into buf. */
void sr_format_duration(double seconds, char *buf, int size);

#endif
