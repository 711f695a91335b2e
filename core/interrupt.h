/* Graceful stops: SIGTERM and SIGUSR1 (what Slurm sends before preemption or a time limit) and
 * SIGINT set a flag that long loops poll at a safe point (the trainer: after a step), so the
 * run can save its work and exit with status 3. A second SIGINT kills at once.
 * Not for crash handling: a killed run resumes from its last checkpoint. */
#ifndef SR_INTERRUPT_H
#define SR_INTERRUPT_H

/* Installs the handlers (idempotent). */
void sr_interrupt_install(void);
/* The first signal received since install, or 0. Async-signal-safe to poll. */
int sr_interrupt_signal(void);
/* Forgets a received signal (tests). */
void sr_interrupt_clear(void);

#endif
