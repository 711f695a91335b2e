/* `seqrec report RUN_DIR`: one run's training loss and validation NDCG@10 per epoch, as a
 * table on stdout and a PNG (RUN_DIR/report.png), from the metrics.jsonl beside its checkpoint.
 * Not for comparing runs (`seqrec sweep report`). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/log.h"
#include "sweep/cli.h"
#include "sweep/files.h"
#include "sweep/metrics.h"
#include "sweep/plot.h"

static const char report_usage[] =
    "usage: seqrec report RUN_DIR [-o PNG]\n"
    "  RUN_DIR  the folder of a run's checkpoint, which holds its metrics.jsonl (or the file)\n"
    "  -o PNG   where to draw the loss and validation NDCG@10 curves (RUN_DIR/report.png)";

static void table_print(const sr_run_metrics *m) {
  sr_info("%6s  %10s  %13s  %10s  %10s", "epoch", "loss", "valid NDCG@10", "HR@10", "MRR");
  for (int64_t e = 0; e < m->n_epochs; e++) {
    char loss[32] = "-", ndcg[32] = "-", hr[32] = "-", mrr[32] = "-";
    if (!isnan(m->loss[e])) snprintf(loss, sizeof loss, "%.4f", m->loss[e]);
    const sr_eval *v = &m->valid[e];
    if (!isnan(v->v[SR_METRIC_NDCG10])) snprintf(ndcg, sizeof ndcg, "%.4f", v->v[SR_METRIC_NDCG10]);
    if (!isnan(v->v[SR_METRIC_HR10])) snprintf(hr, sizeof hr, "%.4f", v->v[SR_METRIC_HR10]);
    if (!isnan(v->v[SR_METRIC_MRR])) snprintf(mrr, sizeof mrr, "%.4f", v->v[SR_METRIC_MRR]);
    sr_info("%6lld  %10s  %13s  %10s  %10s", (long long)e + 1, loss, ndcg, hr, mrr);
  }
}

static sr_status plot_write(const sr_run_metrics *m, const char *run, const char *png) {
  int64_t n_loss = 0, n_valid = 0;
  for (int64_t e = 0; e < m->n_epochs; e++) {
    n_loss += !isnan(m->loss[e]);
    n_valid += !isnan(m->valid[e].v[SR_METRIC_NDCG10]);
  }
  sweep_plot plot;
  TRY(sweep_plot_open(&plot, png, 900, (n_loss && n_valid) ? 900 : 500));
  FILE *g = plot.script;
  fputs("$loss << EOD\n", g);
  for (int64_t e = 0; e < m->n_epochs; e++)
    if (!isnan(m->loss[e])) fprintf(g, "%lld %.9g\n", (long long)e + 1, m->loss[e]);
  fputs("EOD\n$valid << EOD\n", g);
  for (int64_t e = 0; e < m->n_epochs; e++)
    if (!isnan(m->valid[e].v[SR_METRIC_NDCG10]))
      fprintf(g, "%lld %.6f\n", (long long)e + 1, m->valid[e].v[SR_METRIC_NDCG10]);
  fputs("EOD\n", g);
  char title[SR_PATH_MAX + 32];
  snprintf(title, sizeof title, "seqrec run %s", run);
  /* Half an epoch of margin, so a run of one epoch still has an x range. */
  fprintf(g, "set xrange [0.5:%lld.5]\nset grid\nset xlabel \"epoch\"\nset key below\n",
          (long long)m->n_epochs);
  if (m->n_epochs <= 25) fputs("set xtics 1\n", g);
  fprintf(g, "set multiplot layout %d,1 title ", (n_loss && n_valid) ? 2 : 1);
  sweep_plot_string(g, title);
  fputc('\n', g);
  if (n_loss)
    fputs("set ylabel \"training loss (mean over the epoch)\"\n"
          "plot $loss using 1:2 with linespoints title \"training loss\"\n", g);
  if (n_valid) {
    fputs("set ylabel \"NDCG@10\"\n"
          "plot $valid using 1:2 with linespoints title \"validation NDCG@10\"", g);
    if (m->has_pop_valid)
      fprintf(g, ", %.6f with lines dashtype 2 title \"popularity baseline\"",
              m->pop_valid.v[SR_METRIC_NDCG10]);
    fputc('\n', g);
  }
  fputs("unset multiplot\n", g);
  return sweep_plot_close(&plot);
}

static sr_status report_run(const char *run, const char *png_arg) {
  sr_status st = SR_OK;
  char metrics[SR_PATH_MAX + 32], png[SR_PATH_MAX + 32], dir[SR_PATH_MAX];
  struct stat s;
  if (stat(run, &s) != 0)
    return sr_error(SR_EINVAL, "report: %s: no such run folder (give the folder of a run's "
                    "checkpoint, where its metrics.jsonl is)", run);
  if (S_ISDIR(s.st_mode)) {
    snprintf(dir, sizeof dir, "%s", run);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", run);
  } else {
    const char *slash = strrchr(run, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - run) : 1, slash ? run : ".");
    snprintf(metrics, sizeof metrics, "%s", run);
  }
  if (!sweep_file_exists(metrics))
    return sr_error(SR_EINVAL, "report: %s: no metrics.jsonl here; `seqrec train` writes it "
                    "beside train.checkpoint", dir);
  if (png_arg) snprintf(png, sizeof png, "%s", png_arg);
  else snprintf(png, sizeof png, "%s/report.png", dir);

  sr_run_metrics m;
  TRY_GOTO(sweep_metrics_read(metrics, &m));
  if (m.n_epochs == 0)
    FAIL_GOTO(SR_EINVAL, "report: %s holds no training or validation record yet (%lld line(s) "
              "skipped)", metrics, (long long)m.skipped);
  sr_info("run %s: %lld epoch(s), %lld step(s)", dir, (long long)m.n_epochs,
          (long long)m.last_step);
  table_print(&m);
  const sr_metric_choice ndcg = {0, SR_METRIC_NDCG10};
  int64_t best_epoch = 0;
  const double best = sweep_metrics_score(&m, &ndcg, &best_epoch);
  if (!isnan(best))
    sr_info("best validation NDCG@10 %.4f at epoch %lld", best, (long long)best_epoch);
  if (m.has_pop_valid)
    sr_info("popularity baseline: validation NDCG@10 %.4f", m.pop_valid.v[SR_METRIC_NDCG10]);
  if (m.has_test)
    sr_info("test: HR@10 %.4f  NDCG@10 %.4f  MRR %.4f", m.test.v[SR_METRIC_HR10],
            m.test.v[SR_METRIC_NDCG10], m.test.v[SR_METRIC_MRR]);
  if (m.has_pop_test)
    sr_info("popularity baseline: test NDCG@10 %.4f", m.pop_test.v[SR_METRIC_NDCG10]);
  if (m.skipped)
    sr_warn("%s: %lld line(s) were not records and were skipped (a run killed while writing "
            "leaves one)", metrics, (long long)m.skipped);
  TRY_GOTO(plot_write(&m, dir, png));
  sr_info("wrote %s", png);
cleanup:
  sweep_metrics_free(&m);
  return st;
}

sr_status sweep_report_main(const sr_comm *comm, int argc, char **argv) {
  const char *run = NULL, *png = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      sr_info("%s", report_usage);
      return SR_OK;
    }
    if (strcmp(argv[i], "-o") == 0) {
      if (i + 1 >= argc) return sr_error(SR_EINVAL, "report: -o needs a file name\n%s", report_usage);
      png = argv[++i];
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1])
      return sr_error(SR_EINVAL, "report: unknown option '%s'\n%s", argv[i], report_usage);
    if (run) return sr_error(SR_EINVAL, "report: one run folder at a time ('%s' and '%s')\n%s",
                             run, argv[i], report_usage);
    run = argv[i];
  }
  if (!run) return sr_error(SR_EINVAL, "report: which run folder?\n%s", report_usage);
  sr_status st = SR_OK;
  if (comm->rank == 0) st = report_run(run, png);
  if (comm->size > 1) st = sr_comm_agree(comm, st);
  return st;
}
