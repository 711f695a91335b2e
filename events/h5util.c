/* HDF5 helpers shared by events, model and scorer; see h5util.h.
 * Every failure becomes one sr_error message naming the file and the HDF5 path; HDF5's own
 * error stack is never printed, only its innermost reason is quoted. */
#include "events/h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"

#if H5_VERSION_GE(1, 14, 0)
#include <H5FDdevelop.h> /* the driver class (public in 1.10 and 1.12) */
#endif

void sr_h5_silence(void) {
  static int silenced = 0;
  if (silenced) return;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  silenced = 1;
}

typedef struct {
  char desc[256];
  int found;
} innermost_reason;

static herr_t take_innermost(unsigned n, const H5E_error2_t *err, void *data) {
  (void)n;
  innermost_reason *r = data;
  if (!r->found && err->desc && err->desc[0]) {
    snprintf(r->desc, sizeof r->desc, "%s", err->desc);
    r->found = 1;
  }
  return 0;
}

/* "events/h5util.c" from a build's absolute "/.../events/h5util.c": enough to find the line. */
static const char *source_tail(const char *src) {
  const char *last = strrchr(src, '/');
  if (!last) return src;
  const char *p = last;
  while (p > src && p[-1] != '/') p--;
  return p;
}

/* The system's reason for the last failed write of the safe driver (below), until reported:
 * a full disk reads "cannot write: No space left on device", not an HDF5 call and a flag dump. */
static char write_failure[256];

sr_status sr_h5_check(int64_t rc, sr_status st, const char *expr, const char *file,
                      const char *h5path, const char *src, int line) {
  if (rc >= 0) return SR_OK;
  src = source_tail(src);
  innermost_reason r = {{0}, 0};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &r);
  H5Eclear2(H5E_DEFAULT);
  if (write_failure[0]) {
    char reason[sizeof write_failure];
    memcpy(reason, write_failure, sizeof reason);
    write_failure[0] = '\0';
    return sr_error(SR_EIO, "%s: %s: cannot write to the file: %s [at %s:%d]", file ? file : "?",
                    h5path && h5path[0] ? h5path : "/", reason, src, line);
  }
  /* HDF5's own I/O messages span lines ("time = ...\n, filename = ..."): keep one line. */
  for (char *c = r.desc; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  return sr_error(st, "%s: %s: %s failed%s%s%s [at %s:%d]", file ? file : "?",
                  h5path && h5path[0] ? h5path : "/", expr, r.found ? " (HDF5: " : "",
                  r.found ? r.desc : "", r.found ? ")" : "", src, line);
}

void sr_h5_close(hid_t *id) {
  if (!id || *id == H5I_INVALID_HID || *id < 0) return;
  if (H5Iis_valid(*id) > 0) {
    switch (H5Iget_type(*id)) {
      case H5I_FILE: H5Fclose(*id); break;
      case H5I_GROUP: H5Gclose(*id); break;
      case H5I_DATASET: H5Dclose(*id); break;
      case H5I_DATASPACE: H5Sclose(*id); break;
      case H5I_DATATYPE: H5Tclose(*id); break;
      case H5I_ATTR: H5Aclose(*id); break;
      case H5I_GENPROP_LST: H5Pclose(*id); break;
      default: break;
    }
  }
  H5Eclear2(H5E_DEFAULT);
  *id = H5I_INVALID_HID;
}

sr_status sr_h5_open_read(const char *path, hid_t *file) {
  sr_h5_silence();
  *file = H5I_INVALID_HID;
  struct stat sb;
  if (stat(path, &sb) != 0)
    return sr_error(SR_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode)) return sr_error(SR_EIO, "%s: is a folder, not an HDF5 file", path);
  if (access(path, R_OK) != 0)
    return sr_error(SR_EIO, "%s: cannot read: %s", path, strerror(errno));
  htri_t is_hdf5 = H5Fis_hdf5(path);
  H5Eclear2(H5E_DEFAULT);
  if (is_hdf5 == 0)
    return sr_error(SR_EFORMAT, "%s: not an HDF5 file (no HDF5 signature; is it a CSV log? "
                                "`seqrec import` turns logs into events.h5)", path);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    /* Signature present but unreadable: most often a file cut short by a crash or a copy. */
    return sr_h5_check(f, SR_EFORMAT, "opening it (cut short or damaged?)", path, "/", __FILE__,
                       __LINE__);
  }
  *file = f;
  return SR_OK;
}

/* ---- the safe file driver: files we write fail once, then close cleanly ----
 * HDF5 1.10 cannot close a file whose flush fails (a full disk, a file size limit): the failed
 * close leaves a dangling handle that crashes the library when it shuts down, after our message
 * (HDFFV-11052). So files we create go through this small POSIX driver, a plain copy of what
 * the default (sec2) driver does, except that after the first failed write every later write
 * is dropped and reported done: the failure still reaches the caller, and the aborting writer
 * then closes the file without a crash and removes it. Files written this way are ordinary
 * HDF5 files (no driver information is stored). Reading uses HDF5's own driver. */

typedef struct {
  H5FD_t pub;      /* first: HDF5 passes &pub to the callbacks */
  int fd;
  haddr_t eoa, eof;
  dev_t device;
  ino_t inode;
  int write_errno; /* the first failed write or truncation; 0 while every one succeeded */
  char name[4096];
} safe_file;

/* The last file closed after a lost write, so that sr_h5_tmp_commit refuses to publish it even
 * when the failure was swallowed on the way (a quiet close that wrote the last chunk). */
static char lost_file[4096];
static int lost_errno;

static const haddr_t SAFE_MAXADDR = ((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1;

static void safe_fail(safe_file *f, int err, const char *what, haddr_t addr, size_t size) {
  f->write_errno = err ? err : EIO;
  snprintf(write_failure, sizeof write_failure, "%s (%s of %zu bytes at offset %llu)",
           strerror(f->write_errno), what, size, (unsigned long long)addr);
  H5Epush2(H5E_DEFAULT, __FILE__, "safe_write", __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_WRITEERROR,
           "%s", write_failure);
}

static H5FD_t *safe_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
  (void)fapl;
  if (maxaddr == 0 || maxaddr > SAFE_MAXADDR) maxaddr = SAFE_MAXADDR;
  int oflags = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) oflags |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) oflags |= O_CREAT;
  if (flags & H5F_ACC_EXCL) oflags |= O_EXCL;
  int fd = open(name, oflags, 0666);
  struct stat sb;
  safe_file *f = NULL;
  if (fd < 0 || fstat(fd, &sb) != 0 || !(f = calloc(1, sizeof *f))) {
    int err = errno;
    H5Epush2(H5E_DEFAULT, __FILE__, "safe_open", __LINE__, H5E_ERR_CLS, H5E_VFL,
             H5E_CANTOPENFILE, "%s: %s", name, strerror(err));
    if (fd >= 0) close(fd);
    return NULL;
  }
  f->fd = fd;
  snprintf(f->name, sizeof f->name, "%s", name);
  f->eof = (haddr_t)sb.st_size;
  f->device = sb.st_dev;
  f->inode = sb.st_ino;
  return &f->pub;
}

static herr_t safe_close(H5FD_t *file) {
  safe_file *f = (safe_file *)file;
  if (f->write_errno) {
    snprintf(lost_file, sizeof lost_file, "%s", f->name);
    lost_errno = f->write_errno;
  }
  /* close(2) reports no lost data that fsync in sr_h5_tmp_commit would not report first. */
  close(f->fd);
  free(f);
  return 0;
}

static int safe_cmp(const H5FD_t *a, const H5FD_t *b) {
  const safe_file *x = (const safe_file *)a, *y = (const safe_file *)b;
  if (x->device != y->device) return x->device < y->device ? -1 : 1;
  if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
  return 0;
}

static herr_t safe_query(const H5FD_t *file, unsigned long *flags) {
  (void)file;
  /* What sec2 offers: metadata aggregation and accumulation, data sieving, a POSIX handle. */
  *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
           H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE;
  return 0;
}

static haddr_t safe_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const safe_file *)file)->eoa;
}

static herr_t safe_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
  (void)type;
  ((safe_file *)file)->eoa = addr;
  return 0;
}

static haddr_t safe_get_eof(const H5FD_t *file, H5FD_mem_t type) {
  (void)type;
  return ((const safe_file *)file)->eof;
}

static herr_t safe_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
  (void)fapl;
  *handle = &((safe_file *)file)->fd;
  return 0;
}

static herr_t safe_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                        void *buf) {
  (void)type, (void)dxpl;
  safe_file *f = (safe_file *)file;
  char *p = buf;
  while (size > 0) {
    ssize_t n = pread(f->fd, p, size, (off_t)addr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      H5Epush2(H5E_DEFAULT, __FILE__, "safe_read", __LINE__, H5E_ERR_CLS, H5E_VFL,
               H5E_READERROR, "%s (reading %zu bytes at offset %llu)", strerror(errno), size,
               (unsigned long long)addr);
      return -1;
    }
    if (n == 0) { /* past the end of the file (or of what was written): zeros, as sec2 */
      memset(p, 0, size);
      break;
    }
    p += n, addr += (haddr_t)n, size -= (size_t)n;
  }
  return 0;
}

static herr_t safe_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                         const void *buf) {
  (void)type, (void)dxpl;
  safe_file *f = (safe_file *)file;
  if (f->write_errno) return 0; /* the file is lost already: let HDF5 wind down cleanly */
  const char *p = buf;
  haddr_t at = addr;
  size_t left = size;
  while (left > 0) {
    ssize_t n = pwrite(f->fd, p, left, (off_t)at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      safe_fail(f, n < 0 ? errno : EIO, "a write", addr, size);
      return -1;
    }
    p += n, at += (haddr_t)n, left -= (size_t)n;
  }
  if (at > f->eof) f->eof = at;
  return 0;
}

static herr_t safe_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
  (void)dxpl, (void)closing;
  safe_file *f = (safe_file *)file;
  if (f->write_errno || f->eoa == f->eof) return 0;
  if (ftruncate(f->fd, (off_t)f->eoa) != 0) {
    safe_fail(f, errno, "setting the size", f->eoa, 0);
    return -1;
  }
  f->eof = f->eoa;
  return 0;
}

static const H5FD_class_t safe_class = {
#if H5_VERSION_GE(1, 14, 0)
    .version = H5FD_CLASS_VERSION,
    .value = (H5FD_class_value_t)(H5_VFD_RESERVED + 77),
#endif
    .name = "seqrec-safe",
    .maxaddr = ((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1,
    .fc_degree = H5F_CLOSE_WEAK,
    .open = safe_open,
    .close = safe_close,
    .cmp = safe_cmp,
    .query = safe_query,
    .get_eoa = safe_get_eoa,
    .set_eoa = safe_set_eoa,
    .get_eof = safe_get_eof,
    .get_handle = safe_get_handle,
    .read = safe_read,
    .write = safe_write,
    .truncate = safe_truncate,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

/* The driver's id, registered once (again if the library was shut down and restarted). */
static hid_t safe_driver(void) {
  static hid_t id = H5I_INVALID_HID;
  if (id < 0 || H5Iis_valid(id) <= 0) id = H5FDregister(&safe_class);
  return id;
}

sr_status sr_h5_create(const char *path, hid_t *file) {
  sr_h5_silence();
  *file = H5I_INVALID_HID;
  /* Let the system say why a file cannot be created (no such folder, permissions) in its own
   * words, before HDF5 buries the reason in a flag dump. */
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) return sr_error(SR_EIO, "%s: cannot create: %s", path, strerror(errno));
  close(fd);
  sr_status st = SR_OK;
  hid_t fapl = H5I_INVALID_HID;
  write_failure[0] = '\0';
  if (strcmp(lost_file, path) == 0) lost_file[0] = '\0'; /* a new file by that name */
  TRY_GOTO(SR_H5_CHECK(fapl = H5Pcreate(H5P_FILE_ACCESS), path, "/"));
  TRY_GOTO(SR_H5_CHECK(H5Pset_driver(fapl, safe_driver(), NULL), path, "/"));
  TRY_GOTO(SR_H5_CHECK(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), path, "/"));
  TRY_GOTO(SR_H5_CHECK(*file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl), path, "/"));
cleanup:
  sr_h5_close(&fapl);
  return st;
}

sr_status sr_h5_file_close(hid_t *file, const char *path) {
  if (*file < 0) return SR_OK;
  hid_t f = *file;
  *file = H5I_INVALID_HID;
  /* Flush first: a write that fails here leaves the driver dropping the rest, so the close
   * below cannot fail on writes (a close that fails is what HDF5 cannot recover from). */
  sr_status st = SR_H5_CHECK(H5Fflush(f, H5F_SCOPE_LOCAL), path, "/");
  int *fd = NULL;
  int lost = 0;
  if (H5Fget_vfd_handle(f, H5P_DEFAULT, (void **)&fd) >= 0 && fd) {
    hid_t fapl = H5Fget_access_plist(f);
    if (fapl >= 0 && H5Pget_driver(fapl) == safe_driver())
      lost = ((safe_file *)(void *)((char *)fd - offsetof(safe_file, fd)))->write_errno;
    sr_h5_close(&fapl);
  }
  H5Eclear2(H5E_DEFAULT);
  herr_t closed = H5Fclose(f);
  if (st == SR_OK) st = SR_H5_CHECK(closed, path, "/");
  /* A write HDF5 itself chose to ignore still means the file is incomplete. */
  if (st == SR_OK && lost)
    st = sr_error(SR_EIO, "%s: cannot write to the file: %s", path,
                  write_failure[0] ? write_failure : strerror(lost));
  write_failure[0] = '\0';
  return st;
}

int sr_h5_exists(hid_t loc, const char *h5path) {
  sr_h5_silence();
  char buf[1024];
  size_t n = strlen(h5path);
  if (n >= sizeof buf) return 0;
  memcpy(buf, h5path, n + 1);
  /* H5Lexists fails (rather than saying no) when an intermediate group is missing, so walk
   * the path one component at a time. */
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    int here = strcmp(buf, "/") == 0 || H5Lexists(loc, buf, H5P_DEFAULT) > 0;
    buf[i] = saved;
    if (!here) {
      H5Eclear2(H5E_DEFAULT);
      return 0;
    }
  }
  return 1;
}

sr_status sr_h5_dataset_open(hid_t loc, const char *file, const char *h5path, hid_t *dset) {
  *dset = H5I_INVALID_HID;
  if (!sr_h5_exists(loc, h5path))
    return sr_error(SR_EFORMAT, "%s: %s: missing dataset", file, h5path);
  hid_t d = H5Dopen2(loc, h5path, H5P_DEFAULT);
  if (d < 0) return sr_h5_check(d, SR_EFORMAT, "H5Dopen2 (is it a dataset?)", file, h5path,
                                __FILE__, __LINE__);
  *dset = d;
  return SR_OK;
}

void sr_h5_type_name(hid_t type, char *buf, size_t size) {
  size_t bytes = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      snprintf(buf, size, "%s%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", bytes * 8);
      break;
    case H5T_FLOAT: snprintf(buf, size, "float%zu", bytes * 8); break;
    case H5T_STRING:
      if (H5Tis_variable_str(type) > 0)
        snprintf(buf, size, "variable-length string");
      else
        snprintf(buf, size, "string[%zu]", bytes);
      break;
    case H5T_COMPOUND: snprintf(buf, size, "compound"); break;
    case H5T_ENUM: snprintf(buf, size, "enum"); break;
    case H5T_ARRAY: snprintf(buf, size, "array"); break;
    case H5T_VLEN: snprintf(buf, size, "variable-length sequence"); break;
    case H5T_OPAQUE: snprintf(buf, size, "opaque"); break;
    case H5T_REFERENCE: snprintf(buf, size, "reference"); break;
    case H5T_BITFIELD: snprintf(buf, size, "bitfield"); break;
    default: snprintf(buf, size, "unknown type"); break;
  }
  H5Eclear2(H5E_DEFAULT);
}

static int type_matches(hid_t stored, hid_t expected) {
  H5T_class_t c = H5Tget_class(expected);
  if (H5Tget_class(stored) != c) return 0;
  switch (c) {
    case H5T_INTEGER:
      return H5Tget_size(stored) == H5Tget_size(expected) &&
             H5Tget_sign(stored) == H5Tget_sign(expected);
    case H5T_FLOAT: return H5Tget_size(stored) == H5Tget_size(expected);
    case H5T_STRING: return H5Tis_variable_str(stored) == 0;
    default: return H5Tequal(stored, expected) > 0;
  }
}

sr_status sr_h5_dataset_expect(hid_t dset, const char *file, const char *h5path, hid_t expected,
                               int rank, int64_t *dims) {
  sr_status st = SR_OK;
  hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID;
  TRY_GOTO(SR_H5_CHECK(type = H5Dget_type(dset), file, h5path));
  if (!type_matches(type, expected)) {
    char found[64], want[64];
    sr_h5_type_name(type, found, sizeof found);
    if (H5Tget_class(expected) == H5T_STRING)
      snprintf(want, sizeof want, "fixed-length string");
    else
      sr_h5_type_name(expected, want, sizeof want);
    FAIL_GOTO(SR_EFORMAT, "%s: %s: type is %s, expected %s", file, h5path, found, want);
  }
  TRY_GOTO(SR_H5_CHECK(space = H5Dget_space(dset), file, h5path));
  int nd = H5Sget_simple_extent_ndims(space);
  TRY_GOTO(SR_H5_CHECK(nd, file, h5path));
  if (nd != rank)
    FAIL_GOTO(SR_EFORMAT, "%s: %s: %d dimension%s, expected %d", file, h5path, nd,
              nd == 1 ? "" : "s", rank);
  hsize_t d[H5S_MAX_RANK];
  TRY_GOTO(SR_H5_CHECK(H5Sget_simple_extent_dims(space, d, NULL), file, h5path));
  for (int i = 0; i < rank; i++) dims[i] = (int64_t)d[i];
cleanup:
  sr_h5_close(&space);
  sr_h5_close(&type);
  return st;
}

sr_status sr_h5_string_width(hid_t dset, const char *file, const char *h5path, size_t *width) {
  hid_t type = H5I_INVALID_HID;
  TRY(SR_H5_CHECK(type = H5Dget_type(dset), file, h5path));
  *width = H5Tget_size(type);
  sr_h5_close(&type);
  if (*width == 0) return sr_error(SR_EFORMAT, "%s: %s: strings of width 0", file, h5path);
  return SR_OK;
}

/* Selects rows [row_begin, row_begin + n_rows) of `space` (all columns); count gets the shape. */
static sr_status select_rows(hid_t space, const char *file, const char *h5path, int64_t row_begin,
                             int64_t n_rows, int *rank, hsize_t count[2]) {
  int nd = H5Sget_simple_extent_ndims(space);
  TRY(SR_H5_CHECK(nd, file, h5path));
  if (nd < 1 || nd > 2)
    return sr_error(SR_EINTERNAL, "%s: %s: row access needs 1 or 2 dimensions, found %d", file,
                    h5path, nd);
  hsize_t dims[2] = {0, 1};
  TRY(SR_H5_CHECK(H5Sget_simple_extent_dims(space, dims, NULL), file, h5path));
  hsize_t start[2] = {(hsize_t)row_begin, 0};
  count[0] = (hsize_t)n_rows;
  count[1] = nd == 2 ? dims[1] : 1;
  *rank = nd;
  TRY(SR_H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL), file,
                  h5path));
  return SR_OK;
}

static sr_status row_count(hid_t dset, const char *file, const char *h5path, int64_t *rows) {
  hid_t space = H5I_INVALID_HID;
  TRY(SR_H5_CHECK(space = H5Dget_space(dset), file, h5path));
  hsize_t dims[H5S_MAX_RANK] = {0};
  int nd = H5Sget_simple_extent_dims(space, dims, NULL);
  sr_h5_close(&space);
  TRY(SR_H5_CHECK(nd, file, h5path));
  *rows = nd == 0 ? 1 : (int64_t)dims[0];
  return SR_OK;
}

sr_status sr_h5_read_rows(hid_t dset, const char *file, const char *h5path, hid_t mem_type,
                          int64_t row_begin, int64_t n_rows, void *buf) {
  if (n_rows == 0) return SR_OK;
  int64_t rows = 0;
  TRY(row_count(dset, file, h5path, &rows));
  if (row_begin < 0 || n_rows < 0 || row_begin + n_rows > rows)
    return sr_error(SR_EFORMAT, "%s: %s: rows [%lld, %lld) asked for, but it has %lld rows", file,
                    h5path, (long long)row_begin, (long long)(row_begin + n_rows),
                    (long long)rows);
  sr_status st = SR_OK;
  hid_t space = H5I_INVALID_HID, mem = H5I_INVALID_HID;
  int rank = 1;
  hsize_t count[2];
  TRY_GOTO(SR_H5_CHECK(space = H5Dget_space(dset), file, h5path));
  TRY_GOTO(select_rows(space, file, h5path, row_begin, n_rows, &rank, count));
  TRY_GOTO(SR_H5_CHECK(mem = H5Screate_simple(rank, count, NULL), file, h5path));
  TRY_GOTO(SR_H5_CHECK(H5Dread(dset, mem_type, mem, space, H5P_DEFAULT, buf), file, h5path));
cleanup:
  sr_h5_close(&mem);
  sr_h5_close(&space);
  return st;
}

sr_status sr_h5_write_rows(hid_t dset, const char *file, const char *h5path, hid_t mem_type,
                           int64_t row_begin, int64_t n_rows, const void *buf) {
  if (n_rows == 0) return SR_OK;
  sr_status st = SR_OK;
  hid_t space = H5I_INVALID_HID, mem = H5I_INVALID_HID;
  int rank = 1;
  hsize_t count[2], dims[2] = {0, 1};
  TRY_GOTO(SR_H5_CHECK(space = H5Dget_space(dset), file, h5path));
  int nd = H5Sget_simple_extent_dims(space, dims, NULL);
  TRY_GOTO(SR_H5_CHECK(nd, file, h5path));
  if ((int64_t)dims[0] < row_begin + n_rows) {
    dims[0] = (hsize_t)(row_begin + n_rows);
    TRY_GOTO(SR_H5_CHECK(H5Dset_extent(dset, dims), file, h5path));
    sr_h5_close(&space);
    TRY_GOTO(SR_H5_CHECK(space = H5Dget_space(dset), file, h5path));
  }
  TRY_GOTO(select_rows(space, file, h5path, row_begin, n_rows, &rank, count));
  TRY_GOTO(SR_H5_CHECK(mem = H5Screate_simple(rank, count, NULL), file, h5path));
  TRY_GOTO(SR_H5_CHECK(H5Dwrite(dset, mem_type, mem, space, H5P_DEFAULT, buf), file, h5path));
cleanup:
  sr_h5_close(&mem);
  sr_h5_close(&space);
  return st;
}

sr_status sr_h5_dataset_create(hid_t loc, const char *file, const char *h5path, hid_t file_type,
                               int64_t n_rows, int64_t width, int extendible, int64_t chunk_rows,
                               hid_t *dset) {
  sr_h5_silence();
  *dset = H5I_INVALID_HID;
  sr_status st = SR_OK;
  hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
  int rank = width > 0 ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)n_rows, (hsize_t)width};
  hsize_t maxdims[2] = {extendible ? H5S_UNLIMITED : (hsize_t)n_rows, (hsize_t)width};
  TRY_GOTO(SR_H5_CHECK(space = H5Screate_simple(rank, dims, maxdims), file, h5path));
  TRY_GOTO(SR_H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), file, h5path));
  if (extendible) {
    /* Only extendible datasets need chunks; fixed ones stay contiguous (cheapest to read). */
    hsize_t chunk[2] = {(hsize_t)(chunk_rows > 0 ? chunk_rows : 1), (hsize_t)width};
    TRY_GOTO(SR_H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), file, h5path));
  }
  TRY_GOTO(SR_H5_CHECK(lcpl = H5Pcreate(H5P_LINK_CREATE), file, h5path));
  TRY_GOTO(SR_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1), file, h5path));
  TRY_GOTO(SR_H5_CHECK(*dset = H5Dcreate2(loc, h5path, file_type, space, lcpl, dcpl, H5P_DEFAULT),
                       file, h5path));
cleanup:
  sr_h5_close(&lcpl);
  sr_h5_close(&dcpl);
  sr_h5_close(&space);
  return st;
}

sr_status sr_h5_string_type(size_t width, int nullterm, hid_t *type) {
  sr_h5_silence();
  sr_status st = SR_OK;
  *type = H5I_INVALID_HID;
  TRY_GOTO(SR_H5_CHECK(*type = H5Tcopy(H5T_C_S1), NULL, "(string type)"));
  TRY_GOTO(SR_H5_CHECK(H5Tset_size(*type, width > 0 ? width : 1), NULL, "(string type)"));
  TRY_GOTO(SR_H5_CHECK(H5Tset_strpad(*type, nullterm ? H5T_STR_NULLTERM : H5T_STR_NULLPAD), NULL,
                       "(string type)"));
  TRY_GOTO(SR_H5_CHECK(H5Tset_cset(*type, H5T_CSET_UTF8), NULL, "(string type)"));
  return SR_OK;
cleanup:
  sr_h5_close(type);
  return st;
}

/* ---- attributes ---- */

int sr_h5_attr_exists(hid_t obj, const char *name) {
  sr_h5_silence();
  int yes = H5Aexists(obj, name) > 0;
  H5Eclear2(H5E_DEFAULT);
  return yes;
}

/* Opens attribute `name`, or says it is missing. */
static sr_status attr_open(hid_t obj, const char *file, const char *obj_path, const char *name,
                           hid_t *attr) {
  *attr = H5I_INVALID_HID;
  if (!sr_h5_attr_exists(obj, name))
    return sr_error(SR_EFORMAT, "%s: %s: missing attribute '%s'", file, obj_path, name);
  TRY(SR_H5_CHECK(*attr = H5Aopen(obj, name, H5P_DEFAULT), file, obj_path));
  return SR_OK;
}

/* Replaces attribute `name` (deleting an older one) with a new one of this type and shape. */
static sr_status attr_create(hid_t obj, const char *file, const char *obj_path, const char *name,
                             hid_t type, hid_t space, hid_t *attr) {
  sr_h5_silence();
  if (sr_h5_attr_exists(obj, name)) TRY(SR_H5_CHECK(H5Adelete(obj, name), file, obj_path));
  TRY(SR_H5_CHECK(*attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), file,
                  obj_path));
  return SR_OK;
}

sr_status sr_h5_attr_write_str(hid_t obj, const char *file, const char *obj_path,
                               const char *name, const char *value) {
  sr_status st = SR_OK;
  hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  TRY_GOTO(sr_h5_string_type(strlen(value) + 1, 1, &type));
  TRY_GOTO(SR_H5_CHECK(space = H5Screate(H5S_SCALAR), file, obj_path));
  TRY_GOTO(attr_create(obj, file, obj_path, name, type, space, &attr));
  TRY_GOTO(SR_H5_CHECK(H5Awrite(attr, type, value), file, obj_path));
cleanup:
  sr_h5_close(&attr);
  sr_h5_close(&space);
  sr_h5_close(&type);
  return st;
}

/* Class and element count of an open attribute, with a message when it is not `want`. */
static sr_status attr_expect(hid_t attr, const char *file, const char *obj_path, const char *name,
                             H5T_class_t want, const char *want_name, hid_t *type,
                             int64_t *n_points) {
  hid_t space = H5I_INVALID_HID;
  TRY(SR_H5_CHECK(*type = H5Aget_type(attr), file, obj_path));
  if (H5Tget_class(*type) != want) {
    char found[64];
    sr_h5_type_name(*type, found, sizeof found);
    return sr_error(SR_EFORMAT, "%s: %s: attribute '%s' is %s, expected %s", file, obj_path, name,
                    found, want_name);
  }
  TRY(SR_H5_CHECK(space = H5Aget_space(attr), file, obj_path));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  sr_h5_close(&space);
  TRY(SR_H5_CHECK(n, file, obj_path));
  *n_points = (int64_t)n;
  return SR_OK;
}

sr_status sr_h5_attr_read_str(hid_t obj, const char *file, const char *obj_path,
                              const char *name, char *buf, size_t size) {
  sr_status st = SR_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, mem = H5I_INVALID_HID;
  char *text = NULL;
  int vlen = 0;
  int64_t n = 0;
  TRY_GOTO(attr_open(obj, file, obj_path, name, &attr));
  TRY_GOTO(attr_expect(attr, file, obj_path, name, H5T_STRING, "a string", &type, &n));
  if (n != 1)
    FAIL_GOTO(SR_EFORMAT, "%s: %s: attribute '%s' holds %lld strings, expected one", file,
              obj_path, name, (long long)n);
  vlen = H5Tis_variable_str(type) > 0;
  if (vlen) {
    TRY_GOTO(SR_H5_CHECK(mem = H5Tcopy(H5T_C_S1), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(H5Tset_size(mem, H5T_VARIABLE), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(H5Aread(attr, mem, &text), file, obj_path));
  } else {
    size_t width = H5Tget_size(type);
    TRY_GOTO(sr_alloc(&text, width + 1, 1, "string attribute"));
    TRY_GOTO(SR_H5_CHECK(mem = H5Tcopy(type), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(H5Aread(attr, mem, text), file, obj_path));
    text[width] = '\0';
  }
  {
    const char *value = text ? text : "";
    if (strlen(value) >= size)
      FAIL_GOTO(SR_EFORMAT, "%s: %s: attribute '%s' is %zu bytes long, more than the %zu expected",
                file, obj_path, name, strlen(value), size - 1);
    memcpy(buf, value, strlen(value) + 1);
  }
cleanup:
  if (vlen)
    H5free_memory(text);
  else
    sr_free(text);
  sr_h5_close(&mem);
  sr_h5_close(&type);
  sr_h5_close(&attr);
  return st;
}

sr_status sr_h5_attr_write_i64(hid_t obj, const char *file, const char *obj_path,
                               const char *name, int64_t value) {
  sr_status st = SR_OK;
  hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  TRY_GOTO(SR_H5_CHECK(space = H5Screate(H5S_SCALAR), file, obj_path));
  TRY_GOTO(attr_create(obj, file, obj_path, name, H5T_STD_I64LE, space, &attr));
  TRY_GOTO(SR_H5_CHECK(H5Awrite(attr, H5T_NATIVE_INT64, &value), file, obj_path));
cleanup:
  sr_h5_close(&attr);
  sr_h5_close(&space);
  return st;
}

sr_status sr_h5_attr_read_i64(hid_t obj, const char *file, const char *obj_path,
                              const char *name, int64_t *value) {
  sr_status st = SR_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID;
  int64_t n = 0;
  TRY_GOTO(attr_open(obj, file, obj_path, name, &attr));
  TRY_GOTO(attr_expect(attr, file, obj_path, name, H5T_INTEGER, "an integer", &type, &n));
  if (n != 1)
    FAIL_GOTO(SR_EFORMAT, "%s: %s: attribute '%s' holds %lld values, expected one", file,
              obj_path, name, (long long)n);
  TRY_GOTO(SR_H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, value), file, obj_path));
cleanup:
  sr_h5_close(&type);
  sr_h5_close(&attr);
  return st;
}

sr_status sr_h5_attr_write_strs(hid_t obj, const char *file, const char *obj_path,
                                const char *name, int n, const char *const *values) {
  sr_status st = SR_OK;
  hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
  char *packed = NULL;
  size_t width = 1;
  for (int i = 0; i < n; i++)
    if (strlen(values[i]) + 1 > width) width = strlen(values[i]) + 1;
  TRY_GOTO(sr_alloc(&packed, (size_t)(n > 0 ? n : 1), width, "string array attribute"));
  for (int i = 0; i < n; i++) memcpy(packed + (size_t)i * width, values[i], strlen(values[i]));
  hsize_t dims[1] = {(hsize_t)n};
  TRY_GOTO(sr_h5_string_type(width, 1, &type));
  TRY_GOTO(SR_H5_CHECK(space = H5Screate_simple(1, dims, NULL), file, obj_path));
  TRY_GOTO(attr_create(obj, file, obj_path, name, type, space, &attr));
  TRY_GOTO(SR_H5_CHECK(H5Awrite(attr, type, packed), file, obj_path));
cleanup:
  sr_free(packed);
  sr_h5_close(&attr);
  sr_h5_close(&space);
  sr_h5_close(&type);
  return st;
}

sr_status sr_h5_attr_read_strs(hid_t obj, const char *file, const char *obj_path,
                               const char *name, int max_n, size_t width, char *out, int *n) {
  sr_status st = SR_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, mem = H5I_INVALID_HID;
  hid_t space = H5I_INVALID_HID;
  char *packed = NULL;
  char **ptrs = NULL;
  int64_t count = 0;
  *n = 0;
  TRY_GOTO(attr_open(obj, file, obj_path, name, &attr));
  TRY_GOTO(attr_expect(attr, file, obj_path, name, H5T_STRING, "strings", &type, &count));
  if (count > max_n)
    FAIL_GOTO(SR_EFORMAT, "%s: %s: attribute '%s' holds %lld strings, at most %d are allowed",
              file, obj_path, name, (long long)count, max_n);
  if (count == 0) goto cleanup;
  if (H5Tis_variable_str(type) > 0) {
    TRY_GOTO(sr_alloc(&ptrs, (size_t)count, sizeof *ptrs, "string array attribute"));
    TRY_GOTO(SR_H5_CHECK(mem = H5Tcopy(H5T_C_S1), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(H5Tset_size(mem, H5T_VARIABLE), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(space = H5Aget_space(attr), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(H5Aread(attr, mem, ptrs), file, obj_path));
    for (int64_t i = 0; i < count && st == SR_OK; i++) {
      const char *s = ptrs[i] ? ptrs[i] : "";
      if (strlen(s) >= width)
        st = sr_error(SR_EFORMAT, "%s: %s: attribute '%s'[%lld] is longer than %zu bytes", file,
                      obj_path, name, (long long)i, width - 1);
      else
        memcpy(out + (size_t)i * width, s, strlen(s) + 1);
    }
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs);
    if (st != SR_OK) goto cleanup;
  } else {
    size_t stored = H5Tget_size(type);
    TRY_GOTO(sr_alloc(&packed, (size_t)count, stored + 1, "string array attribute"));
    TRY_GOTO(SR_H5_CHECK(mem = H5Tcopy(type), file, obj_path));
    TRY_GOTO(SR_H5_CHECK(H5Aread(attr, mem, packed), file, obj_path));
    for (int64_t i = 0; i < count; i++) {
      const char *s = packed + (size_t)i * stored;
      size_t len = strnlen(s, stored);
      if (len >= width)
        FAIL_GOTO(SR_EFORMAT, "%s: %s: attribute '%s'[%lld] is longer than %zu bytes", file,
                  obj_path, name, (long long)i, width - 1);
      memcpy(out + (size_t)i * width, s, len);
      out[(size_t)i * width + len] = '\0';
    }
  }
  *n = (int)count;
cleanup:
  sr_free(packed);
  sr_free(ptrs);
  sr_h5_close(&space);
  sr_h5_close(&mem);
  sr_h5_close(&type);
  sr_h5_close(&attr);
  return st;
}

/* ---- written aside, then renamed ---- */

sr_status sr_h5_tmp_path(const char *path, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s.tmp", path);
  if (n < 0 || (size_t)n >= size)
    return sr_error(SR_EINVAL, "%s: path too long (at most %zu bytes)", path, size - 5);
  return SR_OK;
}

sr_status sr_h5_tmp_commit(const char *tmp, const char *path) {
  if (lost_file[0] && strcmp(lost_file, tmp) == 0) {
    lost_file[0] = '\0';
    sr_status st = sr_error(SR_EIO, "%s: cannot write to the file: %s; %s is left as it was", tmp,
                            strerror(lost_errno), path);
    sr_h5_tmp_discard(tmp);
    return st;
  }
  int fd = open(tmp, O_RDONLY);
  if (fd < 0) {
    sr_status st = sr_error(SR_EIO, "%s: cannot reopen to flush it: %s", tmp, strerror(errno));
    sr_h5_tmp_discard(tmp);
    return st;
  }
  /* Some file systems cannot fsync (EINVAL); the rename is still what makes the file appear. */
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    sr_status st = sr_error(SR_EIO, "%s: cannot flush to disk: %s", tmp, strerror(errno));
    close(fd);
    sr_h5_tmp_discard(tmp);
    return st;
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    sr_status st = sr_error(SR_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    sr_h5_tmp_discard(tmp);
    return st;
  }
  /* Make the rename itself durable: flush the folder that holds the new name. */
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  int dfd = open(dir, O_RDONLY);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return SR_OK;
}

void sr_h5_tmp_discard(const char *tmp) {
  if (tmp && tmp[0]) (void)unlink(tmp);
}
