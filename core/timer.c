/* Monotonic clock and progress lines; see timer.h. */
#include "core/timer.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

double sr_time_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sr_format_duration(double s, char *buf, int size) {
  if (s < 0) s = 0;
  if (s < 60)
    snprintf(buf, (size_t)size, "%.1fs", s);
  else if (s < 3600)
    snprintf(buf, (size_t)size, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, (size_t)size, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void sr_progress_start(sr_progress *p, const char *label, const char *unit, int64_t total) {
  p->label = label;
  p->unit = unit;
  p->total = total;
  p->start = sr_time_now();
  p->last_print = p->start;
  p->interval = 1.0;
  p->to_terminal = isatty(STDOUT_FILENO);
}

static void progress_print(sr_progress *p, int64_t done, double now, int final) {
  double elapsed = now - p->start;
  double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
  char el[32], eta[32] = "-";
  sr_format_duration(elapsed, el, sizeof el);
  if (p->total > 0 && rate > 0 && !final)
    sr_format_duration((double)(p->total - done) / rate, eta, sizeof eta);
  char count[64];
  if (p->total > 0)
    snprintf(count, sizeof count, "%lld/%lld (%5.1f%%)", (long long)done, (long long)p->total,
             100.0 * (double)done / (double)p->total);
  else
    snprintf(count, sizeof count, "%lld", (long long)done);
  if (!sr_log_is_root()) return;
  if (p->to_terminal && !final) {
    printf("\r%-10s %s  %.3g %s/s  %s  ETA %s   ", p->label, count, rate, p->unit, el, eta);
    fflush(stdout);
  } else {
    sr_info("%s%-10s %s  %.3g %s/s  %s%s%s", p->to_terminal ? "\r" : "", p->label, count, rate,
            p->unit, el, final ? "" : "  ETA ", final ? "" : eta);
  }
}

void sr_progress_update(sr_progress *p, int64_t done) {
  double now = sr_time_now();
  if (now - p->last_print < p->interval) return;
  p->last_print = now;
  /* In a log file, a line every 10 s is plenty. */
  if (!p->to_terminal) p->interval = 10.0;
  progress_print(p, done, now, 0);
}

void sr_progress_finish(sr_progress *p, int64_t done) { progress_print(p, done, sr_time_now(), 1); }
