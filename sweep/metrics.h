/* Reading a run's metrics.jsonl (written by `seqrec train` beside its checkpoint) into one
 * value per epoch: mean training loss, validation metrics, and the final test metrics. A
 * resumed run appends to the file and repeats some steps and epochs; the last record wins.
 * Not a JSON library: it reads the flat one-line objects the trainer writes. */
#ifndef SR_SWEEP_METRICS_H
#define SR_SWEEP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* The ranking metrics of one evaluation, in this order in sr_eval.v. */
typedef enum {
  SR_METRIC_HR10,
  SR_METRIC_NDCG10,
  SR_METRIC_MRR,
  SR_METRIC_SAMPLED_HR10,
  SR_METRIC_SAMPLED_NDCG10,
  SR_METRIC_COUNT
} sr_metric_field;

typedef struct {
  double v[SR_METRIC_COUNT]; /* NAN when absent */
} sr_eval;

/* What ranks runs: "valid.ndcg10" (the best validation value over epochs, as the trainer keeps
 * the best weights) or "test.ndcg10" (the final test evaluation). Higher is better. */
typedef struct {
  int test;              /* 0: valid, 1: test */
  sr_metric_field field;
} sr_metric_choice;

/* Parses "valid.ndcg10"; SR_EINVAL naming the accepted names otherwise. */
sr_status sweep_metric_parse(const char *text, sr_metric_choice *out);
/* "valid.ndcg10" */
const char *sweep_metric_name(const sr_metric_choice *m, char *buf, size_t size);
/* "hr10", "ndcg10", ... */
const char *sweep_metric_field_name(sr_metric_field f);

typedef struct {
  int64_t n_epochs;   /* epochs with a training loss or a validation (epoch e at index e-1) */
  double *loss;       /* [n_epochs] mean training loss over the epoch's steps; NAN when none */
  sr_eval *valid;     /* [n_epochs] validation after the epoch; NAN fields when none */
  int has_test, has_pop_valid, has_pop_test;
  sr_eval test, pop_valid, pop_test;
  int64_t last_step;  /* highest training step recorded */
  int64_t skipped;    /* lines that were not records (a run killed mid-write leaves one) */
} sr_run_metrics;

/* Reads path. A missing file is SR_EIO; lines that do not parse are counted in `skipped` and
 * otherwise ignored. Free with sweep_metrics_free (also after an error). */
sr_status sweep_metrics_read(const char *path, sr_run_metrics *m);
void sweep_metrics_free(sr_run_metrics *m);
/* The value that ranks this run (best validation value over epochs, or the test value) and
 * for validation the epoch it came from (0 otherwise); NAN when the run has none. */
double sweep_metrics_score(const sr_run_metrics *m, const sr_metric_choice *c, int64_t *epoch);

#endif
