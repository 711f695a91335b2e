/* `seqrec sweep run`: the points of a sweep trained one after another on this machine, each by
 * a child `seqrec train` (its output in pNNN/train.log), for where there is no Slurm.
 * Not a scheduler: one point at a time, in order; on Slurm use the array script. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timer.h"
#include "sweep/files.h"
#include "sweep/sweep.h"

extern char **environ;

/* Runs `bin train -c config` with stdout and stderr appended to log; *status as from waitpid. */
static sr_status train_spawn(const char *bin, const char *config, const char *log, int *status) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  char *argv[] = {(char *)bin, "train", "-c", (char *)config, NULL};
  pid_t pid;
  const int rc = posix_spawn(&pid, bin, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return sr_error(SR_EIO, "cannot start %s train -c %s: %s", bin, config, strerror(rc));
  while (waitpid(pid, status, 0) < 0)
    if (errno != EINTR) return sr_error(SR_EINTERNAL, "waiting for %s: %s", bin, strerror(errno));
  return SR_OK;
}

sr_status sweep_run(const sr_sweep *sw, const char *seqrec_bin) {
  TRY(sweep_plan(sw, seqrec_bin));
  const int64_t n = sweep_point_count(sw);
  int64_t trained = 0, skipped = 0, failed = 0;
  char first_failure[SR_PATH_MAX + 64] = "";
  int worst_exit = 0;
  for (int64_t p = 0; p < n; p++) {
    char dir[SR_PATH_MAX], label[1024], done[SR_PATH_MAX + 16], config[SR_PATH_MAX + 16],
        log[SR_PATH_MAX + 16];
    sweep_point_dir(sw, p, dir, sizeof dir);
    sweep_point_label(sw, p, label, sizeof label);
    snprintf(done, sizeof done, "%s/done", dir);
    snprintf(config, sizeof config, "%s/config.yaml", dir);
    snprintf(log, sizeof log, "%s/train.log", dir);
    if (sweep_file_exists(done)) {
      sr_info("p%03lld  %-40s  finished before", (long long)p, label);
      skipped++;
      continue;
    }
    const double start = sr_time_now();
    int status = 0;
    TRY(train_spawn(seqrec_bin, config, log, &status));
    char took[32];
    sr_format_duration(sr_time_now() - start, took, sizeof took);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      FILE *f = fopen(done, "w");
      if (!f || fclose(f) != 0) return sr_error(SR_EIO, "cannot create %s: %s", done, strerror(errno));
      char metrics[SR_PATH_MAX + 16], best[64] = "";
      snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
      sr_run_metrics m;
      if (sweep_metrics_read(metrics, &m) == SR_OK) {
        int64_t epoch = 0;
        char name[64];
        const double v = sweep_metrics_score(&m, &sw->metric, &epoch);
        snprintf(best, sizeof best, "%s %.4f", sweep_metric_name(&sw->metric, name, sizeof name), v);
      }
      sr_error_clear(); /* a point without metrics is reported by `sweep report` */
      sweep_metrics_free(&m);
      sr_info("p%03lld  %-40s  ok (%s)  %s", (long long)p, label, took, best);
      trained++;
      continue;
    }
    const int by_signal = WIFSIGNALED(status);
    const int code = by_signal ? WTERMSIG(status) : WEXITSTATUS(status);
    if (by_signal || code == 3) {
      /* Interrupted (Ctrl-C, a signal, or a checkpointed stop): the rest would be too. */
      return sr_error(SR_EINVAL, "sweep run: p%03lld stopped (%s %d) after %s; its checkpoint "
                      "is kept: run `seqrec sweep run %s` again to go on (log: %s)", (long long)p,
                      by_signal ? "signal" : "exit status", code, took, sw->path, log);
    }
    sr_info("p%03lld  %-40s  FAILED (exit status %d, %s): see %s", (long long)p, label, code,
            took, log);
    if (!failed) snprintf(first_failure, sizeof first_failure, "p%03lld (%s)", (long long)p, log);
    if (code > worst_exit) worst_exit = code;
    failed++;
  }
  sr_info("sweep run: %lld trained, %lld finished before, %lld failed; next: seqrec sweep report %s",
          (long long)trained, (long long)skipped, (long long)failed, sw->path);
  if (failed)
    return sr_error(worst_exit >= 2 ? SR_EINTERNAL : SR_EINVAL,
                    "sweep run: %lld of %lld points failed, the first %s", (long long)failed,
                    (long long)n, first_failure);
  return SR_OK;
}
