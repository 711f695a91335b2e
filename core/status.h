/* Status codes and error propagation for all library code.
 * A failing function records one message (what, where, what to do) and returns a status;
 * callers pass it up with TRY/TRY_GOTO. Only main() turns a status into an exit code. */
#ifndef SR_STATUS_H
#define SR_STATUS_H

typedef enum {
  SR_OK = 0,
  SR_EINVAL,    /* bad user input: config key, command-line option, CSV row */
  SR_EIO,       /* a file could not be opened, read or written */
  SR_EFORMAT,   /* a file exists but does not hold what its format promises */
  SR_ENOMEM,    /* an allocation failed */
  SR_ENOTBUILT, /* a capability that this build or version does not have yet */
  SR_EINTERNAL, /* a bug or a failing library (MPI, CUDA, NCCL): not the user's fault */
  SR_EINTERRUPTED, /* stopped on request (SIGTERM, SIGUSR1, SIGINT) after saving its work */
} sr_status;

/* Records "msg" as the current error and returns st, so callers can write
 * `return sr_error(SR_EINVAL, "%s:%d: ...", file, line);`. The message keeps the first error
 * of a chain: later calls while an error is pending are ignored (the root cause wins). */
sr_status sr_error(sr_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends context ("while reading X") to the pending message. */
void sr_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *sr_error_message(void);
void sr_error_clear(void);
const char *sr_status_name(sr_status st);
/* 0 for SR_OK, 1 for a user's mistake (bad config or input), 2 for an internal fault,
 * 3 for a run stopped by a signal after checkpointing (job scripts requeue on 3). */
int sr_status_exit_code(sr_status st);

#define TRY(expr)                     \
  do {                                \
    sr_status try_st_ = (expr);       \
    if (try_st_ != SR_OK) return try_st_; \
  } while (0)

/* For functions with one cleanup label: needs `sr_status st` in scope and a `cleanup:` label. */
#define TRY_GOTO(expr)            \
  do {                            \
    st = (expr);                  \
    if (st != SR_OK) goto cleanup; \
  } while (0)

#define FAIL_GOTO(status, ...)           \
  do {                                   \
    st = sr_error((status), __VA_ARGS__); \
    goto cleanup;                        \
  } while (0)

#endif
