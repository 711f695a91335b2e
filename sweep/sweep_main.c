/* `seqrec sweep plan|run|report SWEEP.yaml`: the command line around sweep.h.
 * Not for the work itself (sweep_file.c, sweep_plan.c, sweep_run.c, sweep_report.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "sweep/cli.h"
#include "sweep/sweep.h"

static const char sweep_usage[] =
    "usage: seqrec sweep plan|run|report SWEEP.yaml [--metric M]\n"
    "  plan    one config per point under the sweep's run_dir, points.csv, and sweep.sbatch\n"
    "          (a Slurm array, at most slurm.max_parallel points at a time)\n"
    "  run     plan, then train the points one after another here (no Slurm needed)\n"
    "  report  rank the points by the sweep's metric (or --metric valid.M / test.M, M one of\n"
    "          hr10 ndcg10 mrr sampled_hr10 sampled_ndcg10): a table, report.csv, report.png\n"
    "Paths in the sweep file (base, run_dir) and in the configs are relative to this folder.";

/* The binary the array script and `run` start: this one, by its absolute path. */
static sr_status self_path(char *out, size_t size) {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0 || (size_t)n >= size)
    return sr_error(SR_EINTERNAL, "cannot find this program's path in /proc/self/exe");
  buf[n] = '\0';
  snprintf(out, size, "%s", buf);
  return SR_OK;
}

static sr_status sweep_do(const char *action, const char *file, const char *metric_text) {
  sr_status st = SR_OK;
  sr_sweep sw;
  char bin[SR_PATH_MAX];
  sr_metric_choice metric;
  TRY_GOTO(sweep_load(file, &sw));
  if (metric_text) TRY_GOTO(sweep_metric_parse(metric_text, &metric));
  if (strcmp(action, "plan") == 0) {
    TRY_GOTO(self_path(bin, sizeof bin));
    TRY_GOTO(sweep_plan(&sw, bin));
  } else if (strcmp(action, "run") == 0) {
    TRY_GOTO(self_path(bin, sizeof bin));
    TRY_GOTO(sweep_run(&sw, bin));
  } else {
    TRY_GOTO(sweep_report(&sw, metric_text ? &metric : NULL));
  }
cleanup:
  sweep_free(&sw);
  return st;
}

sr_status sweep_sweep_main(const sr_comm *comm, int argc, char **argv) {
  const char *action = NULL, *file = NULL, *metric = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      sr_info("%s", sweep_usage);
      return SR_OK;
    }
    if (strcmp(argv[i], "--metric") == 0) {
      if (i + 1 >= argc) return sr_error(SR_EINVAL, "sweep: --metric needs a name\n%s", sweep_usage);
      metric = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return sr_error(SR_EINVAL, "sweep: unknown option '%s'\n%s", argv[i], sweep_usage);
    } else if (!action) {
      action = argv[i];
    } else if (!file) {
      file = argv[i];
    } else {
      return sr_error(SR_EINVAL, "sweep: one sweep file at a time ('%s' and '%s')\n%s", file,
                      argv[i], sweep_usage);
    }
  }
  if (!action || (strcmp(action, "plan") != 0 && strcmp(action, "run") != 0 &&
                  strcmp(action, "report") != 0))
    return sr_error(SR_EINVAL, "sweep: %s%s%s\n%s", action ? "unknown action '" : "plan, run or report?",
                    action ? action : "", action ? "' (plan, run or report)" : "", sweep_usage);
  if (!file) return sr_error(SR_EINVAL, "sweep %s: which sweep file?\n%s", action, sweep_usage);
  if (metric && strcmp(action, "report") != 0)
    return sr_error(SR_EINVAL, "sweep %s: --metric belongs to `sweep report` (the sweep file's "
                    "metric: key sets it for plan and run)", action);
  if (strcmp(action, "run") == 0 && comm->size > 1)
    return sr_error(SR_EINVAL, "sweep run: started as %d ranks; run it alone (each point's "
                    "training is one process; use the Slurm array for more)", comm->size);
  sr_status st = SR_OK;
  if (comm->rank == 0) st = sweep_do(action, file, metric);
  if (comm->size > 1) st = sr_comm_agree(comm, st);
  return st;
}
