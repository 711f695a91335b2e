/* `seqrec eval -c config.yaml`: the metrics of checkpoint score.checkpoint on the held-out
 * items of data.events (data.split: leave-one-out or temporal), with the popularity baseline
 * beside them, printed as the trainer prints them. score.checkpoint, not train.checkpoint: eval judges the model that
 * `seqrec score` would serve, and the two read the same key. Not for training (train.c). */
#include <string.h>

#include "comm/device.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timer.h"
#include "events/events.h"
#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "model/sasrec.h"
#include "model/vocab.h"
#include "scorer/state.h"
#include "trainer/dataset.h"
#include "trainer/eval.h"
#include "trainer/evaluate.h"

typedef struct {
  const sr_comm *comm;
  sr_config cfg;
  sr_model_dims dims;
  sr_train_state state;
  sr_events_shard shard;
  sr_dataset ds;
  int ds_made;
  sr_kernels k;
  sr_model m;
  int model_made;
} eval_job;

static sr_status choose_backend(eval_job *e) {
  int gpu = -1;
  TRY(sr_device_choose(e->cfg.runtime.device, e->comm->local_rank, &gpu));
  TRY(kernels_init(&e->k, gpu, e->cfg.runtime.threads));
  return kernels_set_bf16(&e->k, e->cfg.train.precision == SR_PRECISION_BF16);
}

/* The rank's part: config, checkpoint header, its shard, the model with the checkpoint's
 * weights. The model runs batches of train.batch_size, as in training, so a finished run's
 * test line comes out the same bits on the same number of ranks. */
static sr_status eval_setup_local(eval_job *e, int argc, char **argv) {
  sr_config *cfg = &e->cfg;
  TRY(sr_config_from_args(cfg, argc, argv));
  const char *where = cfg->source[0] ? cfg->source : "configuration";
  if (!cfg->data.events[0])
    return sr_error(SR_EINVAL, "%s: data.events is not set: name the events.h5 to evaluate on",
                    where);
  if (!cfg->score.checkpoint[0])
    return sr_error(SR_EINVAL, "%s: score.checkpoint is not set: name the checkpoint to evaluate",
                    where);
  sr_status st = sr_checkpoint_read_header(cfg->score.checkpoint, &e->dims, &e->state);
  if (st != SR_OK) {
    sr_error_context("score.checkpoint");
    return st;
  }
  st = sr_events_shard_read(cfg->data.events, e->comm->rank, e->comm->size, &e->shard);
  if (st != SR_OK) {
    sr_error_context("data.events");
    return st;
  }
  if (e->shard.n_items != e->dims.n_items)
    return sr_error(SR_EINVAL, "%s has %lld items, checkpoint %s %d: evaluate a checkpoint on "
                    "the data it was trained on (data.events, score.checkpoint)",
                    cfg->data.events, (long long)e->shard.n_items, cfg->score.checkpoint,
                    e->dims.n_items);
  st = sr_vocab_check_same(cfg->score.checkpoint, cfg->data.events);
  if (st != SR_OK) return st;
  if (e->state.events_fingerprint[0] &&
      strcmp(e->state.events_fingerprint, e->shard.fingerprint) != 0)
    sr_warn("%s is not the data %s was trained on (fingerprint %s, trained on %s): its held-out "
            "items may have been training items, so the metrics can flatter the model",
            cfg->data.events, cfg->score.checkpoint, e->shard.fingerprint,
            e->state.events_fingerprint);
  if (!e->state.finished)
    sr_warn("%s is from a run that has not finished (step %lld): evaluating its latest weights",
            cfg->score.checkpoint, (long long)e->state.step);
  TRY(choose_backend(e));
  TRY(sr_model_create(&e->m, &e->k, &e->dims, 0.0f, cfg->train.batch_size, 0));
  e->model_made = 1;
  st = sr_checkpoint_read(cfg->score.checkpoint, &e->m, &e->k, 0, NULL);
  if (st != SR_OK) {
    sr_error_context("score.checkpoint");
    return st;
  }
  return scorer_model_content_load(&e->m, &e->k, cfg->data.events);
}

static void metrics_print(const char *what, const sr_metrics *m) {
  sr_info("%-10s HR@10 %.4f  NDCG@10 %.4f  MRR %.4f  | sampled-100: HR@10 %.4f  NDCG@10 %.4f  "
          "(%lld users)", what, m->hr10, m->ndcg10, m->mrr, m->sampled_hr10, m->sampled_ndcg10,
          (long long)m->users);
}

static sr_status eval_run(eval_job *e) {
  const sr_config *cfg = &e->cfg;
  const uint64_t seed = cfg->train.seed;
  const int n_items = e->dims.n_items;
  sr_metrics pop_valid, valid, pop_test, test;
  /* The dataset's windows use the checkpoint's max_len: the held-out inputs must be what the
   * model was trained to read. */
  const sr_dataset_split split = {.temporal = cfg->data.split == SR_SPLIT_TEMPORAL,
                                  .cut_time = cfg->data.split_time};
  TRY(sr_dataset_build_split(&e->ds, &e->shard, e->dims.max_len, &split, e->comm));
  e->ds_made = 1;
  if (split.temporal)
    sr_info("temporal split at %lld: test = each user's first event at or after it; %lld users, "
            "%lld cold users (no event before it) left out", (long long)split.cut_time,
            (long long)e->ds.warm_test_users, (long long)e->ds.cold_users);
  sr_info("eval: %s (step %lld, epoch %lld) on %s: %lld users, %d items, %d rank%s",
          cfg->score.checkpoint, (long long)e->state.step, (long long)e->state.epoch,
          cfg->data.events, (long long)e->shard.n_users, n_items, e->comm->size,
          e->comm->size > 1 ? "s" : "");
  TRY(sr_evaluate_popularity(&e->ds, n_items, SR_HOLDOUT_VALID, seed, e->comm, &pop_valid));
  TRY(sr_evaluate_model(&e->m, &e->k, &e->ds, SR_HOLDOUT_VALID, seed, e->comm, &valid));
  TRY(sr_evaluate_popularity(&e->ds, n_items, SR_HOLDOUT_TEST, seed, e->comm, &pop_test));
  TRY(sr_evaluate_model(&e->m, &e->k, &e->ds, SR_HOLDOUT_TEST, seed, e->comm, &test));
  metrics_print("pop-valid", &pop_valid);
  metrics_print("valid", &valid);
  metrics_print("pop-test", &pop_test);
  metrics_print("test", &test);
  return SR_OK;
}

sr_status trainer_eval_main(const sr_comm *comm, int argc, char **argv) {
  static eval_job e; /* large (paths in the config): not on the stack */
  memset(&e, 0, sizeof e);
  e.comm = comm;
  const double start = sr_time_now();
  sr_status st = sr_comm_agree(comm, eval_setup_local(&e, argc, argv));
  if (st == SR_OK) st = eval_run(&e);
  char took[32];
  sr_format_duration(sr_time_now() - start, took, sizeof took);
  if (st == SR_OK) sr_info("eval: ok (%s)", took);
  if (e.ds_made) sr_dataset_free(&e.ds);
  if (e.model_made) sr_model_destroy(&e.m, &e.k);
  kernels_close(&e.k);
  sr_events_shard_free(&e.shard);
  return st;
}
