/* Pieces shared by the events.h5 reader, checker and info inside events/; not for other folders
 * (they use events.h). */
#ifndef SR_EVENTS_INTERNAL_H
#define SR_EVENTS_INTERNAL_H

#include <hdf5.h>

#include "core/status.h"

/* The root attributes: `format` is "seqrec-events" and `version` is one this build reads.
 * SR_EFORMAT naming the file and "/" otherwise (with what the file holds instead). */
sr_status sr_events_root_check(hid_t file, const char *path);

#endif
