/* Synthetic events.h5 with a planted sequential signal (`seqrec gen`): a model that learns
 * "what follows what" beats popularity by a known margin. Not a realistic traffic simulator.
 *
 * What a file holds, for seed S (all draws are Philox streams of S, see core/rng.h):
 *  - popularity: item ranks are a random permutation of 1..M; the item of rank r has weight
 *    1/r (Zipf, exponent 1.0).
 *  - successor map: succ(i) is a uniform random item other than i, fixed for the file.
 *  - history of user u (RNG stream u, so each user is reproducible on its own): length
 *    3 + a log-normal share (sigma 1.0) of the E - 3U events beyond the minimum, rescaled so the
 *    total is exactly E; the first item is drawn from popularity; each next item is succ(prev)
 *    with probability P (--signal) and a popularity draw otherwise; times start somewhere in
 *    2021 and grow by 1 s + an exponential gap of mean one hour; with --types each event is
 *    view (80%), cart (14%) or purchase (6%).
 *  - content (--content-dim D): items fall in K = clamp(round(sqrt(M)), 2, 256) random groups
 *    with random unit centroids; content[i] = centroid[group(succ(i))] + N(0, 0.5^2 / D) per
 *    dimension: a noisy hint of where i leads, the kind an encoder of item text might give.
 *    Row 0 (padding) is zero. */
#ifndef SR_EVENTS_GEN_H
#define SR_EVENTS_GEN_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
  int64_t n_users, n_items, n_events;
  uint64_t seed;
  double signal;    /* P in [0, 1] */
  int types;        /* write /events/type (view, cart, purchase) */
  int content_dim;  /* 0: no /items/content */
  const char *source; /* kept as the `source` attribute; NULL for none */
  int progress;     /* print a progress line (rank 0) */
} sr_gen_opts;

/* Measured while generating, over every event that has a previous event in its history. */
typedef struct {
  int64_t transitions;
  int64_t followed;    /* item == succ(previous item): what the oracle's top-1 gets right */
  int64_t top1_hits;   /* item is the most popular one: what popularity's top-1 gets right */
  int64_t top10_hits;  /* item is among the 10 most popular */
  int64_t min_history, max_history;
  int64_t type_counts[3];
  char fingerprint[32];
} sr_gen_stats;

/* Checks the options (SR_EINVAL naming the option): users >= 1, items >= 2,
 * events >= 3 * users, 0 <= signal <= 1, 0 <= content_dim <= 4096. */
sr_status sr_gen_validate(const sr_gen_opts *opts);
/* Generates and writes the file (through PATH.tmp; PATH appears only when complete). Memory
 * does not grow with the number of events or users, only with items (and content). stats may
 * be NULL. */
sr_status sr_gen_write(const char *path, const sr_gen_opts *opts, sr_gen_stats *stats);
/* The successor map of (seed, n_items): *succ = [n_items + 1], succ[0] = 0. Free with sr_free. */
sr_status sr_gen_successors(uint64_t seed, int64_t n_items, int32_t **succ);

#endif
