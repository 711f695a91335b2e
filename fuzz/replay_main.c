/* Runs a fuzz harness over saved inputs without libFuzzer: each file named on the command line,
 * and each file in each folder named (not recursively). Built with any compiler, so that ctest
 * replays fuzz/corpus and fuzz/regressions on every build (and under ASan/UBSan in the
 * sanitizer build): a finding, once fixed, stays fixed. Not a fuzzer: it never mutates. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz_common.h"

/* Exactly the file's bytes in a buffer of exactly its size, so a read past the end is caught. */
static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 0;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    fclose(f);
    return 0;
  }
  size_t size = (size_t)sb.st_size;
  uint8_t *data = malloc(size > 0 ? size : 1);
  if (!data || (size > 0 && fread(data, 1, size, f) != size)) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(data);
    fclose(f);
    return 0;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  return 1;
}

static int replay_folder(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) n += replay_file(path);
  }
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  int n = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "replay: %s: no such file or folder\n", argv[i]);
      return 1;
    }
    n += S_ISDIR(sb.st_mode) ? replay_folder(argv[i]) : replay_file(argv[i]);
  }
  printf("replayed %d input%s through %s: no finding\n", n, n == 1 ? "" : "s", argv[0]);
  /* Nothing replayed is a broken test (a moved folder), not a pass. */
  return n > 0 ? 0 : 1;
}
