/* Synthetic events with a planted sequential signal; what the file holds is described in gen.h.
 * Users are generated and appended in batches, so memory depends on the item count only.
 * Not the command line (gen_main.c). */
#include "events/gen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/timer.h"
#include "events/events.h"

/* Streams of the seed for the item tables; users use streams 0..U-1. */
#define STREAM_SUCCESSOR (UINT64_MAX - 0)
#define STREAM_POPULARITY (UINT64_MAX - 1)
#define STREAM_GROUP (UINT64_MAX - 2)
#define STREAM_CENTROID (UINT64_MAX - 3)
#define STREAM_CONTENT_NOISE (UINT64_MAX - 4)

#define LENGTH_SIGMA 1.0
#define TIME_START 1609459200 /* 2021-01-01T00:00:00Z */
#define MEAN_GAP_SECONDS 3600.0

enum { BATCH_EVENTS = 1 << 20, BATCH_USERS = 1 << 16 };

static const char *const gen_event_types[3] = {"view", "cart", "purchase"};

sr_status sr_gen_validate(const sr_gen_opts *o) {
  if (o->n_users < 1) return sr_error(SR_EINVAL, "--users must be at least 1");
  if (o->n_items < 2 || o->n_items >= INT32_MAX)
    return sr_error(SR_EINVAL, "--items must be between 2 and %d (the successor map needs two)",
                    INT32_MAX - 1);
  if (o->n_users > INT64_MAX / 4 || o->n_events < 3 * o->n_users)
    return sr_error(SR_EINVAL, "--events %lld is too few for --users %lld: every user needs at "
                    "least 3 events", (long long)o->n_events, (long long)o->n_users);
  if (!(o->signal >= 0.0 && o->signal <= 1.0))
    return sr_error(SR_EINVAL, "--signal must be a probability in [0, 1], not %g", o->signal);
  if (o->content_dim < 0 || o->content_dim > 4096)
    return sr_error(SR_EINVAL, "--content-dim must be between 0 (none) and 4096, not %d",
                    o->content_dim);
  return SR_OK;
}

sr_status sr_gen_successors(uint64_t seed, int64_t n_items, int32_t **succ) {
  TRY(sr_alloc(succ, (size_t)n_items + 1, sizeof **succ, "successor map"));
  sr_rng r;
  sr_rng_init(&r, seed, STREAM_SUCCESSOR);
  for (int64_t i = 1; i <= n_items; i++) {
    int64_t j = 1 + (int64_t)sr_rng_below64(&r, (uint64_t)(n_items - 1));
    if (j >= i) j++;
    (*succ)[i] = (int32_t)j;
  }
  return SR_OK;
}

/* The item tables: O(n_items) memory. */
typedef struct {
  int64_t n_items;
  int32_t *succ;  /* [M + 1] */
  int32_t *item_of_rank; /* [M], most popular first */
  int32_t *rank_of_item; /* [M + 1] */
  double *cdf;    /* [M], cumulative Zipf weights by rank */
} item_tables;

static sr_status tables_build(item_tables *t, uint64_t seed, int64_t n_items) {
  memset(t, 0, sizeof *t);
  t->n_items = n_items;
  TRY(sr_gen_successors(seed, n_items, &t->succ));
  TRY(sr_alloc(&t->item_of_rank, (size_t)n_items, sizeof *t->item_of_rank, "popularity order"));
  TRY(sr_alloc(&t->rank_of_item, (size_t)n_items + 1, sizeof *t->rank_of_item, "item ranks"));
  TRY(sr_alloc(&t->cdf, (size_t)n_items, sizeof *t->cdf, "popularity table"));
  for (int64_t r = 0; r < n_items; r++) t->item_of_rank[r] = (int32_t)(r + 1);
  sr_rng rng;
  sr_rng_init(&rng, seed, STREAM_POPULARITY);
  for (int64_t r = n_items - 1; r > 0; r--) { /* Fisher-Yates */
    int64_t k = (int64_t)sr_rng_below64(&rng, (uint64_t)r + 1);
    int32_t tmp = t->item_of_rank[r];
    t->item_of_rank[r] = t->item_of_rank[k];
    t->item_of_rank[k] = tmp;
  }
  double sum = 0;
  for (int64_t r = 0; r < n_items; r++) {
    t->rank_of_item[t->item_of_rank[r]] = (int32_t)r;
    sum += 1.0 / (double)(r + 1);
    t->cdf[r] = sum;
  }
  return SR_OK;
}

static void tables_free(item_tables *t) {
  sr_free(t->succ);
  sr_free(t->item_of_rank);
  sr_free(t->rank_of_item);
  sr_free(t->cdf);
}

static int32_t draw_popular(const item_tables *t, sr_rng *r) {
  double x = sr_rng_uniform_f64(r) * t->cdf[t->n_items - 1];
  int64_t lo = 0, hi = t->n_items - 1; /* first rank with cdf > x */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (t->cdf[mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return t->item_of_rank[lo];
}

/* The unscaled share of user u beyond the 3-event minimum: the first draw of stream u. */
static double length_weight(uint64_t seed, int64_t u, double mu, sr_rng *r) {
  sr_rng_init(r, seed, (uint64_t)u);
  return exp(mu + LENGTH_SIGMA * (double)sr_rng_normal(r));
}

/* Item content: a noisy copy of the centroid of the group of the item's successor. */
static sr_status content_build(uint64_t seed, const item_tables *t, int dim, float **content) {
  const int64_t m = t->n_items;
  int64_t k = (int64_t)llround(sqrt((double)m));
  if (k < 2) k = 2;
  if (k > 256) k = 256;
  sr_status st = SR_OK;
  float *centroid = NULL; /* [K, D] */
  int32_t *group = NULL;  /* [M + 1] */
  TRY_GOTO(sr_alloc(content, (size_t)(m + 1) * (size_t)dim, sizeof **content, "item content"));
  TRY_GOTO(sr_alloc(&centroid, (size_t)k * (size_t)dim, sizeof *centroid, "content centroids"));
  TRY_GOTO(sr_alloc(&group, (size_t)m + 1, sizeof *group, "content groups"));
  sr_rng r;
  sr_rng_init(&r, seed, STREAM_CENTROID);
  for (int64_t g = 0; g < k; g++) {
    double norm = 0;
    float *c = centroid + g * dim;
    for (int d = 0; d < dim; d++) {
      c[d] = sr_rng_normal(&r);
      norm += (double)c[d] * c[d];
    }
    norm = sqrt(norm) > 0 ? sqrt(norm) : 1.0;
    for (int d = 0; d < dim; d++) c[d] = (float)(c[d] / norm);
  }
  sr_rng_init(&r, seed, STREAM_GROUP);
  for (int64_t i = 1; i <= m; i++) group[i] = (int32_t)sr_rng_below64(&r, (uint64_t)k);
  sr_rng_init(&r, seed, STREAM_CONTENT_NOISE);
  const float noise = 0.5f / sqrtf((float)dim);
  for (int64_t i = 1; i <= m; i++) {
    const float *c = centroid + (int64_t)group[t->succ[i]] * dim;
    float *row = *content + i * dim;
    for (int d = 0; d < dim; d++) row[d] = c[d] + noise * sr_rng_normal(&r);
  }
cleanup:
  sr_free(centroid);
  sr_free(group);
  if (st != SR_OK) {
    sr_free(*content);
    *content = NULL;
  }
  return st;
}

/* One batch of consecutive users, appended to the writer as it fills. */
typedef struct {
  int64_t n_users, n_events;
  int64_t cap_events;
  int64_t *lengths;     /* [BATCH_USERS] */
  char *id_text;        /* [BATCH_USERS, id_width + 1] */
  const char **ids;     /* [BATCH_USERS] */
  int32_t *items;       /* [cap_events] */
  int64_t *times;       /* [cap_events] */
  uint8_t *types;       /* [cap_events], NULL without types */
  int id_width;
} user_batch;

static sr_status batch_flush(user_batch *b, sr_events_writer *w) {
  if (b->n_users == 0) return SR_OK;
  TRY(sr_events_writer_append_users(w, b->n_users, b->lengths, b->ids, b->items, b->times,
                                    b->types));
  b->n_users = 0;
  b->n_events = 0;
  return SR_OK;
}

static sr_status batch_reserve(user_batch *b, int64_t n_events, int with_types) {
  if (n_events <= b->cap_events) return SR_OK;
  TRY(sr_realloc(&b->items, (size_t)n_events, sizeof *b->items, "generated items"));
  TRY(sr_realloc(&b->times, (size_t)n_events, sizeof *b->times, "generated times"));
  if (with_types) TRY(sr_realloc(&b->types, (size_t)n_events, 1, "generated types"));
  b->cap_events = n_events;
  return SR_OK;
}

static void batch_free(user_batch *b) {
  sr_free(b->lengths);
  sr_free(b->id_text);
  sr_free(b->ids);
  sr_free(b->items);
  sr_free(b->times);
  sr_free(b->types);
}

/* The events of user u: the rest of stream u after its length draw. */
static void user_generate(const sr_gen_opts *o, const item_tables *t, int64_t u, int64_t length,
                          int32_t *items, int64_t *times, uint8_t *types, sr_gen_stats *s) {
  sr_rng r;
  sr_rng_init(&r, o->seed, (uint64_t)u);
  (void)sr_rng_normal(&r); /* the length draw */
  int64_t time = TIME_START + (int64_t)sr_rng_below(&r, 365u * 86400u);
  int32_t prev = 0;
  for (int64_t k = 0; k < length; k++) {
    int32_t item;
    if (k > 0 && sr_rng_uniform_f64(&r) < o->signal)
      item = t->succ[prev];
    else
      item = draw_popular(t, &r);
    if (k > 0) {
      time += 1 + (int64_t)(-log(1.0 - sr_rng_uniform_f64(&r)) * MEAN_GAP_SECONDS);
      s->transitions++;
      s->followed += item == t->succ[prev];
      s->top1_hits += t->rank_of_item[item] == 0;
      s->top10_hits += t->rank_of_item[item] < 10;
    }
    items[k] = item;
    times[k] = time;
    if (types) {
      double x = sr_rng_uniform_f64(&r);
      uint8_t type = x < 0.80 ? 0 : x < 0.94 ? 1 : 2;
      types[k] = type;
      s->type_counts[type]++;
    }
    prev = item;
  }
}

sr_status sr_gen_write(const char *path, const sr_gen_opts *o, sr_gen_stats *stats) {
  TRY(sr_gen_validate(o));
  sr_gen_stats local;
  sr_gen_stats *s = stats ? stats : &local;
  memset(s, 0, sizeof *s);
  s->min_history = INT64_MAX;

  sr_status st = SR_OK;
  item_tables t;
  user_batch b;
  memset(&t, 0, sizeof t);
  memset(&b, 0, sizeof b);
  sr_events_writer *w = NULL;
  char **item_ids = NULL;
  char *item_id_text = NULL;
  float *content = NULL;

  const int64_t n_users = o->n_users, n_items = o->n_items, n_events = o->n_events;
  TRY_GOTO(tables_build(&t, o->seed, n_items));

  /* Item raw ids "i<id>", row 0 padding. */
  int item_width = snprintf(NULL, 0, "i%lld", (long long)n_items) + 1;
  TRY_GOTO(sr_alloc(&item_ids, (size_t)n_items + 1, sizeof *item_ids, "item ids"));
  TRY_GOTO(sr_alloc(&item_id_text, (size_t)n_items + 1, (size_t)item_width, "item ids"));
  item_ids[0] = item_id_text;
  for (int64_t i = 1; i <= n_items; i++) {
    item_ids[i] = item_id_text + i * item_width;
    snprintf(item_ids[i], (size_t)item_width, "i%lld", (long long)i);
  }

  sr_events_writer_opts wo;
  memset(&wo, 0, sizeof wo);
  b.id_width = snprintf(NULL, 0, "u%lld", (long long)(n_users - 1));
  wo.user_id_width = b.id_width;
  wo.source = o->source;
  if (o->types) {
    wo.n_event_types = 3;
    for (int k = 0; k < 3; k++) wo.event_types[k] = gen_event_types[k];
  }
  TRY_GOTO(sr_events_writer_open(&w, path, &wo));
  TRY_GOTO(sr_events_writer_set_items(w, n_items, (const char *const *)item_ids));
  if (o->content_dim > 0) {
    TRY_GOTO(content_build(o->seed, &t, o->content_dim, &content));
    TRY_GOTO(sr_events_writer_set_content(w, n_items, o->content_dim, content));
    sr_free(content);
    content = NULL;
  }

  TRY_GOTO(sr_alloc(&b.lengths, BATCH_USERS, sizeof *b.lengths, "batch lengths"));
  TRY_GOTO(sr_alloc(&b.ids, BATCH_USERS, sizeof *b.ids, "batch ids"));
  TRY_GOTO(sr_alloc(&b.id_text, BATCH_USERS, (size_t)b.id_width + 1, "batch ids"));
  TRY_GOTO(batch_reserve(&b, BATCH_EVENTS, o->types));

  /* Lengths: 3 + a log-normal weight, rescaled through rounded cumulative sums so that the
   * total is exactly n_events. Pass 1 sums the weights; pass 2 redraws them user by user. */
  const int64_t extra = n_events - 3 * n_users;
  const double mu = -0.5 * LENGTH_SIGMA * LENGTH_SIGMA;
  double weight_sum = 0;
  sr_rng r;
  if (extra > 0)
    for (int64_t u = 0; u < n_users; u++) weight_sum += length_weight(o->seed, u, mu, &r);
  const double scale = extra > 0 ? (double)extra / weight_sum : 0.0;

  sr_progress progress;
  if (o->progress) sr_progress_start(&progress, "gen", "events", n_events);
  double cumulative = 0;
  int64_t assigned = 0, written = 0;
  for (int64_t u = 0; u < n_users; u++) {
    int64_t upto = extra;
    if (u + 1 < n_users && extra > 0) {
      cumulative += length_weight(o->seed, u, mu, &r);
      upto = llround(cumulative * scale);
      if (upto > extra) upto = extra;
      if (upto < assigned) upto = assigned;
    }
    const int64_t length = 3 + upto - assigned;
    assigned = upto;
    if (b.n_users > 0 && (b.n_users == BATCH_USERS || b.n_events + length > BATCH_EVENTS)) {
      written += b.n_events;
      TRY_GOTO(batch_flush(&b, w));
      if (o->progress) sr_progress_update(&progress, written);
    }
    TRY_GOTO(batch_reserve(&b, b.n_events + length, o->types));
    char *id = b.id_text + b.n_users * (b.id_width + 1);
    snprintf(id, (size_t)b.id_width + 1, "u%lld", (long long)u);
    b.ids[b.n_users] = id;
    b.lengths[b.n_users] = length;
    user_generate(o, &t, u, length, b.items + b.n_events, b.times + b.n_events,
                  o->types ? b.types + b.n_events : NULL, s);
    if (length < s->min_history) s->min_history = length;
    if (length > s->max_history) s->max_history = length;
    b.n_users++;
    b.n_events += length;
  }
  written += b.n_events;
  TRY_GOTO(batch_flush(&b, w));
  if (written != n_events)
    FAIL_GOTO(SR_EINTERNAL, "%s: generated %lld events, %lld asked for", path,
              (long long)written, (long long)n_events);
  sr_events_writer_fingerprint(w, s->fingerprint);
  {
    sr_events_writer *committing = w;
    w = NULL;
    TRY_GOTO(sr_events_writer_commit(committing));
  }
  if (o->progress) sr_progress_finish(&progress, written);
cleanup:
  sr_events_writer_abort(w);
  sr_free(content);
  sr_free(item_ids);
  sr_free(item_id_text);
  batch_free(&b);
  tables_free(&t);
  return st;
}
