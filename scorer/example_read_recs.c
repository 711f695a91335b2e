/* Example for the serving layer (scorer/README.md): read one user's recommendations from a
 * recs.h5 with the plain HDF5 C API, mapping dense ids back to the source's raw ids.
 *   example_read_recs recs.h5 RAW_USER_ID
 * prints "item score" lines, best first. Self-contained on purpose: no seqrec headers. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row r of a fixed-length string dataset into out (NUL-terminated). */
static int string_row(hid_t file, const char *name, hsize_t r, char *out, size_t size) {
  hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
  hid_t type = H5Dget_type(d); /* the file's string type, as memory type too */
  size_t width = H5Tget_size(type);
  hid_t space = H5Dget_space(d);
  hsize_t one = 1;
  hid_t mem = H5Screate_simple(1, &one, NULL);
  char *buf = calloc(1, width + 1);
  int ok = buf && H5Sselect_hyperslab(space, H5S_SELECT_SET, &r, NULL, &one, NULL) >= 0 &&
           H5Dread(d, type, mem, space, H5P_DEFAULT, buf) >= 0;
  if (ok) snprintf(out, size, "%.*s", (int)strnlen(buf, width), buf);
  free(buf);
  H5Sclose(mem);
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(d);
  return ok ? 0 : -1;
}

/* The dense id of a raw user id: its row in /users/raw_id (a serving layer would build a hash
 * map once; a linear scan keeps the example short). -1 when absent. */
static long long dense_user(hid_t file, const char *raw) {
  hid_t d = H5Dopen2(file, "/users/raw_id", H5P_DEFAULT);
  hid_t type = H5Dget_type(d);
  size_t width = H5Tget_size(type);
  hid_t space = H5Dget_space(d);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  char *all = malloc((size_t)n * width + 1);
  long long found = -1;
  if (all && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) >= 0)
    for (hssize_t u = 0; u < n && found < 0; u++)
      if (strnlen(all + u * width, width) == strlen(raw) &&
          memcmp(all + u * width, raw, strlen(raw)) == 0)
        found = u;
  free(all);
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(d);
  return found;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s recs.h5 RAW_USER_ID\n", argv[0]);
    return 2;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    fprintf(stderr, "%s: cannot open as HDF5\n", argv[1]);
    return 1;
  }
  long long k = 0;
  hid_t attr = H5Aopen(file, "k", H5P_DEFAULT);
  H5Aread(attr, H5T_NATIVE_LLONG, &k);
  H5Aclose(attr);

  long long user = dense_user(file, argv[2]);
  /* /recs/user is sorted: binary search for the user's row. */
  hid_t d_user = H5Dopen2(file, "/recs/user", H5P_DEFAULT);
  hid_t space = H5Dget_space(d_user);
  hssize_t rows = H5Sget_simple_extent_npoints(space);
  int *users = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *users);
  H5Dread(d_user, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, users);
  hssize_t lo = 0, hi = rows;
  while (lo < hi) {
    hssize_t mid = (lo + hi) / 2;
    if (users[mid] < user) lo = mid + 1;
    else hi = mid;
  }
  int found = user >= 0 && lo < rows && users[lo] == user;
  free(users);
  H5Sclose(space);
  H5Dclose(d_user);
  if (!found) {
    fprintf(stderr, "%s: user '%s' has no row (not in the events file, or not scored)\n",
            argv[1], argv[2]);
    H5Fclose(file);
    return 1;
  }

  /* Row `lo` of /recs/item and /recs/score: one hyperslab of [1, k] each. */
  int *item = malloc((size_t)k * sizeof *item);
  float *score = malloc((size_t)k * sizeof *score);
  hsize_t start[2] = {(hsize_t)lo, 0}, count[2] = {1, (hsize_t)k};
  hid_t mem = H5Screate_simple(2, count, NULL);
  const char *names[2] = {"/recs/item", "/recs/score"};
  for (int i = 0; i < 2; i++) {
    hid_t d = H5Dopen2(file, names[i], H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    H5Dread(d, i == 0 ? H5T_NATIVE_INT : H5T_NATIVE_FLOAT, mem, fs, H5P_DEFAULT,
            i == 0 ? (void *)item : (void *)score);
    H5Sclose(fs);
    H5Dclose(d);
  }
  H5Sclose(mem);
  for (long long j = 0; j < k; j++) {
    if (item[j] == 0) break; /* padding: item 0, score -inf, only at the end of a row */
    char raw[256];
    string_row(file, "/items/raw_id", (hsize_t)item[j], raw, sizeof raw);
    printf("%s %.6g\n", raw, (double)score[j]);
  }
  free(item);
  free(score);
  H5Fclose(file);
  return 0;
}
