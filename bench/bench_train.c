/* bench_train: training throughput of one configuration (configs/ml1m.yaml: SASRec, full-softmax
 * ce) on the backend runtime.device chooses, data parallel over the ranks of mpirun, and in the
 * same run the backend's sgemm rate, so the two can be set side by side. Not the trainer (no
 * evaluation, no checkpoints) and not a correctness test; the step mirrors trainer/train.c's
 * train_step op for op, all-reduce included. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "comm/comm.h"
#include "comm/device.h"
#include "comm/grad_reduce.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/timer.h"
#include "events/events.h"
#include "kernels/kernels.h"
#include "model/sasrec.h"
#include "trainer/dataset.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
  int steps, warmup, sgemm_repeat, profile, sgemm, train;
} bench_args;

static void bench_usage(void) {
  sr_info("usage: [mpirun -np R] bench_train -c CONFIG [--set key=value ...] [--steps N]\n"
          "                   [--warmup W] [--sgemm-repeat R] [--no-sgemm] [--no-train] [--profile]\n"
          "Trains steps 1..W+N of epoch 0 on CONFIG's data (loss ce) on runtime.device, each rank\n"
          "on its share of the global batch as seqrec train does, and times the last N; measures\n"
          "sgemm first (best of R). Defaults: 10 steps, 2 warm-up, R 3.\n"
          "--profile adds the time of every kernel op (a synchronize and a clock read around each).");
}
static sr_status bench_int(const char *flag, const char *text, int lo, int *out) {
  char *end = NULL;
  long v = text ? strtol(text, &end, 10) : 0;
  if (!text || *text == '\0' || *end != '\0' || v < lo || v > 1000000)
    return sr_error(SR_EINVAL, "bench_train: %s wants an integer in %d..1000000, got '%s'", flag,
                    lo, text ? text : "(nothing)");
  *out = (int)v;
  return SR_OK;
}

/* Takes the bench's own flags out of argv; what is left (-c, --set) goes to the config. */
static sr_status bench_parse(int *argc, char **argv, bench_args *a, int *help) {
  *a = (bench_args){.steps = 10, .warmup = 2, .sgemm_repeat = 3, .sgemm = 1, .train = 1};
  *help = 0;
  int kept = 1;
  for (int i = 1; i < *argc; i++) {
    const char *f = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
    if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
      *help = 1;
    } else if (!strcmp(f, "--steps")) {
      TRY(bench_int(f, v, 1, &a->steps));
      i++;
    } else if (!strcmp(f, "--warmup")) {
      TRY(bench_int(f, v, 0, &a->warmup));
      i++;
    } else if (!strcmp(f, "--sgemm-repeat")) {
      TRY(bench_int(f, v, 1, &a->sgemm_repeat));
      i++;
    } else if (!strcmp(f, "--no-sgemm")) {
      a->sgemm = 0;
    } else if (!strcmp(f, "--no-train")) {
      a->train = 0;
    } else if (!strcmp(f, "--profile")) {
      a->profile = 1;
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  return SR_OK;
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

/* CPU seconds of this process (all threads): with wall time, how many cores it really got. */
static double bench_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench_machine(char *buf, size_t size) {
  snprintf(buf, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *colon = strchr(line, ':');
    if (!colon) break;
    colon++;
    while (*colon == ' ' || *colon == '\t') colon++;
    snprintf(buf, size, "%s", colon);
    buf[strcspn(buf, "\n")] = '\0';
    break;
  }
  fclose(f);
}

static void bench_header(int argc, char **argv, const sr_kernels *k, int gpu,
                         const sr_comm *comm) {
  char when[64], machine[256], device[128];
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
  bench_machine(machine, sizeof machine);
  sr_device_describe(gpu, device, sizeof device);
  char cmd[2048] = "";
  size_t used = 0;
  for (int i = 0; i < argc && used < sizeof cmd; i++)
    used += (size_t)snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", argv[i]);
  const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
  const char *omp = getenv("OMP_NUM_THREADS");
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  sr_info("date      %s", when);
  sr_info("machine   %s, %ld CPUs online", machine, sysconf(_SC_NPROCESSORS_ONLN));
  sr_info("command   %s", cmd);
  sr_info("backend   %s (%s), %d rank%s, GPUs visible %d", k->name,
          gpu >= 0 ? device : "host memory", comm->size, comm->size == 1 ? "" : "s",
          sr_device_count());
  sr_info("threads   %d OpenMP (OMP_NUM_THREADS=%s, OMP_WAIT_POLICY=%s, GOMP_SPINCOUNT=%s)",
          threads, omp ? omp : "unset", wait ? wait : "unset", spin ? spin : "unset");
  sr_info("load      %.2f (1-minute average at start)", bench_load_average());
}

/* ---- sgemm ---------------------------------------------------------------------------------
 * out[M, N] = x[M, K] . w[N, K]^T, the shape of the ce logits and of every linear layer. The
 * backend's linear op without bias is exactly its sgemm (kernels/gemm.c, cuBLAS on the GPU), on
 * backend memory, so this is the rate the training step gets. All ranks multiply at once, as they
 * train at once: ranks sharing a GPU or the cores share its rate. *rate: the job's GFLOP/s, each
 * rank's best summed over ranks. */
static sr_status bench_sgemm(const sr_kernels *k, const sr_comm *comm, int M, int N, int K,
                             int repeat, double *rate) {
  sr_status st = SR_OK;
  float *host = NULL, *x = NULL, *w = NULL, *out = NULL;
  const size_t nx = (size_t)M * (size_t)K, nw = (size_t)N * (size_t)K;
  TRY_GOTO(sr_alloc(&host, nx > nw ? nx : nw, sizeof *host, "bench sgemm input"));
  TRY_GOTO(k->alloc(k, &x, nx * sizeof *x, "bench sgemm A"));
  TRY_GOTO(k->alloc(k, &w, nw * sizeof *w, "bench sgemm B"));
  TRY_GOTO(k->alloc(k, &out, (size_t)M * (size_t)N * sizeof *out, "bench sgemm C"));
  sr_rng r;
  sr_rng_init(&r, 1, 2);
  for (size_t i = 0; i < nx; i++) host[i] = sr_rng_normal(&r);
  TRY_GOTO(k->upload(k, x, host, nx * sizeof *x));
  for (size_t i = 0; i < nw; i++) host[i] = sr_rng_normal(&r);
  TRY_GOTO(k->upload(k, w, host, nw * sizeof *w));
  const double flop = 2.0 * M * N * K;
  double best = 1e300, sum = 0;
  /* first touch of out; on the GPU also cuBLAS's one-time set-up */
  TRY_GOTO(k->linear_forward(k, out, x, w, NULL, M, K, N));
  TRY_GOTO(k->synchronize(k));
  for (int i = 0; i < repeat; i++) {
    TRY_GOTO(sr_comm_barrier(comm));
    double t0 = sr_time_now();
    TRY_GOTO(k->linear_forward(k, out, x, w, NULL, M, K, N));
    TRY_GOTO(k->synchronize(k));
    double dt = sr_time_now() - t0;
    sum += dt;
    if (dt < best) best = dt;
  }
  *rate = flop / best * 1e-9;
  TRY_GOTO(sr_comm_allreduce_sum_f64(comm, rate, 1));
  sr_info("sgemm     %5d x %5d x %3d  (C = A.B^T)  best %8.4f s  %8.1f GFLOP/s   mean %8.1f GFLOP/s"
          "%s", M, N, K, best, flop / best * 1e-9, flop / (sum / repeat) * 1e-9,
          comm->size > 1 ? "  (rank 0)" : "");
  if (comm->size > 1)
    sr_info("  all %d ranks at once: %.1f GFLOP/s together", comm->size, *rate);
#if defined(SR_HAVE_OPENBLAS_THREADS) && defined(_OPENMP)
  /* The alternative the CPU backend does not take: one cblas_sgemm with OpenBLAS's own threads
   * (on the CPU backend x, w and out are host memory). */
  if (!k->on_device) {
    openblas_set_num_threads(omp_get_max_threads());
    best = 1e300, sum = 0;
    for (int i = 0; i < repeat; i++) {
      double t0 = sr_time_now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, out,
                  N);
      double dt = sr_time_now() - t0;
      sum += dt;
      if (dt < best) best = dt;
    }
    openblas_set_num_threads(1);
    sr_info("  same with OpenBLAS's %d threads  best %8.4f s  %8.1f GFLOP/s   mean %8.1f GFLOP/s",
            omp_get_max_threads(), best, flop / best * 1e-9, flop / (sum / repeat) * 1e-9);
  }
#endif
cleanup:
  sr_free(host);
  if (x) k->free(k, x);
  if (w) k->free(k, w);
  if (out) k->free(k, out);
  return st;
}

/* ---- per-op profile: a table whose every entry times the backend's, to the op's end -------- */
enum {
  OP_EMBED_F, OP_EMBED_B, OP_LN_F, OP_LN_B, OP_LINEAR_F, OP_LINEAR_B, OP_ATT_F, OP_ATT_B,
  OP_GELU_F, OP_GELU_B, OP_DROP_F, OP_DROP_B, OP_RES_F, OP_RES_B, OP_CE, OP_NORM, OP_ADAMW,
  OP_ZERO, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "embed_forward", "embed_backward", "layernorm_forward", "layernorm_backward",
    "linear_forward", "linear_backward", "attention_forward", "attention_backward",
    "gelu_forward", "gelu_backward", "dropout_forward", "dropout_backward", "residual_forward",
    "residual_backward", "loss_ce", "global_norm", "adamw_update", "zero"};
static sr_kernels prof_inner;
static double prof_seconds[OP_COUNT], prof_cpu[OP_COUNT];
static int64_t prof_calls[OP_COUNT];

#define PROF_WRAP(field, op, params, args)                                  \
  static sr_status prof_##field params {                                    \
    const double t0 = sr_time_now(), c0 = bench_cpu_seconds();              \
    sr_status st = prof_inner.field args;                                   \
    if (st == SR_OK) st = prof_inner.synchronize(&prof_inner);              \
    prof_seconds[op] += sr_time_now() - t0;                                 \
    prof_cpu[op] += bench_cpu_seconds() - c0;                               \
    prof_calls[op]++;                                                       \
    return st;                                                              \
  }

PROF_WRAP(embed_forward, OP_EMBED_F,
          (const sr_kernels *k, float *out, const int32_t *ids, const float *wte,
           const float *wpe, int B, int T, int C, int V, int P, float scale),
          (&prof_inner, out, ids, wte, wpe, B, T, C, V, P, scale))
PROF_WRAP(embed_backward, OP_EMBED_B,
          (const sr_kernels *k, float *dwte, float *dwpe, const float *dout, const int32_t *ids,
           int B, int T, int C, int V, int P, float scale),
          (&prof_inner, dwte, dwpe, dout, ids, B, T, C, V, P, scale))
PROF_WRAP(layernorm_forward, OP_LN_F,
          (const sr_kernels *k, float *out, float *mean, float *rstd, const float *x,
           const float *w, const float *b, int N, int C, float eps),
          (&prof_inner, out, mean, rstd, x, w, b, N, C, eps))
PROF_WRAP(layernorm_backward, OP_LN_B,
          (const sr_kernels *k, float *dx, float *dw, float *db, const float *dout,
           const float *x, const float *w, const float *mean, const float *rstd, int N, int C),
          (&prof_inner, dx, dw, db, dout, x, w, mean, rstd, N, C))
PROF_WRAP(linear_forward, OP_LINEAR_F,
          (const sr_kernels *k, float *out, const float *x, const float *w, const float *b,
           int N, int IC, int OC),
          (&prof_inner, out, x, w, b, N, IC, OC))
PROF_WRAP(linear_backward, OP_LINEAR_B,
          (const sr_kernels *k, float *dx, float *dw, float *db, const float *dout,
           const float *x, const float *w, int N, int IC, int OC),
          (&prof_inner, dx, dw, db, dout, x, w, N, IC, OC))
PROF_WRAP(attention_forward, OP_ATT_F,
          (const sr_kernels *k, float *out, float *att, const float *query, const float *key,
           const float *value, const int32_t *ids, int B, int T, int C, int H, int ld,
           const sr_dropout *drop),
          (&prof_inner, out, att, query, key, value, ids, B, T, C, H, ld, drop))
PROF_WRAP(attention_backward, OP_ATT_B,
          (const sr_kernels *k, float *dquery, float *dkey, float *dvalue, const float *dout,
           const float *query, const float *key, const float *value, const float *att,
           const int32_t *ids, int B, int T, int C, int H, int ld, const sr_dropout *drop,
           void *scratch, size_t scratch_bytes),
          (&prof_inner, dquery, dkey, dvalue, dout, query, key, value, att, ids, B, T, C, H, ld,
           drop, scratch, scratch_bytes))
PROF_WRAP(gelu_forward, OP_GELU_F, (const sr_kernels *k, float *out, const float *x, int64_t n),
          (&prof_inner, out, x, n))
PROF_WRAP(gelu_backward, OP_GELU_B,
          (const sr_kernels *k, float *dx, const float *x, const float *dout, int64_t n),
          (&prof_inner, dx, x, dout, n))
PROF_WRAP(dropout_forward, OP_DROP_F,
          (const sr_kernels *k, float *out, const float *x, int64_t n, const sr_dropout *drop),
          (&prof_inner, out, x, n, drop))
PROF_WRAP(dropout_backward, OP_DROP_B,
          (const sr_kernels *k, float *dx, const float *dout, int64_t n, const sr_dropout *drop),
          (&prof_inner, dx, dout, n, drop))
PROF_WRAP(residual_forward, OP_RES_F,
          (const sr_kernels *k, float *out, const float *x, const float *y, int64_t n,
           const sr_dropout *drop),
          (&prof_inner, out, x, y, n, drop))
PROF_WRAP(residual_backward, OP_RES_B,
          (const sr_kernels *k, float *dx, float *dy, const float *dout, int64_t n,
           const sr_dropout *drop),
          (&prof_inner, dx, dy, dout, n, drop))
PROF_WRAP(loss_ce, OP_CE,
          (const sr_kernels *k, double *loss, int64_t *n_targets, float *dhidden, float *dwte,
           const float *hidden, const int32_t *targets, const float *wte, int N, int C, int V,
           double denom, int block_rows, void *scratch, size_t scratch_bytes),
          (&prof_inner, loss, n_targets, dhidden, dwte, hidden, targets, wte, N, C, V, denom,
           block_rows, scratch, scratch_bytes))
PROF_WRAP(global_norm, OP_NORM, (const sr_kernels *k, double *norm, const float *g, int64_t n),
          (&prof_inner, norm, g, n))
PROF_WRAP(adamw_update, OP_ADAMW,
          (const sr_kernels *k, float *param, float *m, float *v, const float *grad, int64_t n,
           const sr_adamw *opt),
          (&prof_inner, param, m, v, grad, n, opt))
PROF_WRAP(zero, OP_ZERO, (const sr_kernels *k, void *ptr, size_t bytes),
          (&prof_inner, ptr, bytes))

static void prof_table(sr_kernels *k) {
  prof_inner = *k;
  k->embed_forward = prof_embed_forward;
  k->embed_backward = prof_embed_backward;
  k->layernorm_forward = prof_layernorm_forward;
  k->layernorm_backward = prof_layernorm_backward;
  k->linear_forward = prof_linear_forward;
  k->linear_backward = prof_linear_backward;
  k->attention_forward = prof_attention_forward;
  k->attention_backward = prof_attention_backward;
  k->gelu_forward = prof_gelu_forward;
  k->gelu_backward = prof_gelu_backward;
  k->dropout_forward = prof_dropout_forward;
  k->dropout_backward = prof_dropout_backward;
  k->residual_forward = prof_residual_forward;
  k->residual_backward = prof_residual_backward;
  k->loss_ce = prof_loss_ce;
  k->global_norm = prof_global_norm;
  k->adamw_update = prof_adamw_update;
  k->zero = prof_zero;
}

/* ---- the training step ------------------------------------------------------------------ */
typedef struct {
  const sr_config *cfg;
  const sr_comm *comm;
  sr_grad_reduce *reduce;
  sr_events_shard shard; /* this rank's users */
  sr_dataset ds;
  sr_model m;
  int64_t global_batch;                /* batch_size x ranks, as seqrec train */
  int64_t *windows;                    /* [global_batch] this rank's windows of the step */
  int32_t *step_inputs, *step_targets; /* [global_batch, P] */
  int32_t *inputs, *targets;           /* [batch_size, T] one micro-batch, cut to its longest */
  int32_t *targets_dev;                /* [batch_size, T] backend memory */
} bench_train_state;

/* FLOP of one step, counting only what the model must do on real tokens:
 *   linear layers  6 * tokens * (4 C^2 + 2 C F) per layer (qkv 3C^2, proj C^2, fc and fc2 C F,
 *                  times 2 for multiply-add, times 3 for forward + the two backward products);
 *   attention      12 * C * pairs per layer, pairs = sum over sequences of n(n+1)/2 causal
 *                  (query, key) pairs of real tokens (QK^T and AV forward; dP, dV, dQ, dK);
 *   ce loss        6 * targets * (V-1) * C (logits, d hidden, d item table).
 * Padding, element-wise ops, softmax, layer norms and the optimizer are not counted. Every term
 * is a sum over sequences, so the global batch's FLOP are the sum of the ranks'. */
typedef struct {
  double linear, attention, ce;
  double tokens; /* real (non-padding) input tokens */
} bench_flop;

static bench_flop step_flop(const sr_model_dims *d, const int32_t *inputs, int64_t B, int T,
                            int64_t targets) {
  int64_t tokens = 0;
  double pairs = 0;
  for (int64_t b = 0; b < B; b++) {
    int64_t n = 0;
    for (int t = 0; t < T; t++) n += inputs[b * T + t] != 0;
    tokens += n;
    pairs += 0.5 * (double)n * (double)(n + 1);
  }
  const double C = d->d_model, F = d->d_ff, L = d->n_layers;
  return (bench_flop){.linear = 6.0 * (double)tokens * (4 * C * C + 2 * C * F) * L,
                      .attention = 12.0 * C * pairs * L,
                      .ce = 6.0 * (double)targets * (double)d->n_items * C,
                      .tokens = (double)tokens};
}

/* Seconds of one step on this rank (batch assembly = total - the others; cpu: CPU seconds of
 * all ranks). The all-reduce also holds the wait for the slowest rank. */
typedef struct {
  double fwd, loss, bwd, reduce, opt, total, cpu;
} bench_times;

/* One step of the global batch: what each figure counts is the whole job's, except T (the
 * longest window of this rank's micro-batches) and the times (this rank's). */
typedef struct {
  int T;
  int64_t targets;
  double loss; /* mean over the global batch's targets */
  bench_flop flop;
  bench_times tm;
} bench_step;

static sr_status train_one(bench_train_state *s, const sr_kernels *k, int64_t step,
                           bench_step *out) {
  const sr_config *cfg = s->cfg;
  const sr_comm *comm = s->comm;
  sr_model *m = &s->m;
  const int P = cfg->data.max_len, C = m->dims.d_model, V = m->dims.n_items + 1;
  const int64_t B = cfg->train.batch_size;
  bench_times tm = {0};
  TRY(k->synchronize(k));
  const double t0 = sr_time_now(), cpu0 = bench_cpu_seconds();
  /* As train_step: this rank's windows of the global batch in one global order, the loss
   * divided by the global target count so that the ranks' gradients sum to the global mean. */
  const int64_t n = sr_dataset_batch(&s->ds, cfg->train.seed, 0, step, s->global_batch,
                                     s->windows);
  int64_t targets = n ? sr_dataset_fill(&s->ds, s->windows, n, s->step_inputs, s->step_targets)
                      : 0;
  bench_flop flop = step_flop(&m->dims, s->step_inputs, n, P, targets);
  TRY(sr_comm_allreduce_sum_i64(comm, &targets, 1));
  TRY(sr_model_zero_grads(m, k));
  TRY(k->synchronize(k)); /* from here every phase starts on an idle device */
  double loss = 0;
  int T_max = 1;
  /* micro_batch_run: micro-batches of batch_size windows, each cut to its longest window */
  for (int64_t first = 0, micro = 0; first < n; first += B, micro++) {
    const int64_t nb = n - first < B ? n - first : B;
    const int32_t *in = s->step_inputs + first * P, *tg = s->step_targets + first * P;
    int T = 1;
    for (int64_t i = 0; i < nb; i++)
      for (int p = 0; p < P; p++)
        if (in[i * P + p] != 0) {
          if (P - p > T) T = P - p;
          break;
        }
    if (T > T_max) T_max = T;
    for (int64_t i = 0; i < nb; i++) {
      memcpy(s->inputs + i * T, in + i * P + (P - T), (size_t)T * sizeof(int32_t));
      memcpy(s->targets + i * T, tg + i * P + (P - T), (size_t)T * sizeof(int32_t));
    }
    const sr_model_train_step ts = {
        .seed = cfg->train.seed,
        .step = (uint64_t)step * (uint64_t)comm->size + (uint64_t)micro,
        .rank = comm->rank};
    const int N = (int)nb * T;
    double part = 0;
    const double t1 = sr_time_now();
    TRY(sr_model_forward(m, k, s->inputs, (int)nb, T, &ts));
    TRY(k->synchronize(k));
    const double t2 = sr_time_now();
    TRY(k->upload(k, s->targets_dev, s->targets, (size_t)N * sizeof(int32_t)));
    TRY(k->zero(k, m->act.d_hidden, (size_t)N * C * sizeof(float)));
    TRY(k->loss_ce(k, &part, NULL, m->act.d_hidden, sr_model_items_grad(m), m->act.hidden,
                   s->targets_dev, sr_model_items(m), N, C, V, (double)targets,
                   m->loss_block_rows, m->act.scratch, m->act.scratch_bytes));
    TRY(k->synchronize(k));
    const double t3 = sr_time_now();
    TRY(sr_model_backward(m, k, (int)nb, T, &ts));
    TRY(k->synchronize(k));
    const double t4 = sr_time_now();
    tm.fwd += t2 - t1, tm.loss += t3 - t2, tm.bwd += t4 - t3;
    loss += part;
  }
  const double t5 = sr_time_now();
  TRY(sr_grad_reduce_sum_f32(s->reduce, m->grads, (size_t)m->n_params));
  TRY(sr_comm_allreduce_sum_f64(comm, &loss, 1));
  const double t6 = sr_time_now();
  double norm = 0;
  TRY(k->global_norm(k, &norm, m->grads, m->n_params));
  sr_adamw opt = {.lr = cfg->train.lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                  .weight_decay = cfg->train.weight_decay, .step = step + 1, .grad_scale = 1.0f};
  TRY(k->adamw_update(k, m->params, m->adam_m, m->adam_v, m->grads, m->n_decay, &opt));
  opt.weight_decay = 0.0f;
  TRY(k->adamw_update(k, m->params + m->n_decay, m->adam_m + m->n_decay,
                      m->adam_v + m->n_decay, m->grads + m->n_decay, m->n_params - m->n_decay,
                      &opt));
  TRY(k->synchronize(k));
  const double t7 = sr_time_now();
  tm.reduce = t6 - t5, tm.opt = t7 - t6, tm.total = t7 - t0, tm.cpu = bench_cpu_seconds() - cpu0;
  /* the bench's own counts, after the clock has stopped: the global batch's */
  double sums[5] = {flop.linear, flop.attention, flop.ce, flop.tokens, tm.cpu};
  TRY(sr_comm_allreduce_sum_f64(comm, sums, 5));
  tm.cpu = sums[4];
  *out = (bench_step){.T = T_max, .targets = targets, .loss = loss, .tm = tm,
                      .flop = {.linear = sums[0], .attention = sums[1], .ce = sums[2],
                               .tokens = sums[3]}};
  return SR_OK;
}

/* "12.3%", or "-" without an sgemm rate to compare with (--no-sgemm). */
static const char *share_text(char *buf, size_t size, double gflops, double sgemm) {
  if (sgemm > 0)
    snprintf(buf, size, "%.1f%%", 100.0 * gflops / sgemm);
  else
    snprintf(buf, size, "-");
  return buf;
}

/* The data, the model and the step's buffers; s is freed by bench_train whatever happens. */
static sr_status bench_setup(const bench_args *a, bench_train_state *s, const sr_kernels *k) {
  const sr_config *cfg = s->cfg;
  const sr_comm *comm = s->comm;
  if (cfg->train.loss != SR_LOSS_CE)
    return sr_error(SR_EINVAL, "bench_train: measures train.loss ce only (the config says %s)",
                    cfg->train.loss == SR_LOSS_BCE ? "bce" : "sampled_ce");
  if (!cfg->data.events[0])
    return sr_error(SR_EINVAL, "bench_train: data.events is not set (--set data.events=PATH)");
  TRY(sr_events_shard_read(cfg->data.events, comm->rank, comm->size, &s->shard));
  TRY(sr_dataset_build(&s->ds, &s->shard, cfg->data.max_len, comm));
  s->global_batch = (int64_t)cfg->train.batch_size * comm->size;
  const int64_t steps_per_epoch = sr_dataset_steps_per_epoch(&s->ds, s->global_batch);
  if (steps_per_epoch < a->warmup + a->steps)
    return sr_error(SR_EINVAL, "bench_train: %s has %lld steps per epoch (global batch %lld), "
                    "fewer than %d warm-up + %d", cfg->data.events, (long long)steps_per_epoch,
                    (long long)s->global_batch, a->warmup, a->steps);
  const sr_model_dims dims = {.n_items = (int)s->shard.n_items, .max_len = cfg->data.max_len,
                              .d_model = cfg->model.d_model, .n_layers = cfg->model.n_layers,
                              .n_heads = cfg->model.n_heads, .d_ff = cfg->model.d_ff};
  TRY(sr_model_create(&s->m, k, &dims, cfg->model.dropout, cfg->train.batch_size, 0));
  TRY(sr_model_init_weights(&s->m, k, cfg->train.seed));
  const size_t BP = (size_t)cfg->train.batch_size * (size_t)cfg->data.max_len;
  const size_t GP = (size_t)s->global_batch * (size_t)cfg->data.max_len;
  TRY(sr_alloc(&s->windows, (size_t)s->global_batch, sizeof *s->windows, "windows"));
  TRY(sr_alloc(&s->step_inputs, GP, sizeof *s->step_inputs, "step inputs"));
  TRY(sr_alloc(&s->step_targets, GP, sizeof *s->step_targets, "step targets"));
  TRY(sr_alloc(&s->inputs, BP, sizeof *s->inputs, "inputs"));
  TRY(sr_alloc(&s->targets, BP, sizeof *s->targets, "targets"));
  return k->alloc(k, &s->targets_dev, BP * sizeof(int32_t), "targets");
}

/* *together: set when the failure was every rank's (the set-up's, agreed on), so that the job
 * can end normally; a step that fails on one rank leaves the others in a collective. */
static sr_status bench_train(const bench_args *a, const sr_config *cfg, const sr_comm *comm,
                             const sr_kernels *k, sr_grad_reduce *reduce, double sgemm,
                             int *together) {
  sr_status st = SR_OK;
  bench_train_state s = {.cfg = cfg, .comm = comm, .reduce = reduce};
  st = sr_comm_agree(comm, bench_setup(a, &s, k));
  *together = st != SR_OK;
  TRY_GOTO(st);
  sr_info("train     %s: %lld users, %lld items; batch %d x %d per rank (global %lld), d %d, "
          "%d layers, %d heads, d_ff %d, dropout %g, loss ce (block_rows %d); %d warm-up + %d "
          "timed steps", cfg->data.events, (long long)s.shard.n_users,
          (long long)s.shard.n_items, cfg->train.batch_size, cfg->data.max_len,
          (long long)s.global_batch, s.m.dims.d_model, s.m.dims.n_layers, s.m.dims.n_heads,
          s.m.dims.d_ff, (double)cfg->model.dropout, s.m.loss_block_rows, a->warmup, a->steps);
  sr_info("all-reduce %s, %d rank%s", sr_grad_reduce_mode_name(reduce->mode), comm->size,
          comm->size == 1 ? "" : "s");
  sr_info("%5s %4s %7s %7s %9s %7s %7s %7s %7s %7s %7s %7s %9s %9s %9s %6s", "step", "T",
          "targets", "tokens", "loss", "fwd s", "loss s", "bwd s", "reduce", "opt s", "step s",
          "cpu s", "targets/s", "tokens/s", "GFLOP/s", "sgemm");
  bench_times sum = {0};
  bench_flop fsum = {0};
  int64_t tsum = 0;
  double best = 1e300, cpu0 = 0, wall0 = 0;
  char share[32];
  for (int i = 0; i < a->warmup + a->steps; i++) {
    if (i == a->warmup) {
      memset(prof_seconds, 0, sizeof prof_seconds);
      memset(prof_cpu, 0, sizeof prof_cpu);
      memset(prof_calls, 0, sizeof prof_calls);
      cpu0 = bench_cpu_seconds();
      wall0 = sr_time_now();
    }
    bench_step r;
    TRY_GOTO(train_one(&s, k, i, &r));
    const bench_times *tm = &r.tm;
    const double gflops = (r.flop.linear + r.flop.attention + r.flop.ce) * 1e-9 / tm->total;
    sr_info("%5d %4d %7lld %7.0f %9.6f %7.4f %7.4f %7.4f %7.4f %7.4f %7.4f %7.3f %9.0f %9.0f "
            "%9.1f %6s%s", i + 1, r.T, (long long)r.targets, r.flop.tokens, r.loss, tm->fwd,
            tm->loss, tm->bwd, tm->reduce, tm->opt, tm->total, tm->cpu,
            (double)r.targets / tm->total, r.flop.tokens / tm->total, gflops,
            share_text(share, sizeof share, gflops, sgemm), i < a->warmup ? "  (warm-up)" : "");
    if (i < a->warmup) continue;
    sum.fwd += tm->fwd, sum.loss += tm->loss, sum.bwd += tm->bwd, sum.reduce += tm->reduce;
    sum.opt += tm->opt, sum.total += tm->total;
    fsum.linear += r.flop.linear, fsum.attention += r.flop.attention, fsum.ce += r.flop.ce;
    fsum.tokens += r.flop.tokens;
    tsum += r.targets;
    if (tm->total < best) best = tm->total;
  }
  /* CPU seconds of every rank over this rank's wall time: how many cores the job really got */
  double cpu = bench_cpu_seconds() - cpu0;
  TRY_GOTO(sr_comm_allreduce_sum_f64(comm, &cpu, 1));
  const double cores = cpu / (sr_time_now() - wall0);
  /* FNV-1a over the parameters' bits: equal runs (same seed, thread count, ranks, binary)
   * print the same value; other builds agree only to rounding. */
  {
    float *host = NULL;
    TRY_GOTO(sr_alloc(&host, (size_t)s.m.n_params, sizeof *host, "parameter copy"));
    st = k->download(k, host, s.m.params, (size_t)s.m.n_params * sizeof *host);
    uint64_t hash = 0xcbf29ce484222325ull;
    const unsigned char *bytes = (const unsigned char *)host;
    for (size_t i = 0; st == SR_OK && i < (size_t)s.m.n_params * sizeof *host; i++)
      hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    sr_free(host);
    TRY_GOTO(st);
    sr_info("params    checksum %016llx after %d steps", (unsigned long long)hash,
            a->warmup + a->steps);
  }
  const double n = a->steps, gf = (fsum.linear + fsum.attention + fsum.ce) * 1e-9;
  const double gflops = gf / sum.total;
  sr_info("per step  %.4f s (best %.4f s): forward %.4f, loss %.4f, backward %.4f, "
          "all-reduce %.4f, optimizer %.4f, batch assembly %.4f", sum.total / n, best,
          sum.fwd / n, sum.loss / n, sum.bwd / n, sum.reduce / n, sum.opt / n,
          (sum.total - sum.fwd - sum.loss - sum.bwd - sum.reduce - sum.opt) / n);
  sr_info("FLOP/step %.2f GFLOP: linear %.2f, attention %.2f, ce %.2f (real tokens only, see "
          "bench_train.c)", gf / n, fsum.linear * 1e-9 / n, fsum.attention * 1e-9 / n,
          fsum.ce * 1e-9 / n);
  if (sgemm > 0)
    sr_info("achieved  %.3f TFLOP/s = %.1f%% of the sgemm rate measured above (%.3f TFLOP/s, the "
            "best shape, all ranks together)", gflops * 1e-3, 100.0 * gflops / sgemm,
            sgemm * 1e-3);
  sr_info("RESULT    %.0f targets/s   %.3f s/step   %.1f GFLOP/s   (%.0f targets/step, %.2f "
          "cores busy on average, load %.2f at the end)   %.0f tokens/s   %s of sgemm   %.4f s "
          "all-reduce/step   %d ranks   %s", (double)tsum / sum.total, sum.total / n, gflops,
          (double)tsum / n, cores, bench_load_average(), fsum.tokens / sum.total,
          share_text(share, sizeof share, gflops, sgemm), sum.reduce / n, comm->size, k->name);
  if (a->profile) {
    /* cpu s: CPU time of all threads, spinning included; on one thread, the op's own work. */
    sr_info("%-20s %8s %10s %6s %10s", "op", "calls", "s/step", "share", "cpu s/step");
    double all = 0, all_cpu = 0;
    for (int i = 0; i < OP_COUNT; i++) all += prof_seconds[i], all_cpu += prof_cpu[i];
    for (int i = 0; i < OP_COUNT; i++)
      if (prof_calls[i])
        sr_info("%-20s %8lld %10.4f %5.1f%% %10.4f", op_names[i], (long long)prof_calls[i],
                prof_seconds[i] / n, 100.0 * prof_seconds[i] / sum.total, prof_cpu[i] / n);
    sr_info("%-20s %8s %10.4f %5.1f%% %10.4f", "(all ops)", "", all / n, 100.0 * all / sum.total,
            all_cpu / n);
  }
cleanup:
  sr_model_destroy(&s.m, k);
  if (s.targets_dev) k->free(k, s.targets_dev);
  sr_free(s.windows);
  sr_free(s.step_inputs);
  sr_free(s.step_targets);
  sr_free(s.inputs);
  sr_free(s.targets);
  sr_dataset_free(&s.ds);
  sr_events_shard_free(&s.shard);
  return st;
}

int main(int argc, char **argv) {
  sr_comm comm;
  sr_status st = sr_comm_init(&comm, &argc, &argv);
  if (st != SR_OK) {
    sr_log_error("%s", sr_error_message());
    return sr_status_exit_code(st);
  }
  const int full_argc = argc;
  char **full_argv = NULL;
  bench_args a;
  int help = 0, gpu = -1;
  int together = 1; /* a failure so far is every rank's (same arguments, agreed on) */
  sr_config cfg;
  sr_kernels k = {0};
  sr_grad_reduce reduce = {0};
  double sgemm = 0;
  TRY_GOTO(sr_alloc(&full_argv, (size_t)argc + 1, sizeof *full_argv, "arguments"));
  memcpy(full_argv, argv, (size_t)argc * sizeof *argv);
  TRY_GOTO(bench_parse(&argc, argv, &a, &help));
  if (help) {
    bench_usage();
    goto cleanup;
  }
  TRY_GOTO(sr_config_from_args(&cfg, argc, argv));
  /* As the trainer chooses: one GPU per rank by local rank, or the CPU; the reducer's set-up is
   * collective, so every rank goes on to it or none does. */
  st = sr_device_choose(cfg.runtime.device, comm.local_rank, &gpu);
  if (st == SR_OK) st = kernels_init(&k, gpu, cfg.runtime.threads);
  if (st == SR_OK) st = kernels_set_bf16(&k, cfg.train.precision == SR_PRECISION_BF16);
  TRY_GOTO(sr_comm_agree(&comm, st));
  if (a.train) TRY_GOTO(sr_grad_reduce_init(&reduce, &comm, gpu));
  bench_header(full_argc, full_argv, &k, gpu, &comm);
  together = 0;
  if (a.sgemm) {
    /* A square-ish product with a short inner dimension, the ce logits of a full ML-1M batch
     * (25,600 rows x 3,416 items x d 64) and the feed-forward layer (25,600 x 256 x 64). */
    const int shapes[3][3] = {{4096, 4096, 64}, {25600, 3416, 64}, {25600, 256, 64}};
    for (int i = 0; i < 3; i++) {
      double rate = 0;
      TRY_GOTO(bench_sgemm(&k, &comm, shapes[i][0], shapes[i][1], shapes[i][2], a.sgemm_repeat,
                           &rate));
      if (rate > sgemm) sgemm = rate;
    }
  }
  if (a.train) {
    if (a.profile) prof_table(&k);
    TRY_GOTO(bench_train(&a, &cfg, &comm, &k, &reduce, sgemm, &together));
  }
cleanup:
  /* A rank failing alone would leave the others waiting in the next collective: it stops the
   * whole job, naming itself and the cause. */
  if (st != SR_OK && comm.size > 1 && !together) sr_comm_abort(&comm, st, sr_error_message());
  if (st != SR_OK) sr_log_error("%s", sr_error_message());
  sr_grad_reduce_close(&reduce);
  kernels_close(&k);
  sr_free(full_argv);
  sr_comm_finalize(&comm);
  return sr_status_exit_code(st);
}
