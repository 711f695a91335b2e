/* gnuplot as a child process fed through a pipe; the PNG is written to PATH.tmp and renamed
 * once gnuplot has exited cleanly. Not for anything but PNG files. */
#include "sweep/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"

extern char **environ;

static struct sigaction saved_sigpipe;

/* 1 when `prog` names an executable, directly or through PATH. */
static int program_found(const char *prog) {
  if (strchr(prog, '/')) return access(prog, X_OK) == 0;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    const size_t n = end ? (size_t)(end - path) : strlen(path);
    char candidate[SR_PATH_MAX];
    snprintf(candidate, sizeof candidate, "%.*s/%s", (int)n, n ? path : ".", prog);
    if (access(candidate, X_OK) == 0) return 1;
    path += n + (end ? 1 : 0);
  }
  return 0;
}

void sweep_plot_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if (*s == '\n') fputs("\\n", f);
    else fputc(*s, f);
  }
  fputc('"', f);
}

sr_status sweep_plot_open(sweep_plot *p, const char *png, int width, int height) {
  memset(p, 0, sizeof *p);
  p->pid = -1;
  p->png = png;
  const char *prog = getenv("GNUPLOT");
  if (!prog || !*prog) prog = "gnuplot";
  if (!program_found(prog))
    return sr_error(SR_EINVAL, "%s: cannot draw it: the program '%s' is not installed (Debian: "
                    "apt-get install gnuplot-nox, as in tools/install-deps.sh; or set GNUPLOT to "
                    "its path)", png, prog);
  int fds[2];
  if (pipe(fds) != 0) return sr_error(SR_EIO, "%s: cannot make a pipe to gnuplot: %s", png,
                                      strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  char *argv[] = {(char *)prog, NULL};
  const int rc = posix_spawnp(&p->pid, prog, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    p->pid = -1;
    return sr_error(SR_EIO, "%s: cannot start %s: %s", png, prog, strerror(rc));
  }
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  p->script = fdopen(fds[1], "w");
  if (!p->script) {
    close(fds[1]);
    waitpid(p->pid, NULL, 0);
    p->pid = -1;
    return sr_error(SR_EIO, "%s: cannot write to gnuplot: %s", png, strerror(errno));
  }
  /* A gnuplot that stops early must not take this process down with SIGPIPE. */
  struct sigaction ignore;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &saved_sigpipe);

  fprintf(p->script,
          "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
          "  set terminal pngcairo noenhanced size %d,%d font \",10\"\n"
          "} else {\n"
          "  set terminal png noenhanced size %d,%d\n"
          "}\n",
          width, height, width, height);
  char tmp[SR_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", png);
  fputs("set output ", p->script);
  sweep_plot_string(p->script, tmp);
  fputc('\n', p->script);
  return SR_OK;
}

sr_status sweep_plot_close(sweep_plot *p) {
  sr_status st = SR_OK;
  char tmp[SR_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", p->png);
  if (p->script) {
    fputs("set output\n", p->script);
    if (fclose(p->script) != 0 && st == SR_OK)
      st = sr_error(SR_EIO, "%s: gnuplot stopped reading its script: %s", p->png, strerror(errno));
    p->script = NULL;
  }
  if (p->pid > 0) {
    int status = 0;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {}
    p->pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      sr_error_clear();
      st = sr_error(SR_EINTERNAL, "%s: gnuplot failed (%s %d; its message is above)", p->png,
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
  }
  sigaction(SIGPIPE, &saved_sigpipe, NULL);
  if (st == SR_OK) {
    unsigned char magic[8] = {0};
    FILE *f = fopen(tmp, "rb");
    const size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    if (n != 8 || memcmp(magic, "\x89PNG\r\n\x1a\n", 8) != 0)
      st = sr_error(SR_EINTERNAL, "%s: gnuplot exited cleanly but wrote no PNG", tmp);
    else if (rename(tmp, p->png) != 0)
      st = sr_error(SR_EIO, "cannot rename %s to %s: %s", tmp, p->png, strerror(errno));
  }
  if (st != SR_OK) unlink(tmp);
  return st;
}
