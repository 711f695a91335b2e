/* metrics.jsonl of one run → per-epoch loss and validation metrics, test metrics.
 * Not a general JSON parser: flat objects of strings and numbers, one per line. */
#include "sweep/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

static const char *const field_names[SR_METRIC_COUNT] = {"hr10", "ndcg10", "mrr",
                                                         "sampled_hr10", "sampled_ndcg10"};

const char *sweep_metric_field_name(sr_metric_field f) {
  return f >= 0 && f < SR_METRIC_COUNT ? field_names[f] : "?";
}

sr_status sweep_metric_parse(const char *text, sr_metric_choice *out) {
  const char *dot = strchr(text, '.');
  if (dot) {
    const size_t n = (size_t)(dot - text);
    int test = -1;
    if (n == 5 && strncmp(text, "valid", 5) == 0) test = 0;
    if (n == 4 && strncmp(text, "test", 4) == 0) test = 1;
    for (int f = 0; test >= 0 && f < SR_METRIC_COUNT; f++)
      if (strcmp(dot + 1, field_names[f]) == 0) {
        out->test = test;
        out->field = (sr_metric_field)f;
        return SR_OK;
      }
  }
  return sr_error(SR_EINVAL, "metric '%s' is not one seqrec records: write valid.M (the best "
                  "validation value) or test.M, with M one of hr10, ndcg10, mrr, sampled_hr10, "
                  "sampled_ndcg10", text);
}

const char *sweep_metric_name(const sr_metric_choice *m, char *buf, size_t size) {
  snprintf(buf, size, "%s.%s", m->test ? "test" : "valid", sweep_metric_field_name(m->field));
  return buf;
}

/* ---- one line ----------------------------------------------------------------------------- */

typedef struct {
  char kind[32];
  double step, epoch, loss;  /* NAN when absent */
  sr_eval e;
} record;

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  return p;
}

/* A JSON string at p (after its opening quote): copied (escapes kept as written) into out. */
static const char *string_read(const char *p, char *out, size_t size) {
  size_t n = 0;
  while (*p && *p != '"') {
    if (*p == '\\' && p[1]) {
      if (n + 1 < size) out[n++] = *p;
      p++;
    }
    if (n + 1 < size) out[n++] = *p;
    p++;
  }
  if (size) out[n] = '\0';
  return *p == '"' ? p + 1 : NULL;
}

static void record_store(record *r, const char *key, const char *str, double num) {
  if (str) {
    if (strcmp(key, "kind") == 0) {
      const size_t n = strnlen(str, sizeof r->kind - 1);
      memcpy(r->kind, str, n);
      r->kind[n] = '\0';
    }
    return;
  }
  if (strcmp(key, "step") == 0) r->step = num;
  else if (strcmp(key, "epoch") == 0) r->epoch = num;
  else if (strcmp(key, "loss") == 0) r->loss = num;
  else
    for (int f = 0; f < SR_METRIC_COUNT; f++)
      if (strcmp(key, field_names[f]) == 0) r->e.v[f] = num;
}

/* 1 when the line is one flat JSON object. */
static int record_parse(const char *line, record *r) {
  memset(r, 0, sizeof *r);
  r->step = r->epoch = r->loss = NAN;
  for (int f = 0; f < SR_METRIC_COUNT; f++) r->e.v[f] = NAN;
  const char *p = skip_space(line);
  if (*p++ != '{') return 0;
  p = skip_space(p);
  if (*p == '}') return *skip_space(p + 1) == '\0';
  for (;;) {
    char key[64], str[256];
    if (*p++ != '"' || !(p = string_read(p, key, sizeof key))) return 0;
    p = skip_space(p);
    if (*p++ != ':') return 0;
    p = skip_space(p);
    if (*p == '"') {
      if (!(p = string_read(p + 1, str, sizeof str))) return 0;
      record_store(r, key, str, 0.0);
    } else if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0) {
      p += 4;
    } else if (strncmp(p, "false", 5) == 0) {
      p += 5;
    } else {
      char *end;
      errno = 0;
      const double v = strtod(p, &end);
      if (end == p) return 0;
      p = end;
      record_store(r, key, NULL, v);
    }
    p = skip_space(p);
    if (*p == '}') return *skip_space(p + 1) == '\0';
    if (*p++ != ',') return 0;
    p = skip_space(p);
  }
}

/* ---- the file ----------------------------------------------------------------------------- */

typedef struct {
  double loss;  /* NAN: no record for this step */
  int64_t epoch;
} step_loss;

/* Grows *arr (of elem bytes) so index i fits; new entries are filled by init. */
static sr_status grow(void *arr, int64_t *cap, int64_t i, size_t elem, void (*init)(void *, int64_t),
                      const char *what) {
  if (i < *cap) return SR_OK;
  int64_t n = *cap ? *cap : 64;
  while (n <= i) n *= 2;
  TRY(sr_realloc(arr, (size_t)n, elem, what));
  unsigned char *base = *(unsigned char **)arr;
  for (int64_t k = *cap; k < n; k++) init(base + (size_t)k * elem, 1);
  *cap = n;
  return SR_OK;
}

static void step_init(void *p, int64_t n) {
  step_loss *s = p;
  for (int64_t k = 0; k < n; k++) s[k] = (step_loss){NAN, 0};
}

static void eval_init(void *p, int64_t n) {
  sr_eval *e = p;
  for (int64_t k = 0; k < n; k++)
    for (int f = 0; f < SR_METRIC_COUNT; f++) e[k].v[f] = NAN;
}

void sweep_metrics_free(sr_run_metrics *m) {
  sr_free(m->loss);
  sr_free(m->valid);
  memset(m, 0, sizeof *m);
}

sr_status sweep_metrics_read(const char *path, sr_run_metrics *m) {
  sr_status st = SR_OK;
  memset(m, 0, sizeof *m);
  eval_init(&m->test, 1);
  eval_init(&m->pop_valid, 1);
  eval_init(&m->pop_test, 1);
  step_loss *steps = NULL; /* [steps_cap], by step number */
  sr_eval *valid = NULL;   /* [valid_cap], by epoch number */
  int64_t steps_cap = 0, valid_cap = 0, max_epoch = 0;
  char line[4096];
  FILE *f = fopen(path, "r");
  if (!f) FAIL_GOTO(SR_EIO, "cannot open %s: %s", path, strerror(errno));
  while (fgets(line, sizeof line, f)) {
    const size_t n = strlen(line);
    if (n == sizeof line - 1 && line[n - 1] != '\n') { /* longer than any record: skip it */
      int c;
      while ((c = fgetc(f)) != EOF && c != '\n') {}
      m->skipped++;
      continue;
    }
    if (*skip_space(line) == '\0') continue;
    record r;
    if (!record_parse(line, &r) || !r.kind[0] || isnan(r.epoch) || r.epoch < 0 || r.epoch > 1e9) {
      m->skipped++;
      continue;
    }
    const int64_t epoch = (int64_t)r.epoch;
    if (strcmp(r.kind, "train") == 0) {
      if (isnan(r.step) || r.step < 1 || r.step > 1e12 || isnan(r.loss)) {
        m->skipped++;
        continue;
      }
      const int64_t s = (int64_t)r.step;
      TRY_GOTO(grow(&steps, &steps_cap, s, sizeof *steps, step_init, "metrics steps"));
      steps[s] = (step_loss){r.loss, epoch};
      if (s > m->last_step) m->last_step = s;
      if (epoch + 1 > max_epoch) max_epoch = epoch + 1; /* train records count from epoch 0 */
    } else if (strcmp(r.kind, "valid") == 0) {
      TRY_GOTO(grow(&valid, &valid_cap, epoch, sizeof *valid, eval_init, "metrics epochs"));
      valid[epoch] = r.e;
      if (epoch > max_epoch) max_epoch = epoch;
    } else if (strcmp(r.kind, "test") == 0) {
      m->test = r.e, m->has_test = 1;
    } else if (strcmp(r.kind, "pop-valid") == 0) {
      m->pop_valid = r.e, m->has_pop_valid = 1;
    } else if (strcmp(r.kind, "pop-test") == 0) {
      m->pop_test = r.e, m->has_pop_test = 1;
    }
  }
  if (ferror(f)) FAIL_GOTO(SR_EIO, "cannot read %s: %s", path, strerror(errno));

  m->n_epochs = max_epoch;
  if (max_epoch > 0) {
    double *count = NULL;
    TRY_GOTO(sr_alloc(&m->loss, (size_t)max_epoch, sizeof *m->loss, "loss per epoch"));
    TRY_GOTO(sr_alloc(&m->valid, (size_t)max_epoch, sizeof *m->valid, "validation per epoch"));
    TRY_GOTO(sr_alloc(&count, (size_t)max_epoch, sizeof *count, "steps per epoch"));
    for (int64_t s = 1; s < steps_cap && s <= m->last_step; s++)
      if (!isnan(steps[s].loss) && steps[s].epoch < max_epoch) {
        m->loss[steps[s].epoch] += steps[s].loss;
        count[steps[s].epoch] += 1.0;
      }
    for (int64_t e = 0; e < max_epoch; e++) {
      m->loss[e] = count[e] > 0 ? m->loss[e] / count[e] : NAN;
      eval_init(&m->valid[e], 1);
      if (e + 1 < valid_cap) m->valid[e] = valid[e + 1];
    }
    sr_free(count);
  }
cleanup:
  if (f) fclose(f);
  sr_free(steps);
  sr_free(valid);
  return st;
}

double sweep_metrics_score(const sr_run_metrics *m, const sr_metric_choice *c, int64_t *epoch) {
  if (epoch) *epoch = 0;
  if (c->test) return m->has_test ? m->test.v[c->field] : NAN;
  double best = NAN;
  for (int64_t e = 0; e < m->n_epochs; e++) {
    const double v = m->valid[e].v[c->field];
    if (!isnan(v) && (isnan(best) || v > best)) {
      best = v;
      if (epoch) *epoch = e + 1;
    }
  }
  return best;
}
