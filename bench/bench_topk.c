/* bench_topk: how much the exact top-k (scorer/topk.h) costs over the matrix products it cannot
 * avoid, on synthetic users x items x d. Times the same blocked sgemms alone (gemm_only) and
 * the full top-k, and prints both, their ratio, GFLOP/s and users/s. Not a correctness test. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/timer.h"
#include "scorer/topk.h"
#ifdef SEQREC_HAVE_CUDA_TOPK
#include "scorer/topk_cuda.h"
#define BENCH_CUDA_NAME ", cuda"
#else
#define BENCH_CUDA_NAME ""
#endif

typedef sr_status (*bench_topk_fn)(const scorer_topk_input *in, int k,
                                   const scorer_topk_opts *opts, int32_t *out_item,
                                   float *out_score);

typedef struct {
  int64_t users, items, dim, seen, repeat;
  int k, threads;
  int64_t user_block, item_block;
  uint64_t seed;
  bench_topk_fn run; /* --device: scorer_topk_run or scorer_topk_run_cuda */
  const char *device;
} bench_args;

static void bench_usage(void) {
  sr_info("usage: bench_topk [--users N] [--items M] [--dim D] [--k K] [--seen S]\n"
          "                  [--threads T] [--user-block B] [--item-block B] [--repeat R]\n"
          "                  [--seed S] [--device cpu|cuda]\n"
          "defaults: 100000 users x 100000 items x d 64, k 100, 50 seen items per user,\n"
          "          OpenMP's thread count, the library's block sizes, 1 repeat (best of R),\n"
          "          cpu (cuda: scorer/topk_cuda.h, where the build has CUDA)");
}

static sr_status bench_parse_i64(const char *flag, const char *text, int64_t lo, int64_t *out) {
  char *end = NULL;
  long long v = text ? strtoll(text, &end, 10) : 0;
  if (!text || *text == '\0' || *end != '\0' || v < lo)
    return sr_error(SR_EINVAL, "bench_topk: %s wants an integer >= %lld, got '%s'", flag,
                    (long long)lo, text ? text : "(nothing)");
  *out = v;
  return SR_OK;
}

static sr_status bench_parse(int argc, char **argv, bench_args *a, int *help) {
  *a = (bench_args){.users = 100000, .items = 100000, .dim = 64, .seen = 50, .repeat = 1,
                    .k = 100, .threads = 0, .seed = 1, .run = scorer_topk_run,
                    .device = "cpu"};
  *help = 0;
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t x = 0;
    if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
      *help = 1;
      return SR_OK;
    } else if (!strcmp(f, "--users")) {
      TRY(bench_parse_i64(f, v, 0, &a->users));
    } else if (!strcmp(f, "--items")) {
      TRY(bench_parse_i64(f, v, 1, &a->items));
    } else if (!strcmp(f, "--dim")) {
      TRY(bench_parse_i64(f, v, 1, &a->dim));
    } else if (!strcmp(f, "--seen")) {
      TRY(bench_parse_i64(f, v, 0, &a->seen));
    } else if (!strcmp(f, "--repeat")) {
      TRY(bench_parse_i64(f, v, 1, &a->repeat));
    } else if (!strcmp(f, "--user-block")) {
      TRY(bench_parse_i64(f, v, 1, &a->user_block));
    } else if (!strcmp(f, "--item-block")) {
      TRY(bench_parse_i64(f, v, 1, &a->item_block));
    } else if (!strcmp(f, "--k")) {
      TRY(bench_parse_i64(f, v, 1, &x));
      a->k = x > 1000000 ? 1000000 : (int)x;
    } else if (!strcmp(f, "--threads")) {
      TRY(bench_parse_i64(f, v, 1, &x));
      a->threads = x > 1024 ? 1024 : (int)x;
    } else if (!strcmp(f, "--device")) {
      if (v && !strcmp(v, "cpu")) {
        a->run = scorer_topk_run;
#ifdef SEQREC_HAVE_CUDA_TOPK
      } else if (v && !strcmp(v, "cuda")) {
        a->run = scorer_topk_run_cuda;
#endif
      } else {
        return sr_error(SR_EINVAL, "bench_topk: --device '%s' is not one this build has (cpu%s)",
                        v ? v : "(nothing)", BENCH_CUDA_NAME);
      }
      a->device = v;
    } else if (!strcmp(f, "--seed")) {
      TRY(bench_parse_i64(f, v, 0, &x));
      a->seed = (uint64_t)x;
    } else {
      return sr_error(SR_EINVAL, "bench_topk: unknown option '%s' (try --help)", f);
    }
    i++;
  }
  if (a->items > INT32_MAX)
    return sr_error(SR_EINVAL, "bench_topk: --items %lld is above the int32 item ids' limit",
                    (long long)a->items);
  return SR_OK;
}

/* Synthetic vectors (standard normal) and seen lists (uniform items, repeats possible). */
static sr_status bench_make(const bench_args *a, scorer_topk_input *in, float **users,
                            float **items, int64_t **seen_offset, int32_t **seen_item) {
  sr_rng r;
  sr_rng_init(&r, a->seed, 0);
  TRY(sr_alloc(users, (size_t)(a->users * a->dim), sizeof(float), "bench user vectors"));
  TRY(sr_alloc(items, (size_t)((a->items + 1) * a->dim), sizeof(float), "bench item table"));
  TRY(sr_alloc(seen_offset, (size_t)a->users + 1, sizeof(int64_t), "bench seen offsets"));
  TRY(sr_alloc(seen_item, (size_t)(a->users * a->seen), sizeof(int32_t), "bench seen items"));
  for (int64_t j = 0; j < a->users * a->dim; j++) (*users)[j] = sr_rng_normal(&r);
  for (int64_t j = 0; j < (a->items + 1) * a->dim; j++) (*items)[j] = sr_rng_normal(&r);
  for (int64_t u = 0; u <= a->users; u++) (*seen_offset)[u] = u * a->seen;
  for (int64_t j = 0; j < a->users * a->seen; j++)
    (*seen_item)[j] = 1 + (int32_t)sr_rng_below(&r, (uint32_t)a->items);
  *in = (scorer_topk_input){.users = *users, .n_users = a->users, .items = *items,
                            .n_items = a->items, .d = a->dim, .seen_offset = *seen_offset,
                            .seen_item = *seen_item};
  return SR_OK;
}

/* CPU seconds of the whole process (all threads): on a shared machine the wall time says how
 * long it took, the CPU time how much work it was. */
static double bench_cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double bench_load_average(void) {
  double load = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &load) != 1) load = -1;
    fclose(f);
  }
  return load;
}

static sr_status bench_run(const bench_args *a) {
  sr_status st = SR_OK;
  float *users = NULL, *items = NULL, *out_score = NULL;
  int64_t *seen_offset = NULL;
  int32_t *seen_item = NULL, *out_item = NULL;
  scorer_topk_input in;

  TRY_GOTO(bench_make(a, &in, &users, &items, &seen_offset, &seen_item));
  TRY_GOTO(sr_alloc(&out_item, (size_t)a->users * (size_t)a->k, sizeof(int32_t), "bench items"));
  TRY_GOTO(sr_alloc(&out_score, (size_t)a->users * (size_t)a->k, sizeof(float), "bench scores"));

  scorer_topk_opts opts = {.user_block = a->user_block, .item_block = a->item_block,
                           .threads = a->threads};
  sr_info("bench_topk: %s, %" PRId64 " users x %" PRId64 " items x d %" PRId64 ", k %d, %" PRId64
          " seen/user, threads %d (0 = OpenMP default), blocks %" PRId64 " x %" PRId64
          " (0 = the device's default), load average %.2f", a->device,
          a->users, a->items, a->dim, a->k, a->seen, a->threads, a->user_block, a->item_block,
          bench_load_average());

  double best_gemm = 1e300, best_topk = 1e300, cpu_gemm = 0, cpu_topk = 0;
  for (int64_t rep = 0; rep < a->repeat; rep++) {
    scorer_topk_opts g = opts;
    g.gemm_only = 1;
    double t0 = sr_time_now(), c0 = bench_cpu_now();
    TRY_GOTO(a->run(&in, a->k, &g, out_item, out_score));
    double t1 = sr_time_now(), c1 = bench_cpu_now();
    TRY_GOTO(a->run(&in, a->k, &opts, out_item, out_score));
    double t2 = sr_time_now(), c2 = bench_cpu_now();
    if (t1 - t0 < best_gemm) {
      best_gemm = t1 - t0;
      cpu_gemm = c1 - c0;
    }
    if (t2 - t1 < best_topk) {
      best_topk = t2 - t1;
      cpu_topk = c2 - c1;
    }
    sr_info("  run %" PRId64 ": gemm-only %.3f s (cpu %.3f s), top-k %.3f s (cpu %.3f s)",
            rep + 1, t1 - t0, c1 - c0, t2 - t1, c2 - c1);
  }

  double flop = 2.0 * (double)a->users * (double)a->items * (double)a->dim;
  double ratio = best_topk / best_gemm;
  sr_info("%-10s %10s %10s %10s %14s", "", "wall s", "cpu s", "GFLOP/s", "users/s");
  sr_info("%-10s %10.3f %10.3f %10.1f %14.0f", "gemm-only", best_gemm, cpu_gemm,
          flop / best_gemm * 1e-9, (double)a->users / best_gemm);
  sr_info("%-10s %10.3f %10.3f %10.1f %14.0f", "top-k", best_topk, cpu_topk,
          flop / best_topk * 1e-9, (double)a->users / best_topk);
  sr_info("top-k / gemm-only = %.2fx wall, %.2fx cpu (target <= 2.00x: %s); load average "
          "now %.2f", ratio, cpu_topk / cpu_gemm, ratio <= 2.0 ? "met" : "NOT met",
          bench_load_average());

cleanup:
  sr_free(users);
  sr_free(items);
  sr_free(seen_offset);
  sr_free(seen_item);
  sr_free(out_item);
  sr_free(out_score);
  return st;
}

int main(int argc, char **argv) {
  bench_args a;
  int help = 0;
  sr_status st = bench_parse(argc, argv, &a, &help);
  if (st == SR_OK && help) {
    bench_usage();
    return 0;
  }
  if (st == SR_OK) st = bench_run(&a);
  if (st != SR_OK) sr_log_error("%s", sr_error_message());
  return sr_status_exit_code(st);
}
