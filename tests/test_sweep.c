/* sweep/: sweep files (the grid, groups that move together, every way a file can be wrong, each
 * message checked for file:line:column), point configs, the plan's files and array script, and
 * the metrics.jsonl reader on a resumed run. The Slurm side is tests/slurm_jobs.sh. */
#define _XOPEN_SOURCE 700 /* nftw, to clear the test folder */
#include <ftw.h>
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
#include "sweep/files.h"
#include "sweep/metrics.h"
#include "sweep/sweep.h"

#define TMP SEQREC_TEST_TMP "/test_sweep"

static const char *tmp_path(const char *name) {
  static char paths[8][SR_PATH_MAX];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, SR_PATH_MAX, "%s/%s", TMP, name);
  return p;
}

static const char *tmp_write(const char *name, const char *text) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  return path;
}

static void expect_ok(sr_status st) {
  if (st == SR_OK) return;
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", sr_error_message());
  sr_error_clear();
  fail_msg("status %s: %s", sr_status_name(st), msg);
}

static int remove_entry(const char *path, const struct stat *s, int flag, struct FTW *ftw) {
  (void)s, (void)flag, (void)ftw;
  return remove(path);
}

/* Checks the status and that the message holds every fragment; clears the error. */
static void expect_error(sr_status st, sr_status want, const char *fragment, ...) {
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", sr_error_message());
  sr_error_clear(); /* before any failure, so the next test starts clean */
  if (st != want)
    fail_msg("status %s, wanted %s; message: %s", sr_status_name(st), sr_status_name(want), msg);
  va_list ap;
  va_start(ap, fragment);
  for (const char *f = fragment; f; f = va_arg(ap, const char *))
    if (!strstr(msg, f)) fail_msg("message lacks \"%s\": %s", f, msg);
  va_end(ap);
}

/* Not inlined: GCC 12 then mistakes the returned buffer for the local pointer's address. */
static __attribute__((noinline)) char *file_text(const char *path) {
  char *text = NULL;
  size_t n = 0;
  expect_ok(sweep_file_read(path, 0, &text, &n));
  return text;
}

static int setup(void **state) {
  (void)state;
  sr_log_set_quiet(1);
  sr_error_clear();
  mkdir(SEQREC_TEST_TMP, 0755);
  nftw(TMP, remove_entry, 16, FTW_DEPTH | FTW_PHYS); /* a clean start: plans refuse old points */
  mkdir(TMP, 0755);
  tmp_write("base.yaml",
            "data: {events: ev.h5, max_len: 20}\n"
            "model: {d_model: 16, n_layers: 1, n_heads: 2, d_ff: 32}\n"
            "train: {epochs: 2, checkpoint: elsewhere/ckpt.h5}\n");
  return 0;
}

/* The sweep used by several tests: a 2-value grid key and a 3-value group of two keys. */
static const char *good_sweep(void) {
  static char text[2048];
  snprintf(text, sizeof text,
           "base: %s\n"
           "run_dir: %s\n"
           "metric: test.hr10\n"
           "set:\n"
           "  train.epochs: 3\n"
           "  data.events: \"a: b.h5\"\n"
           "grid:\n"
           "  train.lr: [1.0e-3, 3.0e-3]\n"
           "together:\n"
           "  - model.d_model: [16, 32, 64]\n"
           "    model.d_ff: [32, 64, 128]\n"
           "slurm:\n"
           "  max_parallel: 2\n"
           "  ntasks: 2\n"
           "  gpus_per_task: 1\n"
           "  time: \"00:10:00\"\n"
           "  sbatch: [\"--partition=gpu\", \"--account=me\"]\n",
           tmp_path("base.yaml"), tmp_path("run"));
  return tmp_write("good.yaml", text);
}

static void test_load_and_points(void **state) {
  (void)state;
  sr_sweep sw;
  expect_ok(sweep_load(good_sweep(), &sw));
  assert_string_equal(sw.name, "good");
  assert_int_equal(sw.metric.test, 1);
  assert_int_equal(sw.metric.field, SR_METRIC_HR10);
  assert_int_equal(sw.n_set, 2);
  assert_int_equal(sw.n_axes, 2);
  assert_int_equal(sw.axes[0].n_keys, 1);
  assert_int_equal(sw.axes[1].n_keys, 2);
  assert_int_equal(sweep_point_count(&sw), 6);
  assert_int_equal(sw.slurm.max_parallel, 2);
  assert_int_equal(sw.slurm.ntasks, 2);
  assert_int_equal(sw.slurm.gpus_per_task, 1);
  assert_int_equal(sw.slurm.cpus_per_task, 1);
  assert_string_equal(sw.slurm.time, "00:10:00");
  assert_int_equal(sw.slurm.n_sbatch, 2);
  assert_string_equal(sw.slurm.sbatch[1], "--account=me");

  /* Last axis fastest: point 4 = lr index 1, group index 1. */
  int choice[2];
  sweep_point_choice(&sw, 4, choice);
  assert_int_equal(choice[0], 1);
  assert_int_equal(choice[1], 1);
  char label[256], dir[SR_PATH_MAX];
  sweep_point_label(&sw, 4, label, sizeof label);
  assert_string_equal(label, "lr=3.0e-3 d_model=32 d_ff=64");
  sweep_point_dir(&sw, 4, dir, sizeof dir);
  assert_string_equal(dir, tmp_path("run/p004"));

  sr_config cfg;
  expect_ok(sweep_point_config(&sw, 4, &cfg));
  assert_true(cfg.train.lr == 3.0e-3f);
  assert_int_equal(cfg.model.d_model, 32);
  assert_int_equal(cfg.model.d_ff, 64);
  assert_int_equal(cfg.model.n_heads, 2); /* from the base */
  assert_int_equal(cfg.data.max_len, 20);
  assert_int_equal(cfg.train.epochs, 3);   /* set overrides the base */
  assert_string_equal(cfg.data.events, "a: b.h5"); /* quoted: stays one string */
  char want[SR_PATH_MAX + 32];
  snprintf(want, sizeof want, "%s/train.checkpoint", dir);
  assert_string_equal(cfg.train.checkpoint, want);
  assert_string_equal(cfg.score.checkpoint, want);
  snprintf(want, sizeof want, "%s/recs.h5", dir);
  assert_string_equal(cfg.score.output, want);
  expect_ok(sweep_point_config(&sw, 0, &cfg));
  assert_true(cfg.train.lr == 1.0e-3f);
  assert_int_equal(cfg.model.d_model, 16);
  sweep_free(&sw);
}

static void test_defaults(void **state) {
  (void)state;
  char text[512];
  snprintf(text, sizeof text, "base: %s\n", tmp_path("base.yaml"));
  sr_sweep sw;
  expect_ok(sweep_load(tmp_write("plain-name.yml", text), &sw));
  assert_string_equal(sw.name, "plain-name");
  assert_string_equal(sw.run_dir, "runs/plain-name");
  assert_int_equal(sw.metric.test, 0);
  assert_int_equal(sw.metric.field, SR_METRIC_NDCG10);
  assert_int_equal(sweep_point_count(&sw), 1); /* no grid: the base alone */
  assert_int_equal(sw.slurm.max_parallel, 4);
  assert_int_equal(sw.slurm.gpus_per_task, 0);
  sweep_free(&sw);
}

/* The shipped example: it loads, has 4 points, and each point's config validates. */
static void test_demo_sweep(void **state) {
  (void)state;
  char cwd[SR_PATH_MAX];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(SEQREC_SOURCE_DIR), 0); /* the sweep's paths start at the repository */
  sr_sweep sw;
  expect_ok(sweep_load("configs/sweep-demo.yaml", &sw));
  assert_int_equal(sweep_point_count(&sw), 4);
  assert_int_equal(sw.slurm.max_parallel, 2);
  sr_config cfg;
  for (int p = 0; p < 4; p++) expect_ok(sweep_point_config(&sw, p, &cfg));
  assert_string_equal(cfg.train.checkpoint, "runs/sweep-demo/p003/train.checkpoint");
  assert_int_equal(cfg.model.d_model, 32);
  sweep_free(&sw);
  assert_int_equal(chdir(cwd), 0);
}

/* One bad sweep file: its status and the message fragments (file:line:column first). */
static void expect_bad(const char *name, const char *body, sr_status want, const char *where,
                       const char *what) {
  char text[2048];
  snprintf(text, sizeof text, "base: %s\n%s", tmp_path("base.yaml"), body);
  char file[128];
  snprintf(file, sizeof file, "bad-%s.yaml", name);
  const char *path = tmp_write(file, text);
  char located[SR_PATH_MAX + 32];
  snprintf(located, sizeof located, "%s:%s", path, where);
  sr_sweep sw;
  const sr_status st = sweep_load(path, &sw);
  sweep_free(&sw);
  expect_error(st, want, where[0] ? located : path, what, NULL);
}

static void test_errors(void **state) {
  (void)state;
  expect_bad("topkey", "gird:\n  train.lr: [1]\n", SR_EINVAL, "2:1:", "unknown key 'gird'");
  expect_bad("cfgkey", "grid:\n  train.lrr: [1, 2]\n", SR_EINVAL, "3:3:", "did you mean 'train.lr'");
  expect_bad("type", "grid:\n  model.d_model: [16, big]\n", SR_EINVAL, "3:23:", "expected an integer, got 'big'");
  expect_bad("range", "set:\n  model.dropout: 1.5\n", SR_EINVAL, "3:18:", "model.dropout");
  expect_bad("notlist", "grid:\n  train.lr: 0.1\n", SR_EINVAL, "3:13:", "expected a list");
  expect_bad("empty", "grid:\n  train.lr: []\n", SR_EINVAL, "3:13:", "empty");
  expect_bad("lengths", "together:\n  - model.d_model: [16, 32]\n    model.d_ff: [32]\n",
             SR_EINVAL, "4:17:", "need one length");
  expect_bad("twice", "set:\n  train.lr: 0.1\ngrid:\n  train.lr: [1, 2]\n", SR_EINVAL, "5:3:",
             "named twice");
  expect_bad("own", "grid:\n  train.checkpoint: [a, b]\n", SR_EINVAL, "3:3:", "run_dir");
  expect_bad("metric", "metric: valid.auc\n", SR_EINVAL, "2:9:", "valid.M");
  expect_bad("slurmkey", "slurm:\n  max_paralel: 2\n", SR_EINVAL, "3:3:", "max_parallel");
  expect_bad("slurmint", "slurm:\n  ntasks: 0\n", SR_EINVAL, "3:11:", "slurm.ntasks");
  expect_bad("sbatch", "slurm:\n  sbatch: [partition=gpu]\n", SR_EINVAL, "3:12:", "one sbatch option");
  expect_bad("syntax", "grid:\n  train.lr: [1, 2\n", SR_EINVAL, "", "YAML syntax error");
  expect_bad("notmap", "- a\n", SR_EINVAL, "", "");
  /* A relation between keys fails per point, naming the point. */
  char text[1024];
  snprintf(text, sizeof text, "base: %s\ngrid:\n  model.n_heads: [2, 3]\n", tmp_path("base.yaml"));
  sr_sweep sw;
  expect_ok(sweep_load(tmp_write("relation.yaml", text), &sw));
  sr_config cfg;
  expect_ok(sweep_point_config(&sw, 0, &cfg));
  expect_error(sweep_point_config(&sw, 1, &cfg), SR_EINVAL, "point p001", "n_heads=3", NULL);
  sweep_free(&sw);
  /* No base at all, and a missing file. */
  expect_error(sweep_load(tmp_write("nobase.yaml", "grid:\n  train.lr: [1]\n"), &sw), SR_EINVAL,
               "no `base:`", NULL);
  sweep_free(&sw);
  expect_error(sweep_load(tmp_path("absent.yaml"), &sw), SR_EIO, "absent.yaml", NULL);
  sweep_free(&sw);
}

static void test_plan_files(void **state) {
  (void)state;
  sr_sweep sw;
  expect_ok(sweep_load(good_sweep(), &sw));
  expect_ok(sweep_plan(&sw, "/opt/seqrec/bin/seqrec"));
  char *script = file_text(tmp_path("run/sweep.sbatch"));
  assert_non_null(strstr(script, "#SBATCH --array=0-5%2\n"));
  assert_non_null(strstr(script, "#SBATCH --ntasks=2\n"));
  assert_non_null(strstr(script, "#SBATCH --gpus-per-task=1\n"));
  assert_non_null(strstr(script, "#SBATCH --time=00:10:00\n"));
  assert_non_null(strstr(script, "#SBATCH --partition=gpu\n#SBATCH --account=me\n"));
  assert_non_null(strstr(script, "#SBATCH --requeue\n"));
  assert_non_null(strstr(script, "#SBATCH --signal=B:USR1@"));
  assert_non_null(strstr(script, "/run/p%3a/train.log\n"));
  assert_non_null(strstr(script, "seqrec=${SEQREC:-'/opt/seqrec/bin/seqrec'}"));
  assert_non_null(strstr(script, "scontrol requeue"));
  sr_free(script);
  char *csv = file_text(tmp_path("run/points.csv"));
  assert_non_null(strstr(csv, "point,dir,train.lr,model.d_model,model.d_ff\n"));
  assert_non_null(strstr(csv, "p004,"));
  assert_non_null(strstr(csv, "/run/p004,3.0e-3,32,64\n"));
  sr_free(csv);
  /* Each point's config loads back as the point's configuration. */
  sr_config loaded, want;
  sr_config_defaults(&loaded);
  expect_ok(sr_config_load(&loaded, tmp_path("run/p005/config.yaml")));
  expect_ok(sweep_point_config(&sw, 5, &want));
  assert_int_equal(loaded.model.d_model, 64);
  assert_true(loaded.train.lr == want.train.lr);
  assert_string_equal(loaded.train.checkpoint, want.train.checkpoint);
  assert_true(sweep_file_exists(tmp_path("run/sweep.yaml")));

  /* Planning again is harmless; changing a point that has a checkpoint is refused. */
  expect_ok(sweep_plan(&sw, "/opt/seqrec/bin/seqrec"));
  tmp_write("run/p001/train.checkpoint", "not really\n");
  /* Same settings from a sweep file of another name: only the header comment changes. */
  char *original = file_text(sw.path);
  snprintf(sw.path, sizeof sw.path, "%s", tmp_write("renamed.yaml", original));
  sr_free(original);
  expect_ok(sweep_plan(&sw, "/opt/seqrec/bin/seqrec"));
  char *header = file_text(tmp_path("run/p001/config.yaml"));
  assert_non_null(strstr(header, "renamed.yaml"));
  sr_free(header);
  sw.axes[1].values[1].text[0] = '4'; /* d_model 32 -> 42 for points 1 and 4 */
  expect_error(sweep_plan(&sw, "/opt/seqrec/bin/seqrec"), SR_EINVAL, "p001/config.yaml",
               "another config", "run_dir", NULL);
  sweep_free(&sw);
}

/* A resumed run: steps 4..6 and epoch 2 appear twice (the later records win), a line cut off
 * by a kill, the popularity and test records. */
static void test_metrics_resumed(void **state) {
  (void)state;
  const char *path = tmp_write(
      "metrics.jsonl",
      "{\"kind\":\"pop-valid\",\"epoch\":0,\"step\":0,\"hr10\":0.2,\"ndcg10\":0.1,\"mrr\":0.05}\n"
      "{\"kind\":\"train\",\"step\":1,\"epoch\":0,\"loss\":6.0,\"lr\":0.001}\n"
      "{\"kind\":\"train\",\"step\":2,\"epoch\":0,\"loss\":5.0}\n"
      "{\"kind\":\"train\",\"step\":3,\"epoch\":0,\"loss\":4.0}\n"
      "{\"kind\":\"valid\",\"epoch\":1,\"step\":3,\"hr10\":0.3,\"ndcg10\":0.20,\"mrr\":0.1}\n"
      "{\"kind\":\"train\",\"step\":4,\"epoch\":1,\"loss\":9.0}\n"
      "{\"kind\":\"train\",\"step\":5,\"epo"
      "{\"kind\":\"pop-valid\",\"epoch\":1,\"step\":3,\"hr10\":0.2,\"ndcg10\":0.1,\"mrr\":0.05}\n"
      "{\"kind\":\"train\",\"step\":4,\"epoch\":1,\"loss\":3.5}\n"
      "{\"kind\":\"train\",\"step\":5,\"epoch\":1,\"loss\":3.0}\n"
      "{\"kind\":\"train\",\"step\":6,\"epoch\":1,\"loss\":2.5}\n"
      "{\"kind\":\"valid\",\"epoch\":2,\"step\":6,\"hr10\":0.5,\"ndcg10\":0.35,\"mrr\":0.3}\n"
      "\n"
      "{\"kind\":\"train\",\"step\":7,\"epoch\":2,\"loss\":2.0,\"note\":\"a \\\"quoted\\\" word\"}\n"
      "{\"kind\":\"valid\",\"epoch\":3,\"step\":7,\"hr10\":0.45,\"ndcg10\":0.30,\"mrr\":0.2}\n"
      "{\"kind\":\"pop-test\",\"epoch\":3,\"step\":7,\"hr10\":0.21,\"ndcg10\":0.11,\"mrr\":0.06}\n"
      "{\"kind\":\"test\",\"epoch\":3,\"step\":7,\"hr10\":0.52,\"ndcg10\":0.33,\"mrr\":0.25,"
      "\"sampled_hr10\":0.9,\"sampled_ndcg10\":0.7,\"users\":100}\n"
      "not json\n");
  sr_run_metrics m;
  expect_ok(sweep_metrics_read(path, &m));
  assert_int_equal(m.n_epochs, 3);
  assert_int_equal(m.last_step, 7);
  assert_int_equal(m.skipped, 2);
  assert_float_equal(m.loss[0], 5.0, 1e-12);
  assert_float_equal(m.loss[1], 3.0, 1e-12); /* 3.5, 3.0, 2.5: the first 9.0 was replaced */
  assert_float_equal(m.loss[2], 2.0, 1e-12);
  assert_float_equal(m.valid[0].v[SR_METRIC_NDCG10], 0.20, 1e-12);
  assert_float_equal(m.valid[1].v[SR_METRIC_NDCG10], 0.35, 1e-12);
  assert_float_equal(m.valid[2].v[SR_METRIC_HR10], 0.45, 1e-12);
  assert_true(isnan(m.valid[0].v[SR_METRIC_SAMPLED_HR10]));
  assert_true(m.has_test && m.has_pop_valid && m.has_pop_test);
  assert_float_equal(m.test.v[SR_METRIC_SAMPLED_NDCG10], 0.7, 1e-12);
  assert_float_equal(m.pop_test.v[SR_METRIC_NDCG10], 0.11, 1e-12);

  int64_t epoch = -1;
  sr_metric_choice c;
  expect_ok(sweep_metric_parse("valid.ndcg10", &c));
  assert_float_equal(sweep_metrics_score(&m, &c, &epoch), 0.35, 1e-12);
  assert_int_equal(epoch, 2);
  expect_ok(sweep_metric_parse("test.mrr", &c));
  assert_float_equal(sweep_metrics_score(&m, &c, &epoch), 0.25, 1e-12);
  assert_int_equal(epoch, 0);
  char name[64];
  assert_string_equal(sweep_metric_name(&c, name, sizeof name), "test.mrr");
  expect_error(sweep_metric_parse("valid", &c), SR_EINVAL, "valid.M", NULL);
  expect_error(sweep_metric_parse("train.loss", &c), SR_EINVAL, "train.loss", NULL);
  sweep_metrics_free(&m);

  /* A run that has not validated yet has no score; a missing file is an I/O error. */
  expect_ok(sweep_metrics_read(tmp_write("fresh.jsonl",
                                         "{\"kind\":\"train\",\"step\":1,\"epoch\":0,\"loss\":6}\n"),
                               &m));
  expect_ok(sweep_metric_parse("valid.hr10", &c));
  assert_true(isnan(sweep_metrics_score(&m, &c, &epoch)));
  sweep_metrics_free(&m);
  expect_error(sweep_metrics_read(tmp_path("absent.jsonl"), &m), SR_EIO, "absent.jsonl", NULL);
  sweep_metrics_free(&m);
}

/* The report on a sweep where some points finished, one is half way and some never started:
 * ranked by the metric, the unranked last, statuses right, a CSV and a PNG. */
static void test_report(void **state) {
  (void)state;
  sr_sweep sw;
  char text[1024];
  snprintf(text, sizeof text,
           "base: %s\nrun_dir: %s\ngrid:\n  train.lr: [1, 2, 3, 4]\n", tmp_path("base.yaml"),
           tmp_path("rep"));
  expect_ok(sweep_load(tmp_write("rep.yaml", text), &sw));
  expect_ok(sweep_plan(&sw, "/bin/seqrec"));
  /* p000: best valid 0.30 (epoch 2), p002: 0.45 (epoch 1), p003: valid only, 0.10; p001 none. */
  tmp_write("rep/p000/metrics.jsonl",
            "{\"kind\":\"valid\",\"epoch\":1,\"ndcg10\":0.2,\"hr10\":0.3}\n"
            "{\"kind\":\"valid\",\"epoch\":2,\"ndcg10\":0.3,\"hr10\":0.4}\n"
            "{\"kind\":\"test\",\"epoch\":2,\"ndcg10\":0.31,\"hr10\":0.41,\"mrr\":0.2}\n");
  tmp_write("rep/p002/metrics.jsonl",
            "{\"kind\":\"train\",\"step\":1,\"epoch\":0,\"loss\":5}\n"
            "{\"kind\":\"valid\",\"epoch\":1,\"ndcg10\":0.45,\"hr10\":0.5}\n"
            "{\"kind\":\"valid\",\"epoch\":2,\"ndcg10\":0.4,\"hr10\":0.6}\n"
            "{\"kind\":\"test\",\"epoch\":2,\"ndcg10\":0.42,\"hr10\":0.52,\"mrr\":0.3}\n");
  tmp_write("rep/p003/metrics.jsonl", "{\"kind\":\"valid\",\"epoch\":1,\"ndcg10\":0.1}\n");
  unlink(tmp_path("rep/report.png"));
  expect_ok(sweep_report(&sw, NULL));
  char *csv = file_text(tmp_path("rep/report.csv"));
  const char *row2 = strstr(csv, "\n1,p002,");
  const char *row0 = strstr(csv, "\n2,p000,");
  const char *row3 = strstr(csv, "\n3,p003,");
  const char *row1 = strstr(csv, "\n,p001,");
  if (!row2 || !row0 || !row3 || !row1 || !(row2 < row0 && row0 < row3 && row3 < row1))
    fail_msg("report.csv not ranked p002, p000, p003, then p001 unranked:\n%s", csv);
  assert_non_null(strstr(row2, ",0.450000,1,2,0.450000,0.520000,0.420000,0.300000,done\n"));
  assert_non_null(strstr(row0, ",0.300000,2,2,"));
  assert_non_null(strstr(row3, ",partial\n"));
  assert_non_null(strstr(row1, ",,,0,,,,,not started"));
  sr_free(csv);
  char *png = file_text(tmp_path("rep/report.png"));
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
  sr_free(png);
  /* By test hr10: p002 (0.52) before p000 (0.41); the others have no test record. */
  sr_metric_choice by_test;
  expect_ok(sweep_metric_parse("test.hr10", &by_test));
  expect_ok(sweep_report(&sw, &by_test));
  csv = file_text(tmp_path("rep/report.csv"));
  assert_non_null(strstr(csv, ",test.hr10,"));
  assert_non_null(strstr(csv, "\n1,p002,"));
  assert_non_null(strstr(csv, "\n2,p000,"));
  assert_non_null(strstr(csv, "\n,p003,"));
  sr_free(csv);
  sweep_free(&sw);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_and_points),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_demo_sweep),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_plan_files),
      cmocka_unit_test(test_metrics_resumed),
      cmocka_unit_test(test_report),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
