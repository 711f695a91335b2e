/* core/config: defaults, loading block and flow YAML, the round trip through to_yaml, --set,
 * the command line, validation, and one test per way a config can be wrong (each checks the
 * status and that the message names the file, line:column and dotted key). */
#include <fcntl.h>
#include <float.h>
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

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/status.h"

#define FIXTURES SEQREC_CONFIG_FIXTURES
#define TMP SEQREC_TEST_TMP

static char *path_in(const char *dir, const char *name) {
  static char paths[8][SR_PATH_MAX]; /* a few live at once */
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, SR_PATH_MAX, "%s/%s", dir, name);
  return p;
}

/* A temp file named after the test case, so a failure can be looked at. */
static const char *tmp_write(const char *name, const char *text, size_t length) {
  char file[256];
  snprintf(file, sizeof file, "test_config_%s.yaml", name);
  const char *path = path_in(TMP, file);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, length, f), length);
  assert_int_equal(fclose(f), 0);
  return path;
}

static const char *tmp_text(const char *name, const char *text) {
  return tmp_write(name, text, strlen(text));
}

/* Fills a string field the way the library does: zeros after the text, so structs compare. */
static void field_set(char *field, const char *text) {
  memset(field, 0, SR_PATH_MAX);
  strcpy(field, text);
}

/* Checks a failing status and that its message holds every fragment; clears the error. */
static void expect_error(sr_status st, sr_status want, const char *fragment, ...) {
  const char *msg = sr_error_message();
  if (st != want) fail_msg("status %s, wanted %s; message: %s", sr_status_name(st),
                           sr_status_name(want), msg);
  va_list ap;
  va_start(ap, fragment);
  for (const char *f = fragment; f; f = va_arg(ap, const char *))
    if (!strstr(msg, f)) fail_msg("message lacks \"%s\": %s", f, msg);
  va_end(ap);
  sr_error_clear();
}

static void expect_ok(sr_status st) {
  if (st != SR_OK) fail_msg("status %s: %s", sr_status_name(st), sr_error_message());
}

static void setup_clean(void) {
  sr_error_clear();
  sr_log_set_quiet(1);
}

/* ---- defaults and good files -------------------------------------------------------------- */

static void test_defaults_match_design(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  assert_string_equal(sr_error_message(), ""); /* every default in the table parses */
  assert_string_equal(c.data.events, "");
  assert_int_equal(c.data.max_len, 200);
  assert_int_equal(c.data.split, SR_SPLIT_LEAVE_ONE_OUT);
  assert_true(c.data.split_time == SR_SPLIT_TIME_UNSET);
  assert_true(c.data.train_since == SR_SPLIT_TIME_UNSET);
  assert_int_equal(c.model.d_model, 64);
  assert_int_equal(c.model.n_layers, 2);
  assert_int_equal(c.model.n_heads, 2);
  assert_int_equal(c.model.d_ff, 256);
  assert_true(c.model.dropout == 0.2f);
  assert_string_equal(c.model.init_from, "");
  assert_int_equal(c.train.loss, SR_LOSS_CE);
  assert_int_equal(c.train.negatives, 0);
  assert_int_equal(c.train.batch_size, 128);
  assert_int_equal(c.train.epochs, 200);
  assert_true(c.train.lr == 1.0e-3f);
  assert_true(c.train.weight_decay == 0.0f);
  assert_int_equal(c.train.warmup_steps, 100);
  assert_int_equal(c.train.schedule, SR_SCHEDULE_CONSTANT);
  assert_true(c.train.grad_clip == 1.0f);
  assert_true(c.train.seed == 42);
  assert_int_equal(c.train.precision, SR_PRECISION_FP32);
  assert_int_equal(c.train.eval_every, 5);
  assert_int_equal(c.train.patience, 5);
  assert_string_equal(c.train.checkpoint, "runs/x/ckpt.h5");
  assert_int_equal(c.train.checkpoint_every, 1);
  assert_int_equal(c.runtime.device, SR_DEVICE_AUTO);
  assert_int_equal(c.runtime.threads, 0);
  assert_string_equal(c.score.checkpoint, "runs/x/ckpt.h5");
  assert_int_equal(c.score.k, 100);
  assert_int_equal(c.score.exclude_seen, 1);
  assert_string_equal(c.score.output, "runs/x/recs.h5");
  assert_string_equal(c.source, "");
  expect_ok(sr_config_validate(&c));
}

/* The values both full_*.yaml fixtures set. */
static void expect_full_values(const sr_config *c) {
  assert_string_equal(c->data.events, "data/ml-1m/events.h5");
  assert_int_equal(c->data.max_len, 50);
  assert_int_equal(c->data.split, SR_SPLIT_TEMPORAL);
  assert_true(c->data.split_time == 1700000000);
  assert_int_equal(c->model.d_model, 128);
  assert_int_equal(c->model.n_layers, 3);
  assert_int_equal(c->model.n_heads, 4);
  assert_int_equal(c->model.d_ff, 512);
  assert_true(c->model.dropout == 0.5f);
  assert_string_equal(c->model.init_from, "runs/base/ckpt.h5");
  assert_int_equal(c->train.loss, SR_LOSS_SAMPLED_CE);
  assert_int_equal(c->train.negatives, 100);
  assert_int_equal(c->train.batch_size, 256);
  assert_int_equal(c->train.epochs, 30);
  assert_true(c->train.lr == 3.0e-4f);
  assert_true(c->train.weight_decay == 0.01f);
  assert_int_equal(c->train.warmup_steps, 500);
  assert_int_equal(c->train.schedule, SR_SCHEDULE_COSINE);
  assert_true(c->train.grad_clip == 0.5f);
  assert_true(c->train.seed == 1234);
  assert_int_equal(c->train.precision, SR_PRECISION_BF16);
  assert_int_equal(c->train.eval_every, 2);
  assert_int_equal(c->train.patience, 3);
  assert_string_equal(c->train.checkpoint, "runs/ml/ckpt.h5");
  assert_int_equal(c->train.checkpoint_every, 2);
  assert_int_equal(c->runtime.device, SR_DEVICE_CUDA);
  assert_int_equal(c->runtime.threads, 8);
  assert_string_equal(c->score.checkpoint, "runs/ml/best.h5");
  assert_int_equal(c->score.k, 20);
  assert_int_equal(c->score.exclude_seen, 0);
  assert_string_equal(c->score.output, "runs/ml/recs 2.h5");
}

static void test_full_block_file(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  const char *path = path_in(FIXTURES, "full_block.yaml");
  expect_ok(sr_config_load(&c, path));
  expect_full_values(&c);
  assert_string_equal(c.source, path);
  expect_ok(sr_config_validate(&c));
}

static void test_full_flow_file(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  expect_ok(sr_config_load(&c, path_in(FIXTURES, "full_flow.yaml")));
  expect_full_values(&c);
  expect_ok(sr_config_validate(&c));
}

/* Empty files, comment-only files and empty documents mean "all defaults". */
static void test_empty_files_keep_defaults(void **state) {
  (void)state;
  setup_clean();
  sr_config defaults, c;
  sr_config_defaults(&defaults);
  const char *paths[] = {
      path_in(FIXTURES, "empty.yaml"),
      path_in(FIXTURES, "comments_only.yaml"),
      tmp_text("doc_only", "---\n"),
      tmp_text("tilde", "~\n"),
      tmp_text("null_section", "train:\nmodel: # everything commented out\n"),
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    sr_config_defaults(&c);
    expect_ok(sr_config_load(&c, paths[i]));
    assert_string_equal(c.source, paths[i]);
    memcpy(c.source, defaults.source, sizeof c.source);
    assert_memory_equal(&c, &defaults, sizeof c);
  }
}

/* A file names only some keys: the rest keep what they had (defaults or earlier loads). */
static void test_partial_file_overlays(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  c.train.epochs = 77;
  const char *path = tmp_text("partial", "model: {d_model: 32}\ntrain:\n  lr: 0.5\n");
  expect_ok(sr_config_load(&c, path));
  assert_int_equal(c.model.d_model, 32);
  assert_true(c.train.lr == 0.5f);
  assert_int_equal(c.train.epochs, 77);
  assert_int_equal(c.model.n_layers, 2);
}

static void test_shipped_configs_load(void **state) {
  (void)state;
  setup_clean();
  sr_config defaults, c;
  sr_config_defaults(&defaults);
  /* configs/default.yaml spells out exactly the defaults of the schema table. */
  sr_config_defaults(&c);
  c.train.epochs = 1; /* must be overwritten by the file */
  expect_ok(sr_config_load(&c, path_in(SEQREC_CONFIGS, "default.yaml")));
  expect_ok(sr_config_validate(&c));
  memcpy(c.source, defaults.source, sizeof c.source);
  assert_memory_equal(&c, &defaults, sizeof c);

  sr_config_defaults(&c);
  expect_ok(sr_config_load(&c, path_in(SEQREC_CONFIGS, "demo.yaml")));
  expect_ok(sr_config_validate(&c));
  assert_string_equal(c.data.events, "runs/demo/events.h5");
  assert_int_equal(c.model.d_model, 32);
  assert_int_equal(c.model.n_layers, 1);
  assert_int_equal(c.model.n_heads, 1);
  assert_int_equal(c.train.epochs, 5);
  assert_string_equal(c.train.checkpoint, "runs/demo/ckpt.h5");
  assert_string_equal(c.score.checkpoint, "runs/demo/ckpt.h5");
  assert_string_equal(c.score.output, "runs/demo/recs.h5");
}

/* ---- to_yaml round trip ------------------------------------------------------------------- */

/* to_yaml, write, load into fresh defaults: the same struct (source aside) and the same text. */
static void round_trip(const sr_config *original, const char *name) {
  char *text = NULL;
  expect_ok(sr_config_to_yaml(original, &text));
  assert_non_null(text);
  const char *path = tmp_write(name, text, strlen(text));
  sr_config back;
  sr_config_defaults(&back);
  sr_status st = sr_config_load(&back, path);
  if (st != SR_OK) fail_msg("%s\n--- text ---\n%s", sr_error_message(), text);
  memcpy(back.source, original->source, sizeof back.source);
  assert_memory_equal(&back, original, sizeof back);
  char *again = NULL;
  expect_ok(sr_config_to_yaml(&back, &again));
  assert_string_equal(again, text);
  sr_free(again);
  sr_free(text);
}

static void test_to_yaml_round_trip(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  round_trip(&c, "rt_defaults");
  expect_ok(sr_config_load(&c, path_in(FIXTURES, "full_block.yaml")));
  round_trip(&c, "rt_full");

  /* Strings that must be quoted, floats that need every digit, extreme integers. */
  sr_config_defaults(&c);
  field_set(c.data.events, "weird \"quoted\" \\ path: #x\n\ttab\x01\x7f");
  field_set(c.model.init_from, "null"); /* the string, not null */
  field_set(c.train.checkpoint, "123");
  field_set(c.score.checkpoint,
            "\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9/\xe8\xb7\xaf\xe5\xbe\x84.h5");
  field_set(c.score.output,
            "nel\xc2\x85" "c1\xc2\x9f" "ls\xe2\x80\xa8" "ps\xe2\x80\xa9" "bom\xef\xbb\xbf");
  c.data.split_time = INT64_MIN + 1;
  c.train.seed = UINT64_MAX;
  c.train.lr = 0.1f;
  c.train.weight_decay = FLT_MIN;
  c.train.grad_clip = nextafterf(1.0e6f, 0.0f);
  c.model.dropout = nextafterf(0.2f, 1.0f);
  c.runtime.threads = 4096;
  round_trip(&c, "rt_edges");
  c.train.weight_decay = 1.0e-45f; /* subnormal */
  c.train.lr = 0.0f;
  field_set(c.score.output, "");
  field_set(c.data.events, "yes");
  round_trip(&c, "rt_edges2");

  /* Every key appears, with the help as a comment; floats come out short. */
  char *text = NULL;
  sr_config_defaults(&c);
  expect_ok(sr_config_to_yaml(&c, &text));
  assert_non_null(strstr(text, "\ntrain:\n  loss: ce "));
  assert_non_null(strstr(text, "\n  lr: 0.001 "));
  assert_non_null(strstr(text, "\n  dropout: 0.2 "));
  assert_non_null(strstr(text, "\n  init_from: null "));
  assert_non_null(strstr(text, "\n  split_time: null "));
  assert_non_null(strstr(text, "\n  events: \"\" "));
  assert_non_null(strstr(text, "\n  schedule: constant "));
  assert_non_null(strstr(text, "\n  exclude_seen: true "));
  int keys = 0;
  for (const char *p = text; (p = strstr(p, "\n  ")); p++) keys++;
  assert_int_equal(keys, 39);
  sr_free(text);
}

static void test_get(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  char value[64];
  expect_ok(sr_config_get(&c, "train.lr", value, sizeof value));
  assert_string_equal(value, "0.001");
  expect_ok(sr_config_get(&c, "model.init_from", value, sizeof value));
  assert_string_equal(value, "null");
  expect_ok(sr_config_get(&c, "train.loss", value, sizeof value));
  assert_string_equal(value, "ce");
  expect_ok(sr_config_get(&c, "train.checkpoint", value, sizeof value));
  assert_string_equal(value, "runs/x/ckpt.h5");
  expect_error(sr_config_get(&c, "train.lrr", value, sizeof value), SR_EINVAL, "train.lrr",
               "did you mean 'train.lr'?", NULL);
  expect_error(sr_config_get(&c, "train.checkpoint", value, 4), SR_EINTERNAL,
               "train.checkpoint", NULL);
}

static void test_print_is_an_aligned_table(void **state) {
  (void)state;
  setup_clean();
  sr_log_set_quiet(0);
  sr_config c;
  sr_config_defaults(&c);
  const char *path = path_in(TMP, "test_config_print.txt");
  fflush(stdout);
  int saved = dup(1);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(saved >= 0 && fd >= 0);
  dup2(fd, 1);
  close(fd);
  sr_config_print(&c);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  sr_log_set_quiet(1);

  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int rows = 0, value_column = -1;
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "configuration (defaults):\n");
  while (fgets(line, sizeof line, f)) {
    rows++;
    const char *key_end = strchr(line + 2, ' ');
    assert_non_null(key_end);
    int column = (int)(key_end - line);
    while (line[column] == ' ') column++;
    if (value_column < 0) value_column = column;
    assert_int_equal(column, value_column); /* every value starts in the same column */
    if (strncmp(line, "  train.lr ", 11) == 0) assert_string_equal(line + column, "0.001\n");
  }
  fclose(f);
  assert_int_equal(rows, 39);
}

/* ---- errors in files ---------------------------------------------------------------------- */

typedef struct {
  const char *name;  /* temp file name */
  const char *yaml;  /* its content */
  const char *where; /* line:column */
  const char *key;   /* the dotted key the message names, NULL for syntax errors */
  const char *says;  /* what it says is wrong */
} bad_file;

static const bad_file bad_files[] = {
    {"unknown_section", "trian:\n  lr: 0.1\n", "1:1", "trian", "did you mean 'train'?"},
    {"unknown_section_far", "optimizer:\n  lr: 0.1\n", "1:1", "optimizer",
     "the sections are data, model, train, runtime, score"},
    {"unknown_key", "train:\n  lrr: 0.1\n", "2:3", "train.lrr", "did you mean 'train.lr'?"},
    {"key_in_wrong_section", "model:\n  lr: 0.1\n", "2:3", "model.lr", "did you mean 'train.lr'?"},
    {"swapped_letters", "model:\n  n_haeds: 4\n", "2:3", "model.n_haeds",
     "did you mean 'model.n_heads'?"},
    {"unknown_key_far", "train:\n  learning_speed: 0.1\n", "2:3", "train.learning_speed",
     "the keys of train are loss, negatives, batch_size"},
    {"not_integer", "model:\n  d_model: abc\n", "2:12", "model.d_model",
     "expected an integer, got 'abc'"},
    {"float_for_integer", "model:\n  d_model: 64.5\n", "2:12", "model.d_model",
     "expected an integer, got '64.5'"},
    {"quoted_integer", "model:\n  d_model: \"64\"\n", "2:12", "model.d_model",
     "got the quoted string '64' (write it without quotes)"},
    {"not_number", "train:\n  lr: fast\n", "2:7", "train.lr", "expected a number, got 'fast'"},
    {"hex_float", "train:\n  lr: 0x1p-3\n", "2:7", "train.lr", "expected a number, got '0x1p-3'"},
    {"integer_range", "model:\n  n_layers: 0\n", "2:13", "model.n_layers",
     "0 is out of range (allowed 1..256)"},
    {"negative_range", "train:\n  epochs: -3\n", "2:11", "train.epochs",
     "-3 is out of range (allowed 1..1000000)"},
    {"float_range", "model:\n  dropout: 1.5\n", "2:12", "model.dropout",
     "1.5 is out of range (allowed 0..0.99)"},
    {"integer_overflow", "train:\n  epochs: 99999999999999999999\n", "2:11", "train.epochs",
     "99999999999999999999 is out of range (allowed 1..1000000)"},
    {"int_beyond_int32", "train:\n  warmup_steps: 2147483648\n", "2:17", "train.warmup_steps",
     "2147483648 is out of range (allowed 0..2147483647)"},
    {"u64_overflow", "train:\n  seed: 18446744073709551616\n", "2:9", "train.seed",
     "is out of range (allowed 0..18446744073709551615)"},
    {"u64_negative", "train:\n  seed: -1\n", "2:9", "train.seed", "-1 is out of range"},
    {"i64_overflow", "data:\n  split_time: 9223372036854775808\n", "2:15", "data.split_time",
     "9223372036854775808 is out of range (allowed -9223372036854775807..9223372036854775807 "
     "or null)"},
    {"i64_sentinel", "data:\n  split_time: -9223372036854775808\n", "2:15", "data.split_time",
     "is out of range"},
    {"float_overflow", "train:\n  lr: 1e999\n", "2:7", "train.lr",
     "1e999 overflows a 32-bit float (allowed 0..10)"},
    {"float32_overflow", "train:\n  grad_clip: -1e39\n", "2:14", "train.grad_clip",
     "overflows a 32-bit float"},
    {"float_underflow", "train:\n  lr: 1e-60\n", "2:7", "train.lr", "underflows to 0"},
    {"float_inf", "train:\n  lr: .inf\n", "2:7", "train.lr",
     "expected a finite number, got '.inf'"},
    {"float_minus_inf", "train:\n  weight_decay: -.Inf\n", "2:17", "train.weight_decay",
     "expected a finite number"},
    {"float_nan", "train:\n  lr: .nan\n", "2:7", "train.lr",
     "expected a finite number, got '.nan'"},
    {"bad_enum", "train:\n  loss: softmax\n", "2:9", "train.loss",
     "expected one of ce, sampled_ce, bce; got 'softmax'"},
    {"bad_schedule", "train:\n  schedule: step\n", "2:13", "train.schedule",
     "expected one of constant, linear, cosine; got 'step'"},
    {"bool_yes", "score:\n  exclude_seen: yes\n", "2:17", "score.exclude_seen",
     "expected true or false, got 'yes'"},
    {"bool_capital", "score:\n  exclude_seen: True\n", "2:17", "score.exclude_seen",
     "expected true or false, got 'True'"},
    {"bool_quoted", "score:\n  exclude_seen: 'true'\n", "2:17", "score.exclude_seen",
     "expected true or false, got the quoted string 'true'"},
    {"empty_number", "train:\n  lr:\n  epochs: 3\n", "2:6", "train.lr",
     "expected a number, got an empty value"},
    {"null_path", "train:\n  checkpoint: null\n", "2:15", "train.checkpoint",
     "expected a string (a path), got null"},
    {"null_integer", "model:\n  d_ff: ~\n", "2:9", "model.d_ff", "expected an integer, got null"},
    {"nul_in_string", "data:\n  events: \"a\\0b\"\n", "2:11", "data.events",
     "contains a NUL character"},
    {"duplicate_key", "train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.2\n", "4:3", "train.lr",
     "duplicate key (first set at line 2)"},
    {"duplicate_flow_key", "train: {lr: 0.1, lr: 0.2}\n", "1:18", "train.lr",
     "duplicate key (first set at line 1)"},
    {"duplicate_section", "train:\n  lr: 0.1\nmodel:\n  d_ff: 8\ntrain:\n  epochs: 3\n", "5:1",
     "train", "duplicate section (first at line 1)"},
    {"section_scalar", "train: 5\n", "1:8", "train", "expected a mapping of keys"},
    {"section_sequence", "train:\n  - lr\n", "2:3", "train", "got a sequence"},
    {"top_scalar", "hello\n", "1:1", NULL,
     "expected a mapping of sections (data, model, train, runtime, score), got a scalar"},
    {"top_sequence", "- data\n- model\n", "1:1", NULL, "got a sequence"},
    {"value_mapping", "train:\n  lr: {a: 1}\n", "2:7", "train.lr",
     "expected a number, got a mapping"},
    {"value_sequence", "data:\n  events: [a.h5, b.h5]\n", "2:11", "data.events",
     "got a sequence"},
    {"anchor", "train:\n  lr: &rate 0.1\n", "2:7", "train.lr",
     "YAML anchors (&rate) are not supported"},
    {"alias", "train:\n  weight_decay: *rate\n", "2:17", "train.weight_decay",
     "YAML aliases (*rate) are not supported"},
    {"anchor_on_section", "train: &t\n  lr: 0.1\n", "1:8", "train", "YAML anchors (&t)"},
    {"merge_key", "train:\n  <<: {lr: 0.1}\n", "2:3", "train", "YAML merge keys (<<) are not"},
    {"no_close_key", "train:\n  xy: 1\n", "2:3", "train.xy", "unknown key; the keys of train"},
    {"long_typo", "data:\n  max_length: 10\n", "2:3", "data.max_length",
     "did you mean 'data.max_len'?"},
    {"tag", "train:\n  lr: !!float 1\n", "2:7", "train.lr",
     "YAML tags (tag:yaml.org,2002:float) are not supported"},
    {"sequence_key", "train:\n  ? [a]\n  : 1\n", "2:5", "train",
     "expected a key name, got a sequence"},
    {"two_documents", "train:\n  lr: 0.1\n---\nmodel:\n  d_ff: 8\n", "3:1", NULL,
     "a second YAML document"},
    {"unclosed_flow", "train: {lr: 0.1,\n  epochs: 3\n", "3:1", NULL,
     "YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping at line 1"},
    {"bad_indent", "train:\n  lr: 0.1\n epochs: 3\n", "3:2", NULL, "YAML syntax error"},
    {"colon_in_value", "data:\n  events: a: b\n", "2:12", NULL,
     "YAML syntax error: mapping values are not allowed in this context"},
    {"tab_after_key", "train:\n  lr: 0.1\n\tepochs: 3\n", "3:1", NULL,
     "YAML indents with spaces, and this is a tab"},
    {"control_character", "train:\n  lr: \x01\n", "2:7", NULL,
     "control characters are not allowed"},
    /* libyaml points at the byte that breaks the sequence: the '(' after a lead byte */
    {"invalid_utf8", "train:\n  checkpoint: x\xc3(\n", "2:17", NULL,
     "invalid trailing UTF-8 octet (#x28); the file must be UTF-8 text"},
};

static void test_bad_files(void **state) {
  (void)state;
  setup_clean();
  for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
    const bad_file *b = &bad_files[i];
    const char *path = tmp_text(b->name, b->yaml);
    sr_config c, before;
    sr_config_defaults(&c);
    memcpy(&before, &c, sizeof c);
    sr_status st = sr_config_load(&c, path);
    const char *msg = sr_error_message();
    char prefix[SR_PATH_MAX + 64], named[128];
    snprintf(prefix, sizeof prefix, "%s:%s: ", path, b->where);
    snprintf(named, sizeof named, "%s: ", b->key ? b->key : "");
    if (st != SR_EINVAL || strncmp(msg, prefix, strlen(prefix)) != 0 ||
        (b->key && strncmp(msg + strlen(prefix), named, strlen(named)) != 0) ||
        !strstr(msg, b->says))
      fail_msg("case %s: status %s, message\n  %s\nwanted it to start with\n  %s%s\nand say\n  %s",
               b->name, sr_status_name(st), msg, prefix, b->key ? named : "", b->says);
    /* A failed load changes nothing. */
    assert_memory_equal(&c, &before, sizeof c);
    sr_error_clear();
  }
}

static void test_bad_fixture_files(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  const char *path = path_in(FIXTURES, "tab_indent.yaml");
  char where[SR_PATH_MAX + 16];
  snprintf(where, sizeof where, "%s:2:1: YAML syntax error", path);
  expect_error(sr_config_load(&c, path), SR_EINVAL, where, "this is a tab", NULL);

  path = path_in(FIXTURES, "binary_garbage.yaml");
  snprintf(where, sizeof where, "%s:3:9: not valid YAML text", path);
  expect_error(sr_config_load(&c, path), SR_EINVAL, where, "invalid leading UTF-8 octet", NULL);

  path = path_in(FIXTURES, "unknown_key.yaml");
  snprintf(where, sizeof where, "%s:4:3: train.lrr: unknown key (did you mean 'train.lr'?)", path);
  expect_error(sr_config_load(&c, path), SR_EINVAL, where, NULL);

  /* Binary data with NUL bytes and no newline at all. */
  const char garbage[] = {'\x7f', 'E', 'L', 'F', '\x02', '\x01', '\x00', '\x00', '\xff'};
  path = tmp_write("elf", garbage, sizeof garbage);
  snprintf(where, sizeof where, "%s:1:1: not valid YAML text", path);
  expect_error(sr_config_load(&c, path), SR_EINVAL, where, NULL);
}

static void test_unreadable_files(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  const char *missing = path_in(TMP, "test_config_no_such_file.yaml");
  remove(missing);
  expect_error(sr_config_load(&c, missing), SR_EIO, "cannot open config file", missing,
               "No such file or directory", NULL);
  expect_error(sr_config_load(&c, TMP), SR_EIO, "cannot read config file", TMP, NULL);
  /* Too large to be a configuration. */
  size_t big = (1u << 20) + 10;
  char *text = malloc(big);
  assert_non_null(text);
  memset(text, '#', big);
  const char *path = tmp_write("huge", text, big);
  free(text);
  expect_error(sr_config_load(&c, path), SR_EINVAL, path, "is this a configuration file?", NULL);
  remove(path);
  /* A path longer than any field it could be stored in. */
  char long_value[SR_PATH_MAX + 40];
  int n = snprintf(long_value, sizeof long_value, "data:\n  events: ");
  memset(long_value + n, 'a', SR_PATH_MAX);
  strcpy(long_value + n + SR_PATH_MAX, "\n");
  path = tmp_write("long_path", long_value, strlen(long_value));
  char where[SR_PATH_MAX + 32];
  snprintf(where, sizeof where, "%s:2:11: data.events:", path);
  expect_error(sr_config_load(&c, path), SR_EINVAL, where, "4096 bytes long; at most 4095", NULL);
}

/* ---- --set -------------------------------------------------------------------------------- */

static void test_set_overrides(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  expect_ok(sr_config_set(&c, "train.lr=3e-4"));
  assert_true(c.train.lr == 3e-4f);
  expect_ok(sr_config_set(&c, "data.events=my events.h5"));
  assert_string_equal(c.data.events, "my events.h5");
  expect_ok(sr_config_set(&c, "data.events='a: quoted # value'"));
  assert_string_equal(c.data.events, "a: quoted # value");
  expect_ok(sr_config_set(&c, "data.events=\"tab\\there\""));
  assert_string_equal(c.data.events, "tab\there");
  expect_ok(sr_config_set(&c, "data.events=x=y"));
  assert_string_equal(c.data.events, "x=y");
  expect_ok(sr_config_set(&c, "model.init_from=runs/a/ckpt.h5"));
  assert_string_equal(c.model.init_from, "runs/a/ckpt.h5");
  expect_ok(sr_config_set(&c, "model.init_from=null"));
  assert_string_equal(c.model.init_from, "");
  expect_ok(sr_config_set(&c, "model.init_from=~"));
  expect_ok(sr_config_set(&c, "train.loss=bce"));
  assert_int_equal(c.train.loss, SR_LOSS_BCE);
  expect_ok(sr_config_set(&c, "train.schedule=linear"));
  assert_int_equal(c.train.schedule, SR_SCHEDULE_LINEAR);
  expect_ok(sr_config_set(&c, "score.exclude_seen=false"));
  assert_int_equal(c.score.exclude_seen, 0);
  expect_ok(sr_config_set(&c, "data.split_time=-5"));
  assert_true(c.data.split_time == -5);
  expect_ok(sr_config_set(&c, "data.split_time=null"));
  assert_true(c.data.split_time == SR_SPLIT_TIME_UNSET);
  expect_ok(sr_config_set(&c, "train.seed=18446744073709551615"));
  assert_true(c.train.seed == UINT64_MAX);
  expect_ok(sr_config_set(&c, " train.epochs = 7"));
  assert_int_equal(c.train.epochs, 7);
  expect_ok(sr_config_set(&c, "runtime.device=cpu"));
  assert_int_equal(c.runtime.device, SR_DEVICE_CPU);
  assert_string_equal(c.source, ""); /* --set does not pretend to come from a file */
}

typedef struct {
  const char *assignment;
  const char *says;
} bad_set;

static void test_set_errors(void **state) {
  (void)state;
  setup_clean();
  static const bad_set cases[] = {
      {"train.lr=abc", "train.lr: expected a number, got 'abc'"},
      {"train.lrr=1", "train.lrr: unknown key (did you mean 'train.lr'?)"},
      {"lr=1", "lr: unknown key (did you mean 'train.lr'?)"},
      {"train=1", "train: unknown key"},
      {"model.warmup=3", "model.warmup: unknown key; the keys of model are d_model, n_layers"},
      {"colour.scheme=dark", "colour.scheme: unknown key; keys are section.name, the sections "
                             "data, model, train, runtime, score"},
      {"model.n_layers=0", "model.n_layers: 0 is out of range (allowed 1..256)"},
      {"train.epochs=", "train.epochs: expected an integer, got an empty value"},
      {"train.epochs=99999999999999999999", "train.epochs: 99999999999999999999 is out of range"},
      {"train.lr=.nan", "train.lr: expected a finite number"},
      {"train.lr={a: 1}", "train.lr: expected a number, got a mapping"},
      {"data.events=a: b", "data.events: expected a string (a path), got a mapping (quote"},
      {"train.lr='1", "YAML syntax error at column 3 of the value: found unexpected end of stream"},
      {"train.lr=*x", "train.lr: YAML aliases (*x) are not supported"},
      {"train.lr=&x 1", "train.lr: YAML anchors (&x) are not supported"},
      {"train.loss=softmax", "train.loss: expected one of ce, sampled_ce, bce; got 'softmax'"},
      {"score.exclude_seen=no", "score.exclude_seen: expected true or false, got 'no'"},
      {"train.lr=1\n---\n2", "train.lr: the value holds more than one YAML document"},
      {"train.checkpoint=\x80", "not valid YAML text"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sr_config c, before;
    sr_config_defaults(&c);
    memcpy(&before, &c, sizeof c);
    sr_status st = sr_config_set(&c, cases[i].assignment);
    const char *msg = sr_error_message();
    char prefix[256];
    snprintf(prefix, sizeof prefix, "--set %s: ", cases[i].assignment);
    if (st != SR_EINVAL || strncmp(msg, prefix, strlen(prefix)) != 0 ||
        !strstr(msg, cases[i].says))
      fail_msg("--set %s: status %s, message\n  %s\nwanted\n  %s...%s", cases[i].assignment,
               sr_status_name(st), msg, prefix, cases[i].says);
    assert_memory_equal(&c, &before, sizeof c); /* a failed --set changes nothing */
    sr_error_clear();
  }
  sr_config c;
  sr_config_defaults(&c);
  expect_error(sr_config_set(&c, "train.lr"), SR_EINVAL,
               "--set train.lr: missing '='; write --set section.key=value", NULL);
}

/* ---- command line and validation ---------------------------------------------------------- */

static sr_status from_args(sr_config *c, const char *a0, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  va_start(ap, a0);
  for (const char *a = a0; a && argc < 32; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
  va_end(ap);
  return sr_config_from_args(c, argc, argv);
}

static void test_from_args(void **state) {
  (void)state;
  setup_clean();
  sr_config c, defaults;
  sr_config_defaults(&defaults);
  memset(&c, 0x5a, sizeof c);
  expect_ok(from_args(&c, "train", NULL));
  assert_memory_equal(&c, &defaults, sizeof c);

  /* The file comes first wherever -c stands; the overrides apply in order. */
  const char *full = path_in(FIXTURES, "full_block.yaml");
  expect_ok(from_args(&c, "train", "--set", "train.epochs=3", "-c", full, "--set=train.epochs=4",
                      "--set", "model.d_model=256", NULL));
  assert_int_equal(c.train.epochs, 4);
  assert_int_equal(c.model.d_model, 256);
  assert_int_equal(c.model.n_heads, 4);
  assert_string_equal(c.source, full);
  expect_ok(from_args(&c, "score", "--config", full, NULL));
  expect_full_values(&c);
  expect_ok(from_args(&c, "score", "--config=" SEQREC_CONFIGS "/demo.yaml", NULL));
  assert_int_equal(c.model.d_model, 32);

  expect_error(from_args(&c, "train", "--bogus", NULL), SR_EINVAL,
               "train: unknown option '--bogus' (accepted: -c/--config FILE, --set", NULL);
  expect_error(from_args(&c, "train", "-c", full, "extra.yaml", NULL), SR_EINVAL,
               "train: unexpected argument 'extra.yaml'", NULL);
  expect_error(from_args(&c, "train", "-c", full, "--config", full, NULL), SR_EINVAL,
               "train: more than one config file", NULL);
  expect_error(from_args(&c, "train", "-c", NULL), SR_EINVAL, "train: -c needs a file name",
               NULL);
  expect_error(from_args(&c, "eval", "--set", NULL), SR_EINVAL,
               "eval: --set needs section.key=value", NULL);
  expect_error(from_args(&c, "train", "--set", "train.lr", NULL), SR_EINVAL,
               "--set train.lr: missing '='", NULL);
  expect_error(from_args(&c, "train", "-c", path_in(TMP, "test_config_absent.yaml"), NULL),
               SR_EIO, "test_config_absent.yaml", NULL);
  /* Validation runs last, over the merged result. */
  expect_error(from_args(&c, "score", "--set", "model.n_heads=3", NULL), SR_EINVAL,
               "model.d_model (64) is not divisible by model.n_heads (3)", NULL);
  expect_ok(from_args(&c, "score", "--set", "model.n_heads=3", "--set", "model.d_model=96", NULL));
}

static void test_validate(void **state) {
  (void)state;
  setup_clean();
  sr_config c;
  sr_config_defaults(&c);
  c.model.n_heads = 3;
  expect_error(sr_config_validate(&c), SR_EINVAL, "model.d_model (64)", "model.n_heads (3)", NULL);

  sr_config_defaults(&c);
  c.train.loss = SR_LOSS_SAMPLED_CE;
  expect_error(sr_config_validate(&c), SR_EINVAL, "train.loss is sampled_ce",
               "train.negatives is 0", NULL);
  c.train.negatives = 100;
  expect_ok(sr_config_validate(&c));

  sr_config_defaults(&c);
  c.data.split = SR_SPLIT_TEMPORAL;
  expect_error(sr_config_validate(&c), SR_EINVAL, "data.split is temporal",
               "data.split_time is not set", NULL);
  c.data.split_time = 1700000000;
  expect_ok(sr_config_validate(&c));
  c.data.train_since = 1700000000; /* fine-tuning on nothing */
  expect_error(sr_config_validate(&c), SR_EINVAL, "data.train_since (1700000000)",
               "not before data.split_time (1700000000)", NULL);
  c.data.train_since = 1699999999;
  expect_ok(sr_config_validate(&c));

  /* Ranges are checked again for a struct filled in code. */
  sr_config_defaults(&c);
  c.model.n_layers = 0;
  expect_error(sr_config_validate(&c), SR_EINVAL, "model.n_layers is 0; allowed 1..256", NULL);
  sr_config_defaults(&c);
  c.model.dropout = NAN;
  expect_error(sr_config_validate(&c), SR_EINVAL, "model.dropout is nan", NULL);
  sr_config_defaults(&c);
  c.train.loss = (sr_loss_kind)7;
  expect_error(sr_config_validate(&c), SR_EINVAL, "train.loss is 7; allowed one of ce, "
               "sampled_ce, bce", NULL);
  sr_config_defaults(&c);
  c.score.exclude_seen = 2;
  expect_error(sr_config_validate(&c), SR_EINVAL, "score.exclude_seen is 2", NULL);
  sr_config_defaults(&c);
  memset(c.train.checkpoint, 'a', sizeof c.train.checkpoint);
  expect_error(sr_config_validate(&c), SR_EINVAL, "train.checkpoint is not terminated", NULL);
}

int main(void) {
  mkdir(TMP, 0755);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_match_design),
      cmocka_unit_test(test_full_block_file),
      cmocka_unit_test(test_full_flow_file),
      cmocka_unit_test(test_empty_files_keep_defaults),
      cmocka_unit_test(test_partial_file_overlays),
      cmocka_unit_test(test_shipped_configs_load),
      cmocka_unit_test(test_to_yaml_round_trip),
      cmocka_unit_test(test_get),
      cmocka_unit_test(test_print_is_an_aligned_table),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_bad_fixture_files),
      cmocka_unit_test(test_unreadable_files),
      cmocka_unit_test(test_set_overrides),
      cmocka_unit_test(test_set_errors),
      cmocka_unit_test(test_from_args),
      cmocka_unit_test(test_validate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
