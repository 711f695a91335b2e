/* events/import: the parser (every format, quoting, headers, block boundaries), every kind of bad
 * row and column error, raw-id order, and the table (stable time sort, dedupe, k-core).
 * The seqrec binary on real data is tested by import_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/status.h"
#include "events/import.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static sr_import_opts opts_of(sr_import_format format) {
  sr_import_opts o;
  memset(&o, 0, sizeof o);
  o.format = format;
  return o;
}

static sr_status read_text(sr_import_log *log, const sr_import_opts *o, const char *text) {
  sr_error_clear();
  return sr_import_read_text(log, o, "in.txt", text, strlen(text));
}

/* Fails with the message when st is not `want` or the message lacks `part`. */
static void expect_error(sr_status st, sr_status want, const char *part) {
  if (st != want || !strstr(sr_error_message(), part)) {
    print_error("status %d (want %d), message \"%s\" (want it to contain \"%s\")\n", (int)st,
                (int)want, sr_error_message(), part);
    fail();
  }
  sr_error_clear();
}

/* Reads `text` as a one-file input that must fail with a message containing `part`; then
 * again with --skip-bad, where it must succeed with exactly one row of kind `kind` counted. */
static void expect_bad_row(sr_import_opts o, const char *text, const char *part,
                           sr_import_bad kind) {
  sr_import_log log;
  sr_import_log_init(&log, &o);
  expect_error(read_text(&log, &o, text), SR_EINVAL, part);
  sr_import_log_free(&log);

  o.skip_bad = 1;
  sr_import_log_init(&log, &o);
  sr_status st = read_text(&log, &o, text);
  if (st != SR_OK) print_error("with --skip-bad: %s\n", sr_error_message());
  assert_int_equal(st, SR_OK);
  for (int k = 0; k < SR_IMPORT_BAD_KINDS; k++)
    assert_int_equal(log.n_bad[k], k == (int)kind ? 1 : 0);
  sr_import_log_free(&log);
}

static const char *user_of(const sr_import_log *log, int64_t e) {
  return sr_import_ids_get(&log->users, log->user[e]);
}

static const char *item_of(const sr_import_log *log, int64_t e) {
  return sr_import_ids_get(&log->items, log->item[e]);
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void temp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/import_%ld_%s", SEQREC_TEST_TMP, (long)getpid(), name);
}

/* ---- numbers, UTF-8, ids ------------------------------------------------------------------- */

static void test_parse_int64(void **state) {
  (void)state;
  int64_t v = 7;
  assert_int_equal(sr_import_parse_int64("0", 1, &v), 1);
  assert_int_equal(v, 0);
  assert_int_equal(sr_import_parse_int64("-42", 3, &v), 1);
  assert_int_equal(v, -42);
  assert_int_equal(sr_import_parse_int64("881250949", 9, &v), 1);
  assert_int_equal(v, 881250949);
  assert_int_equal(sr_import_parse_int64("9223372036854775807", 19, &v), 1);
  assert_true(v == INT64_MAX);
  assert_int_equal(sr_import_parse_int64("-9223372036854775808", 20, &v), 1);
  assert_true(v == INT64_MIN);
  assert_int_equal(sr_import_parse_int64("9223372036854775808", 19, &v), -1);
  assert_int_equal(sr_import_parse_int64("-9223372036854775809", 20, &v), -1);
  assert_int_equal(sr_import_parse_int64("123456789012345678901234", 24, &v), -1);
  assert_int_equal(sr_import_parse_int64("", 0, &v), 0);
  assert_int_equal(sr_import_parse_int64("-", 1, &v), 0);
  assert_int_equal(sr_import_parse_int64("+5", 2, &v), 0);
  assert_int_equal(sr_import_parse_int64("12a", 3, &v), 0);
  assert_int_equal(sr_import_parse_int64("1.5", 3, &v), 0);
  assert_int_equal(sr_import_parse_int64("99999999999999999999x", 21, &v), 0);
}

static void test_utf8(void **state) {
  (void)state;
  assert_true(sr_import_utf8_valid("abc", 3));
  assert_true(sr_import_utf8_valid("caf\xc3\xa9", 5));
  assert_true(sr_import_utf8_valid("\xe2\x82\xac", 3));      /* euro sign */
  assert_true(sr_import_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
  assert_false(sr_import_utf8_valid("caf\xe9", 4));          /* ISO-8859-1 */
  assert_false(sr_import_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
  assert_false(sr_import_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
  assert_false(sr_import_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  assert_false(sr_import_utf8_valid("\xe2\x82", 2));         /* truncated */
  assert_false(sr_import_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
  assert_false(sr_import_utf8_valid("\x80", 1));             /* lone continuation */
}

static void test_ids_intern(void **state) {
  (void)state;
  sr_import_ids ids;
  sr_import_ids_init(&ids);
  char buf[32];
  /* Enough ids to grow the slot table several times. */
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 20000; i++) {
      int len = snprintf(buf, sizeof buf, "id-%d", i * 7919 % 20000);
      int32_t key = -1;
      assert_int_equal(sr_import_ids_intern(&ids, buf, (size_t)len, &key), SR_OK);
      assert_int_equal(key, i);
      assert_string_equal(sr_import_ids_get(&ids, key), buf);
    }
  assert_int_equal(ids.n, 20000);
  /* Ids sharing their first 8 bytes (the part kept in the hash slot) stay apart. */
  const char *same_head[] = {"abcdefgh",         "abcdefgh1",        "abcdefgh2",
                             "abcdefgh12345678", "abcdefgh12345679", "abcdefg",
                             "abcdefgh123456789"};
  int32_t keys[7];
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 7; i++) {
      int32_t key;
      assert_int_equal(sr_import_ids_intern(&ids, same_head[i], strlen(same_head[i]), &key), SR_OK);
      if (round == 0) keys[i] = key;
      assert_int_equal(key, keys[i]);
      assert_int_equal(key, 20000 + i);
      assert_string_equal(sr_import_ids_get(&ids, key), same_head[i]);
    }
  /* A prefix is another id. */
  int32_t a, b;
  assert_int_equal(sr_import_ids_intern(&ids, "id-1", 4, &a), SR_OK);
  assert_int_equal(sr_import_ids_intern(&ids, "id-", 3, &b), SR_OK);
  assert_int_not_equal(a, b);
  assert_int_equal(b, 20007);
  sr_import_ids_free(&ids);
}

static void sorted_ids(const char *const *raw, int n, const int64_t *count, const char **out,
                       int32_t *n_out) {
  sr_import_ids ids;
  sr_import_ids_init(&ids);
  int32_t key;
  for (int i = 0; i < n; i++)
    assert_int_equal(sr_import_ids_intern(&ids, raw[i], strlen(raw[i]), &key), SR_OK);
  int32_t *sorted;
  assert_int_equal(sr_import_ids_sort(&ids, count, &sorted, n_out), SR_OK);
  static char keep[16][16];
  for (int i = 0; i < *n_out; i++) {
    strcpy(keep[i], sr_import_ids_get(&ids, sorted[i]));
    out[i] = keep[i];
  }
  sr_free(sorted);
  sr_import_ids_free(&ids);
}

static void test_ids_order_numeric_or_bytes(void **state) {
  (void)state;
  const char *out[16];
  int32_t n;
  /* All integers: numeric order (so the SASRec files keep their numbers), ties by bytes. */
  const char *nums[] = {"10", "9", "100", "-3", "09"};
  const int64_t all[] = {1, 1, 1, 1, 1};
  sorted_ids(nums, 5, all, out, &n);
  assert_int_equal(n, 5);
  assert_string_equal(out[0], "-3");
  assert_string_equal(out[1], "09");
  assert_string_equal(out[2], "9");
  assert_string_equal(out[3], "10");
  assert_string_equal(out[4], "100");
  /* One non-integer: byte-wise for all. */
  const char *mixed[] = {"10", "9", "a", "B", "100"};
  sorted_ids(mixed, 5, all, out, &n);
  assert_int_equal(n, 5);
  assert_string_equal(out[0], "10");
  assert_string_equal(out[1], "100");
  assert_string_equal(out[2], "9");
  assert_string_equal(out[3], "B");
  assert_string_equal(out[4], "a");
  /* Only survivors count: the dropped "a" does not force byte order; UTF-8 sorts by bytes. */
  const int64_t some[] = {2, 1, 0, 1, 3};
  const char *mixed2[] = {"10", "9", "a", "7", "100"};
  sorted_ids(mixed2, 5, some, out, &n);
  assert_int_equal(n, 4);
  assert_string_equal(out[0], "7");
  assert_string_equal(out[1], "9");
  assert_string_equal(out[2], "10");
  assert_string_equal(out[3], "100");
  const char *utf[] = {"\xc3\xa9t\xc3\xa9", "zoo", "abc"};
  sorted_ids(utf, 3, all, out, &n);
  assert_string_equal(out[0], "abc");
  assert_string_equal(out[1], "zoo");
  assert_string_equal(out[2], "\xc3\xa9t\xc3\xa9");
}

/* ---- formats ------------------------------------------------------------------------------- */

static void test_csv_header_names_and_quotes(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_CSV);
  o.header = 1;
  o.user_col = "user id";
  o.item_col = "item";
  o.time_col = "4";
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o,
                             "\"user id\",item,rating,ts\r\n"
                             "u1,\"The \"\"Big\"\" one, part 2\",5,100\r\n"
                             "\r\n"
                             "  u2 , i2 ,3, 50\n"
                             "u1,\"\",4,7\n"),
                   SR_EINVAL);
  /* The empty quoted item is an empty id on line 5. */
  expect_error(SR_EINVAL, SR_EINVAL, "in.txt:5: empty item id");
  sr_import_log_free(&log);

  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o,
                             "\"user id\",item,rating,ts\r\n"
                             "u1,\"The \"\"Big\"\" one, part 2\",5,100\r\n"
                             "\r\n"
                             "  u2 , i2 ,3, 50\n"
                             "u1,i2,4,7"),
                   SR_OK);
  assert_int_equal(log.n, 3);
  assert_int_equal(log.n_rows, 3);
  assert_string_equal(user_of(&log, 0), "u1");
  assert_string_equal(item_of(&log, 0), "The \"Big\" one, part 2");
  assert_true(log.time[0] == 100);
  assert_string_equal(user_of(&log, 1), "u2");
  assert_string_equal(item_of(&log, 1), "i2");
  assert_true(log.time[1] == 50);
  assert_int_equal(log.item[2], log.item[1]);
  assert_null(log.type);
  assert_int_equal(log.n_types, 0);
  sr_import_log_free(&log);
}

static void test_tsv_types_in_order_of_appearance(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_TSV);
  o.user_col = "2";
  o.item_col = "1";
  o.type_col = "3";
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o, "i1\tu1\tview\ni2\tu1\tbuy\ni1\tu2\tview\ni3\tu2\tcart\n"),
                   SR_OK);
  assert_int_equal(log.n, 4);
  assert_int_equal(log.n_types, 3);
  assert_string_equal(log.types[0], "view");
  assert_string_equal(log.types[1], "buy");
  assert_string_equal(log.types[2], "cart");
  assert_int_equal(log.type[0], 0);
  assert_int_equal(log.type[1], 1);
  assert_int_equal(log.type[2], 0);
  assert_int_equal(log.type[3], 2);
  /* No time column: line order. */
  for (int e = 0; e < 4; e++) assert_true(log.time[e] == e);
  assert_string_equal(user_of(&log, 1), "u1");
  assert_string_equal(item_of(&log, 1), "i2");
  sr_import_log_free(&log);
}

static void test_movielens_separators(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_MOVIELENS);
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o, "1::1193::5::978300760\n1::661::3::978302109\n"), SR_OK);
  assert_int_equal(read_text(&log, &o, "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"), SR_OK);
  assert_int_equal(log.n, 4);
  assert_string_equal(item_of(&log, 0), "1193");
  assert_true(log.time[1] == 978302109);
  assert_string_equal(user_of(&log, 2), "196");
  assert_string_equal(item_of(&log, 3), "302");
  assert_true(log.time[3] == 891717742);
  /* "::" files: a single ':' is no separator. */
  assert_int_equal(read_text(&log, &o, "1::a:b::5::978300760\n"), SR_OK);
  assert_string_equal(item_of(&log, 4), "a:b");
  expect_error(read_text(&log, &o, "1,2,3,4\n"), SR_EINVAL, "in.txt:1: not a MovieLens");
  sr_import_log_free(&log);
}

static void test_sasrec_line_order_across_files(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_SASREC);
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o, "1 1\n1  2\n\n2\t3\n"), SR_OK);
  assert_int_equal(read_text(&log, &o, "  2 1  \n"), SR_OK);
  assert_int_equal(log.n, 4);
  for (int e = 0; e < 4; e++) assert_true(log.time[e] == e);
  assert_string_equal(user_of(&log, 3), "2");
  assert_string_equal(item_of(&log, 3), "1");
  expect_error(read_text(&log, &o, "3 4 5\n"), SR_EINVAL,
               "in.txt:1: expected 2 whitespace-separated fields, found 3");
  sr_import_log_free(&log);
}

static void test_taobao_types(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_TAOBAO);
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o,
                             "1,2268318,2520377,pv,1511544070\n"
                             "1,2333346,2520771,buy,1511561733\n"
                             "7,2576651,149192,fav,1511572885\n"
                             "7,2576651,149192,cart,1511572886\n"),
                   SR_OK);
  assert_int_equal(log.n_types, 4);
  assert_string_equal(log.types[0], "pv");
  assert_string_equal(log.types[1], "cart");
  assert_string_equal(log.types[2], "fav");
  assert_string_equal(log.types[3], "buy");
  assert_int_equal(log.type[0], 0);
  assert_int_equal(log.type[1], 3);
  assert_int_equal(log.type[2], 2);
  assert_int_equal(log.type[3], 1);
  assert_true(log.time[3] == 1511572886);
  sr_import_log_free(&log);
}

/* ---- bad rows: every kind fails with file:line, and --skip-bad counts it --------------------- */

static void test_bad_rows(void **state) {
  (void)state;
  sr_import_opts tab = opts_of(SR_IMPORT_MOVIELENS);
  expect_bad_row(tab, "1\t2\t3\t4\n1\t2\t3\t5\n1\t2\t3\n",
                 "in.txt:3: expected 4 tab-separated fields, found 3", SR_IMPORT_BAD_FIELDS);
  expect_bad_row(tab, "1\t2\t3\t4\n\t2\t3\t5\n", "in.txt:2: empty user id", SR_IMPORT_BAD_EMPTY_ID);
  expect_bad_row(tab, "1\t2\t3\t4\n1\t2\t3\t5x\n", "in.txt:2: time '5x' is not an integer",
                 SR_IMPORT_BAD_TIME);
  expect_bad_row(tab, "1\t2\t3\t4\n1\t2\t3\t99999999999999999999\n",
                 "in.txt:2: time '99999999999999999999' is out of range", SR_IMPORT_BAD_TIME);
  expect_bad_row(tab, "1\t2\t3\t4\n1\tcaf\xe9\t3\t5\n", "in.txt:2: item id 'caf", SR_IMPORT_BAD_ID);
  /* A NUL in the text: strlen would cut it, so this one by hand. */
  {
    const char text[] = "1\t2\t3\t4\n1\t2\0x\t3\t5\n3\t4\t5\t6\n";
    sr_import_log log;
    sr_import_log_init(&log, &tab);
    sr_error_clear();
    expect_error(sr_import_read_text(&log, &tab, "u.data", text, sizeof text - 1), SR_EINVAL,
                 "u.data:2: NUL byte in the line");
    sr_import_log_free(&log);
    sr_import_opts skip = tab;
    skip.skip_bad = 1;
    sr_import_log_init(&log, &skip);
    assert_int_equal(sr_import_read_text(&log, &skip, "u.data", text, sizeof text - 1), SR_OK);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.n_rows, 3);
    assert_int_equal(log.n_bad[SR_IMPORT_BAD_NUL], 1);
    sr_import_log_free(&log);
  }
  sr_import_opts tb = opts_of(SR_IMPORT_TAOBAO);
  expect_bad_row(tb, "1,2,3,pv,10\n1,2,3,click,11\n",
                 "in.txt:2: unknown event type 'click' (taobao types are pv, cart, fav, buy)",
                 SR_IMPORT_BAD_TYPE);
  expect_bad_row(tb, "1,2,3,pv,10\n1,\"2,3,pv,11\n", "in.txt:2: unterminated quote",
                 SR_IMPORT_BAD_QUOTE);
  expect_bad_row(tb, "1,2,3,pv,10\n1,\"2\"x,3,pv,11\n",
                 "in.txt:2: unterminated quote or text after a closing quote", SR_IMPORT_BAD_QUOTE);
  /* Ids longer than the limit. */
  {
    char text[SR_IMPORT_MAX_ID + 64];
    int n = snprintf(text, sizeof text, "1,2,3,pv,10\n1,");
    memset(text + n, 'x', SR_IMPORT_MAX_ID + 1);
    strcpy(text + n + SR_IMPORT_MAX_ID + 1, ",3,pv,11\n");
    expect_bad_row(tb, text, "in.txt:2: item id of 1025 bytes", SR_IMPORT_BAD_ID);
  }
  /* csv: the 33rd distinct event type. */
  {
    sr_import_opts o = opts_of(SR_IMPORT_CSV);
    o.user_col = "1";
    o.item_col = "2";
    o.type_col = "3";
    char text[4096];
    size_t used = 0;
    for (int t = 0; t <= SR_EVENTS_MAX_TYPES; t++)
      used += (size_t)snprintf(text + used, sizeof text - used, "u,i,type%d\n", t);
    expect_bad_row(o, text, "in.txt:33: event type 'type32' is one too many: at most 32",
                   SR_IMPORT_BAD_TYPE);
  }
  /* A line over the limit (a small limit here: the real one is 1 MiB). */
  {
    sr_import_opts o = opts_of(SR_IMPORT_SASREC);
    o.max_line_bytes = 16;
    expect_bad_row(o, "1 2\n1 22222222222222222222222\n1 3\n",
                   "in.txt:2: line longer than 16 bytes (25)", SR_IMPORT_BAD_LONG_LINE);
  }
}

static void test_skip_bad_keeps_good_rows_and_line_numbers(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_MOVIELENS);
  o.skip_bad = 1;
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o, "1\t2\t3\t4\nx\n1\t\t3\t5\n2\t3\t4\tfoo\n5\t6\t7\t8\n"),
                   SR_OK);
  assert_int_equal(log.n, 2);
  assert_int_equal(log.n_rows, 5);
  assert_int_equal(log.n_bad[SR_IMPORT_BAD_FIELDS], 1);
  assert_int_equal(log.n_bad[SR_IMPORT_BAD_EMPTY_ID], 1);
  assert_int_equal(log.n_bad[SR_IMPORT_BAD_TIME], 1);
  assert_string_equal(user_of(&log, 1), "5");
  sr_import_log_free(&log);
}

/* ---- column options ------------------------------------------------------------------------ */

static void expect_column_error(const char *user, const char *item, int header, const char *text,
                                const char *part) {
  sr_import_opts o = opts_of(SR_IMPORT_CSV);
  o.user_col = user;
  o.item_col = item;
  o.header = header;
  o.skip_bad = 1; /* option errors are not bad rows */
  sr_import_log log;
  sr_import_log_init(&log, &o);
  expect_error(read_text(&log, &o, text), SR_EINVAL, part);
  sr_import_log_free(&log);
}

static void test_column_errors(void **state) {
  (void)state;
  expect_column_error("1", "5", 0, "a,b,c\n",
                      "--item 5: beyond the row: in.txt:1 has 3 comma-separated fields");
  expect_column_error("0", "2", 0, "a,b,c\n", "--user 0: column numbers start at 1");
  expect_column_error("user", "2", 0, "a,b,c\n", "--user user: not a column number");
  expect_column_error(
      "user", "itm", 1, "user,item\n1,2\n",
      "--item itm: no column of that name in the header of in.txt (line 1: user, item)");
  /* The header line itself is never skipped as a bad row. */
  expect_column_error("user", "item", 1, "user,\"item\n1,2\n",
                      "in.txt:1: header line: unterminated quote");
}

/* ---- files and blocks ---------------------------------------------------------------------- */

static void test_file_blocks_match_text(void **state) {
  (void)state;
  /* Many short lines, a CRLF, no final newline: read with 7-byte blocks. */
  char text[8192];
  size_t used = 0;
  for (int i = 0; i < 300; i++)
    used += (size_t)snprintf(text + used, sizeof text - used, "%d\t%d\t1\t%d%s\n", i % 17, i % 29,
                             1000 - i, i == 5 ? "\r" : "");
  used += (size_t)snprintf(text + used, sizeof text - used, "99\t98\t1\t5");
  char path[512];
  temp_path(path, sizeof path, "blocks.data");
  write_file(path, text, used);

  sr_import_opts o = opts_of(SR_IMPORT_MOVIELENS);
  sr_import_log a, b;
  sr_import_log_init(&a, &o);
  sr_import_log_init(&b, &o);
  assert_int_equal(sr_import_read_text(&a, &o, "x", text, used), SR_OK);
  o.block_bytes = 7;
  o.max_line_bytes = 64;
  assert_int_equal(sr_import_read_file(&b, &o, path, NULL), SR_OK);
  assert_int_equal(a.n, 301);
  assert_int_equal(b.n, a.n);
  for (int64_t e = 0; e < a.n; e++) {
    assert_string_equal(user_of(&a, e), user_of(&b, e));
    assert_string_equal(item_of(&a, e), item_of(&b, e));
    assert_true(a.time[e] == b.time[e]);
  }
  assert_true(b.time[300] == 5);
  sr_import_log_free(&a);
  sr_import_log_free(&b);
  unlink(path);
}

static void test_file_long_line_across_blocks(void **state) {
  (void)state;
  char text[4096];
  size_t used = (size_t)snprintf(text, sizeof text, "1 1\n2 ");
  memset(text + used, '7', 1000);
  used += 1000;
  used += (size_t)snprintf(text + used, sizeof text - used, "\n3 3\n4 4\n");
  char path[512];
  temp_path(path, sizeof path, "long.txt");
  write_file(path, text, used);

  sr_import_opts o = opts_of(SR_IMPORT_SASREC);
  o.block_bytes = 10;
  o.max_line_bytes = 100;
  sr_import_log log;
  sr_import_log_init(&log, &o);
  sr_error_clear();
  sr_status st = sr_import_read_file(&log, &o, path, NULL);
  char want[600];
  snprintf(want, sizeof want, "%s:2: line longer than 100 bytes", path);
  expect_error(st, SR_EINVAL, want);
  sr_import_log_free(&log);

  o.skip_bad = 1;
  sr_import_log_init(&log, &o);
  assert_int_equal(sr_import_read_file(&log, &o, path, NULL), SR_OK);
  assert_int_equal(log.n, 3);
  assert_int_equal(log.n_rows, 4);
  assert_int_equal(log.n_bad[SR_IMPORT_BAD_LONG_LINE], 1);
  /* Line order counts the skipped line: "3 3" is the third row. */
  assert_true(log.time[1] == 2);
  assert_string_equal(user_of(&log, 1), "3");
  assert_string_equal(user_of(&log, 2), "4");
  sr_import_log_free(&log);
  unlink(path);
}

static void test_missing_file(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_SASREC);
  sr_import_log log;
  sr_import_log_init(&log, &o);
  sr_error_clear();
  expect_error(sr_import_read_file(&log, &o, "/nonexistent/ratings.dat", NULL), SR_EIO,
               "cannot open input /nonexistent/ratings.dat: No such file or directory");
  sr_error_clear();
  expect_error(sr_import_read_file(&log, &o, SEQREC_TEST_TMP, NULL), SR_EIO,
               "error reading " SEQREC_TEST_TMP);
  sr_import_log_free(&log);
}

/* ---- the table ----------------------------------------------------------------------------- */

static void build(const sr_import_log *log, int dedupe, int64_t min_u, int64_t min_i,
                  sr_import_table *t) {
  sr_import_filter f = {dedupe, min_u, min_i, NULL};
  sr_error_clear();
  sr_status st = sr_import_table_build(log, &f, t);
  if (st != SR_OK) print_error("%s\n", sr_error_message());
  assert_int_equal(st, SR_OK);
}

static void test_table_stable_time_sort(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_CSV);
  o.user_col = "1";
  o.item_col = "2";
  o.time_col = "3";
  sr_import_log log;
  sr_import_log_init(&log, &o);
  /* User 10 comes first in the input but sorts after 9; equal times keep input order. */
  char text[8192] = "10,5,30\n9,1,20\n10,6,10\n10,7,30\n9,2,20\n9,3,10\n10,8,30\n";
  size_t used = strlen(text);
  /* A long user with ties to exercise the merge sort. */
  for (int i = 0; i < 100; i++)
    used += (size_t)snprintf(text + used, sizeof text - used, "11,%d,%d\n", 100 + i, (i * 37) % 10);
  assert_int_equal(read_text(&log, &o, text), SR_OK);
  sr_import_table t;
  build(&log, 0, 0, 0, &t);
  assert_int_equal(t.n_users, 3);
  assert_string_equal(t.user_raw[0], "9");
  assert_string_equal(t.user_raw[1], "10");
  assert_string_equal(t.user_raw[2], "11");
  assert_int_equal(t.user_id_width, 2);
  assert_true(t.lengths[0] == 3 && t.lengths[1] == 4 && t.lengths[2] == 100);
  const char *want[] = {"3", "1", "2", "6", "5", "7", "8"};
  const int64_t want_time[] = {10, 20, 20, 10, 30, 30, 30};
  for (int e = 0; e < 7; e++) {
    assert_string_equal(t.item_raw[t.item[e]], want[e]);
    assert_true(t.time[e] == want_time[e]);
  }
  /* Items: numeric order, dense from 1. */
  assert_int_equal(t.n_items, 107); /* 1 2 3 5 6 7 8 100..199 */
  assert_string_equal(t.item_raw[0], "");
  assert_string_equal(t.item_raw[1], "1");
  assert_string_equal(t.item_raw[4], "5");
  assert_string_equal(t.item_raw[7], "8");
  assert_string_equal(t.item_raw[8], "100");
  for (int64_t e = 7; e < 107; e++) {
    assert_true(t.time[e - 1] <= t.time[e] || e == 7);
    /* Within one time, input order = increasing item number here. */
    if (e > 7 && t.time[e - 1] == t.time[e]) assert_true(t.item[e - 1] < t.item[e]);
  }
  sr_import_table_free(&t);
  sr_import_log_free(&log);
}

static void test_table_dedupe(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_CSV);
  o.user_col = "1";
  o.item_col = "2";
  o.time_col = "3";
  o.type_col = "4";
  sr_import_log log;
  sr_import_log_init(&log, &o);
  char text[8192] =
      "a,x,1,view\n"
      "a,y,1,view\n"
      "a,x,1,buy\n"   /* another type: kept */
      "a,x,1,view\n"  /* repeat: dropped */
      "a,x,2,view\n"  /* another time: kept */
      "b,x,1,view\n"  /* another user: kept */
      "a,y,1,view\n"; /* repeat: dropped */
  size_t used = strlen(text);
  /* A big group at one time: 40 events over 10 items, 30 repeats (the sorted path). */
  for (int i = 0; i < 40; i++)
    used += (size_t)snprintf(text + used, sizeof text - used, "c,i%d,5,view\n", (i * 3) % 10);
  assert_int_equal(read_text(&log, &o, text), SR_OK);
  sr_import_table t;
  build(&log, 1, 0, 0, &t);
  assert_int_equal(t.n_duplicates, 32);
  assert_int_equal(t.n_events, 4 + 1 + 10);
  assert_true(t.lengths[0] == 4 && t.lengths[1] == 1 && t.lengths[2] == 10);
  /* User a: x view, y view, x buy at 1 (input order), then x at 2. */
  assert_string_equal(t.item_raw[t.item[0]], "x");
  assert_string_equal(t.item_raw[t.item[1]], "y");
  assert_string_equal(t.item_raw[t.item[2]], "x");
  assert_int_equal(t.type[2], 1);
  assert_true(t.time[3] == 2);
  /* User c keeps the first of each item in input order: i0 i3 i6 i9 i2 i5 i8 i1 i4 i7. */
  const char *first[] = {"i0", "i3", "i6", "i9", "i2", "i5", "i8", "i1", "i4", "i7"};
  for (int k = 0; k < 10; k++) assert_string_equal(t.item_raw[t.item[5 + k]], first[k]);
  assert_true(t.type_count[0] == 14 && t.type_count[1] == 1);
  sr_import_table_free(&t);

  /* Without --dedupe everything stays. */
  build(&log, 0, 0, 0, &t);
  assert_int_equal(t.n_duplicates, 0);
  assert_int_equal(t.n_events, 47);
  sr_import_table_free(&t);
  sr_import_log_free(&log);
}

static void test_table_kcore_until_stable(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_SASREC);
  sr_import_log log;
  sr_import_log_init(&log, &o);
  /* min 2 and 2: round 1 drops u4 (1 event), which leaves item c with 1; round 2 drops c,
   * which leaves u3 with 1; round 3 drops u3. u1 and u2 with a and b remain. */
  assert_int_equal(read_text(&log, &o, "u1 a\nu1 b\nu2 a\nu2 b\nu3 b\nu3 c\nu4 c\n"), SR_OK);
  sr_import_table t;
  build(&log, 0, 2, 2, &t);
  assert_int_equal(t.n_users, 2);
  assert_int_equal(t.n_items, 2);
  assert_int_equal(t.n_events, 4);
  assert_int_equal(t.kcore_rounds, 3);
  assert_int_equal(t.kcore_users, 2);
  assert_int_equal(t.kcore_items, 1);
  assert_int_equal(t.kcore_events, 3);
  assert_string_equal(t.user_raw[0], "u1");
  assert_string_equal(t.user_raw[1], "u2");
  assert_string_equal(t.item_raw[1], "a");
  assert_string_equal(t.item_raw[2], "b");
  assert_int_equal(t.item[0], 1);
  assert_int_equal(t.item[1], 2);
  sr_import_table_free(&t);

  /* Items only: one pass, nothing cascades. */
  build(&log, 0, 0, 2, &t);
  assert_int_equal(t.n_users, 4);
  assert_int_equal(t.n_items, 3);
  assert_int_equal(t.kcore_rounds, 0);
  sr_import_table_free(&t);
  build(&log, 0, 0, 3, &t);
  assert_int_equal(t.n_users, 3); /* only b has 3 events: u4 had only c */
  assert_int_equal(t.n_items, 1);
  assert_int_equal(t.kcore_rounds, 1);
  sr_import_table_free(&t);

  /* Filtering everything away is an error that says so. */
  sr_import_filter f = {0, 3, 3, NULL};
  sr_error_clear();
  expect_error(sr_import_table_build(&log, &f, &t), SR_EINVAL, "no events left after filtering");
  sr_import_log_free(&log);
}

static void test_table_empty_log(void **state) {
  (void)state;
  sr_import_opts o = opts_of(SR_IMPORT_SASREC);
  sr_import_log log;
  sr_import_log_init(&log, &o);
  assert_int_equal(read_text(&log, &o, "\n  \n"), SR_OK);
  sr_import_table t;
  sr_import_filter f = {0, 0, 0, NULL};
  sr_error_clear();
  expect_error(sr_import_table_build(&log, &f, &t), SR_EINVAL, "no events");
  sr_import_log_free(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_int64),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_ids_intern),
      cmocka_unit_test(test_ids_order_numeric_or_bytes),
      cmocka_unit_test(test_csv_header_names_and_quotes),
      cmocka_unit_test(test_tsv_types_in_order_of_appearance),
      cmocka_unit_test(test_movielens_separators),
      cmocka_unit_test(test_sasrec_line_order_across_files),
      cmocka_unit_test(test_taobao_types),
      cmocka_unit_test(test_bad_rows),
      cmocka_unit_test(test_skip_bad_keeps_good_rows_and_line_numbers),
      cmocka_unit_test(test_column_errors),
      cmocka_unit_test(test_file_blocks_match_text),
      cmocka_unit_test(test_file_long_line_across_blocks),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_table_stable_time_sort),
      cmocka_unit_test(test_table_dedupe),
      cmocka_unit_test(test_table_kcore_until_stable),
      cmocka_unit_test(test_table_empty_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
