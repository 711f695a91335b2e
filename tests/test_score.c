/* seqrec score against a brute-force reference: random logs and models, every score computed
 * with scorer_topk_score, a full sort with ties by item id, and the rows of recs.h5 compared bit
 * for bit (k = 1, 10, more than a user's unseen items, seen items allowed, a range, a users file,
 * items newer than the checkpoint). The user states themselves are checked against a plain
 * one-user forward. Also: the file's attributes, the checker on good and on broken files, and
 * the serving example (scorer/example_read_recs.c) on a real file.
 *
 * This process never starts MPI (the scorer's selection and states take comm NULL), so it runs
 * clean under AddressSanitizer; the seqrec it runs checks memory errors there too, but not
 * leaks: every MPI program here reports the MPI runtime's own at exit, from unloaded modules
 * that no suppression can name. The binaries run first, then the comparisons. */
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "events/events.h"
#include "events/h5util.h"
#include "kernels/kernels.h"
#include "model/checkpoint.h"
#include "model/vocab.h"
#include "model/sasrec.h"
#include "scorer/recs.h"
#include "scorer/select.h"
#include "scorer/state.h"
#include "scorer/topk.h"

#define TMP SEQREC_TEST_TMP "/test_score"

/* 70 users: two canonical batches, the second one partial. 30 items; max_len 6, so many
 * histories are longer than the window. */
enum { N_USERS = 70, N_ITEMS = 30, NEW_ITEMS = 36, MAX_LEN = 6 };
static const sr_model_dims dims = {.n_items = N_ITEMS, .max_len = MAX_LEN, .d_model = 16,
                                   .n_layers = 2, .n_heads = 2, .d_ff = 24};

typedef struct {
  const char *name;
  int k;
  int exclude_seen;
  const char *user_range; /* NULL: all */
  const char *users_text; /* a users file's content; NULL: none */
  int new_items;          /* score the log with items newer than the checkpoint */
  /* filled by the first stage */
  char config[512];
  char output[512];
  int rc;
} score_case;

static score_case cases[] = {
    {.name = "k1", .k = 1, .exclude_seen = 1},
    {.name = "k10", .k = 10, .exclude_seen = 1},
    {.name = "k_padded", .k = 27, .exclude_seen = 1},
    {.name = "k_all_items", .k = N_ITEMS + 3, .exclude_seen = 1},
    {.name = "seen_allowed", .k = 10, .exclude_seen = 0},
    {.name = "range", .k = 10, .exclude_seen = 1, .user_range = "3:69"},
    {.name = "users_file", .k = 5, .exclude_seen = 1,
     .users_text = "u65\r\nu3\n\nu10\nu3\nu0\nu69\n"},
    {.name = "new_items", .k = 10, .exclude_seen = 1, .new_items = 1},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

static char events_path[256], events_new_path[256], ckpt_path[256];

/* ---- first stage: fixtures and the seqrec runs ---------------------------------------------- */

/* A user's history: random items with repeats; user 5 has none, user 7 every item (so no item
 * is left unseen), user 8 a long one. With new_items, some events are of items 31..36. */
static int64_t history_of(int64_t u, int new_items, sr_rng *r, int32_t *items) {
  int64_t n = 1 + (u * 7) % 19;
  if (u == 5) return 0;
  if (u == 7) {
    for (int i = 0; i < N_ITEMS; i++) items[i] = (int32_t)(N_ITEMS - i);
    items[N_ITEMS] = 3;
    return N_ITEMS + 1;
  }
  if (u == 8) n = 45;
  for (int64_t p = 0; p < n; p++) {
    items[p] = 1 + (int32_t)sr_rng_below(r, N_ITEMS);
    if (new_items && p % 3 == 1)
      items[p] = N_ITEMS + 1 + (int32_t)sr_rng_below(r, NEW_ITEMS - N_ITEMS);
  }
  return n;
}

static void events_make(const char *path, int new_items, char fingerprint[32]) {
  const int n_items = new_items ? NEW_ITEMS : N_ITEMS;
  sr_events_writer_opts o = {.user_id_width = 8, .source = "test_score"};
  sr_events_writer *w = NULL;
  assert_int_equal(sr_events_writer_open(&w, path, &o), SR_OK);
  char names[NEW_ITEMS + 1][16];
  const char *item_ids[NEW_ITEMS + 1];
  for (int i = 0; i <= n_items; i++) {
    snprintf(names[i], sizeof names[i], "i%d", i);
    item_ids[i] = names[i];
  }
  assert_int_equal(sr_events_writer_set_items(w, n_items, item_ids), SR_OK);
  sr_rng r;
  sr_rng_init(&r, 11, 0);
  for (int64_t u = 0; u < N_USERS; u++) {
    int32_t items[64];
    int64_t times[64];
    char id[24];
    snprintf(id, sizeof id, "u%lld", (long long)u);
    const char *ids[1] = {id};
    int64_t n = history_of(u, new_items, &r, items);
    for (int64_t p = 0; p < n; p++) times[p] = 1000 + p;
    assert_int_equal(sr_events_writer_append_users(w, 1, &n, ids, items, times, NULL), SR_OK);
  }
  sr_events_writer_fingerprint(w, fingerprint);
  assert_int_equal(sr_events_writer_commit(w), SR_OK);
}

/* Random weights, with the item table scaled up so that scores spread, and items 12 and 4
 * sharing one embedding so that ties (broken by the smaller id) occur in every row. */
static void checkpoint_make(const char *path, const char *fingerprint) {
  sr_kernels k;
  sr_model m;
  assert_int_equal(kernels_cpu_init(&k, 1), SR_OK);
  assert_int_equal(sr_model_create(&m, &k, &dims, 0.0f, 4, 0), SR_OK);
  assert_int_equal(sr_model_init_weights(&m, &k, 7), SR_OK);
  sr_rng r;
  sr_rng_init(&r, 3, 1);
  for (int64_t i = dims.d_model; i < (int64_t)(dims.n_items + 1) * dims.d_model; i++)
    m.p.wte[i] = sr_rng_normal(&r);
  memcpy(m.p.wte + 12 * dims.d_model, m.p.wte + 4 * dims.d_model,
         (size_t)dims.d_model * sizeof(float));
  sr_train_state s = {.step = 10, .epoch = 1, .seed = 7, .world_size = 1, .best_metric = -1,
                      .finished = 1};
  snprintf(s.events_fingerprint, sizeof s.events_fingerprint, "%s", fingerprint);
  /* The vocabulary of events.h5 (i1..i30), as training keeps it: events_new.h5's items 31..36
   * are matched by raw id and found new. */
  sr_vocab vocab = {.n_items = N_ITEMS, .width = 3};
  vocab.ids = calloc((size_t)(N_ITEMS + 1), 4);
  assert_non_null(vocab.ids);
  for (int i = 1; i <= N_ITEMS; i++) snprintf(vocab.ids + i * 4, 4, "i%d", i);
  assert_int_equal(sr_checkpoint_write_vocab(path, &m, &k, &s, "data: {}\n", NULL, &vocab), SR_OK);
  free(vocab.ids);
  sr_model_destroy(&m, &k);
  kernels_close(&k);
}

static void text_write(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int run(const char *command) {
  int rc = system(command);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void case_run(score_case *c) {
  char users[300] = "null", path[300];
  if (c->users_text) {
    snprintf(path, sizeof path, "%s/%s.users", TMP, c->name);
    text_write(path, c->users_text);
    snprintf(users, sizeof users, "%s", path);
  }
  snprintf(c->config, sizeof c->config, "%s/%s.yaml", TMP, c->name);
  snprintf(c->output, sizeof c->output, "%s/%s/recs.h5", TMP, c->name);
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "data: {events: %s, max_len: %d}\n"
           "runtime: {device: cpu, threads: 1}\n"
           "score: {checkpoint: %s, k: %d, exclude_seen: %s, output: %s, users: %s,\n"
           "        user_range: %s%s%s, new_items: %s}\n",
           c->new_items ? events_new_path : events_path, MAX_LEN, ckpt_path, c->k,
           c->exclude_seen ? "true" : "false", c->output, users, c->user_range ? "\"" : "",
           c->user_range ? c->user_range : "null", c->user_range ? "\"" : "",
           c->new_items ? "auto" : "exclude");
  text_write(c->config, yaml);
  char command[1024];
  snprintf(command, sizeof command, "ASAN_OPTIONS=detect_leaks=0 %s score -c %s > %s/%s.log 2>&1",
           SEQREC_BINARY, c->config, TMP, c->name);
  c->rc = run(command);
}

static char example_out[300];
static int example_rc;

static void first_stage(void) {
  mkdir(SEQREC_TEST_TMP, 0777);
  mkdir(TMP, 0777);
  char fingerprint[32], fingerprint_new[32];
  snprintf(events_path, sizeof events_path, "%s/events.h5", TMP);
  snprintf(events_new_path, sizeof events_new_path, "%s/events_new.h5", TMP);
  snprintf(ckpt_path, sizeof ckpt_path, "%s/ckpt.h5", TMP);
  events_make(events_path, 0, fingerprint);
  events_make(events_new_path, 1, fingerprint_new);
  checkpoint_make(ckpt_path, fingerprint);
  for (int i = 0; i < N_CASES; i++) case_run(&cases[i]);
  /* The example reads user u8's row of the k = 10 file. */
  snprintf(example_out, sizeof example_out, "%s/example.txt", TMP);
  char command[1024];
  snprintf(command, sizeof command, "%s %s u8 > %s 2>&1", SEQREC_EXAMPLE_READ_RECS,
           cases[1].output, example_out);
  example_rc = run(command);
}

/* ---- second stage: the reference ------------------------------------------------------------ */

typedef struct {
  int32_t user;
  int32_t *item;  /* [k] */
  float *score;   /* [k] */
} ref_row;

typedef struct {
  int32_t item;
  float score;
} scored;

static int scored_order(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->item > y->item) - (x->item < y->item);
}

/* What one case should have written, from the same selection and user states. */
typedef struct {
  int64_t n;
  int k;
  int32_t *user;  /* [n] */
  int32_t *item;  /* [n, k] */
  float *score;   /* [n, k] */
  int64_t padded_rows;
} reference;

/* A one-user forward on the user's last known items, nothing shared with scorer/state.c. */
static void state_plain(sr_model *m, const sr_kernels *k, const sr_events_shard *sh, int64_t u,
                        float *out) {
  int32_t input[MAX_LEN];
  int T = 0;
  for (int64_t p = sh->offset[u + 1] - 1; p >= sh->offset[u] && T < MAX_LEN; p--)
    if (sh->item[p] <= N_ITEMS) T++;
  int t = T;
  for (int64_t p = sh->offset[u + 1] - 1; p >= sh->offset[u] && t > 0; p--)
    if (sh->item[p] <= N_ITEMS) input[--t] = sh->item[p];
  if (T == 0) input[T++] = 0;
  assert_int_equal(sr_model_forward(m, k, input, 1, T, NULL), SR_OK);
  assert_int_equal(sr_model_last_hidden(m, k, 1, T, out), SR_OK);
}

static void reference_build(const score_case *c, reference *ref) {
  sr_config cfg;
  char *argv[] = {"score", "-c", (char *)c->config};
  assert_int_equal(sr_config_from_args(&cfg, 3, argv), SR_OK);
  sr_events_shard sh;
  assert_int_equal(sr_events_shard_read(cfg.data.events, 0, 1, &sh), SR_OK);
  scorer_selection sel;
  assert_int_equal(scorer_selection_build(&sel, &cfg, &sh, NULL), SR_OK);
  sr_kernels k;
  sr_model m;
  assert_int_equal(kernels_cpu_init(&k, 1), SR_OK);
  assert_int_equal(sr_model_create(&m, &k, &dims, 0.0f, SCORER_GROUP, 0), SR_OK);
  assert_int_equal(sr_checkpoint_read(ckpt_path, &m, &k, 0, NULL), SR_OK);
  scorer_states states;
  uint8_t usable[NEW_ITEMS + 1]; /* the checkpoint's items; 31..36 are new, without content */
  for (int i = 0; i <= NEW_ITEMS; i++) usable[i] = i >= 1 && i <= N_ITEMS;
  assert_int_equal(scorer_states_init(&states, &m, &k, &sh, &sel, usable, NULL), SR_OK);
  const int C = dims.d_model, K = c->k;
  float *vec = calloc((size_t)sel.n * C + 1, sizeof *vec), plain[64];
  assert_int_equal(scorer_states_run(&states, 0, sel.n, vec), SR_OK);

  ref->n = sel.n;
  ref->k = K;
  ref->padded_rows = 0;
  ref->user = calloc((size_t)sel.n + 1, sizeof *ref->user);
  ref->item = calloc((size_t)sel.n * K + 1, sizeof *ref->item);
  ref->score = calloc((size_t)sel.n * K + 1, sizeof *ref->score);
  scored *all = calloc(N_ITEMS, sizeof *all);
  for (int64_t i = 0; i < sel.n; i++) {
    const int64_t u = sel.user[i];
    ref->user[i] = (int32_t)(sh.user_begin + u);
    /* The state: within rounding of the plain forward (only the batching differs). */
    state_plain(&m, &k, &sh, u, plain);
    for (int j = 0; j < C; j++)
      if (fabsf(plain[j] - vec[i * C + j]) > 1e-4f * (1.0f + fabsf(plain[j])))
        fail_msg("%s: user %lld: state[%d] = %.9g, a plain forward gives %.9g", c->name,
                 (long long)u, j, (double)vec[i * C + j], (double)plain[j]);
    /* Every eligible item scored, sorted, cut to k, padded. */
    int n = 0;
    for (int32_t it = 1; it <= N_ITEMS; it++) {
      int seen = 0;
      for (int64_t p = sh.offset[u]; c->exclude_seen && p < sh.offset[u + 1]; p++)
        seen |= sh.item[p] == it;
      if (seen) continue;
      all[n].item = it;
      all[n].score = scorer_topk_score(vec + i * C, m.p.wte + (int64_t)it * C, C);
      n++;
    }
    qsort(all, (size_t)n, sizeof *all, scored_order);
    for (int j = 0; j < K; j++) {
      ref->item[i * K + j] = j < n ? all[j].item : 0;
      ref->score[i * K + j] = j < n ? all[j].score : -INFINITY;
    }
    ref->padded_rows += n < K;
  }
  free(all);
  free(vec);
  scorer_states_free(&states);
  sr_model_destroy(&m, &k);
  kernels_close(&k);
  scorer_selection_free(&sel);
  sr_events_shard_free(&sh);
}

static void reference_free(reference *ref) {
  free(ref->user);
  free(ref->item);
  free(ref->score);
}

static void dataset_read(hid_t f, const char *name, hid_t type, void *buf, int64_t expect_n) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  assert_true(d >= 0);
  hid_t s = H5Dget_space(d);
  assert_int_equal(H5Sget_simple_extent_dims(s, NULL, NULL) >= 1, 1);
  hsize_t dims2[2] = {0, 0};
  H5Sget_simple_extent_dims(s, dims2, NULL);
  assert_int_equal((int64_t)dims2[0], expect_n);
  if (expect_n > 0) assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Sclose(s);
  H5Dclose(d);
}

static void attr_str(hid_t f, const char *path, const char *name, char *buf, size_t size) {
  assert_int_equal(sr_h5_attr_read_str(f, path, "/", name, buf, size), SR_OK);
}

static void case_check(const score_case *c) {
  if (c->rc != 0) {
    char log[512];
    snprintf(log, sizeof log, "cat %s/%s.log >&2", TMP, c->name);
    (void)system(log);
    fail_msg("%s: seqrec score exited %d", c->name, c->rc);
  }
  reference ref;
  reference_build(c, &ref);
  const int64_t n = ref.n, K = c->k;
  int32_t *user = calloc((size_t)n + 1, sizeof *user), *item = calloc((size_t)(n * K) + 1, 4);
  float *score = calloc((size_t)(n * K) + 1, sizeof *score);
  hid_t f = H5I_INVALID_HID;
  assert_int_equal(sr_h5_open_read(c->output, &f), SR_OK);
  dataset_read(f, "/recs/user", H5T_NATIVE_INT32, user, n);
  dataset_read(f, "/recs/item", H5T_NATIVE_INT32, item, n);
  dataset_read(f, "/recs/score", H5T_NATIVE_FLOAT, score, n);
  for (int64_t i = 0; i < n; i++) {
    if (user[i] != ref.user[i])
      fail_msg("%s: /recs/user[%lld] = %d, expected %d", c->name, (long long)i, user[i],
               ref.user[i]);
    for (int64_t j = 0; j < K; j++)
      if (item[i * K + j] != ref.item[i * K + j] ||
          memcmp(&score[i * K + j], &ref.score[i * K + j], sizeof(float)) != 0)
        fail_msg("%s: row %lld (user %d) column %lld: item %d score %.9g, the reference has "
                 "item %d score %.9g", c->name, (long long)i, user[i], (long long)j,
                 item[i * K + j], (double)score[i * K + j], ref.item[i * K + j],
                 (double)ref.score[i * K + j]);
  }
  /* Attributes. */
  char text[256], sha[72];
  int64_t v = 0;
  attr_str(f, c->output, "format", text, sizeof text);
  assert_string_equal(text, "seqrec-recs");
  assert_int_equal(sr_h5_attr_read_i64(f, c->output, "/", "version", &v), SR_OK);
  assert_int_equal(v, 1);
  assert_int_equal(sr_h5_attr_read_i64(f, c->output, "/", "k", &v), SR_OK);
  assert_int_equal(v, K);
  assert_int_equal(sr_h5_attr_read_i64(f, c->output, "/", "exclude_seen", &v), SR_OK);
  assert_int_equal(v, c->exclude_seen);
  attr_str(f, c->output, "checkpoint", text, sizeof text);
  assert_string_equal(text, ckpt_path);
  attr_str(f, c->output, "checkpoint_sha256", text, sizeof text);
  assert_int_equal(sr_sha256_file(ckpt_path, sha), SR_OK);
  assert_string_equal(text, sha);
  attr_str(f, c->output, "created", text, sizeof text);
  assert_int_equal(strlen(text), 20);
  assert_true(text[4] == '-' && text[10] == 'T' && text[19] == 'Z');
  sr_events_shard sh;
  assert_int_equal(sr_events_shard_read(c->new_items ? events_new_path : events_path, 0, 1, &sh),
                   SR_OK);
  attr_str(f, c->output, "events_fingerprint", text, sizeof text);
  assert_string_equal(text, sh.fingerprint);
  sr_events_shard_free(&sh);
  /* Raw ids: all users and items of the events file, whatever was scored. */
  char uid[N_USERS][8], iid[NEW_ITEMS + 1][4];
  hid_t t = H5I_INVALID_HID;
  assert_int_equal(sr_h5_string_type(8, 0, &t), SR_OK);
  dataset_read(f, "/users/raw_id", t, uid, N_USERS);
  assert_memory_equal(uid[69], "u69\0\0\0\0\0", 8);
  sr_h5_close(&t);
  assert_int_equal(sr_h5_string_type(4, 0, &t), SR_OK);
  dataset_read(f, "/items/raw_id", t, iid, (c->new_items ? NEW_ITEMS : N_ITEMS) + 1);
  assert_memory_equal(iid[N_ITEMS], "i30\0", 4);
  sr_h5_close(&t);
  sr_h5_close(&f);

  scorer_recs_summary s;
  if (scorer_recs_check(c->output, &s) != SR_OK) fail_msg("%s: %s", c->name, sr_error_message());
  assert_int_equal(s.n_rows, n);
  assert_int_equal(s.padded_rows, ref.padded_rows);
  assert_int_equal(s.seen_checked, c->exclude_seen);
  assert_string_equal(s.new_items, "exclude"); /* auto without content */
  assert_int_equal(s.new_recommended, 0);
  free(user);
  free(item);
  free(score);
  reference_free(&ref);
}

static void test_k1(void **state) { (void)state; case_check(&cases[0]); }
static void test_k10(void **state) { (void)state; case_check(&cases[1]); }

/* k = 27 pads users with more than 3 distinct items; k = 33 pads every row, and user 7, who
 * has every item, gets a row of padding only. */
static void test_padding(void **state) {
  (void)state;
  case_check(&cases[2]);
  case_check(&cases[3]);
  hid_t f = H5I_INVALID_HID;
  int32_t item[N_USERS][N_ITEMS + 3];
  float score[N_USERS][N_ITEMS + 3];
  assert_int_equal(sr_h5_open_read(cases[3].output, &f), SR_OK);
  dataset_read(f, "/recs/item", H5T_NATIVE_INT32, item, N_USERS);
  dataset_read(f, "/recs/score", H5T_NATIVE_FLOAT, score, N_USERS);
  sr_h5_close(&f);
  for (int j = 0; j < N_ITEMS + 3; j++) {
    assert_int_equal(item[7][j], 0);
    assert_true(isinf(score[7][j]) && score[7][j] < 0);
  }
  assert_int_equal(item[5][N_ITEMS - 1] != 0, 1); /* no history: every item */
  assert_int_equal(item[5][N_ITEMS], 0);
}

static void test_seen_allowed(void **state) { (void)state; case_check(&cases[4]); }
static void test_range(void **state) { (void)state; case_check(&cases[5]); }

/* The file names u65, u3 (twice), u10, u0 and u69, with a CR and an empty line: five rows in
 * dense-id order. */
static void test_users_file(void **state) {
  (void)state;
  case_check(&cases[6]);
  hid_t f = H5I_INVALID_HID;
  int32_t user[5];
  assert_int_equal(sr_h5_open_read(cases[6].output, &f), SR_OK);
  dataset_read(f, "/recs/user", H5T_NATIVE_INT32, user, 5);
  sr_h5_close(&f);
  const int32_t want[5] = {0, 3, 10, 65, 69};
  assert_memory_equal(user, want, sizeof want);
}

/* Items 31..36 are newer than the checkpoint: never recommended, left out of the inputs. */
static void test_new_items(void **state) {
  (void)state;
  case_check(&cases[7]);
}

/* The example prints u8's row of the k = 10 file: raw item ids and scores, best first, up to
 * the padding. */
static void test_example(void **state) {
  (void)state;
  assert_int_equal(example_rc, 0);
  reference ref;
  reference_build(&cases[1], &ref);
  FILE *in = fopen(example_out, "r");
  assert_non_null(in);
  char line[256];
  int row = 8, lines = 0; /* all users are scored: row 8 is user 8 */
  while (fgets(line, sizeof line, in)) {
    char want[64];
    snprintf(want, sizeof want, "i%d %.6g\n", ref.item[row * 10 + lines],
             (double)ref.score[row * 10 + lines]);
    assert_string_equal(line, want);
    lines++;
  }
  fclose(in);
  int real = 0; /* u8 has seen all but a few items: its row ends in padding, which is not printed */
  while (real < 10 && ref.item[row * 10 + real] != 0) real++;
  assert_true(real < 10);
  assert_int_equal(lines, real);
  reference_free(&ref);
}

/* ---- the checker on broken files ------------------------------------------------------------ */

/* A copy of the k = 10 file with one value of a dataset changed. */
static void broken_copy(const char *name, const char *dset, hid_t type, int64_t row, int64_t col,
                        const void *value, char *out, size_t size) {
  snprintf(out, size, "%s/broken_%s.h5", TMP, name);
  char command[1024];
  snprintf(command, sizeof command, "cp %s %s", cases[1].output, out);
  assert_int_equal(run(command), 0);
  hid_t f = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
  assert_true(f >= 0);
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(s);
  hsize_t start[2] = {(hsize_t)row, (hsize_t)col}, count[2] = {1, 1};
  assert_true(H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL) >= 0);
  hid_t m = H5Screate_simple(rank, count, NULL);
  assert_true(H5Dwrite(d, type, m, s, H5P_DEFAULT, value) >= 0);
  H5Sclose(m);
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
}

static void expect_broken(const char *name, const char *dset, hid_t type, int64_t row,
                          int64_t col, const void *value, const char *says) {
  char path[512];
  broken_copy(name, dset, type, row, col, value, path, sizeof path);
  sr_error_clear();
  sr_status st = scorer_recs_check(path, NULL);
  if (st != SR_EFORMAT || !strstr(sr_error_message(), says) ||
      !strstr(sr_error_message(), path))
    fail_msg("%s: got %s '%s', expected SR_EFORMAT naming %s and saying '%s'", name,
             sr_status_name(st), sr_error_message(), path, says);
  sr_error_clear();
}

static void test_check_refuses(void **state) {
  (void)state;
  hid_t f = H5I_INVALID_HID;
  int32_t item[N_USERS][10];
  float score[N_USERS][10];
  assert_int_equal(sr_h5_open_read(cases[1].output, &f), SR_OK);
  dataset_read(f, "/recs/item", H5T_NATIVE_INT32, item, N_USERS);
  dataset_read(f, "/recs/score", H5T_NATIVE_FLOAT, score, N_USERS);
  sr_h5_close(&f);
  const float up = score[2][0] + 1.0f, nan = NAN;
  const int32_t zero = 0, big = N_ITEMS + 1, same = item[2][0], u_back = 1;
  int twice = 9; /* a column whose score is below the one before it, so only the repeat is wrong */
  while (twice > 1 && !(score[2][twice] < score[2][twice - 1])) twice--;
  expect_broken("ascending", "/recs/score", H5T_NATIVE_FLOAT, 2, 3, &up, "scores must descend");
  expect_broken("nan", "/recs/score", H5T_NATIVE_FLOAT, 2, 3, &nan, "finite scores");
  expect_broken("hole", "/recs/item", H5T_NATIVE_INT32, 2, 3, &zero, "padding has score -inf");
  expect_broken("range", "/recs/item", H5T_NATIVE_INT32, 2, 9, &big, "outside the items");
  expect_broken("twice", "/recs/item", H5T_NATIVE_INT32, 2, twice, &same, "twice");
  expect_broken("users", "/recs/user", H5T_NATIVE_INT32, 3, 0, &u_back, "users must increase");
  /* A seen item: user 8's first event, put in place of its last recommendation with a score
   * that keeps the row descending. */
  sr_events_shard sh;
  assert_int_equal(sr_events_shard_read(events_path, 0, 1, &sh), SR_OK);
  const int32_t seen = sh.item[sh.offset[8]];
  sr_events_shard_free(&sh);
  char path[512];
  broken_copy("seen", "/recs/item", H5T_NATIVE_INT32, 8, 9, &seen, path, sizeof path);
  hid_t g = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = H5Dopen2(g, "/recs/score", H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  hsize_t start[2] = {8, 9}, count[2] = {1, 1};
  H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t m = H5Screate_simple(2, count, NULL);
  const float low = score[8][8] - 1.0f;
  assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, m, s, H5P_DEFAULT, &low) >= 0);
  H5Sclose(m);
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(g);
  sr_error_clear();
  assert_int_equal(scorer_recs_check(path, NULL), SR_EFORMAT);
  assert_non_null(strstr(sr_error_message(), "already has"));
  sr_error_clear();
}

int main(void) {
  sr_log_set_quiet(1);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  first_stage();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_k1),          cmocka_unit_test(test_k10),
      cmocka_unit_test(test_padding),     cmocka_unit_test(test_seen_allowed),
      cmocka_unit_test(test_range),       cmocka_unit_test(test_users_file),
      cmocka_unit_test(test_new_items),   cmocka_unit_test(test_example),
      cmocka_unit_test(test_check_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
