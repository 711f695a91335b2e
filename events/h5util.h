/* HDF5 helpers shared by every module that reads or writes HDF5 (events, model, scorer): checked
 * calls whose message names the file and the HDF5 path, handles that close quietly, attributes,
 * typed dataset checks, row-wise reads and appends, and the write-aside-then-rename pattern.
 * Not a wrapper of the whole HDF5 API: call HDF5 directly for anything else, through SR_H5_CHECK. */
#ifndef SR_H5UTIL_H
#define SR_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Turns off HDF5's automatic printing of its error stack: our one-line messages replace it, and
 * users never see library noise. Idempotent and cheap; every helper here calls it, and code that
 * calls HDF5 before any helper should call it first. */
void sr_h5_silence(void);

/* rc >= 0: SR_OK. rc < 0: records "FILE: H5PATH: EXPR failed (HDF5: innermost reason) [at
 * SRC:LINE]" with status st and returns st. Handles (hid_t) and herr_t both fit in int64_t. */
sr_status sr_h5_check(int64_t rc, sr_status st, const char *expr, const char *file,
                      const char *h5path, const char *src, int line);
/* For HDF5 calls that fail only when the file or the system does: SR_EIO. To keep a handle,
 * assign inside: TRY_GOTO(SR_H5_CHECK(d = H5Dopen2(f, p, H5P_DEFAULT), name, p)). */
#define SR_H5_CHECK(call, file, h5path) \
  sr_h5_check((int64_t)(call), SR_EIO, #call, (file), (h5path), __FILE__, __LINE__)

/* Closes any HDF5 handle (file, group, dataset, dataspace, datatype, attribute, property list)
 * and sets *id to H5I_INVALID_HID. Does nothing for an invalid handle; records no error: for
 * cleanup paths. A file being written must be closed with a checked H5Fclose instead. */
void sr_h5_close(hid_t *id);

/* Opens an existing file read-only (default sec2 driver: each rank may open it on its own).
 * Distinct messages for a missing file (SR_EIO), an unreadable one (SR_EIO) and a file that is
 * not HDF5 (SR_EFORMAT). */
sr_status sr_h5_open_read(const char *path, hid_t *file);
/* Creates or truncates path for writing. Closing the file also closes every object still open
 * in it (strong close degree), so error paths cannot leak handles that keep it open. A write
 * that fails (full disk, file size limit) is reported once, as "cannot write to the file:
 * REASON"; the file can then still be closed (quietly, with sr_h5_close) and removed. */
sr_status sr_h5_create(const char *path, hid_t *file);
/* Flushes and closes a file made by sr_h5_create (*file becomes invalid in every case): the
 * checked close for files being kept. Fails if any write to it failed. */
sr_status sr_h5_file_close(hid_t *file, const char *path);

/* 1 when every component of h5path ("/a/b/c") exists under loc, else 0. */
int sr_h5_exists(hid_t loc, const char *h5path);
/* Opens a dataset; SR_EFORMAT "FILE: H5PATH: missing dataset" when it is not there. */
sr_status sr_h5_dataset_open(hid_t loc, const char *file, const char *h5path, hid_t *dset);
/* Checks that the dataset's stored type matches `expected` (a native or standard type such as
 * H5T_NATIVE_INT32; integer sign and width, float width, or any fixed-length string when
 * expected is H5T_C_S1) and that it has `rank` dimensions; fills dims[rank]. SR_EFORMAT
 * "FILE: H5PATH: type is float64, expected int32" or "...: 2 dimensions, expected 1". */
sr_status sr_h5_dataset_expect(hid_t dset, const char *file, const char *h5path, hid_t expected,
                               int rank, int64_t *dims);
/* Width in bytes of a fixed-length string dataset (after sr_h5_dataset_expect with H5T_C_S1). */
sr_status sr_h5_string_width(hid_t dset, const char *file, const char *h5path, size_t *width);
/* "int32", "uint8", "float64", "string[12]", "variable-length string", "compound", ... */
void sr_h5_type_name(hid_t type, char *buf, size_t size);

/* Reads rows [row_begin, row_begin + n_rows) of a 1-D or 2-D dataset (all columns) into buf,
 * converting to mem_type: one hyperslab, one H5Dread. */
sr_status sr_h5_read_rows(hid_t dset, const char *file, const char *h5path, hid_t mem_type,
                          int64_t row_begin, int64_t n_rows, void *buf);
/* Writes rows at [row_begin, row_begin + n_rows) of a 1-D or 2-D dataset, first growing an
 * extendible dataset when it is too short. */
sr_status sr_h5_write_rows(hid_t dset, const char *file, const char *h5path, hid_t mem_type,
                           int64_t row_begin, int64_t n_rows, const void *buf);
/* Creates a dataset of n_rows rows and `width` columns (width 0: 1-D), with any missing groups
 * on the way. Extendible ones (without limit along rows) are chunked by chunk_rows rows; fixed
 * ones are contiguous (chunk_rows ignored). */
sr_status sr_h5_dataset_create(hid_t loc, const char *file, const char *h5path, hid_t file_type,
                               int64_t n_rows, int64_t width, int extendible, int64_t chunk_rows,
                               hid_t *dset);
/* A fixed-length string type of `width` bytes (at least 1), NUL-padded (NUL-terminated when
 * nullterm), UTF-8. Close it with sr_h5_close. */
sr_status sr_h5_string_type(size_t width, int nullterm, hid_t *type);

/* ---- attributes (obj_path only names the object in messages) ---- */
int sr_h5_attr_exists(hid_t obj, const char *name);
sr_status sr_h5_attr_write_str(hid_t obj, const char *file, const char *obj_path,
                               const char *name, const char *value);
/* Fixed- or variable-length string; SR_EFORMAT when missing, not a string, or not fitting. */
sr_status sr_h5_attr_read_str(hid_t obj, const char *file, const char *obj_path,
                              const char *name, char *buf, size_t size);
sr_status sr_h5_attr_write_i64(hid_t obj, const char *file, const char *obj_path,
                               const char *name, int64_t value);
/* Any scalar integer attribute. */
sr_status sr_h5_attr_read_i64(hid_t obj, const char *file, const char *obj_path,
                              const char *name, int64_t *value);
sr_status sr_h5_attr_write_strs(hid_t obj, const char *file, const char *obj_path,
                                const char *name, int n, const char *const *values);
/* A 1-D string array attribute into out[max_n][width] (each NUL-terminated); *n its length. */
sr_status sr_h5_attr_read_strs(hid_t obj, const char *file, const char *obj_path,
                               const char *name, int max_n, size_t width, char *out, int *n);

/* ---- written aside, then renamed: readers never see half a file ---- */
/* buf = path + ".tmp"; SR_EINVAL when it does not fit. */
sr_status sr_h5_tmp_path(const char *path, char *buf, size_t size);
/* Flushes tmp (already closed by HDF5) to disk, renames it to path and flushes the folder.
 * On failure removes tmp and leaves path as it was. */
sr_status sr_h5_tmp_commit(const char *tmp, const char *path);
/* Removes tmp if it is there (abort paths); path itself is never touched. */
void sr_h5_tmp_discard(const char *tmp);

#endif
