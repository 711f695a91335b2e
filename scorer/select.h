/* Which users `seqrec score` scores: every user, a dense range (score.user_range) or the users a
 * file names by raw id (score.users). Each rank keeps the selected users of its own events
 * shard; together they form one sorted list whose positions are the rows of recs.h5.
 * Not for computing user states or writing the file. */
#ifndef SR_SCORER_SELECT_H
#define SR_SCORER_SELECT_H

#include <stdint.h>

#include "comm/comm.h"
#include "core/config.h"
#include "core/status.h"
#include "events/events.h"

typedef struct {
  int64_t n;         /* users selected on this rank */
  int64_t *user;     /* [n] local indices into the shard, increasing */
  int64_t first;     /* row of user[0] in recs.h5: the selected users of lower ranks come first */
  int64_t total;     /* users selected on all ranks: the rows of recs.h5 */
  char what[SR_PATH_MAX + 64]; /* "all", "range 10:20" or "file PATH": the `users` attribute */
} scorer_selection;

/* "BEGIN:END" (decimal, 0 <= BEGIN <= END <= n_users) into [*begin, *end). SR_EINVAL naming
 * score.user_range otherwise. */
sr_status scorer_user_range_parse(const char *text, int64_t n_users, int64_t *begin,
                                  int64_t *end);

/* This rank's selection from cfg->score.users / user_range (both null: all users). A users
 * file holds one raw id per line, exactly as in /users/raw_id (a trailing CR is dropped, empty
 * lines are skipped, a user named twice is scored once); an id that no rank knows is SR_EINVAL
 * "FILE:LINE: ...". Collective over comm; every rank returns the same status. comm NULL: this
 * process alone, without MPI (the shard is then the whole file). */
sr_status scorer_selection_build(scorer_selection *sel, const sr_config *cfg,
                                 const sr_events_shard *shard, const sr_comm *comm);
void scorer_selection_free(scorer_selection *sel);

#endif
