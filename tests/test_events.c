/* events/: the writer and reader round trip, abort and failed commits, the shard range as a
 * property over random offsets, and gen (determinism, exact totals, the planted signal).
 * The info error paths are in test_events_info.c, several ranks in test_events_mpi.c. */
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

#include "core/arena.h"
#include "core/log.h"
#include "core/rng.h"
#include "events/events.h"
#include "events/gen.h"
#include "events/h5util.h"

static void tmp_path(char *buf, size_t size, const char *name) {
  mkdir(SEQREC_TEST_TMP, 0777);
  snprintf(buf, size, "%s/test_events_%s", SEQREC_TEST_TMP, name);
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static void assert_message_has(const char *needle) {
  const char *msg = sr_error_message();
  if (!strstr(msg, needle)) fail_msg("message '%s' lacks '%s'", msg, needle);
}

/* ---- a small hand-made log ---- */

enum { RT_USERS = 5, RT_ITEMS = 20, RT_DIM = 4 };
static const int64_t rt_lengths[RT_USERS] = {3, 0, 7, 1, 4};
static const char *const rt_users[RT_USERS] = {"alice", "bob", "carol-with-a-long-id", "d", "eve"};
static const char *const rt_types[3] = {"view", "cart", "purchase"};

typedef struct {
  int32_t items[15];
  int64_t times[15];
  uint8_t types[15];
  char item_text[RT_ITEMS + 1][16];
  const char *item_ids[RT_ITEMS + 1];
  float content[(RT_ITEMS + 1) * RT_DIM];
} rt_data;

static void rt_fill(rt_data *d) {
  for (int e = 0; e < 15; e++) {
    d->items[e] = 1 + (e * 7) % RT_ITEMS;
    d->times[e] = 1000 + 10 * e;
    d->types[e] = (uint8_t)(e % 3);
  }
  for (int i = 0; i <= RT_ITEMS; i++) {
    snprintf(d->item_text[i], sizeof d->item_text[i], "item-%d", i);
    d->item_ids[i] = d->item_text[i];
    for (int k = 0; k < RT_DIM; k++) d->content[i * RT_DIM + k] = i == 0 ? 0.0f : (float)(i + k) / 8;
  }
}

static sr_events_writer *rt_open(const char *path, int with_types) {
  sr_events_writer_opts o;
  memset(&o, 0, sizeof o);
  o.user_id_width = 20;
  o.source = "test_events";
  if (with_types) {
    o.n_event_types = 3;
    for (int t = 0; t < 3; t++) o.event_types[t] = rt_types[t];
  }
  sr_events_writer *w = NULL;
  assert_int_equal(sr_events_writer_open(&w, path, &o), SR_OK);
  assert_non_null(w);
  return w;
}

static void test_roundtrip_with_types_and_content(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "roundtrip.h5");
  unlink(path);
  rt_data d;
  rt_fill(&d);
  sr_events_writer *w = rt_open(path, 1);
  /* Two batches: users 0-1 (3 events), then 2-4 (12 events). */
  assert_int_equal(sr_events_writer_set_items(w, RT_ITEMS, d.item_ids), SR_OK);
  assert_int_equal(sr_events_writer_append_users(w, 2, rt_lengths, rt_users, d.items, d.times,
                                                 d.types), SR_OK);
  assert_int_equal(sr_events_writer_append_users(w, 3, rt_lengths + 2, rt_users + 2, d.items + 3,
                                                 d.times + 3, d.types + 3), SR_OK);
  assert_int_equal(sr_events_writer_set_content(w, RT_ITEMS, RT_DIM, d.content), SR_OK);
  char fp[32];
  sr_events_writer_fingerprint(w, fp);
  assert_int_equal(strlen(fp), 16);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_true(file_exists(tmp));
  assert_false(file_exists(path));
  assert_int_equal(sr_events_writer_commit(w), SR_OK);
  assert_true(file_exists(path));
  assert_false(file_exists(tmp));

  sr_events_summary s;
  assert_int_equal(sr_events_check_summary(path, &s), SR_OK);
  assert_int_equal(s.n_users, RT_USERS);
  assert_int_equal(s.n_items, RT_ITEMS);
  assert_int_equal(s.n_events, 15);
  assert_int_equal(s.n_event_types, 3);
  assert_string_equal(s.event_types[2], "purchase");
  assert_int_equal(s.type_counts[0] + s.type_counts[1] + s.type_counts[2], 15);
  assert_int_equal(s.type_counts[0], 5);
  assert_int_equal(s.content_dim, RT_DIM);
  assert_int_equal(s.max_history, 7);
  assert_true(s.has_fingerprint);
  assert_string_equal(s.fingerprint, fp);
  assert_string_equal(s.source, "test_events");

  sr_events_shard shard;
  assert_int_equal(sr_events_shard_read(path, 0, 1, &shard), SR_OK);
  assert_int_equal(shard.n_users, RT_USERS);
  assert_int_equal(shard.user_begin, 0);
  assert_int_equal(shard.user_end, RT_USERS);
  assert_int_equal(shard.event_end - shard.event_begin, 15);
  assert_string_equal(shard.fingerprint, fp);
  assert_int_equal(shard.n_event_types, 3);
  assert_string_equal(shard.event_types[1], "cart");
  int64_t expect_offset = 0;
  for (int u = 0; u < RT_USERS; u++) {
    assert_int_equal(shard.offset[u], expect_offset);
    expect_offset += rt_lengths[u];
  }
  assert_int_equal(shard.offset[RT_USERS], 15);
  assert_non_null(shard.type);
  for (int e = 0; e < 15; e++) {
    assert_int_equal(shard.item[e], d.items[e]);
    assert_int_equal(shard.time[e], d.times[e]);
    assert_int_equal(shard.type[e], d.types[e]);
  }
  sr_events_shard_free(&shard);

  char *ids = NULL;
  int width = 0;
  assert_int_equal(sr_events_read_raw_ids(path, "/users/raw_id", 0, RT_USERS, &ids, &width), SR_OK);
  assert_int_equal(width, 20);
  for (int u = 0; u < RT_USERS; u++) assert_string_equal(ids + u * (width + 1), rt_users[u]);
  sr_free(ids);
  assert_int_equal(sr_events_read_raw_ids(path, "/items/raw_id", 0, RT_ITEMS + 1, &ids, &width),
                   SR_OK);
  assert_string_equal(ids, "");
  assert_string_equal(ids + 7 * (width + 1), "item-7");
  assert_string_equal(ids + RT_ITEMS * (width + 1), "item-20");
  sr_free(ids);

  /* Content and root attributes, read with plain HDF5 as any other tool would. */
  hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  assert_int_equal(sr_h5_open_read(path, &file), SR_OK);
  char format[64];
  int64_t version = 0, n_events = 0;
  assert_int_equal(sr_h5_attr_read_str(file, path, "/", "format", format, sizeof format), SR_OK);
  assert_string_equal(format, "seqrec-events");
  assert_int_equal(sr_h5_attr_read_i64(file, path, "/", "version", &version), SR_OK);
  assert_int_equal(version, 1);
  assert_int_equal(sr_h5_attr_read_i64(file, path, "/", "n_events", &n_events), SR_OK);
  assert_int_equal(n_events, 15);
  assert_int_equal(sr_h5_dataset_open(file, path, "/items/content", &dset), SR_OK);
  int64_t dims[2];
  assert_int_equal(sr_h5_dataset_expect(dset, path, "/items/content", H5T_NATIVE_FLOAT, 2, dims),
                   SR_OK);
  assert_int_equal(dims[0], RT_ITEMS + 1);
  assert_int_equal(dims[1], RT_DIM);
  float back[(RT_ITEMS + 1) * RT_DIM];
  assert_int_equal(sr_h5_read_rows(dset, path, "/items/content", H5T_NATIVE_FLOAT, 0, RT_ITEMS + 1,
                                   back), SR_OK);
  assert_memory_equal(back, d.content, sizeof back);
  sr_h5_close(&dset);
  sr_h5_close(&file);
  assert_int_equal(file, H5I_INVALID_HID);
  unlink(path);
}

/* A file without types or content: the reader says so with NULL / 0. */
static void test_roundtrip_plain(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "plain.h5");
  rt_data d;
  rt_fill(&d);
  sr_events_writer *w = rt_open(path, 0);
  assert_int_equal(sr_events_writer_append_users(w, RT_USERS, rt_lengths, rt_users, d.items,
                                                 d.times, NULL), SR_OK);
  assert_int_equal(sr_events_writer_set_items(w, RT_ITEMS, d.item_ids), SR_OK);
  assert_int_equal(sr_events_writer_commit(w), SR_OK);
  sr_events_summary s;
  assert_int_equal(sr_events_check_summary(path, &s), SR_OK);
  assert_int_equal(s.n_event_types, 0);
  assert_int_equal(s.content_dim, 0);
  sr_events_shard shard;
  assert_int_equal(sr_events_shard_read(path, 0, 1, &shard), SR_OK);
  assert_null(shard.type);
  assert_int_equal(shard.n_event_types, 0);
  assert_int_equal(shard.item[14], d.items[14]);
  sr_events_shard_free(&shard);
  unlink(path);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void assert_text(const char *path, const char *text) {
  char buf[256] = {0};
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_string_equal(buf, text);
}

static void test_abort_leaves_existing_file(void **state) {
  (void)state;
  char path[512], tmp[600];
  tmp_path(path, sizeof path, "abort.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  write_text(path, "an older file that must survive\n");
  rt_data d;
  rt_fill(&d);
  sr_events_writer *w = rt_open(path, 1);
  assert_int_equal(sr_events_writer_append_users(w, RT_USERS, rt_lengths, rt_users, d.items,
                                                 d.times, d.types), SR_OK);
  assert_true(file_exists(tmp));
  assert_text(path, "an older file that must survive\n");
  sr_events_writer_abort(w);
  assert_false(file_exists(tmp));
  assert_text(path, "an older file that must survive\n");
  sr_events_writer_abort(NULL);

  /* No existing file: abort leaves nothing at all. */
  unlink(path);
  w = rt_open(path, 0);
  sr_events_writer_abort(w);
  assert_false(file_exists(path));
  assert_false(file_exists(tmp));
}

/* Bad data found at commit: an error naming the file and dataset, no file, no tmp file. */
static void test_commit_rejects_bad_items(void **state) {
  (void)state;
  char path[512], tmp[600];
  tmp_path(path, sizeof path, "bad_items.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  unlink(path);
  rt_data d;
  rt_fill(&d);
  const int32_t bad_values[2] = {RT_ITEMS + 1, 0};
  for (int k = 0; k < 2; k++) {
    d.items[9] = bad_values[k];
    sr_events_writer *w = rt_open(path, 0);
    assert_int_equal(sr_events_writer_append_users(w, RT_USERS, rt_lengths, rt_users, d.items,
                                                   d.times, NULL), SR_OK);
    assert_int_equal(sr_events_writer_set_items(w, RT_ITEMS, d.item_ids), SR_OK);
    sr_error_clear();
    assert_int_equal(sr_events_writer_commit(w), SR_EINVAL);
    assert_message_has(path);
    assert_message_has("/events/item[9]");
    sr_error_clear();
    assert_false(file_exists(path));
    assert_false(file_exists(tmp));
  }

  /* set_items forgotten: our bug, reported as such, and still no file. */
  rt_fill(&d);
  sr_events_writer *w = rt_open(path, 0);
  assert_int_equal(sr_events_writer_append_users(w, RT_USERS, rt_lengths, rt_users, d.items,
                                                 d.times, NULL), SR_OK);
  assert_int_equal(sr_events_writer_commit(w), SR_EINTERNAL);
  sr_error_clear();
  assert_false(file_exists(path));
  assert_false(file_exists(tmp));
}

static void test_append_rejects_bad_batches(void **state) {
  (void)state;
  char path[512], tmp[600];
  tmp_path(path, sizeof path, "bad_batch.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  rt_data d;
  rt_fill(&d);

  d.times[5] = d.times[4] - 1; /* user 2's third event goes back in time */
  sr_events_writer *w = rt_open(path, 1);
  sr_error_clear();
  assert_int_equal(sr_events_writer_append_users(w, RT_USERS, rt_lengths, rt_users, d.items,
                                                 d.times, d.types), SR_EINVAL);
  assert_message_has("/events/time[5]");
  assert_message_has("carol-with-a-long-id");
  /* After an error the writer refuses to commit, and leaves nothing behind. */
  assert_int_not_equal(sr_events_writer_commit(w), SR_OK);
  sr_error_clear();
  assert_false(file_exists(tmp));
  assert_false(file_exists(path));

  rt_fill(&d);
  d.types[3] = 3;
  w = rt_open(path, 1);
  assert_int_equal(sr_events_writer_append_users(w, RT_USERS, rt_lengths, rt_users, d.items,
                                                 d.times, d.types), SR_EINVAL);
  assert_message_has("/events/type[3]");
  sr_error_clear();
  sr_events_writer_abort(w);

  const char *long_ids[1] = {"an-id-that-is-longer-than-twenty-bytes"};
  const int64_t one[1] = {1};
  w = rt_open(path, 0);
  assert_int_equal(sr_events_writer_append_users(w, 1, one, long_ids, d.items, d.times, NULL),
                   SR_EINVAL);
  assert_message_has("/users/raw_id[0]");
  sr_error_clear();
  sr_events_writer_abort(w);
  assert_false(file_exists(tmp));
}

/* ---- shard ranges ---- */

/* Checks the contract of sr_events_shard_range for one offsets array and world size. */
static void check_shard_ranges(const int64_t *offset, int64_t n_users, int world) {
  const int64_t n_events = offset[n_users];
  int64_t longest = 0;
  for (int64_t u = 0; u < n_users; u++)
    if (offset[u + 1] - offset[u] > longest) longest = offset[u + 1] - offset[u];
  int64_t expect_begin = 0;
  for (int r = 0; r < world; r++) {
    int64_t begin = -1, end = -1;
    sr_events_shard_range(offset, n_users, r, world, &begin, &end);
    assert_int_equal(begin, expect_begin); /* contiguous: no user skipped or repeated */
    assert_true(end >= begin);
    assert_true(end <= n_users);
    /* |count - N / world| <= longest, in integers: |count * world - N| <= longest * world. */
    int64_t count = offset[end] - offset[begin];
    int64_t deviation = count * world - n_events;
    if (deviation < 0) deviation = -deviation;
    if (deviation > longest * world)
      fail_msg("world %d rank %d: %lld events, ideal %lld/%d, longest history %lld", world, r,
               (long long)count, (long long)n_events, world, (long long)longest);
    expect_begin = end;
  }
  assert_int_equal(expect_begin, n_users); /* every user covered */
}

static void test_shard_range_property(void **state) {
  (void)state;
  sr_rng r;
  sr_rng_init(&r, 2024, 0);
  enum { MAX_USERS = 300 };
  int64_t offset[MAX_USERS + 1];
  for (int trial = 0; trial < 2000; trial++) {
    int64_t n_users = (int64_t)sr_rng_below(&r, MAX_USERS + 1);
    /* Mixes of empty users, short ones and a few very long ones. */
    uint32_t shape = sr_rng_below(&r, 4);
    offset[0] = 0;
    for (int64_t u = 0; u < n_users; u++) {
      int64_t len;
      if (shape == 0)
        len = sr_rng_below(&r, 10);
      else if (shape == 1)
        len = sr_rng_below(&r, 3) == 0 ? 0 : 1 + sr_rng_below(&r, 5);
      else if (shape == 2)
        len = sr_rng_below(&r, 50) == 0 ? 500 + sr_rng_below(&r, 5000) : sr_rng_below(&r, 20);
      else
        len = 7;
      offset[u + 1] = offset[u] + len;
    }
    int world = 1 + (int)sr_rng_below(&r, (uint32_t)(n_users + 8 < 64 ? n_users + 8 : 64));
    check_shard_ranges(offset, n_users, world);
  }
  /* Edge cases: no users; no events; more ranks than users. */
  offset[0] = 0;
  check_shard_ranges(offset, 0, 3);
  for (int u = 1; u <= 5; u++) offset[u] = 0;
  check_shard_ranges(offset, 5, 4);
  for (int u = 1; u <= 3; u++) offset[u] = 10 * u;
  check_shard_ranges(offset, 3, 8);
  /* The boundary is the nearest one: 4 users of 10 over 2 ranks split 2 + 2. */
  for (int u = 1; u <= 4; u++) offset[u] = 10 * u;
  int64_t b, e;
  sr_events_shard_range(offset, 4, 0, 2, &b, &e);
  assert_int_equal(b, 0);
  assert_int_equal(e, 2);
}

/* Reading every shard of a file one after the other gives back the whole file. */
static void test_shard_read_covers_file(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "shards.h5");
  sr_gen_opts o = {.n_users = 97, .n_items = 50, .n_events = 3000, .seed = 5, .signal = 0.5,
                   .types = 1};
  assert_int_equal(sr_gen_write(path, &o, NULL), SR_OK);
  sr_events_shard whole;
  assert_int_equal(sr_events_shard_read(path, 0, 1, &whole), SR_OK);
  for (int world = 2; world <= 7; world++) {
    int64_t next_user = 0, next_event = 0;
    for (int rank = 0; rank < world; rank++) {
      sr_events_shard s;
      assert_int_equal(sr_events_shard_read(path, rank, world, &s), SR_OK);
      assert_int_equal(s.user_begin, next_user);
      assert_int_equal(s.event_begin, next_event);
      for (int64_t u = s.user_begin; u <= s.user_end; u++)
        assert_int_equal(s.offset[u - s.user_begin] + s.event_begin, whole.offset[u]);
      int64_t n = s.event_end - s.event_begin;
      assert_memory_equal(s.item, whole.item + s.event_begin, (size_t)n * sizeof *s.item);
      assert_memory_equal(s.time, whole.time + s.event_begin, (size_t)n * sizeof *s.time);
      assert_memory_equal(s.type, whole.type + s.event_begin, (size_t)n);
      next_user = s.user_end;
      next_event = s.event_end;
      sr_events_shard_free(&s);
    }
    assert_int_equal(next_user, 97);
    assert_int_equal(next_event, 3000);
  }
  sr_events_shard_free(&whole);
  sr_events_shard bad;
  assert_int_equal(sr_events_shard_read(path, 3, 3, &bad), SR_EINTERNAL);
  sr_error_clear();
  unlink(path);
}

/* ---- gen ---- */

static void gen_fingerprint(const char *path, uint64_t seed, char fp[32]) {
  sr_gen_opts o = {.n_users = 200, .n_items = 120, .n_events = 6000, .seed = seed,
                   .signal = 0.5, .types = 1, .content_dim = 6};
  sr_gen_stats stats;
  assert_int_equal(sr_gen_write(path, &o, &stats), SR_OK);
  sr_events_summary s;
  assert_int_equal(sr_events_check_summary(path, &s), SR_OK);
  assert_string_equal(s.fingerprint, stats.fingerprint);
  assert_int_equal(s.n_users, 200);
  assert_int_equal(s.n_items, 120);
  assert_int_equal(s.n_events, 6000); /* exactly E */
  assert_int_equal(s.content_dim, 6);
  assert_int_equal(s.n_event_types, 3);
  assert_true(stats.min_history >= 3);
  assert_int_equal(s.max_history, stats.max_history);
  snprintf(fp, 32, "%s", s.fingerprint);
}

static void test_gen_deterministic(void **state) {
  (void)state;
  char a[512], b[512], fa[32], fb[32], fc[32];
  tmp_path(a, sizeof a, "gen_a.h5");
  tmp_path(b, sizeof b, "gen_b.h5");
  gen_fingerprint(a, 11, fa);
  gen_fingerprint(b, 11, fb);
  assert_string_equal(fa, fb);
  gen_fingerprint(b, 12, fc);
  assert_string_not_equal(fa, fc);

  /* At least 3 events per user, strictly increasing times. */
  sr_events_shard s;
  assert_int_equal(sr_events_shard_read(a, 0, 1, &s), SR_OK);
  for (int64_t u = 0; u < s.n_users; u++) {
    assert_true(s.offset[u + 1] - s.offset[u] >= 3);
    for (int64_t e = s.offset[u] + 1; e < s.offset[u + 1]; e++)
      assert_true(s.time[e] > s.time[e - 1]); /* strictly increasing */
  }
  sr_events_shard_free(&s);
  unlink(a);
  unlink(b);
}

/* The share of transitions that follow the successor map is P (plus the few popularity draws
 * that land on the successor by chance), and gen's own count matches the file. */
static void test_gen_planted_signal(void **state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "signal.h5");
  const double signals[3] = {0.0, 0.5, 0.9};
  for (int k = 0; k < 3; k++) {
    sr_gen_opts o = {.n_users = 400, .n_items = 1000, .n_events = 40000, .seed = 3,
                     .signal = signals[k]};
    sr_gen_stats stats;
    assert_int_equal(sr_gen_write(path, &o, &stats), SR_OK);
    int32_t *succ = NULL;
    assert_int_equal(sr_gen_successors(3, 1000, &succ), SR_OK);
    for (int i = 1; i <= 1000; i++) {
      assert_true(succ[i] >= 1 && succ[i] <= 1000);
      assert_int_not_equal(succ[i], i);
    }
    sr_events_shard s;
    assert_int_equal(sr_events_shard_read(path, 0, 1, &s), SR_OK);
    int64_t transitions = 0, followed = 0;
    for (int64_t u = 0; u < s.n_users; u++)
      for (int64_t e = s.offset[u] + 1; e < s.offset[u + 1]; e++) {
        transitions++;
        followed += s.item[e] == succ[s.item[e - 1]];
      }
    assert_int_equal(transitions, 40000 - 400);
    assert_int_equal(transitions, stats.transitions);
    assert_int_equal(followed, stats.followed);
    double share = (double)followed / (double)transitions;
    if (share < signals[k] - 0.015 || share > signals[k] + 0.03)
      fail_msg("P = %.2f: %.4f of transitions follow the successor map", signals[k], share);
    /* Popularity alone cannot explain it: its top-1 is far below the oracle when P > 0. */
    if (signals[k] > 0) assert_true(stats.top1_hits < stats.followed / 2);
    sr_events_shard_free(&s);
    sr_free(succ);
  }
  unlink(path);
}

static void test_gen_rejects_bad_options(void **state) {
  (void)state;
  const struct {
    sr_gen_opts o;
    const char *option;
  } cases[] = {
      {{.n_users = 0, .n_items = 10, .n_events = 30, .signal = 0.5}, "--users"},
      {{.n_users = 10, .n_items = 1, .n_events = 30, .signal = 0.5}, "--items"},
      {{.n_users = 10, .n_items = 10, .n_events = 29, .signal = 0.5}, "--events"},
      {{.n_users = 10, .n_items = 10, .n_events = 30, .signal = 1.5}, "--signal"},
      {{.n_users = 10, .n_items = 10, .n_events = 30, .signal = 0.5, .content_dim = -1},
       "--content-dim"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    sr_error_clear();
    assert_int_equal(sr_gen_validate(&cases[k].o), SR_EINVAL);
    assert_message_has(cases[k].option);
  }
  sr_error_clear();
}

int main(void) {
  sr_log_set_quiet(1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_with_types_and_content),
      cmocka_unit_test(test_roundtrip_plain),
      cmocka_unit_test(test_abort_leaves_existing_file),
      cmocka_unit_test(test_commit_rejects_bad_items),
      cmocka_unit_test(test_append_rejects_bad_batches),
      cmocka_unit_test(test_shard_range_property),
      cmocka_unit_test(test_shard_read_covers_file),
      cmocka_unit_test(test_gen_deterministic),
      cmocka_unit_test(test_gen_planted_signal),
      cmocka_unit_test(test_gen_rejects_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
