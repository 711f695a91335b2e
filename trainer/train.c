/* The training loop; see train.h. One step: this rank's windows of the global batch, forward,
 * loss (normalised by the global target count, so summing gradients over ranks gives the global
 * mean), backward, all-reduce, clip, AdamW. */
#include "trainer/train.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm/device.h"
#include "comm/grad_reduce.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/path.h"
#include "core/rng.h"
#include "core/timer.h"
#include "events/events.h"
#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "model/checkpoint_remap.h"
#include "model/vocab.h"
#include "model/sasrec.h"
#include "trainer/dataset.h"
#include "trainer/evaluate.h"

#define SR_STREAM_NEGATIVES 0x6e65670000000000ull

typedef struct {
  const sr_comm *comm;
  sr_config cfg;
  char *config_yaml;
  sr_events_shard shard;
  sr_vocab vocab;        /* raw ids of data.events' items: kept in every checkpoint */
  sr_dataset ds;
  sr_kernels k;
  sr_grad_reduce reduce; /* sums m->grads over ranks wherever the backend keeps them */
  sr_model m;
  sr_train_state state;
  int64_t steps_per_epoch;
  int64_t global_batch;
  sr_lr_schedule schedule;
  /* host buffers of one step */
  int64_t *windows;      /* [global_batch] local windows of the step */
  int32_t *step_inputs;  /* [global_batch, P] this rank's windows of the step */
  int32_t *step_targets; /* [global_batch, P] */
  int32_t *inputs;       /* [B, T] one micro-batch, cut to its longest window */
  int32_t *targets;      /* [B, T] */
  int32_t *negatives;    /* [B, T, K] (K = 1 for bce) */
  double *neg_cdf;       /* [V] sampling distribution of sampled_ce (popularity^0.75) */
  /* backend buffers */
  int32_t *targets_dev;
  int32_t *negatives_dev;
  float *logq_dev;       /* [V] */
  float *best_params;    /* host [n_params]: weights of the best validation so far */
  FILE *metrics;         /* rank 0: metrics.jsonl beside the checkpoint */
  int resumed;           /* the state came from train.checkpoint */
  int failed_together;   /* the error returned is every rank's (see trainer_train_main) */
  int64_t nonfinite_in_row; /* skipped steps since the last finite one (not checkpointed) */
  /* test-only faults, see test_faults_read */
  int fail_rank;         /* -1: none */
  int64_t fail_step;
  const char *nan_steps; /* "3,4,5" or NULL */
} trainer;

/* Test-only faults (tests/rank_*.sh, tests/nonfinite_*.sh), read once at start:
 * SEQREC_TEST_FAIL_RANK=r with SEQREC_TEST_FAIL_STEP=s makes rank r return an error at step s,
 * alone, as a rank whose device or disk fails would; SEQREC_TEST_NAN_STEPS=3,4,5 puts a NaN
 * into the last rank's gradient before the all-reduce of those steps. */
static void test_faults_read(trainer *t) {
  const char *rank = getenv("SEQREC_TEST_FAIL_RANK"), *step = getenv("SEQREC_TEST_FAIL_STEP");
  t->fail_rank = rank && step ? atoi(rank) : -1;
  t->fail_step = step ? strtoll(step, NULL, 10) : 0;
  t->nan_steps = getenv("SEQREC_TEST_NAN_STEPS");
}

/* Whether step is in a comma-separated list of numbers. */
static int step_listed(const char *list, int64_t step) {
  for (const char *p = list; p && *p;) {
    char *end;
    const long long s = strtoll(p, &end, 10);
    if (end == p) return 0;
    if (s == step) return 1;
    p = *end == ',' ? end + 1 : end;
  }
  return 0;
}

static int negatives_per_position(const sr_config *cfg) {
  if (cfg->train.loss == SR_LOSS_BCE) return 1;
  if (cfg->train.loss == SR_LOSS_SAMPLED_CE) return cfg->train.negatives;
  return 0;
}

static void metrics_path(const char *ckpt, char *buf, size_t size) {
  const char *slash = strrchr(ckpt, '/');
  if (slash)
    snprintf(buf, size, "%.*s/metrics.jsonl", (int)(slash - ckpt), ckpt);
  else
    snprintf(buf, size, "metrics.jsonl");
}

/* /items/content of data.events for model.item_content (required then). */
static sr_status content_read(const sr_config *cfg, int64_t n_items, int *dim, float **content) {
  sr_status st = sr_events_read_content(cfg->data.events, n_items, dim, content);
  if (st != SR_OK) {
    sr_error_context("data.events, model.item_content");
    return st;
  }
  if (*dim == 0)
    return sr_error(SR_EINVAL, "model.item_content is true but %s has no /items/content: attach "
                    "item vectors with `seqrec import --items FILE`, or set model.item_content: "
                    "false", cfg->data.events);
  return SR_OK;
}

static sr_status choose_backend(trainer *t) {
  int gpu = -1;
  sr_status st = sr_device_choose(t->cfg.runtime.device, t->comm->local_rank, &gpu);
  if (st == SR_OK) st = kernels_init(&t->k, gpu, t->cfg.runtime.threads);
  if (st == SR_OK) st = kernels_set_bf16(&t->k, t->cfg.train.precision == SR_PRECISION_BF16);
  /* The reducer's set-up is collective: every rank goes on to it, or none does. */
  TRY(sr_comm_agree(t->comm, st));
  TRY(sr_grad_reduce_init(&t->reduce, t->comm, gpu));
  if (t->comm->size > 1) sr_info("gradients summed by %s", sr_grad_reduce_mode_name(t->reduce.mode));
  return SR_OK;
}

/* Popularity^0.75 over the training events of all ranks, as a cumulative table for sampling
 * and as log-probabilities for the logQ correction of sampled_ce. */
static sr_status negative_sampler_build(trainer *t) {
  const int64_t V = (int64_t)t->shard.n_items + 1;
  sr_status st = SR_OK;
  double *count = NULL;
  float *logq = NULL;
  TRY_GOTO(sr_alloc(&count, (size_t)V, sizeof *count, "item counts"));
  TRY_GOTO(sr_alloc(&logq, (size_t)V, sizeof *logq, "sampling log-probabilities"));
  TRY_GOTO(sr_alloc(&t->neg_cdf, (size_t)V, sizeof *t->neg_cdf, "sampling table"));
  for (int64_t u = 0; u < t->ds.n_users; u++) {
    const int32_t *h = t->shard.item + t->shard.offset[u];
    for (int64_t j = 0; j < t->ds.train_len[u]; j++) count[h[j]] += 1.0;
  }
  TRY_GOTO(sr_comm_allreduce_sum_f64(t->comm, count, (size_t)V));
  double total = 0;
  for (int64_t i = 1; i < V; i++) total += pow(count[i] + 1.0, 0.75);
  double acc = 0;
  for (int64_t i = 1; i < V; i++) {
    const double q = pow(count[i] + 1.0, 0.75) / total;
    acc += q;
    t->neg_cdf[i] = acc;
    logq[i] = (float)log(q);
  }
  TRY_GOTO(t->k.alloc(&t->k, &t->logq_dev, (size_t)V * sizeof *logq, "sampling log-probabilities"));
  TRY_GOTO(t->k.upload(&t->k, t->logq_dev, logq, (size_t)V * sizeof *logq));
cleanup:
  sr_free(count);
  sr_free(logq);
  return st;
}

static int32_t sample_popular(const double *cdf, int64_t V, sr_rng *rng) {
  const double x = sr_rng_uniform_f64(rng) * cdf[V - 1];
  int64_t lo = 1, hi = V - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (cdf[mid] > x) hi = mid; else lo = mid + 1;
  }
  return (int32_t)lo;
}

/* Negatives of n windows cut to T positions ([n, T, K] for targets [n, T]). Each window draws
 * from its own stream, a function of (seed, step, global window), so neither the world size,
 * nor the split into micro-batches, nor a resume changes a single draw. */
static void negatives_draw(trainer *t, const int64_t *windows, int64_t n, int T, int K) {
  const int64_t V = (int64_t)t->shard.n_items + 1;
  const uint64_t n_global = (uint64_t)sr_dataset_global_windows(&t->ds);
  const int64_t first = t->ds.rank_windows[t->ds.rank];
  for (int64_t i = 0; i < n; i++) {
    sr_rng rng;
    sr_rng_init(&rng, t->cfg.train.seed,
                SR_STREAM_NEGATIVES + (uint64_t)t->state.step * n_global +
                    (uint64_t)(first + windows[i]));
    for (int p = 0; p < T; p++) {
      const int64_t r = i * T + p;
      for (int j = 0; j < K; j++) {
        int32_t neg = 0;
        if (t->targets[r] != 0) {
          if (t->cfg.train.loss == SR_LOSS_BCE)
            do neg = 1 + (int32_t)sr_rng_below(&rng, (uint32_t)(V - 1));
            while (neg == t->targets[r] && V > 2);
          else
            neg = sample_popular(t->neg_cdf, V, &rng);
        }
        t->negatives[r * K + j] = neg;
      }
    }
  }
}

static sr_status trainer_setup(trainer *t, int argc, char **argv) {
  sr_config *cfg = &t->cfg;
  TRY(sr_config_from_args(cfg, argc, argv));
  if (!cfg->data.events[0])
    return sr_error(SR_EINVAL, "%s: data.events is not set: name the events.h5 to train on",
                    cfg->source[0] ? cfg->source : "configuration");
  if (!cfg->train.checkpoint[0])
    return sr_error(SR_EINVAL, "%s: train.checkpoint is not set",
                    cfg->source[0] ? cfg->source : "configuration");
  TRY(sr_config_to_yaml(cfg, &t->config_yaml));
  sr_config_print(cfg);
  char dev[128];
  sr_device_describe(0, dev, sizeof dev);
  sr_info("ranks %d, GPUs visible %d (%s), CUDA built %s", t->comm->size, sr_device_count(), dev,
          sr_device_cuda_built() ? "yes" : "no");
  TRY(choose_backend(t));

  sr_status st = sr_events_shard_read(cfg->data.events, t->comm->rank, t->comm->size, &t->shard);
  if (st != SR_OK) {
    sr_error_context("data.events");
    return st;
  }
  st = sr_vocab_read(cfg->data.events, &t->vocab);
  if (st != SR_OK) {
    sr_error_context("data.events");
    return st;
  }
  const int64_t since = cfg->data.train_since;
  const sr_dataset_split split = {.temporal = cfg->data.split == SR_SPLIT_TEMPORAL,
                                  .cut_time = cfg->data.split_time,
                                  .since = since != SR_SPLIT_TIME_UNSET, .since_time = since};
  TRY(sr_dataset_build_split(&t->ds, &t->shard, cfg->data.max_len, &split, t->comm));
  if (split.since)
    sr_info("training on events from %lld on (data.train_since), and validating the users "
            "whose validation event is from then on; the earlier events are context",
            (long long)since);
  if (split.temporal)
    sr_info("temporal split at %lld: training on events before it; %lld users have a test "
            "event after it, %lld cold users (no event before it) are left out of the metrics",
            (long long)split.cut_time, (long long)t->ds.warm_test_users,
            (long long)t->ds.cold_users);
  t->global_batch = (int64_t)cfg->train.batch_size * t->comm->size;
  t->steps_per_epoch = sr_dataset_steps_per_epoch(&t->ds, t->global_batch);
  if (t->steps_per_epoch == 0)
    return sr_error(SR_EINVAL, "%s: no user has two training events%s: nothing to train on",
                    cfg->data.events, split.since ? " with the later one at or after "
                    "data.train_since" : "");
  sr_info("data: %lld users, %lld items, %lld events; %lld training windows of up to %d, "
          "%lld steps per epoch (global batch %lld)", (long long)t->shard.n_users,
          (long long)t->shard.n_items, (long long)t->shard.n_events,
          (long long)sr_dataset_global_windows(&t->ds), cfg->data.max_len,
          (long long)t->steps_per_epoch, (long long)t->global_batch);

  int content_dim = 0;
  float *content = NULL; /* [n_items + 1, content_dim] */
  if (cfg->model.item_content) TRY(content_read(cfg, t->shard.n_items, &content_dim, &content));
  const sr_model_dims dims = {.n_items = (int)t->shard.n_items, .max_len = cfg->data.max_len,
                              .d_model = cfg->model.d_model, .n_layers = cfg->model.n_layers,
                              .n_heads = cfg->model.n_heads, .d_ff = cfg->model.d_ff,
                              .content_dim = content_dim};
  const int K = negatives_per_position(cfg);
  sr_status st_model = sr_model_create(&t->m, &t->k, &dims, cfg->model.dropout,
                                       cfg->train.batch_size, K);
  if (st_model == SR_OK && content) st_model = sr_model_set_content(&t->m, &t->k, content);
  sr_free(content);
  TRY(st_model);
  if (content_dim > 0)
    sr_info("model: item content from %s: %d dims per item, projected into the item table",
            cfg->data.events, content_dim);
  sr_info("model: %lld parameters (%.1f MiB per flat buffer)", (long long)t->m.n_params,
          (double)t->m.n_params * 4.0 / 1048576.0);

  const size_t BP = (size_t)cfg->train.batch_size * (size_t)cfg->data.max_len;
  TRY(sr_alloc(&t->windows, (size_t)t->global_batch, sizeof *t->windows, "batch windows"));
  const size_t GP = (size_t)t->global_batch * (size_t)cfg->data.max_len;
  TRY(sr_alloc(&t->step_inputs, GP, sizeof *t->step_inputs, "step inputs"));
  TRY(sr_alloc(&t->step_targets, GP, sizeof *t->step_targets, "step targets"));
  TRY(sr_alloc(&t->inputs, BP, sizeof *t->inputs, "batch inputs"));
  TRY(sr_alloc(&t->targets, BP, sizeof *t->targets, "batch targets"));
  TRY(sr_alloc(&t->best_params, (size_t)t->m.n_params, sizeof *t->best_params, "best weights"));
  TRY(t->k.alloc(&t->k, &t->targets_dev, BP * sizeof(int32_t), "batch targets"));
  if (K > 0) {
    TRY(sr_alloc(&t->negatives, BP * (size_t)K, sizeof *t->negatives, "negatives"));
    TRY(t->k.alloc(&t->k, &t->negatives_dev, BP * (size_t)K * sizeof(int32_t), "negatives"));
    TRY(negative_sampler_build(t));
  }

  sr_lr_kind kind = SR_LR_CONSTANT;
  switch (cfg->train.schedule) {
    case SR_SCHEDULE_CONSTANT: kind = SR_LR_CONSTANT; break;
    case SR_SCHEDULE_LINEAR: kind = SR_LR_LINEAR; break;
    case SR_SCHEDULE_COSINE: kind = SR_LR_COSINE; break;
  }
  t->schedule = (sr_lr_schedule){.kind = kind,
                                 .base_lr = cfg->train.lr, .min_lr = 0.0,
                                 .warmup_steps = cfg->train.warmup_steps,
                                 .total_steps = (int64_t)cfg->train.epochs * t->steps_per_epoch};
  return SR_OK;
}

/* A checkpoint to resume must hold the model this configuration describes. The message names
 * the keys, since they, not the file, are what a user changes. */
static sr_status checkpoint_config_check(const trainer *t, const sr_model_dims *saved) {
  const sr_model_dims *d = &t->m.dims;
  const struct { const char *key; int saved, now; } keys[] = {
      {"data.max_len", saved->max_len, d->max_len},
      {"model.d_model", saved->d_model, d->d_model},
      {"model.n_layers", saved->n_layers, d->n_layers},
      {"model.n_heads", saved->n_heads, d->n_heads},
      {"model.d_ff", saved->d_ff, d->d_ff},
      {"number of items", saved->n_items, d->n_items},
      {"model.item_content dimension", saved->content_dim, d->content_dim}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (keys[i].saved != keys[i].now)
      return sr_error(SR_EINVAL, "%s: the checkpoint has %s %d, the configuration %d",
                      t->cfg.train.checkpoint, keys[i].key, keys[i].saved, keys[i].now);
  return SR_OK;
}

/* Resume from train.checkpoint when it exists, else start from model.init_from or at random. */
static sr_status trainer_start_state(trainer *t) {
  const sr_config *cfg = &t->cfg;
  memset(&t->state, 0, sizeof t->state);
  t->state.seed = cfg->train.seed;
  t->state.world_size = t->comm->size;
  t->state.best_metric = -1.0;
  snprintf(t->state.events_fingerprint, sizeof t->state.events_fingerprint, "%s",
           t->shard.fingerprint);
  if (access(cfg->train.checkpoint, F_OK) == 0) {
    sr_model_dims dims;
    sr_train_state saved;
    sr_status st = sr_checkpoint_read_header(cfg->train.checkpoint, &dims, &saved);
    if (st != SR_OK) {
      sr_error_context("train.checkpoint, resuming: point it elsewhere to start a new run");
      return st;
    }
    if (strcmp(saved.events_fingerprint, t->shard.fingerprint) != 0)
      return sr_error(SR_EINVAL,
                      "%s: this checkpoint was trained on other data (fingerprint %s, %s has %s): "
                      "point train.checkpoint elsewhere to start a new run",
                      cfg->train.checkpoint, saved.events_fingerprint, cfg->data.events,
                      t->shard.fingerprint);
    if (saved.seed != cfg->train.seed)
      return sr_error(SR_EINVAL, "%s: this checkpoint was trained with seed %llu, the config says "
                      "train.seed %llu", cfg->train.checkpoint, (unsigned long long)saved.seed,
                      (unsigned long long)cfg->train.seed);
    st = checkpoint_config_check(t, &dims);
    if (st != SR_OK) {
      sr_error_context("point train.checkpoint elsewhere to start a new run");
      return st;
    }
    if (saved.world_size != t->comm->size)
      sr_warn("%s was written by %lld ranks, resuming on %d: the global batch changes, so the "
              "run will not repeat an uninterrupted one bit for bit", cfg->train.checkpoint,
              (long long)saved.world_size, t->comm->size);
    st = sr_checkpoint_read(cfg->train.checkpoint, &t->m, &t->k, 1, t->best_params);
    if (st != SR_OK) {
      sr_error_context("train.checkpoint, resuming");
      return st;
    }
    t->state = saved;
    t->state.world_size = t->comm->size;
    t->resumed = 1;
    sr_info("resuming %s at step %lld (epoch %lld)%s", cfg->train.checkpoint,
            (long long)saved.step, (long long)saved.epoch,
            saved.finished ? ": training had finished" : "");
    return SR_OK;
  }
  TRY(sr_model_init_weights(&t->m, &t->k, cfg->train.seed));
  if (cfg->model.init_from[0]) {
    sr_vocab_match_counts c;
    const sr_status st = sr_checkpoint_read_remapped(cfg->model.init_from, &t->m, &t->k,
                                                     &t->vocab, cfg->model.init_optimizer, &c,
                                                     NULL);
    if (st != SR_OK) {
      sr_error_context("model.init_from");
      return st;
    }
    sr_info("weights%s from %s: %lld items kept (%lld under a new id), %lld new (%s), "
            "%lld dropped", cfg->model.init_optimizer ? " and Adam moments" : "",
            cfg->model.init_from, (long long)c.kept, (long long)c.moved, (long long)c.added,
            t->m.dims.content_dim > 0 ? "from their content" : "random rows",
            (long long)c.dropped);
  }
  return t->k.download(&t->k, t->best_params, t->m.params, (size_t)t->m.n_params * sizeof(float));
}

/* Rank 0 opens metrics.jsonl for appending after dropping what the run will write again: lines
 * after the checkpoint's step when resuming (written after the last checkpoint by a run that
 * was cut short), every line when starting afresh. So the file reads like one uninterrupted run.
 * A finished run that is run again reports on stdout only, unless its test lines are missing. */
static sr_status metrics_open(trainer *t) {
  if (t->comm->rank != 0) return SR_OK;
  char path[SR_PATH_MAX], tmp[SR_PATH_MAX + 8];
  metrics_path(t->cfg.train.checkpoint, path, sizeof path);
  if (t->state.finished) {
    /* A run killed between its final checkpoint and its test lines gets them now. */
    FILE *in = fopen(path, "r");
    int has_test = 0;
    char *line = NULL;
    size_t cap = 0;
    while (in && !has_test && getline(&line, &cap, in) > 0)
      has_test = strstr(line, "\"kind\":\"test\"") != NULL;
    free(line);
    if (in) fclose(in);
    if (has_test) return SR_OK;
    t->metrics = fopen(path, "a");
    return t->metrics ? SR_OK : sr_error(SR_EIO, "%s: cannot open for appending: %s", path,
                                         strerror(errno));
  }
  const int64_t keep = t->resumed ? t->state.step : -1; /* lines with step <= keep stay */
  FILE *in = fopen(path, "r");
  if (in) {
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
      fclose(in);
      return sr_error(SR_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    char *line = NULL; /* getline's buffer: malloc'd by libc */
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
      const char *step = strstr(line, "\"step\":");
      if (step ? strtoll(step + 7, NULL, 10) <= keep : keep >= 0) fputs(line, out);
    }
    free(line);
    const int read_error = ferror(in);
    fclose(in);
    if (fclose(out) != 0 || read_error || rename(tmp, path) != 0) {
      const int err = errno;
      remove(tmp);
      return sr_error(SR_EIO, "%s: cannot rewrite it to drop the steps after the checkpoint: %s",
                      path, strerror(err));
    }
  }
  t->metrics = fopen(path, "a");
  if (!t->metrics)
    return sr_error(SR_EIO, "%s: cannot open for appending: %s", path, strerror(errno));
  return SR_OK;
}

/* x as a JSON number, or null for NaN and infinities (a skipped step's), which JSON cannot
 * hold: metrics.jsonl stays readable by any JSON reader. */
static const char *json_number(char *buf, size_t size, int digits, double x) {
  if (!isfinite(x)) return "null";
  snprintf(buf, size, "%.*g", digits, x);
  return buf;
}

static void metrics_log(trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void metrics_log(trainer *t, const char *fmt, ...) {
  if (!t->metrics) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(t->metrics, fmt, ap);
  va_end(ap);
  fputc('\n', t->metrics);
  fflush(t->metrics);
}

static void metrics_print(trainer *t, const char *what, const sr_metrics *m, int64_t epoch) {
  sr_info("%-10s HR@10 %.4f  NDCG@10 %.4f  MRR %.4f  | sampled-100: HR@10 %.4f  NDCG@10 %.4f  "
          "(%lld users)", what, m->hr10, m->ndcg10, m->mrr, m->sampled_hr10, m->sampled_ndcg10,
          (long long)m->users);
  metrics_log(t, "{\"kind\":\"%s\",\"epoch\":%lld,\"step\":%lld,\"hr10\":%.6f,\"ndcg10\":%.6f,"
              "\"mrr\":%.6f,\"sampled_hr10\":%.6f,\"sampled_ndcg10\":%.6f,\"users\":%lld}",
              what, (long long)epoch, (long long)t->state.step, m->hr10, m->ndcg10, m->mrr,
              m->sampled_hr10, m->sampled_ndcg10, (long long)m->users);
}

/* Every rank applies the same update to the same weights only if the all-reduce hands every
 * rank the same bits, which MPI recommends but does not promise. Checked where it matters, before
 * rank 0 writes the weights that stand for all of them: a 64-bit FNV-1a hash per rank. */
static sr_status replicas_check(trainer *t) {
  if (t->comm->size == 1) return SR_OK;
  const size_t bytes = (size_t)t->m.n_params * sizeof(float);
  float *host = NULL;
  int64_t *hashes = NULL;
  sr_status st = SR_OK;
  TRY_GOTO(sr_alloc(&host, (size_t)t->m.n_params, sizeof *host, "weights to compare"));
  TRY_GOTO(sr_alloc(&hashes, (size_t)t->comm->size, sizeof *hashes, "weight hashes"));
  TRY_GOTO(t->k.download(&t->k, host, t->m.params, bytes));
  uint64_t h = 0xcbf29ce484222325ull;
  const unsigned char *b = (const unsigned char *)host;
  for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  TRY_GOTO(sr_comm_allgather_i64(t->comm, (int64_t)h, hashes));
  for (int r = 1; r < t->comm->size; r++)
    if (hashes[r] != hashes[0])
      FAIL_GOTO(SR_EINTERNAL, "step %lld: rank %d holds other weights than rank 0: the gradient "
                "all-reduce did not give every rank the same sum", (long long)t->state.step, r);
cleanup:
  sr_free(host);
  sr_free(hashes);
  return st;
}

static sr_status checkpoint_save(trainer *t) {
  TRY(replicas_check(t));
  sr_status st = SR_OK;
  if (t->comm->rank == 0)
    st = sr_checkpoint_write_vocab(t->cfg.train.checkpoint, &t->m, &t->k, &t->state,
                                   t->config_yaml, t->best_params, &t->vocab);
  st = sr_comm_agree(t->comm, st);
  t->failed_together = st != SR_OK;
  return st;
}

/* Forward, loss and backward of n windows (rows [first, first + n) of the step's windows),
 * adding their gradient into m->grads and their share of the loss into *loss. `micro` numbers
 * the micro-batch within the step so that each draws its own dropout masks. */
static sr_status micro_batch_run(trainer *t, int64_t first, int64_t n, int micro,
                                 double global_targets, double *loss) {
  const sr_config *cfg = &t->cfg;
  const sr_kernels *k = &t->k;
  sr_model *m = &t->m;
  const int P = cfg->data.max_len, C = m->dims.d_model, V = m->dims.n_items + 1;
  const int K = negatives_per_position(cfg);
  const int32_t *in = t->step_inputs + first * P, *tg = t->step_targets + first * P;
  /* Cut the batch to its longest window: positions count from the end, so this changes no
   * number, only the work on padding. */
  int T = 1;
  for (int64_t i = 0; i < n; i++)
    for (int p = 0; p < P; p++)
      if (in[i * P + p] != 0) {
        if (P - p > T) T = P - p;
        break;
      }
  for (int64_t i = 0; i < n; i++) {
    memcpy(t->inputs + i * T, in + i * P + (P - T), (size_t)T * sizeof(int32_t));
    memcpy(t->targets + i * T, tg + i * P + (P - T), (size_t)T * sizeof(int32_t));
  }
  /* Micro-batches of a step get distinct dropout steps; a step has at most world of them. */
  const sr_model_train_step ts = {
      .seed = cfg->train.seed,
      .step = (uint64_t)t->state.step * (uint64_t)t->comm->size + (uint64_t)micro,
      .rank = t->comm->rank};
  const int N = (int)n * T;
  double part = 0.0;
  TRY(sr_model_forward(m, k, t->inputs, (int)n, T, &ts));
  TRY(k->upload(k, t->targets_dev, t->targets, (size_t)N * sizeof(int32_t)));
  TRY(k->zero(k, m->act.d_hidden, (size_t)N * C * sizeof(float)));
  if (cfg->train.loss == SR_LOSS_CE) {
    TRY(k->loss_ce(k, &part, NULL, m->act.d_hidden, sr_model_items_grad(m), m->act.hidden,
                   t->targets_dev, sr_model_items(m), N, C, V, global_targets, m->loss_block_rows, m->act.scratch,
                   m->act.scratch_bytes));
  } else {
    negatives_draw(t, t->windows + first, n, T, K);
    TRY(k->upload(k, t->negatives_dev, t->negatives, (size_t)N * K * sizeof(int32_t)));
    if (cfg->train.loss == SR_LOSS_BCE)
      TRY(k->loss_bce(k, &part, NULL, m->act.d_hidden, sr_model_items_grad(m), m->act.hidden,
                      t->targets_dev, t->negatives_dev, sr_model_items(m), N, C, V,
                      global_targets));
    else
      TRY(k->loss_sampled_ce(k, &part, NULL, m->act.d_hidden, sr_model_items_grad(m),
                             m->act.hidden, t->targets_dev, t->negatives_dev, t->logq_dev,
                             sr_model_items(m), N, C, V, K,
                             global_targets, m->loss_block_rows, m->act.scratch,
                             m->act.scratch_bytes));
  }
  *loss += part;
  return sr_model_backward(m, k, (int)n, T, &ts);
}

/* One optimizer step on the global batch `step_in_epoch` of `epoch`. This rank owns a varying
 * share of the global batch (the order is global, the data is sharded), so its windows run in
 * micro-batches of train.batch_size; their gradients add up in m->grads. */
static sr_status train_step(trainer *t, int64_t epoch, int64_t step_in_epoch, double *loss_out,
                            int64_t *targets_out, double *norm_out) {
  const sr_config *cfg = &t->cfg;
  const sr_kernels *k = &t->k;
  sr_model *m = &t->m;
  const int64_t B = cfg->train.batch_size;
  if (t->comm->rank == t->fail_rank && t->state.step + 1 == t->fail_step)
    return sr_error(SR_EINTERNAL, "step %lld: failing on purpose (SEQREC_TEST_FAIL_RANK=%d, "
                    "SEQREC_TEST_FAIL_STEP=%lld)", (long long)t->fail_step, t->fail_rank,
                    (long long)t->fail_step);
  const int64_t n = sr_dataset_batch(&t->ds, cfg->train.seed, epoch, step_in_epoch,
                                     t->global_batch, t->windows);
  int64_t global_targets =
      n ? sr_dataset_fill(&t->ds, t->windows, n, t->step_inputs, t->step_targets) : 0;
  TRY(sr_comm_allreduce_sum_i64(t->comm, &global_targets, 1));

  TRY(sr_model_zero_grads(m, k));
  double loss = 0.0;
  for (int64_t first = 0, micro = 0; first < n; first += B, micro++)
    TRY(micro_batch_run(t, first, n - first < B ? n - first : B, (int)micro,
                        (double)global_targets, &loss));
  /* Sum over ranks: each rank's gradient is already divided by the global target count. */
  TRY(k->synchronize(k));
  if (t->comm->rank == t->comm->size - 1 && step_listed(t->nan_steps, t->state.step + 1)) {
    const float nan = NAN;
    TRY(k->upload(k, m->grads, &nan, sizeof nan));
  }
  TRY(sr_grad_reduce_sum_f32(&t->reduce, m->grads, (size_t)m->n_params));
  TRY(sr_comm_allreduce_sum_f64(t->comm, &loss, 1));
  double norm = 0.0;
  TRY(k->global_norm(k, &norm, m->grads, m->n_params));
  t->state.step++;
  *loss_out = loss;
  *targets_out = global_targets;
  *norm_out = norm;
  if (!isfinite(norm) || !isfinite(loss)) {
    t->state.skipped_steps++;
    t->nonfinite_in_row++;
    sr_warn("step %lld: non-finite loss or gradient; step skipped (%lld so far)",
            (long long)t->state.step, (long long)t->state.skipped_steps);
    return SR_OK;
  }
  t->nonfinite_in_row = 0;
  sr_adamw opt = {.lr = (float)kernel_lr_at(&t->schedule, t->state.step), .beta1 = 0.9f,
                  .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = cfg->train.weight_decay,
                  .step = t->state.step,
                  .grad_scale = (float)kernel_clip_scale(norm, cfg->train.grad_clip)};
  TRY(k->adamw_update(k, m->params, m->adam_m, m->adam_v, m->grads, m->n_decay, &opt));
  opt.weight_decay = 0.0f;
  return k->adamw_update(k, m->params + m->n_decay, m->adam_m + m->n_decay,
                         m->adam_v + m->n_decay, m->grads + m->n_decay,
                         m->n_params - m->n_decay, &opt);
}

/* After train.max_nonfinite_steps skipped steps in a row the run has diverged: more steps would
 * only skip too. Every rank judges the same all-reduced numbers, so all stop here together. */
static sr_status nonfinite_check(trainer *t) {
  const int limit = t->cfg.train.max_nonfinite_steps;
  if (limit == 0 || t->nonfinite_in_row < limit) return SR_OK;
  t->failed_together = 1;
  return sr_error(SR_EINVAL, "step %lld: the loss or gradient was not finite for %lld steps in a "
                  "row (steps %lld to %lld; train.max_nonfinite_steps %d): training diverged; "
                  "lower train.lr or raise train.warmup_steps. %s is left as it was",
                  (long long)t->state.step, (long long)t->nonfinite_in_row,
                  (long long)(t->state.step - t->nonfinite_in_row + 1), (long long)t->state.step,
                  limit, t->cfg.train.checkpoint);
}

static sr_status trainer_run(trainer *t) {
  const sr_config *cfg = &t->cfg;
  sr_metrics pop_valid, pop_test, valid, test;
  /* Re-running a stopped job with the same limit must not creep on by one step per run. */
  if (!t->state.finished && cfg->train.max_steps > 0 && t->state.step >= cfg->train.max_steps) {
    sr_info("%s is at step %lld and train.max_steps is %d: nothing to do (raise it, or set it "
            "to 0, to go on)", cfg->train.checkpoint, (long long)t->state.step,
            cfg->train.max_steps);
    return SR_OK;
  }
  TRY(sr_evaluate_popularity(&t->ds, t->m.dims.n_items, SR_HOLDOUT_VALID, cfg->train.seed,
                             t->comm, &pop_valid));
  metrics_print(t, "pop-valid", &pop_valid, t->state.epoch);

  const int64_t total_steps = (int64_t)cfg->train.epochs * t->steps_per_epoch;
  sr_info("%8s %6s %10s %10s %9s %11s %9s", "step", "epoch", "loss", "lr", "grad", "targets/s",
          "ETA");
  double window_start = sr_time_now(), last_log = window_start;
  int64_t window_targets = 0, window_steps = 0;
  int stop = 0;
  /* Where a resumed run picks up inside its epoch. Only a checkpoint of another world size (so
   * another number of steps per epoch) can put it outside the epoch; that resume is inexact
   * anyway (warned at start), so it goes on at the nearest end of the epoch. */
  int64_t first = t->state.step - t->state.epoch * t->steps_per_epoch;
  if (first < 0 || first > t->steps_per_epoch) {
    sr_warn("step %lld is not in epoch %lld at %lld steps per epoch: going on from the epoch's "
            "%s", (long long)t->state.step, (long long)t->state.epoch + 1,
            (long long)t->steps_per_epoch, first < 0 ? "start" : "end");
    first = first < 0 ? 0 : t->steps_per_epoch;
  }
  while (!t->state.finished && !stop && t->state.epoch < cfg->train.epochs) {
    const int64_t epoch = t->state.epoch;
    for (int64_t s = first; s < t->steps_per_epoch; s++) {
      double loss = 0.0, norm = 0.0;
      int64_t n_targets = 0;
      TRY(train_step(t, epoch, s, &loss, &n_targets, &norm));
      char loss_text[32], norm_text[32];
      metrics_log(t, "{\"kind\":\"train\",\"step\":%lld,\"epoch\":%lld,\"loss\":%s,"
                  "\"lr\":%.6g,\"grad_norm\":%s,\"targets\":%lld}",
                  (long long)t->state.step, (long long)epoch,
                  json_number(loss_text, sizeof loss_text, 17, loss),
                  kernel_lr_at(&t->schedule, t->state.step),
                  json_number(norm_text, sizeof norm_text, 6, norm), (long long)n_targets);
      TRY(nonfinite_check(t));
      window_targets += n_targets;
      window_steps++;
      const double now = sr_time_now();
      if (now - last_log >= 10.0 || s == t->steps_per_epoch - 1) {
        const double rate = (double)window_targets / (now - window_start);
        const double step_time = (now - window_start) / (double)window_steps;
        char eta[32];
        sr_format_duration(step_time * (double)(total_steps - t->state.step), eta, sizeof eta);
        sr_info("%8lld %6lld %10.4f %10.3g %9.3f %11.0f %9s", (long long)t->state.step,
                (long long)epoch + 1, loss, kernel_lr_at(&t->schedule, t->state.step), norm, rate,
                eta);
        last_log = now;
      }
      if (cfg->train.max_steps > 0 && t->state.step >= cfg->train.max_steps &&
          s + 1 < t->steps_per_epoch) {
        stop = 1;
        break;
      }
      /* A signal on any rank stops every rank after the same step. */
      int64_t signal_seen = sr_interrupt_signal();
      TRY(sr_comm_allreduce_sum_i64(t->comm, &signal_seen, 1));
      if (signal_seen) {
        stop = 2;
        break;
      }
    }
    if (stop) break;
    first = 0;
    t->state.epoch++;
    if (cfg->train.eval_every > 0 && t->state.epoch % cfg->train.eval_every == 0) {
      TRY(sr_evaluate_model(&t->m, &t->k, &t->ds, SR_HOLDOUT_VALID, cfg->train.seed, t->comm,
                            &valid));
      metrics_print(t, "valid", &valid, t->state.epoch);
      if (valid.ndcg10 > t->state.best_metric) {
        t->state.best_metric = valid.ndcg10;
        t->state.best_epoch = t->state.epoch;
        t->state.evals_since_best = 0;
        TRY(t->k.download(&t->k, t->best_params, t->m.params,
                          (size_t)t->m.n_params * sizeof(float)));
      } else if (cfg->train.patience > 0 &&
                 ++t->state.evals_since_best >= cfg->train.patience) {
        sr_info("early stop: validation NDCG@10 has not improved for %lld evaluations (best "
                "%.4f at epoch %lld)", (long long)t->state.evals_since_best,
                t->state.best_metric, (long long)t->state.best_epoch);
        break;
      }
    }
    if (cfg->train.max_steps > 0 && t->state.step >= cfg->train.max_steps) stop = 1;
    if (cfg->train.checkpoint_every > 0 && t->state.epoch % cfg->train.checkpoint_every == 0 &&
        !stop)
      TRY(checkpoint_save(t));
  }
  if (stop) {
    TRY(checkpoint_save(t));
    if (stop == 2) {
      t->failed_together = 1; /* every rank saw the signal in the same all-reduce */
      return sr_error(SR_EINTERRUPTED, "stopped by a signal after step %lld; %s is written: run "
                      "the same command again to resume", (long long)t->state.step,
                      cfg->train.checkpoint);
    }
    sr_info("stopped at step %lld (train.max_steps); run again to resume",
            (long long)t->state.step);
    return SR_OK;
  }
  if (!t->state.finished) {
    /* The best validated weights become the run's result; without any validation, the last. */
    if (t->state.best_metric >= 0)
      TRY(t->k.upload(&t->k, t->m.params, t->best_params, (size_t)t->m.n_params * sizeof(float)));
    t->state.finished = 1;
    TRY(checkpoint_save(t));
  }
  TRY(sr_evaluate_popularity(&t->ds, t->m.dims.n_items, SR_HOLDOUT_TEST, cfg->train.seed,
                             t->comm, &pop_test));
  TRY(sr_evaluate_model(&t->m, &t->k, &t->ds, SR_HOLDOUT_TEST, cfg->train.seed, t->comm, &test));
  metrics_print(t, "pop-test", &pop_test, t->state.epoch);
  metrics_print(t, "test", &test, t->state.epoch);
  return SR_OK;
}

static void trainer_free(trainer *t) {
  if (t->k.free) {
    if (t->targets_dev) t->k.free(&t->k, t->targets_dev);
    if (t->negatives_dev) t->k.free(&t->k, t->negatives_dev);
    if (t->logq_dev) t->k.free(&t->k, t->logq_dev);
    sr_model_destroy(&t->m, &t->k);
  }
  sr_grad_reduce_close(&t->reduce);
  kernels_close(&t->k);
  sr_dataset_free(&t->ds);
  sr_events_shard_free(&t->shard);
  sr_vocab_free(&t->vocab);
  sr_free(t->windows);
  sr_free(t->step_inputs);
  sr_free(t->step_targets);
  sr_free(t->inputs);
  sr_free(t->targets);
  sr_free(t->negatives);
  sr_free(t->neg_cdf);
  sr_free(t->best_params);
  sr_free(t->config_yaml);
  if (t->metrics) fclose(t->metrics);
}

sr_status trainer_train_main(const sr_comm *comm, int argc, char **argv) {
  static trainer t; /* large (paths in the config): not on the stack */
  memset(&t, 0, sizeof t);
  t.comm = comm;
  sr_interrupt_install();
  test_faults_read(&t);
  const double start = sr_time_now();
  sr_status st = trainer_setup(&t, argc, argv);
  st = sr_comm_agree(comm, st);
  if (st == SR_OK) st = sr_comm_agree(comm, trainer_start_state(&t));
  if (st == SR_OK && comm->rank == 0) {
    st = sr_path_make_parents(t.cfg.train.checkpoint);
    if (st == SR_OK) st = metrics_open(&t);
  }
  st = sr_comm_agree(comm, st);
  if (st == SR_OK) st = trainer_run(&t);
  /* A rank failing alone (its memory, device or disk) leaves the others waiting in the next
   * collective: it stops the whole job, naming itself and the cause. Failures that every rank
   * reached together (agreed on, or decided from all-reduced numbers) end normally. */
  if (st != SR_OK && comm->size > 1 && !t.failed_together)
    sr_comm_abort(comm, st, sr_error_message());
  char took[32];
  sr_format_duration(sr_time_now() - start, took, sizeof took);
  if (st == SR_OK)
    sr_info("train: ok (%s, %lld steps, %lld skipped)", took, (long long)t.state.step,
            (long long)t.state.skipped_steps);
  trainer_free(&t);
  return st;
}
