/* PNG plots through gnuplot, run as a program: the caller writes a gnuplot script (data inline
 * as datablocks) into a pipe, and the plot is checked for a clean exit and a PNG on disk.
 * Not a plotting library: what to draw lives with the reports (report.c, sweep_report.c). */
#ifndef SR_SWEEP_PLOT_H
#define SR_SWEEP_PLOT_H

#include <stdio.h>
#include <sys/types.h>

#include "core/status.h"

typedef struct {
  FILE *script;     /* write the gnuplot commands here */
  pid_t pid;
  const char *png;  /* the output the script writes */
} sweep_plot;

/* Starts gnuplot (the program named by $GNUPLOT, else `gnuplot` on PATH) and writes the
 * terminal and output lines: a PNG of width x height pixels at `png`. */
sr_status sweep_plot_open(sweep_plot *p, const char *png, int width, int height);
/* Ends the script, waits for gnuplot, and checks its exit status and the PNG's signature. */
sr_status sweep_plot_close(sweep_plot *p);
/* Writes s as a gnuplot string literal (double quotes, escaped). */
void sweep_plot_string(FILE *f, const char *s);

#endif
