/* Signal flags for graceful stops; see interrupt.h. */
#include "core/interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t received_signal = 0;

static void on_signal(int sig) {
  if (!received_signal) received_signal = sig;
}

void sr_interrupt_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  /* Ctrl-C once: stop cleanly; twice: the default action (the handler is reset on first use). */
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, NULL);
}

int sr_interrupt_signal(void) { return received_signal; }

void sr_interrupt_clear(void) { received_signal = 0; }
