/* `seqrec sweep plan`: one config per point under the run folder, a table of the points, and
 * the Slurm array script that trains them. Not for running or ranking them (sweep_run.c,
 * sweep_report.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/log.h"
#include "sweep/files.h"
#include "sweep/sweep.h"

/* 1 when a and b hold the same lines once whole-line comments are left out: the values, not
 * the provenance ("# Point p003 of sweep X", "# loaded from Y") that the header comments name. */
static int same_settings(const char *a, const char *b) {
  for (;;) {
    while (*a == '#' || *a == '\n')
      while (*a && *a++ != '\n') {}
    while (*b == '#' || *b == '\n')
      while (*b && *b++ != '\n') {}
    if (!*a || !*b) return !*a && !*b;
    while (*a && *a != '\n' && *a == *b) a++, b++;
    if (*a != *b) return 0;
  }
}

/* The config of one point, compared with what an earlier plan wrote: a point that has started
 * training keeps its config, or its checkpoint would resume under other settings. */
static sr_status point_write(const sr_sweep *sw, int64_t point) {
  sr_status st = SR_OK;
  sr_config *cfg = NULL;
  char *yaml = NULL, *old = NULL;
  size_t old_length = 0;
  char dir[SR_PATH_MAX], path[SR_PATH_MAX + 32], label[1024];
  sweep_point_dir(sw, point, dir, sizeof dir);
  sweep_point_label(sw, point, label, sizeof label);
  TRY_GOTO(sr_alloc(&cfg, 1, sizeof *cfg, "configuration"));
  TRY_GOTO(sweep_point_config(sw, point, cfg));
  TRY_GOTO(sr_config_to_yaml(cfg, &yaml));
  TRY_GOTO(sweep_dirs_make(dir));
  snprintf(path, sizeof path, "%s/config.yaml", dir);
  TRY_GOTO(sweep_file_read(path, 1, &old, &old_length));
  {
    const size_t header_max = 2048;
    char *text = NULL;
    const size_t yaml_length = strlen(yaml);
    TRY_GOTO(sr_alloc(&text, header_max + yaml_length + 1, 1, "point config"));
    int n = snprintf(text, header_max, "# Point p%03lld of sweep %s: %s\n"
                     "# Written by `seqrec sweep plan`; change the sweep file, not this file.\n",
                     (long long)point, sw->path, label[0] ? label : "(no grid)");
    if (n < 0 || (size_t)n >= header_max) n = 0;
    memcpy(text + n, yaml, yaml_length + 1);
    const size_t length = (size_t)n + yaml_length;
    if (old && !same_settings(old, text)) {
      char ckpt[SR_PATH_MAX + 32];
      snprintf(ckpt, sizeof ckpt, "%s/train.checkpoint", dir);
      if (sweep_file_exists(ckpt)) {
        sr_free(text);
        FAIL_GOTO(SR_EINVAL, "%s: the sweep now gives point p%03lld (%s) another config than "
                  "the one its checkpoint %s was trained with; choose a new run_dir in %s, or "
                  "remove %s to start that point over", path, (long long)point, label, ckpt,
                  sw->path, dir);
      }
    }
    if (!old || old_length != length || memcmp(old, text, length) != 0)
      st = sweep_file_write(path, text, length, 0644);
    sr_free(text);
    TRY_GOTO(st);
  }
cleanup:
  sr_free(old);
  sr_free(yaml);
  sr_free(cfg);
  return st;
}

/* One CSV field, quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static sr_status points_csv_write(const sr_sweep *sw, int64_t n_points) {
  char path[SR_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/points.csv", sw->run_dir);
  FILE *f = NULL;
  TRY(sweep_file_begin(path, &f));
  fputs("point,dir", f);
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys; k++) {
      fputc(',', f);
      csv_field(f, sw->axes[a].keys[k]);
    }
  fputc('\n', f);
  int choice[SWEEP_MAX_AXES];
  for (int64_t p = 0; p < n_points; p++) {
    char dir[SR_PATH_MAX];
    sweep_point_dir(sw, p, dir, sizeof dir);
    sweep_point_choice(sw, p, choice);
    fprintf(f, "p%03lld,", (long long)p);
    csv_field(f, dir);
    for (int a = 0; a < sw->n_axes; a++)
      for (int k = 0; k < sw->axes[a].n_keys; k++) {
        fputc(',', f);
        csv_field(f, sw->axes[a].values[k * sw->axes[a].n_values + choice[a]].text);
      }
    fputc('\n', f);
  }
  return sweep_file_commit(path, f, 0644, SR_OK);
}

/* The launch, signal forwarding and requeue of jobs/train.sbatch, for one point per task;
 * keep the two in step. */
static const char array_body[] =
    "if [ -z \"${SLURM_ARRAY_TASK_ID:-}\" ]; then\n"
    "  echo \"sweep.sbatch: not inside a Slurm array task: submit it with sbatch\" >&2\n"
    "  exit 1\n"
    "fi\n"
    "point=$run_dir/p$(printf %03d \"$SLURM_ARRAY_TASK_ID\")\n"
    "me=\"sweep.sbatch ($point)\"\n"
    "if [ -e \"$point/done\" ]; then\n"
    "  echo \"$me: finished before; nothing to do\"\n"
    "  exit 0\n"
    "fi\n"
    "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}\n"
    "case ${SEQREC_LAUNCHER:-srun} in\n"
    "  srun)\n"
    "    launch=(srun --mpi=\"${SEQREC_SRUN_MPI:-pmix}\" --kill-on-bad-exit=1\n"
    "            --ntasks=\"$SLURM_NTASKS\" --cpus-per-task=\"$OMP_NUM_THREADS\")\n"
    "    if [ -n \"${SLURM_GPUS_PER_TASK:-}\" ] && [ \"${SLURM_GPUS_PER_TASK}\" != 0 ]; then\n"
    "      launch+=(--gpus-per-task=\"$SLURM_GPUS_PER_TASK\")\n"
    "    fi ;;\n"
    "  mpirun) launch=(mpirun -np \"$SLURM_NTASKS\" --bind-to none -x OMP_NUM_THREADS) ;;\n"
    "  *) echo \"$me: SEQREC_LAUNCHER is '$SEQREC_LAUNCHER': use srun or mpirun\" >&2; exit 1 ;;\n"
    "esac\n"
    "echo \"$me: task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID (job $SLURM_JOB_ID, restart "
    "${SLURM_RESTART_COUNT:-0}), $SLURM_NTASKS rank(s), $(date -Is)\"\n"
    "\"${launch[@]}\" \"$seqrec\" train -c \"$point/config.yaml\" &\n"
    "child=$!\n"
    "forward() {\n"
    "  echo \"$me: SIG$1 at $(date -Is): asking seqrec to checkpoint and stop\"\n"
    "  kill -s \"$1\" \"$child\" 2>/dev/null\n"
    "}\n"
    "trap 'forward USR1' USR1\n"
    "trap 'forward TERM' TERM\n"
    "while kill -0 \"$child\" 2>/dev/null; do wait \"$child\"; done\n"
    "wait \"$child\"\n"
    "rc=$?\n"
    "case $rc in\n"
    "  0) touch \"$point/done\"; echo \"$me: finished, $(date -Is)\" ;;\n"
    "  3) echo \"$me: stopped at a checkpoint (preempted); requeueing job $SLURM_JOB_ID\"\n"
    "     scontrol requeue \"$SLURM_JOB_ID\" || echo \"$me: scontrol requeue failed (see above)\" ;;\n"
    "  *) echo \"$me: seqrec train failed with status $rc, $(date -Is)\" ;;\n"
    "esac\n"
    "exit \"$rc\"\n";

/* Slurm reads #SBATCH lines without shell quoting, so paths there cannot hold blanks or '%'. */
static sr_status sbatch_path_check(const char *what, const char *path) {
  if (strpbrk(path, " \t\n%"))
    return sr_error(SR_EINVAL, "%s '%s' holds a blank or '%%', which an #SBATCH line cannot "
                    "carry: choose another folder", what, path);
  return SR_OK;
}

static sr_status array_script_write(const sr_sweep *sw, int64_t n_points, const char *seqrec_bin,
                                    const char *cwd) {
  char run_abs[2 * SR_PATH_MAX + 2], path[SR_PATH_MAX + 32];
  if (sw->run_dir[0] == '/') snprintf(run_abs, sizeof run_abs, "%s", sw->run_dir);
  else snprintf(run_abs, sizeof run_abs, "%s/%s", cwd, sw->run_dir);
  TRY(sbatch_path_check("the run folder", run_abs));
  snprintf(path, sizeof path, "%s/sweep.sbatch", sw->run_dir);
  const int64_t parallel = sw->slurm.max_parallel < n_points ? sw->slurm.max_parallel : n_points;
  FILE *f = NULL;
  TRY(sweep_file_begin(path, &f));
  fprintf(f,
          "#!/usr/bin/env bash\n"
          "# Written by `seqrec sweep plan %s` (planning again rewrites it): one Slurm array\n"
          "# task per point of the sweep, at most %lld at a time. Submit it from any folder:\n"
          "#   sbatch %s/sweep.sbatch\n"
          "# and override #SBATCH lines on the sbatch command line. Each task trains its point\n"
          "# (%s/pNNN/config.yaml, log in pNNN/train.log); a preempted or requeued task resumes\n"
          "# from the point's checkpoint. Then: seqrec sweep report %s\n",
          sw->path, (long long)parallel, sw->run_dir, sw->run_dir, sw->path);
  fprintf(f, "#SBATCH --job-name=seqrec-%s\n", sw->name);
  fprintf(f, "#SBATCH --array=0-%lld%%%lld\n", (long long)n_points - 1, (long long)parallel);
  fprintf(f, "#SBATCH --nodes=1\n#SBATCH --ntasks=%d\n", sw->slurm.ntasks);
  if (sw->slurm.gpus_per_task > 0) fprintf(f, "#SBATCH --gpus-per-task=%d\n", sw->slurm.gpus_per_task);
  fprintf(f, "#SBATCH --cpus-per-task=%d\n#SBATCH --time=%s\n", sw->slurm.cpus_per_task,
          sw->slurm.time);
  fputs("#SBATCH --signal=B:USR1@120\n#SBATCH --requeue\n#SBATCH --open-mode=append\n", f);
  fprintf(f, "#SBATCH --output=%s/p%%3a/train.log\n", run_abs);
  for (int i = 0; i < sw->slurm.n_sbatch; i++) fprintf(f, "#SBATCH %s\n", sw->slurm.sbatch[i]);
  fputs("# Environment: SEQREC (the binary), SEQREC_LAUNCHER (srun or mpirun), SEQREC_SRUN_MPI "
        "(srun --mpi, default pmix).\n", f);
  fputs("set -uo pipefail\ncd ", f);
  sweep_shell_quote(f, cwd);
  fputs(" || exit 1\nrun_dir=", f);
  sweep_shell_quote(f, sw->run_dir);
  fputs("\nseqrec=${SEQREC:-", f);
  sweep_shell_quote(f, seqrec_bin);
  fputs("}\n", f);
  fputs(array_body, f);
  return sweep_file_commit(path, f, 0755, SR_OK);
}

sr_status sweep_plan(const sr_sweep *sw, const char *seqrec_bin) {
  const int64_t n = sweep_point_count(sw);
  char cwd[SR_PATH_MAX];
  if (!getcwd(cwd, sizeof cwd))
    return sr_error(SR_EIO, "cannot find the current folder: %s", strerror(errno));
  TRY(sweep_dirs_make(sw->run_dir));
  for (int64_t p = 0; p < n; p++) TRY(point_write(sw, p));
  TRY(points_csv_write(sw, n));
  char *text = NULL, copy[SR_PATH_MAX + 32];
  size_t length = 0;
  TRY(sweep_file_read(sw->path, 0, &text, &length));
  snprintf(copy, sizeof copy, "%s/sweep.yaml", sw->run_dir);
  sr_status st = sweep_file_write(copy, text, length, 0644);
  sr_free(text);
  TRY(st);
  TRY(array_script_write(sw, n, seqrec_bin, cwd));
  if (n > 1000)
    sr_warn("%lld points: Slurm's default MaxArraySize (1001) allows array indexes up to 1000 "
            "only; ask for a larger limit or split the sweep", (long long)n);
  sr_info("sweep plan: %lld point(s) of %s in %s (configs pNNN/config.yaml, points.csv)",
          (long long)n, sw->base, sw->run_dir);
  sr_info("  on Slurm:      sbatch %s/sweep.sbatch   (array 0-%lld, at most %d at a time)",
          sw->run_dir, (long long)n - 1, sw->slurm.max_parallel);
  sr_info("  without Slurm: seqrec sweep run %s", sw->path);
  return SR_OK;
}
