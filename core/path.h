/* File-system paths: creating the folders an output needs. Not for HDF5 files (events/h5util.h
 * writes them aside and renames them). */
#ifndef SR_PATH_H
#define SR_PATH_H

#include "core/status.h"

/* mkdir -p of the folder that will hold `file` (nothing when it has no folder part). */
sr_status sr_path_make_parents(const char *file);

#endif
