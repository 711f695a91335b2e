/* Sweeps (DESIGN.md "Configuration"): a sweep file names a base config, a grid of config keys
 * to lists of values (and groups of keys whose lists move together), the metric that ranks the
 * points, and Slurm settings. `plan` writes one config per point and a Slurm array script,
 * `run` trains the points one after another, `report` ranks them. Not for one run's curves
 * (sweep/metrics.h and `seqrec report`). */
#ifndef SR_SWEEP_H
#define SR_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"
#include "sweep/metrics.h"

/* Slurm's default MaxArraySize is 1001 (indexes 0..1000). */
#define SWEEP_MAX_POINTS 100000
#define SWEEP_MAX_AXES 64

/* One value as the sweep file wrote it. */
typedef struct {
  char *text;  /* the scalar without quotes */
  int quoted;  /* quoted in the file: stays a string when handed to sr_config_set */
  int line, column;
} sweep_value;

/* One axis of the grid: a single key (from `grid`) or a group of keys whose lists of values
 * move together (from `together`); every key of an axis has n_values values. */
typedef struct {
  int n_keys;
  char **keys;          /* [n_keys] dotted config keys */
  int n_values;
  sweep_value *values;  /* [n_keys * n_values]: value v of key k at k * n_values + v */
} sweep_axis;

typedef struct {
  char path[SR_PATH_MAX];     /* the sweep file */
  char name[256];             /* its file name without .yaml: names the Slurm job */
  char base[SR_PATH_MAX];     /* the base config (relative to the working folder) */
  char run_dir[SR_PATH_MAX - 64]; /* points go to run_dir/p000, ...; room left for file names */
  sr_metric_choice metric;    /* ranks the points */
  int n_set;                  /* overrides applied to every point */
  char **set_keys;            /* [n_set] */
  sweep_value *set_values;    /* [n_set] */
  int n_axes;
  sweep_axis *axes;           /* [n_axes], the first varies slowest */
  struct {
    int max_parallel;         /* array tasks running at once (the %N of --array) */
    int ntasks;               /* ranks per point */
    int gpus_per_task;        /* 0: CPU ranks */
    int cpus_per_task;
    char time[64];            /* --time */
    int n_sbatch;
    char **sbatch;            /* [n_sbatch] further sbatch options, "--partition=gpu" */
  } slurm;
} sr_sweep;

/* Reads and checks a sweep file: keys exist in the config schema, values have the right type,
 * lists are non-empty and those that move together have one length. Errors name the file,
 * line:column and key. Free with sweep_free (also after an error). */
sr_status sweep_load(const char *path, sr_sweep *sw);
void sweep_free(sr_sweep *sw);

/* Points of the grid: the product of the axes' lengths (1 without axes). */
int64_t sweep_point_count(const sr_sweep *sw);
/* choice[a] = the value index of axis a at `point` (mixed radix, last axis fastest). */
void sweep_point_choice(const sr_sweep *sw, int64_t point, int *choice);
/* "runs/sweep/p007"; returns snprintf's count (run_dir is checked to fit at load). */
int sweep_point_dir(const sr_sweep *sw, int64_t point, char *out, size_t size);
/* "lr=0.003 d_model=32 d_ff=64": the point's grid values, keys shortened to their last part. */
void sweep_point_label(const sr_sweep *sw, int64_t point, char *out, size_t size);
/* The point's full configuration: base file, then `set`, then the point's values, then the
 * point's own outputs (train.checkpoint and score.checkpoint = DIR/train.checkpoint,
 * score.output = DIR/recs.h5); validated. Errors say which point. */
sr_status sweep_point_config(const sr_sweep *sw, int64_t point, sr_config *cfg);

/* Writes run_dir/pNNN/config.yaml for every point, run_dir/points.csv, run_dir/sweep.sbatch
 * (an array with a concurrency limit that runs `seqrec_bin train` on each point from the
 * current folder) and run_dir/sweep.yaml (a copy of the sweep file). Refuses to change the
 * config of a point that already has a checkpoint. */
sr_status sweep_plan(const sr_sweep *sw, const char *seqrec_bin);
/* Plans, then trains the points one after another (`seqrec_bin train -c pNNN/config.yaml`, its
 * output in pNNN/train.log), skipping points that finished before (pNNN/done). */
sr_status sweep_run(const sr_sweep *sw, const char *seqrec_bin);
/* Reads every point's metrics.jsonl; prints the points sorted by `metric` (best first), writes
 * run_dir/report.csv and run_dir/report.png (every point's validation curve). */
sr_status sweep_report(const sr_sweep *sw, const sr_metric_choice *metric);

#endif
