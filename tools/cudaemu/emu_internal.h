/* What emu.cpp lends the other parts of the emulator (nccl.cpp); not for the emulated program. */
#pragma once
#include <functional>

#include "cuda_runtime.h"

/* Queues op on stream s (aborts, naming `what`, if s is not a live stream); it runs when the
 * host waits for s, as a launch does. Device memory is open while it runs. */
void emu_issue(cudaStream_t s, const char *what, std::function<void()> op);
/* 1 when [p, p + n) lies in one device allocation, 0 when in none; a straddling range aborts. */
int emu_device_range(const void *p, size_t n, const char *what);
/* The device cudaSetDevice last chose (0 at first). */
int emu_current_device(void);
