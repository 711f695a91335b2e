/* `seqrec score`: exact top-k recommendations for every selected user, written once to recs.h5.
 * Each rank scores the selected users of its own events shard (their full history: scoring is
 * for serving, nothing is held out) in rounds of whole batches, and writes its rows of each
 * round with one collective transfer; rank 0 renames the file into place once every rank has
 * succeeded. Not for metrics (trainer/eval_main.c) or checking a recs.h5 (recs_check.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "comm/device.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/path.h"
#include "core/sha256.h"
#include "core/timer.h"
#include "events/events.h"
#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "model/checkpoint_remap.h"
#include "model/vocab.h"
#include "model/sasrec.h"
#include "scorer/cli.h"
#include "scorer/recs.h"
#include "scorer/select.h"
#include "scorer/state.h"
#include "scorer/topk.h"
#include "scorer/topk_cuda.h"

/* Output rows held per round, at most: a round's items and scores take about this much. */
#define SCORE_ROUND_BYTES ((size_t)64 << 20)
#define SCORE_ROUND_GROUPS_MAX 16
/* The GPU's top-k wants thousands of users per call to fill the device. */
#define SCORE_ROUND_GROUPS_MAX_GPU 512

/* Test-only: seconds to sleep after the first round is written to PATH.tmp, so that a test
 * can kill the scorer while the file is half written (tests/score_kill.sh). */
#define SCORE_PAUSE_ENV "SEQREC_TEST_SCORE_PAUSE"

typedef struct {
  const sr_comm *comm;
  sr_config cfg;
  char *config_yaml;
  sr_model_dims dims;      /* the checkpoint's model on data.events' items */
  sr_vocab_match_counts items_match; /* data.events' items against the checkpoint's */
  sr_new_items_kind new_items;       /* score.new_items resolved: exclude, include or only */
  uint8_t *item_new;       /* [n_items + 1] 1: not in the checkpoint (new since training) */
  uint8_t *usable;         /* [n_items + 1] has an embedding: known, or new with content */
  uint8_t *banned;         /* [n_items + 1] never recommended (score.new_items) */
  int checkpoint_items;    /* items the checkpoint was trained on */
  int64_t candidates;      /* items that may be recommended */
  sr_train_state state;
  sr_events_shard shard;
  sr_kernels k;
  sr_model m;
  int model_made;
  float *items;            /* [n_items + 1, C] host copy of the item table */
  scorer_selection sel;
  scorer_states states;
  int gpu;                 /* the GPU of this rank's top-k, or -1 */
  scorer_topk_cuda *topk_gpu;
  char sha256[72];         /* of the checkpoint file */
  char created[32];
  /* one round's buffers */
  int64_t round_users;     /* capacity in users (whole batches) */
  float *user_vec;         /* [round_users, C] */
  int32_t *out_user;       /* [round_users] */
  int32_t *out_item;       /* [round_users, k] */
  float *out_score;        /* [round_users, k] */
  int64_t *seen_offset;    /* [round_users + 1] */
  int32_t *seen_item;      /* [seen_cap] */
  int64_t seen_cap;
} score_job;

static const char *config_name(const sr_config *cfg) {
  return cfg->source[0] ? cfg->source : "configuration";
}

/* The GPU of the top-k (runtime.device) and the kernels of the user states: the same GPU once
 * the CUDA kernels are part of the build (kernels/README.md); until then the CPU's. */
static sr_status choose_backend(score_job *j) {
  j->gpu = -1;
  TRY(sr_device_choose(j->cfg.runtime.device, j->comm->local_rank, &j->gpu));
#ifdef SEQREC_HAVE_CUDA_KERNELS
  TRY(kernels_init(&j->k, j->gpu, j->cfg.runtime.threads));
#else
  if (j->gpu >= 0)
    sr_info("score: user states on the CPU (this build's CUDA kernels are not validated yet), "
            "the top-k on the GPU");
  TRY(kernels_cpu_init(&j->k, j->cfg.runtime.threads));
#endif
  return kernels_set_bf16(&j->k, j->cfg.train.precision == SR_PRECISION_BF16);
}

static sr_status gpu_topk_open(score_job *j) {
  if (j->gpu < 0) return SR_OK;
  char name[160];
  sr_device_describe(j->gpu, name, sizeof name);
  sr_info("score: top-k on GPU %d (%s)", j->gpu, name);
  return scorer_topk_cuda_open(&j->topk_gpu, j->gpu, j->items, j->dims.n_items,
                               j->dims.d_model, j->banned);
}

static const char *new_items_name(sr_new_items_kind kind) {
  switch (kind) {
    case SR_NEW_ITEMS_EXCLUDE: return "exclude";
    case SR_NEW_ITEMS_INCLUDE: return "include";
    case SR_NEW_ITEMS_ONLY: return "only";
    case SR_NEW_ITEMS_AUTO: break;
  }
  return "auto";
}

/* Loads the checkpoint onto data.events' items, matched by raw id (scorer/README.md "Items"),
 * and decides which items may be in histories and in the lists. */
static sr_status items_load(score_job *j) {
  const sr_config *cfg = &j->cfg;
  const char *ev = cfg->data.events, *ck = cfg->score.checkpoint;
  const int64_t V = j->shard.n_items + 1;
  const int content = j->dims.content_dim > 0;
  sr_vocab vocab = {0};
  uint8_t *known = NULL;
  sr_status st = sr_vocab_read(ev, &vocab);
  if (st != SR_OK) sr_error_context("data.events");
  if (st == SR_OK) st = sr_alloc(&known, (size_t)V, 1, "known items");
  if (st == SR_OK) st = scorer_model_content_load(&j->m, &j->k, ev);
  if (st == SR_OK) {
    st = sr_checkpoint_read_remapped(ck, &j->m, &j->k, &vocab, 0, &j->items_match, known);
    if (st != SR_OK) sr_error_context("score.checkpoint");
  }
  sr_vocab_free(&vocab);
  if (st == SR_OK && j->items_match.kept == 0)
    st = sr_error(SR_EINVAL, "no item of %s is known to checkpoint %s (no raw id in common): it "
                  "was trained on another catalogue (check data.events and score.checkpoint)",
                  ev, ck);
  j->new_items = cfg->score.new_items;
  if (j->new_items == SR_NEW_ITEMS_AUTO)
    j->new_items = content ? SR_NEW_ITEMS_INCLUDE : SR_NEW_ITEMS_EXCLUDE;
  if (st == SR_OK && !content && j->new_items != SR_NEW_ITEMS_EXCLUDE)
    st = sr_error(SR_EINVAL, "score.new_items is %s, but checkpoint %s has no content "
                  "projection (model.item_content), so items new since training have no "
                  "embedding: set score.new_items: exclude or auto", new_items_name(j->new_items),
                  ck);
  if (st == SR_OK) st = sr_alloc(&j->item_new, (size_t)V, 1, "new-item marks");
  if (st == SR_OK) st = sr_alloc(&j->usable, (size_t)V, 1, "usable items");
  if (st == SR_OK) st = sr_alloc(&j->banned, (size_t)V, 1, "banned items");
  for (int64_t i = 1; st == SR_OK && i < V; i++) {
    j->item_new[i] = !known[i];
    j->usable[i] = known[i] || content;
    j->banned[i] = j->new_items == SR_NEW_ITEMS_EXCLUDE ? !known[i]
                   : j->new_items == SR_NEW_ITEMS_ONLY  ? known[i]
                                                        : 0;
    j->candidates += !j->banned[i];
  }
  sr_free(known);
  TRY(st);

  const sr_vocab_match_counts *c = &j->items_match;
  if (c->added > 0)
    sr_info("items: %lld new since %s was trained: %s", (long long)c->added, ck,
            j->new_items == SR_NEW_ITEMS_EXCLUDE
                ? (content ? "never recommended (score.new_items: exclude)"
                           : "no embedding: left out of histories and never recommended")
            : j->new_items == SR_NEW_ITEMS_ONLY ? "scored from their content; the only candidates"
                                                : "scored from their content like the others");
  if (c->moved > 0 || c->dropped > 0)
    sr_info("items: %lld of the checkpoint's items under a new id, %lld gone from %s",
            (long long)c->moved, (long long)c->dropped, ev);
  if (c->added == 0 && c->dropped == 0 && j->state.events_fingerprint[0] &&
      strcmp(j->state.events_fingerprint, j->shard.fingerprint) != 0)
    sr_warn("%s is not the data %s was trained on (fingerprint %s, trained on %s): scoring "
            "these histories with it, which is right for a fresh export of the same catalogue",
            ev, ck, j->shard.fingerprint, j->state.events_fingerprint);
  return SR_OK;
}

/* Everything a rank does alone: configuration, checkpoint, its shard of events, the model. */
static sr_status job_setup_local(score_job *j, int argc, char **argv) {
  sr_config *cfg = &j->cfg;
  TRY(sr_config_from_args(cfg, argc, argv));
  if (!cfg->data.events[0])
    return sr_error(SR_EINVAL, "%s: data.events is not set: name the events.h5 whose users to "
                    "score", config_name(cfg));
  if (!cfg->score.checkpoint[0])
    return sr_error(SR_EINVAL, "%s: score.checkpoint is not set", config_name(cfg));
  if (!cfg->score.output[0])
    return sr_error(SR_EINVAL, "%s: score.output is not set", config_name(cfg));
  TRY(sr_config_to_yaml(cfg, &j->config_yaml));
  sr_config_print(cfg);

  sr_status st = sr_checkpoint_read_header(cfg->score.checkpoint, &j->dims, &j->state);
  if (st != SR_OK) {
    sr_error_context("score.checkpoint");
    return st;
  }
  st = sr_events_shard_read(cfg->data.events, j->comm->rank, j->comm->size, &j->shard);
  if (st != SR_OK) {
    sr_error_context("data.events");
    return st;
  }
  if (!j->state.finished)
    sr_warn("%s is from a run that has not finished (step %lld): scoring its latest weights",
            cfg->score.checkpoint, (long long)j->state.step);
  if (cfg->data.max_len != j->dims.max_len)
    sr_warn("data.max_len is %d but %s was trained with %d: users are scored on their last %d "
            "events", cfg->data.max_len, cfg->score.checkpoint, j->dims.max_len, j->dims.max_len);

  TRY(choose_backend(j));
  j->checkpoint_items = j->dims.n_items;
  j->dims.n_items = (int)j->shard.n_items; /* the checkpoint's rows are matched by raw id */
  TRY(sr_model_create(&j->m, &j->k, &j->dims, 0.0f, SCORER_GROUP, 0));
  j->model_made = 1;
  TRY(items_load(j));
  const size_t V = (size_t)j->dims.n_items + 1, C = (size_t)j->dims.d_model;
  TRY(sr_alloc(&j->items, V * C, sizeof *j->items, "item table"));
  TRY(sr_model_items_refresh(&j->m, &j->k));
  TRY(j->k.download(&j->k, j->items, sr_model_items(&j->m), V * C * sizeof *j->items));
  return gpu_topk_open(j);
}

/* What the ranks do together: the selection, the batch windows, the checkpoint's digest. */
static sr_status job_setup_shared(score_job *j) {
  const sr_comm *comm = j->comm;
  TRY(scorer_selection_build(&j->sel, &j->cfg, &j->shard, comm));
  TRY(sr_comm_agree(comm, scorer_states_init(&j->states, &j->m, &j->k, &j->shard, &j->sel,
                                             j->usable, comm)));
  sr_status st = SR_OK;
  if (comm->rank == 0) {
    st = sr_sha256_file(j->cfg.score.checkpoint, j->sha256);
    const time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(j->created, sizeof j->created, "%Y-%m-%dT%H:%M:%SZ", &utc);
  }
  TRY(sr_comm_agree(comm, st));
  TRY(sr_comm_broadcast(comm, j->sha256, sizeof j->sha256, 0));
  return sr_comm_broadcast(comm, j->created, sizeof j->created, 0);
}

static sr_status round_buffers_alloc(score_job *j) {
  const size_t K = (size_t)j->cfg.score.k, C = (size_t)j->dims.d_model;
  size_t groups = SCORE_ROUND_BYTES / ((size_t)SCORER_GROUP * K * 8);
  if (groups < 1) groups = 1;
  const size_t groups_max = j->topk_gpu ? SCORE_ROUND_GROUPS_MAX_GPU : SCORE_ROUND_GROUPS_MAX;
  if (groups > groups_max) groups = groups_max;
  j->round_users = (int64_t)groups * SCORER_GROUP;
  const size_t n = (size_t)j->round_users;
  TRY(sr_alloc(&j->user_vec, n * C, sizeof *j->user_vec, "user states"));
  TRY(sr_alloc(&j->out_user, n, sizeof *j->out_user, "recommended users"));
  TRY(sr_alloc(&j->out_item, n * K, sizeof *j->out_item, "recommended items"));
  TRY(sr_alloc(&j->out_score, n * K, sizeof *j->out_score, "recommendation scores"));
  return sr_alloc(&j->seen_offset, n + 1, sizeof *j->seen_offset, "seen offsets");
}

/* The seen items of selected users j0..j1 as one CSR. */
static sr_status seen_build(score_job *j, int64_t j0, int64_t j1) {
  const sr_events_shard *sh = &j->shard;
  int64_t total = 0;
  for (int64_t i = j0; i < j1; i++)
    total += sh->offset[j->sel.user[i] + 1] - sh->offset[j->sel.user[i]];
  if (total > j->seen_cap) {
    TRY(sr_realloc(&j->seen_item, (size_t)total, sizeof *j->seen_item, "seen items"));
    j->seen_cap = total;
  }
  int64_t n = 0;
  j->seen_offset[0] = 0;
  for (int64_t i = j0; i < j1; i++) {
    const int64_t u = j->sel.user[i];
    for (int64_t p = sh->offset[u]; p < sh->offset[u + 1]; p++) j->seen_item[n++] = sh->item[p];
    j->seen_offset[i - j0 + 1] = n;
  }
  return SR_OK;
}

/* Rows of selected users j0..j1: states, then the exact top-k over all known items. */
static sr_status rows_score(score_job *j, int64_t j0, int64_t j1) {
  const int64_t n = j1 - j0;
  for (int64_t i = 0; i < n; i++)
    j->out_user[i] = (int32_t)(j->shard.user_begin + j->sel.user[j0 + i]);
  sr_status st = scorer_states_run(&j->states, j0, j1, j->user_vec);
  if (st == SR_OK && j->cfg.score.exclude_seen) st = seen_build(j, j0, j1);
  if (st == SR_OK) {
    const scorer_topk_input in = {
        .users = j->user_vec, .n_users = n, .items = j->items, .n_items = j->dims.n_items,
        .d = j->dims.d_model, .seen_offset = j->cfg.score.exclude_seen ? j->seen_offset : NULL,
        .seen_item = j->seen_item, .banned = j->banned};
    st = j->topk_gpu
             ? scorer_topk_cuda_run(j->topk_gpu, &in, j->cfg.score.k, NULL, j->out_item,
                                    j->out_score)
             : scorer_topk_run(&in, j->cfg.score.k, NULL, j->out_item, j->out_score);
  }
  /* The top-k numbers users from 0 within the round. */
  if (st != SR_OK && n > 0)
    sr_error_context("scoring dense users %d..%d of %s with %s", (int)j->out_user[0],
                     (int)j->out_user[n - 1], j->cfg.data.events, j->cfg.score.checkpoint);
  return st;
}

static void pause_for_tests(const score_job *j, const char *tmp) {
  const char *env = getenv(SCORE_PAUSE_ENV);
  const int seconds = env ? atoi(env) : 0;
  if (seconds <= 0) return;
  if (j->comm->rank == 0) {
    fprintf(stderr, "score: pausing %d s with %s partly written (%s)\n", seconds, tmp,
            SCORE_PAUSE_ENV);
    fflush(stderr);
  }
  sleep((unsigned)seconds);
}

/* Every rank goes through the same number of rounds (collective writes); a rank whose users
 * are done writes nothing in the later ones. */
static sr_status rounds_run(score_job *j, scorer_recs_writer *w) {
  const sr_comm *comm = j->comm;
  const int64_t G = SCORER_GROUP, per = j->round_users / G;
  const scorer_selection *sel = &j->sel;
  int64_t g_lo = 0, my_rounds = 0, rounds = 0, done = 0;
  if (sel->n > 0) {
    g_lo = sel->first / G;
    my_rounds = ((sel->first + sel->n - 1) / G - g_lo + per) / per;
  }
  int64_t *all = NULL;
  TRY(sr_alloc(&all, (size_t)comm->size, sizeof *all, "round counts"));
  sr_status st = sr_comm_allgather_i64(comm, my_rounds, all);
  for (int r = 0; r < comm->size; r++) rounds = all[r] > rounds ? all[r] : rounds;
  sr_free(all);
  TRY(st);

  sr_progress progress;
  sr_progress_start(&progress, "score", "users", sel->total);
  for (int64_t r = 0; r < rounds; r++) {
    int64_t j0 = 0, j1 = 0;
    if (r < my_rounds) {
      const int64_t ga = g_lo + r * per;
      j0 = ga * G - sel->first > 0 ? ga * G - sel->first : 0;
      j1 = (ga + per) * G - sel->first < sel->n ? (ga + per) * G - sel->first : sel->n;
      st = rows_score(j, j0, j1);
    }
    TRY(sr_comm_agree(comm, st));
    st = scorer_recs_write_rows(w, sel->first + j0, j1 - j0, j->out_user, j->out_item,
                                j->out_score);
    TRY(sr_comm_agree(comm, st));
    int64_t now = j1 - j0;
    TRY(sr_comm_allreduce_sum_i64(comm, &now, 1));
    done += now;
    sr_progress_update(&progress, done);
    if (r == 0 && getenv(SCORE_PAUSE_ENV)) {
      TRY(scorer_recs_flush(w));
      pause_for_tests(j, w->tmp);
    }
  }
  sr_progress_finish(&progress, done);
  return SR_OK;
}

static sr_status job_run(score_job *j) {
  const sr_config *cfg = &j->cfg;
  const sr_comm *comm = j->comm;
  sr_info("checkpoint: %s (step %lld, %s): %d items, d_model %d, %d layers, %d heads, max_len %d",
          cfg->score.checkpoint, (long long)j->state.step,
          j->state.finished ? "finished" : "not finished", j->checkpoint_items, j->dims.d_model,
          j->dims.n_layers, j->dims.n_heads, j->dims.max_len);
  sr_info("data: %s: %lld users, %lld items, %lld events (fingerprint %s)", cfg->data.events,
          (long long)j->shard.n_users, (long long)j->shard.n_items, (long long)j->shard.n_events,
          j->shard.fingerprint);
  sr_info("scoring %lld users (%s) on %d rank%s: top %d of %d items, %s -> %s",
          (long long)j->sel.total, j->sel.what, comm->size, comm->size > 1 ? "s" : "",
          cfg->score.k, (int)j->candidates,
          cfg->score.exclude_seen ? "seen items excluded" : "seen items allowed",
          cfg->score.output);
  if (j->sel.total == 0) sr_warn("no user selected: %s will hold no rows", cfg->score.output);
  if (cfg->score.k > j->candidates)
    sr_warn("score.k (%d) is more than the %lld candidate items: every row ends in padding "
            "(item 0, score -inf)", cfg->score.k, (long long)j->candidates);

  sr_status st = comm->rank == 0 ? sr_path_make_parents(cfg->score.output) : SR_OK;
  TRY(sr_comm_agree(comm, st));
  TRY(sr_comm_agree(comm, round_buffers_alloc(j)));
  const scorer_recs_meta meta = {
      .events = cfg->data.events, .events_fingerprint = j->shard.fingerprint,
      .checkpoint = cfg->score.checkpoint, .checkpoint_sha256 = j->sha256,
      .created = j->created, .users = j->sel.what, .config = j->config_yaml,
      .n_rows = j->sel.total, .k = cfg->score.k, .exclude_seen = cfg->score.exclude_seen,
      .model_items = j->items_match.kept, .item_new = j->item_new,
      .new_items = new_items_name(j->new_items)};
  scorer_recs_writer w;
  st = sr_comm_agree(comm, scorer_recs_create(&w, cfg->score.output, &meta, &j->shard, comm));
  if (st == SR_OK) st = rounds_run(j, &w);
  return scorer_recs_finish(&w, st);
}

static void job_free(score_job *j) {
  scorer_states_free(&j->states);
  scorer_selection_free(&j->sel);
  scorer_topk_cuda_close(j->topk_gpu);
  if (j->model_made) sr_model_destroy(&j->m, &j->k);
  kernels_close(&j->k);
  sr_events_shard_free(&j->shard);
  sr_free(j->items);
  sr_free(j->item_new);
  sr_free(j->usable);
  sr_free(j->banned);
  sr_free(j->user_vec);
  sr_free(j->out_user);
  sr_free(j->out_item);
  sr_free(j->out_score);
  sr_free(j->seen_offset);
  sr_free(j->seen_item);
  sr_free(j->config_yaml);
}

sr_status scorer_score_main(const sr_comm *comm, int argc, char **argv) {
  static score_job j; /* large (paths in the config): not on the stack */
  memset(&j, 0, sizeof j);
  j.comm = comm;
  const double start = sr_time_now();
  sr_status st = sr_comm_agree(comm, job_setup_local(&j, argc, argv));
  if (st == SR_OK) st = job_setup_shared(&j);
  if (st == SR_OK) st = job_run(&j);
  const double took = sr_time_now() - start;
  char took_text[32];
  sr_format_duration(took, took_text, sizeof took_text);
  if (st == SR_OK)
    sr_info("score: ok (%lld users in %s, %.0f users/s) -> %s", (long long)j.sel.total,
            took_text, took > 0 ? (double)j.sel.total / took : 0.0, j.cfg.score.output);
  job_free(&j);
  return st;
}
