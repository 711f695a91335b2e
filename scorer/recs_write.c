/* The collective recs.h5 writer; see recs.h. One file opened by every rank through MPI-IO;
 * each rank writes its own rows with collective transfers, so the file is written once, in
 * parallel, and appears under its name only when every rank has finished. */
#include "scorer/recs.h"

#include <string.h>

#include "core/arena.h"
#include "events/h5util.h"

static sr_status attrs_write(scorer_recs_writer *w, const scorer_recs_meta *m) {
  const hid_t f = w->file;
  const char *t = w->tmp;
  TRY(sr_h5_attr_write_str(f, t, "/", "format", SR_RECS_FORMAT));
  TRY(sr_h5_attr_write_i64(f, t, "/", "version", SR_RECS_VERSION));
  TRY(sr_h5_attr_write_i64(f, t, "/", "k", m->k));
  TRY(sr_h5_attr_write_i64(f, t, "/", "exclude_seen", m->exclude_seen ? 1 : 0));
  TRY(sr_h5_attr_write_i64(f, t, "/", "checkpoint_items", m->model_items));
  TRY(sr_h5_attr_write_str(f, t, "/", "new_items", m->new_items));
  TRY(sr_h5_attr_write_str(f, t, "/", "checkpoint", m->checkpoint));
  TRY(sr_h5_attr_write_str(f, t, "/", "checkpoint_sha256", m->checkpoint_sha256));
  TRY(sr_h5_attr_write_str(f, t, "/", "events", m->events));
  TRY(sr_h5_attr_write_str(f, t, "/", "events_fingerprint", m->events_fingerprint));
  TRY(sr_h5_attr_write_str(f, t, "/", "created", m->created));
  TRY(sr_h5_attr_write_str(f, t, "/", "users", m->users));
  TRY(sr_h5_attr_write_str(f, t, "/", "config", m->config));
  return SR_OK;
}

/* Selects rows [row, row + n) of dset in *file_space and a matching *mem_space; n = 0 selects
 * nothing in either (a rank that sits this transfer out still takes part in it). */
static sr_status rows_select(hid_t dset, const char *file, const char *h5path, int64_t row,
                             int64_t n, hid_t *file_space, hid_t *mem_space) {
  hsize_t dims[2] = {0, 0};
  TRY(SR_H5_CHECK(*file_space = H5Dget_space(dset), file, h5path));
  const int rank = H5Sget_simple_extent_ndims(*file_space);
  TRY(SR_H5_CHECK(rank, file, h5path));
  TRY(SR_H5_CHECK(H5Sget_simple_extent_dims(*file_space, dims, NULL), file, h5path));
  if (n == 0) {
    TRY(SR_H5_CHECK(*mem_space = H5Scopy(*file_space), file, h5path));
    TRY(SR_H5_CHECK(H5Sselect_none(*file_space), file, h5path));
    return SR_H5_CHECK(H5Sselect_none(*mem_space), file, h5path);
  }
  if (row < 0 || (hsize_t)(row + n) > dims[0])
    return sr_error(SR_EINTERNAL, "%s: %s: rows [%lld, %lld) of %llu", file, h5path,
                    (long long)row, (long long)(row + n), (unsigned long long)dims[0]);
  const hsize_t start[2] = {(hsize_t)row, 0}, count[2] = {(hsize_t)n, dims[1]};
  TRY(SR_H5_CHECK(H5Sselect_hyperslab(*file_space, H5S_SELECT_SET, start, NULL, count, NULL),
                  file, h5path));
  return SR_H5_CHECK(*mem_space = H5Screate_simple(rank, count, NULL), file, h5path);
}

/* One collective write of rows [row, row + n) of a dataset from buf. */
static sr_status rows_write(scorer_recs_writer *w, hid_t dset, const char *h5path, hid_t type,
                            int64_t row, int64_t n, const void *buf) {
  sr_status st = SR_OK;
  hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
  static const char nothing[8] = {0}; /* MPI-IO wants a buffer even for no data */
  TRY_GOTO(rows_select(dset, w->tmp, h5path, row, n, &fs, &ms));
  TRY_GOTO(SR_H5_CHECK(H5Dwrite(dset, type, ms, fs, w->dxpl, n ? buf : nothing), w->tmp,
                       h5path));
cleanup:
  sr_h5_close(&ms);
  sr_h5_close(&fs);
  return st;
}

/* Creates `h5path` with the type and length of the same dataset in events.h5, and copies rows
 * [b, e) of it (this rank's share). The rows are read first and agreed on, so that a rank that
 * cannot read them does not leave the others waiting in the collective write. */
static sr_status raw_ids_copy(scorer_recs_writer *w, hid_t events, const char *events_path,
                              const char *h5path, int64_t b, int64_t e) {
  sr_status st = SR_OK;
  hid_t src = H5I_INVALID_HID, type = H5I_INVALID_HID, dst = H5I_INVALID_HID;
  char *buf = NULL;
  int64_t dims[1] = {0};
  size_t width = 0;
  TRY_GOTO(sr_h5_dataset_open(events, events_path, h5path, &src));
  TRY_GOTO(sr_h5_dataset_expect(src, events_path, h5path, H5T_C_S1, 1, dims));
  TRY_GOTO(sr_h5_string_width(src, events_path, h5path, &width));
  TRY_GOTO(SR_H5_CHECK(type = H5Dget_type(src), events_path, h5path));
  if (b < 0 || e > dims[0] || b > e)
    FAIL_GOTO(SR_EFORMAT, "%s: %s has %lld rows; rows [%lld, %lld) were expected", events_path,
              h5path, (long long)dims[0], (long long)b, (long long)e);
  TRY_GOTO(sr_alloc(&buf, (size_t)(e - b) + 1, width, "raw ids"));
  TRY_GOTO(sr_h5_read_rows(src, events_path, h5path, type, b, e - b, buf));
cleanup:
  /* Same dataset sizes everywhere or none: the create below is collective. */
  st = sr_comm_agree(w->comm, st);
  if (st == SR_OK) {
    st = sr_h5_dataset_create(w->file, w->tmp, h5path, type, dims[0], 0, 0, 0, &dst);
    if (st == SR_OK) st = rows_write(w, dst, h5path, type, b, e - b, buf);
    if (st == SR_OK) st = SR_H5_CHECK(H5Dclose(dst), w->tmp, h5path);
    else sr_h5_close(&dst);
  }
  sr_free(buf);
  sr_h5_close(&type);
  sr_h5_close(&src);
  return st;
}

sr_status scorer_recs_create(scorer_recs_writer *w, const char *path,
                             const scorer_recs_meta *meta, const sr_events_shard *shard,
                             const sr_comm *comm) {
  sr_h5_silence();
  memset(w, 0, sizeof *w);
  w->comm = comm;
  w->k = meta->k;
  w->file = w->dxpl = w->d_user = w->d_item = w->d_score = H5I_INVALID_HID;
  snprintf(w->path, sizeof w->path, "%s", path);
  TRY(sr_h5_tmp_path(path, w->tmp, sizeof w->tmp));
  sr_status st = SR_OK;
  hid_t fapl = H5I_INVALID_HID, events = H5I_INVALID_HID;
  TRY_GOTO(SR_H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS), w->tmp, "/"));
  TRY_GOTO(SR_H5_CHECK(H5Pset_fapl_mpio(fapl, comm->mpi, MPI_INFO_NULL), w->tmp, "/"));
  TRY_GOTO(SR_H5_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), w->tmp, "/"));
  w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (w->file < 0) {
    st = sr_h5_check(w->file, SR_EIO, "creating it (parallel HDF5)", w->tmp, "/", __FILE__,
                     __LINE__);
    w->file = H5I_INVALID_HID;
    sr_error_context("score.output");
    goto cleanup;
  }
  TRY_GOTO(SR_H5_CHECK(w->dxpl = H5Pcreate(H5P_DATASET_XFER), w->tmp, "/"));
  TRY_GOTO(SR_H5_CHECK(H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE), w->tmp, "/"));
  TRY_GOTO(attrs_write(w, meta));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/recs/user", H5T_STD_I32LE, meta->n_rows, 0,
                                0, 0, &w->d_user));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/recs/item", H5T_STD_I32LE, meta->n_rows,
                                meta->k, 0, 0, &w->d_item));
  TRY_GOTO(sr_h5_dataset_create(w->file, w->tmp, "/recs/score", H5T_IEEE_F32LE, meta->n_rows,
                                meta->k, 0, 0, &w->d_score));
cleanup:
  sr_h5_close(&fapl);
  /* H5Fcreate is collective: it fails on every rank or on none. */
  st = sr_comm_agree(comm, st);
  if (st != SR_OK) return st;

  /* Users: this rank's shard. Items: an equal share of rows 0..n_items per rank. */
  st = sr_h5_open_read(meta->events, &events);
  st = sr_comm_agree(comm, st);
  if (st == SR_OK)
    st = raw_ids_copy(w, events, meta->events, "/users/raw_id", shard->user_begin,
                      shard->user_end);
  const int64_t rows = shard->n_items + 1;
  const int64_t ib = rows * comm->rank / comm->size, ie = rows * (comm->rank + 1) / comm->size;
  if (st == SR_OK) st = raw_ids_copy(w, events, meta->events, "/items/raw_id", ib, ie);
  sr_h5_close(&events);
  if (st != SR_OK) return st;
  /* Which items are new since training: each rank writes its share of the rows. */
  hid_t d_new = H5I_INVALID_HID;
  st = sr_h5_dataset_create(w->file, w->tmp, "/items/new", H5T_STD_U8LE, rows, 0, 0, 0, &d_new);
  st = sr_comm_agree(comm, st);
  if (st == SR_OK)
    st = sr_comm_agree(comm, rows_write(w, d_new, "/items/new", H5T_NATIVE_UINT8, ib, ie - ib,
                                        meta->item_new + ib));
  sr_h5_close(&d_new);
  return st;
}

sr_status scorer_recs_write_rows(scorer_recs_writer *w, int64_t row, int64_t n,
                                 const int32_t *user, const int32_t *item, const float *score) {
  TRY(rows_write(w, w->d_user, "/recs/user", H5T_NATIVE_INT32, row, n, user));
  TRY(rows_write(w, w->d_item, "/recs/item", H5T_NATIVE_INT32, row, n, item));
  return rows_write(w, w->d_score, "/recs/score", H5T_NATIVE_FLOAT, row, n, score);
}

sr_status scorer_recs_flush(scorer_recs_writer *w) {
  return SR_H5_CHECK(H5Fflush(w->file, H5F_SCOPE_GLOBAL), w->tmp, "/");
}

sr_status scorer_recs_finish(scorer_recs_writer *w, sr_status local) {
  sr_status st = sr_comm_agree(w->comm, local);
  sr_h5_close(&w->d_user);
  sr_h5_close(&w->d_item);
  sr_h5_close(&w->d_score);
  sr_h5_close(&w->dxpl);
  if (w->file >= 0) {
    /* Collective: every rank closes, whatever happened. */
    if (st == SR_OK) {
      st = sr_h5_file_close(&w->file, w->tmp);
    } else {
      sr_h5_close(&w->file);
    }
  }
  st = sr_comm_agree(w->comm, st);
  if (!w->tmp[0]) return st;
  sr_status done = SR_OK;
  if (w->comm->rank == 0) {
    if (st == SR_OK) done = sr_h5_tmp_commit(w->tmp, w->path);
    else sr_h5_tmp_discard(w->tmp);
  }
  if (st == SR_OK) st = sr_comm_agree(w->comm, done);
  return st;
}
