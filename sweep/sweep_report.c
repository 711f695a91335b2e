/* `seqrec sweep report`: every point's metrics.jsonl, ranked by the sweep's metric, as a table
 * on stdout, run_dir/report.csv, and run_dir/report.png (each point's validation curve).
 * Not for one run's loss curve (report.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "sweep/files.h"
#include "sweep/plot.h"
#include "sweep/sweep.h"

typedef struct {
  int64_t point;
  double score;        /* NAN: nothing to rank by yet */
  int64_t best_epoch;  /* validation metric: the epoch of the best value */
  sr_run_metrics m;
  const char *status;  /* done, partial, not started */
} point_result;

static int result_order(const void *pa, const void *pb) {
  const point_result *a = pa, *b = pb;
  const int na = isnan(a->score), nb = isnan(b->score);
  if (na != nb) return na - nb;
  if (!na && a->score != b->score) return a->score > b->score ? -1 : 1;
  return a->point < b->point ? -1 : a->point > b->point;
}

static const char *key_leaf(const char *key) {
  const char *dot = strrchr(key, '.');
  return dot ? dot + 1 : key;
}

static const char *point_value(const sr_sweep *sw, int64_t point, int a, int k) {
  int choice[SWEEP_MAX_AXES];
  sweep_point_choice(sw, point, choice);
  return sw->axes[a].values[k * sw->axes[a].n_values + choice[a]].text;
}

static void number_format(double v, char *buf, size_t size) {
  if (isnan(v)) snprintf(buf, size, "-");
  else snprintf(buf, size, "%.4f", v);
}

static void csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void csv_number(FILE *f, double v) {
  if (!isnan(v)) fprintf(f, "%.6f", v);
}

static sr_status table_print(const sr_sweep *sw, const point_result *r, int64_t n) {
  char metric[64];
  sweep_metric_name(&sw->metric, metric, sizeof metric);
  /* Column widths: the grid values as written, the numbers as %.4f. */
  int width[SWEEP_MAX_AXES * 8] = {0};
  int col = 0;
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys && col < SWEEP_MAX_AXES * 8; k++, col++) {
      width[col] = (int)strlen(key_leaf(sw->axes[a].keys[k]));
      for (int v = 0; v < sw->axes[a].n_values; v++) {
        const int w = (int)strlen(sw->axes[a].values[k * sw->axes[a].n_values + v].text);
        if (w > width[col]) width[col] = w;
      }
    }
  char line[4096];
  size_t used = (size_t)snprintf(line, sizeof line, "%4s  %-5s", "rank", "point");
  col = 0;
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys && used < sizeof line; k++, col++)
      used += (size_t)snprintf(line + used, sizeof line - used, "  %*s", width[col],
                               key_leaf(sw->axes[a].keys[k]));
  if (used < sizeof line)
    snprintf(line + used, sizeof line - used, "  %14s  %5s  %6s  %11s  %8s  %s", metric,
             sw->metric.test ? "" : "epoch", "epochs", "test.ndcg10", "test.hr10", "status");
  sr_info("%s", line);
  for (int64_t i = 0; i < n; i++) {
    char score[32], test_ndcg[32], test_hr[32], epoch[32] = "";
    number_format(r[i].score, score, sizeof score);
    number_format(r[i].m.has_test ? r[i].m.test.v[SR_METRIC_NDCG10] : NAN, test_ndcg,
                  sizeof test_ndcg);
    number_format(r[i].m.has_test ? r[i].m.test.v[SR_METRIC_HR10] : NAN, test_hr, sizeof test_hr);
    if (!sw->metric.test && r[i].best_epoch > 0)
      snprintf(epoch, sizeof epoch, "%lld", (long long)r[i].best_epoch);
    char rank[24];
    snprintf(rank, sizeof rank, "%lld", (long long)i + 1);
    used = (size_t)snprintf(line, sizeof line, "%4s  p%03lld", isnan(r[i].score) ? "-" : rank,
                            (long long)r[i].point);
    col = 0;
    for (int a = 0; a < sw->n_axes; a++)
      for (int k = 0; k < sw->axes[a].n_keys && used < sizeof line; k++, col++)
        used += (size_t)snprintf(line + used, sizeof line - used, "  %*s", width[col],
                                 point_value(sw, r[i].point, a, k));
    if (used < sizeof line)
      snprintf(line + used, sizeof line - used, "  %14s  %5s  %6lld  %11s  %8s  %s", score,
               epoch, (long long)r[i].m.n_epochs, test_ndcg, test_hr, r[i].status);
    sr_info("%s", line);
  }
  return SR_OK;
}

static sr_status csv_write(const sr_sweep *sw, const point_result *r, int64_t n,
                           const char *path) {
  char metric[64];
  sweep_metric_name(&sw->metric, metric, sizeof metric);
  FILE *f = NULL;
  TRY(sweep_file_begin(path, &f));
  fputs("rank,point,dir", f);
  for (int a = 0; a < sw->n_axes; a++)
    for (int k = 0; k < sw->axes[a].n_keys; k++) {
      fputc(',', f);
      csv_field(f, sw->axes[a].keys[k]);
    }
  fprintf(f, ",%s,best_epoch,epochs,valid_ndcg10,test_hr10,test_ndcg10,test_mrr,status\n", metric);
  const sr_metric_choice valid_ndcg = {0, SR_METRIC_NDCG10};
  for (int64_t i = 0; i < n; i++) {
    char dir[SR_PATH_MAX];
    sweep_point_dir(sw, r[i].point, dir, sizeof dir);
    if (!isnan(r[i].score)) fprintf(f, "%lld", (long long)i + 1);
    fprintf(f, ",p%03lld,", (long long)r[i].point);
    csv_field(f, dir);
    for (int a = 0; a < sw->n_axes; a++)
      for (int k = 0; k < sw->axes[a].n_keys; k++) {
        fputc(',', f);
        csv_field(f, point_value(sw, r[i].point, a, k));
      }
    fputc(',', f);
    csv_number(f, r[i].score);
    fputc(',', f);
    if (r[i].best_epoch > 0) fprintf(f, "%lld", (long long)r[i].best_epoch);
    fprintf(f, ",%lld,", (long long)r[i].m.n_epochs);
    csv_number(f, sweep_metrics_score(&r[i].m, &valid_ndcg, NULL));
    for (int field = 0; field < 3; field++) {
      fputc(',', f);
      static const sr_metric_field order[3] = {SR_METRIC_HR10, SR_METRIC_NDCG10, SR_METRIC_MRR};
      csv_number(f, r[i].m.has_test ? r[i].m.test.v[order[field]] : NAN);
    }
    fprintf(f, ",%s\n", r[i].status);
  }
  return sweep_file_commit(path, f, 0644, SR_OK);
}

/* One curve per point that has validations: the chosen metric's field per epoch. */
static sr_status plot_write(const sr_sweep *sw, const point_result *r, int64_t n,
                            const char *png, int64_t *curves) {
  const sr_metric_field field = sw->metric.field;
  *curves = 0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t e = 0; e < r[i].m.n_epochs; e++)
      if (!isnan(r[i].m.valid[e].v[field])) {
        (*curves)++;
        break;
      }
  if (*curves == 0) return SR_OK;
  sweep_plot plot;
  TRY(sweep_plot_open(&plot, png, 1100, 700));
  FILE *g = plot.script;
  int64_t block = 0;
  for (int64_t i = 0; i < n; i++) {
    fprintf(g, "$p%lld << EOD\n", (long long)i);
    for (int64_t e = 0; e < r[i].m.n_epochs; e++)
      if (!isnan(r[i].m.valid[e].v[field]))
        fprintf(g, "%lld %.6f\n", (long long)e + 1, r[i].m.valid[e].v[field]);
    fputs("EOD\n", g);
  }
  char title[512];
  snprintf(title, sizeof title, "sweep %s: validation %s per epoch (legend in rank order)",
           sw->name, sweep_metric_field_name(field));
  fputs("set title ", g);
  sweep_plot_string(g, title);
  fputs("\nset xlabel \"epoch\"\nset ylabel ", g);
  sweep_plot_string(g, sweep_metric_field_name(field));
  fputs("\nset grid\nset key outside right top\nset style data linespoints\n", g);
  int64_t max_epochs = 0;
  for (int64_t i = 0; i < n; i++)
    if (r[i].m.n_epochs > max_epochs) max_epochs = r[i].m.n_epochs;
  fprintf(g, "set xrange [0.5:%lld.5]\n", (long long)max_epochs);
  if (max_epochs <= 25) fputs("set xtics 1\n", g);
  fputs("plot ", g);
  for (int64_t i = 0; i < n; i++) {
    int has = 0;
    for (int64_t e = 0; e < r[i].m.n_epochs && !has; e++) has = !isnan(r[i].m.valid[e].v[field]);
    if (!has) continue;
    char label[1100], values[1024];
    sweep_point_label(sw, r[i].point, values, sizeof values);
    snprintf(label, sizeof label, "p%03lld %s", (long long)r[i].point, values);
    fprintf(g, "%s$p%lld using 1:2 title ", block++ ? ", " : "", (long long)i);
    sweep_plot_string(g, label);
  }
  fputc('\n', g);
  return sweep_plot_close(&plot);
}

sr_status sweep_report(const sr_sweep *sw_in, const sr_metric_choice *metric) {
  sr_status st = SR_OK;
  sr_sweep sw = *sw_in; /* shallow: only the metric changes */
  if (metric) sw.metric = *metric;
  const int64_t n = sweep_point_count(&sw);
  point_result *r = NULL;
  if (!sweep_file_exists(sw.run_dir))
    return sr_error(SR_EINVAL, "%s: no such folder: the sweep %s has not been planned here yet "
                    "(seqrec sweep plan %s)", sw.run_dir, sw.path, sw.path);
  TRY(sr_alloc(&r, (size_t)n, sizeof *r, "sweep results"));
  int64_t done = 0, partial = 0, missing = 0, skipped = 0;
  for (int64_t p = 0; p < n; p++) {
    char dir[SR_PATH_MAX], path[SR_PATH_MAX + 32];
    sweep_point_dir(&sw, p, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    r[p].point = p;
    r[p].score = NAN;
    if (!sweep_file_exists(path)) {
      r[p].status = "not started";
      missing++;
      continue;
    }
    TRY_GOTO(sweep_metrics_read(path, &r[p].m));
    skipped += r[p].m.skipped;
    r[p].score = sweep_metrics_score(&r[p].m, &sw.metric, &r[p].best_epoch);
    r[p].status = r[p].m.has_test ? "done" : "partial";
    if (r[p].m.has_test) done++;
    else partial++;
  }
  qsort(r, (size_t)n, sizeof *r, result_order);
  char metric_name[64];
  sweep_metric_name(&sw.metric, metric_name, sizeof metric_name);
  sr_info("sweep %s: %lld point(s) in %s: %lld done, %lld partial, %lld not started; ranked by "
          "%s%s", sw.name, (long long)n, sw.run_dir, (long long)done, (long long)partial,
          (long long)missing, metric_name, sw.metric.test ? "" : " (best epoch)");
  TRY_GOTO(table_print(&sw, r, n));
  if (skipped)
    sr_warn("%lld line(s) of the points' metrics.jsonl were not records and were skipped (a run "
            "killed while writing leaves one)", (long long)skipped);
  char csv[SR_PATH_MAX + 32], png[SR_PATH_MAX + 32];
  snprintf(csv, sizeof csv, "%s/report.csv", sw.run_dir);
  snprintf(png, sizeof png, "%s/report.png", sw.run_dir);
  TRY_GOTO(csv_write(&sw, r, n, csv));
  int64_t curves = 0;
  TRY_GOTO(plot_write(&sw, r, n, png, &curves));
  if (curves)
    sr_info("wrote %s and %s (%lld validation curve(s))", csv, png, (long long)curves);
  else
    sr_info("wrote %s; no point has a validation yet, so no plot", csv);
cleanup:
  for (int64_t p = 0; r && p < n; p++) sweep_metrics_free(&r[p].m);
  sr_free(r);
  return st;
}
