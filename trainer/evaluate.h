/* Held-out metrics (DESIGN.md "Evaluation"): full ranking over all items with the user's history
 * excluded (HR@10, NDCG@10, MRR), the SASRec paper's 100-sampled-negatives protocol beside it,
 * and a popularity baseline on the same split. Ranks come from the scorer (scorer/rank.h), so
 * validation and `seqrec score` agree by construction. Not for choosing what to recommend. */
#ifndef SR_EVALUATE_H
#define SR_EVALUATE_H

#include <stdint.h>

#include "comm/comm.h"
#include "kernels/kernels.h"
#include "model/sasrec.h"
#include "trainer/dataset.h"

typedef struct {
  int64_t users;        /* users with a held-out item, over all ranks */
  double hr10;          /* full ranking, history excluded */
  double ndcg10;
  double mrr;
  double sampled_hr10;  /* rank among the target and 100 sampled unseen items (labelled "sampled") */
  double sampled_ndcg10;
} sr_metrics;

/* Scores the held-out item of every user of every rank with the model (evaluation mode).
 * Collective over comm; every rank gets the same totals. */
sr_status sr_evaluate_model(sr_model *m, const sr_kernels *k, const sr_dataset *ds,
                            sr_holdout which, uint64_t seed, const sr_comm *comm, sr_metrics *out);
/* The same metrics for "recommend the most popular items": the score of item i is its count in
 * the training events of all ranks. */
sr_status sr_evaluate_popularity(const sr_dataset *ds, int n_items, sr_holdout which,
                                 uint64_t seed, const sr_comm *comm, sr_metrics *out);

#endif
