/* Host emulation of the CUDA runtime and cuBLAS subset seqrec uses (see README.md).
 *
 * Work issued on a stream (launches, async copies and memsets, GEMMs) is queued and runs when the
 * host waits for it (see stream_wait). A launch runs its blocks one after another on the calling
 * thread; the threads of a block are coroutines. A thread runs until it waits at __syncthreads
 * or a warp operation, or exits; then the scheduler resumes the next thread that can go on, in
 * lane order (EMU_SCHED=fwd, default), reverse order (rev) or a random order each round (rand,
 * seeded by EMU_SEED). So one thread's whole segment between two collectives runs before the
 * next thread's: code that relies on lock-step execution without a barrier reads stale or
 * foreign data here, and a barrier that not every thread reaches is reported as a hang instead
 * of hanging. */
#include "cuda_runtime.h"
#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "emu_internal.h"

#include <algorithm>
#include <cstdarg>
#include <atomic>
#include <map>
#include <set>
#include <random>
#include <vector>
#include <memory>
#include <string>
#include <cstring>
#include <unistd.h>
#include <malloc.h>
#include <sys/mman.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

static const char *cur_kernel = "";

[[noreturn]] static void emu_fail(const char *what, int line) {
  fprintf(stderr, "EMU ERROR in kernel %s (line %d): %s\n", cur_kernel, line, what);
  fflush(stderr);
  abort();
}

/* ---- coroutines ----------------------------------------------------------------------------
 * A minimal x86-64 context switch: callee-saved registers, MXCSR and the x87 control word.
 * Not swapcontext: that costs a signal-mask syscall per switch, and ASan resets shadow on it. */
extern "C" void emu_ctx_switch(void **save_sp, void *new_sp);
asm(".text\n.globl emu_ctx_switch\n.type emu_ctx_switch,@function\nemu_ctx_switch:\n"
    "pushq %rbp\npushq %rbx\npushq %r12\npushq %r13\npushq %r14\npushq %r15\n"
    "subq $8, %rsp\nstmxcsr (%rsp)\nfnstcw 4(%rsp)\n"
    "movq %rsp, (%rdi)\nmovq %rsi, %rsp\n"
    "ldmxcsr (%rsp)\nfldcw 4(%rsp)\naddq $8, %rsp\n"
    "popq %r15\npopq %r14\npopq %r13\npopq %r12\npopq %rbx\npopq %rbp\nret\n"
    ".size emu_ctx_switch, .-emu_ctx_switch\n");

struct fiber {
  void *sp = nullptr, *stack = nullptr;
  int done = 0;
  unsigned long *wait_on = nullptr; /* runnable again once *wait_on != wait_gen */
  unsigned long wait_gen = 0;
  int wait_line = -1;
};
static const size_t FIBER_STACK = 1u << 20;
/* Never destroyed: a test's atexit handlers may still run after static destructors. */
static std::vector<fiber> &fibers = *new std::vector<fiber>;
static void *sched_sp;
static int cur_fiber = -1;
static std::function<void(unsigned)> *fiber_fn;
static const void *sched_stack_bottom;
static size_t sched_stack_size;

static void switch_to_sched(int dying) {
  fiber &f = fibers[cur_fiber];
#if EMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(dying ? nullptr : &fake, sched_stack_bottom, sched_stack_size);
  emu_ctx_switch(&f.sp, sched_sp);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  (void)dying;
  emu_ctx_switch(&f.sp, sched_sp);
#endif
}

/* The current thread sleeps until *gen moves on from g. */
static void wait_gen(unsigned long *gen, unsigned long g, int line) {
  fiber &f = fibers[cur_fiber];
  f.wait_on = gen, f.wait_gen = g, f.wait_line = line;
  while (*gen == g) switch_to_sched(0);
  f.wait_on = nullptr;
}

static void fiber_entry(void) {
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &sched_stack_bottom, &sched_stack_size);
#endif
  (*fiber_fn)((unsigned)cur_fiber);
  fibers[cur_fiber].done = 1;
  switch_to_sched(1);
  abort(); /* never resumed */
}

static int sched_order(void) {
  static int s = [] {
    const char *e = getenv("EMU_SCHED");
    if (!e || !*e || !strcmp(e, "fwd")) return 0;
    if (!strcmp(e, "rev")) return 1;
    if (!strcmp(e, "rand")) return 2;
    fprintf(stderr, "EMU: EMU_SCHED=%s: fwd, rev or rand\n", e);
    abort();
  }();
  return s;
}

/* Runs fn(t) for t < n as coroutines until all have returned. */
static void run_block(unsigned n, std::function<void(unsigned)> fn) {
  static std::mt19937_64 rng(getenv("EMU_SEED") ? strtoull(getenv("EMU_SEED"), nullptr, 10) : 1);
  if (fibers.size() < n) fibers.resize(n);
  fiber_fn = &fn;
  for (unsigned i = 0; i < n; i++) {
    fiber &f = fibers[i];
    if (!f.stack) {
      f.stack = mmap(nullptr, FIBER_STACK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (f.stack == MAP_FAILED) { perror("EMU: fiber stack"); abort(); }
    }
#if EMU_ASAN /* the frames a previous block's fiber left poisoned */
    __asan_unpoison_memory_region((char *)f.stack + FIBER_STACK - 65536, 65536);
#endif
    /* The frame emu_ctx_switch pops: fp control words, r15..rbp, then a "return" into
     * fiber_entry with rsp = 8 mod 16, as after a call. */
    uint64_t *sp = (uint64_t *)((char *)f.stack + FIBER_STACK) - 11;
    const uint32_t ctl[2] = {0x1f80u, 0x037fu}; /* MXCSR, x87 control: the defaults */
    memcpy(&sp[0], ctl, 8);
    for (int r = 1; r <= 6; r++) sp[r] = 0;
    sp[7] = (uint64_t)(uintptr_t)&fiber_entry;
    sp[8] = sp[9] = sp[10] = 0;
    f.sp = sp, f.done = 0, f.wait_on = nullptr;
  }
  std::vector<unsigned> order(n);
  for (unsigned i = 0; i < n; i++) order[i] = sched_order() == 1 ? n - 1 - i : i;
  for (unsigned left = n; left;) {
    if (sched_order() == 2) std::shuffle(order.begin(), order.end(), rng);
    int progressed = 0;
    for (unsigned i : order) {
      fiber &f = fibers[i];
      if (f.done || (f.wait_on && *f.wait_on == f.wait_gen)) continue;
      cur_fiber = (int)i;
      threadIdx = uint3{i % blockDim.x, (i / blockDim.x) % blockDim.y, i / (blockDim.x * blockDim.y)};
#if EMU_ASAN
      void *fake = nullptr;
      __sanitizer_start_switch_fiber(&fake, f.stack, FIBER_STACK);
      emu_ctx_switch(&sched_sp, f.sp);
      __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
      emu_ctx_switch(&sched_sp, f.sp);
#endif
      progressed = 1;
      if (f.done) left--;
    }
    if (!progressed)
      for (unsigned i = 0; i < n; i++)
        if (!fibers[i].done)
          emu_fail("HANG: every live thread waits at a barrier or warp op that can never "
                   "complete (divergent __syncthreads/__syncwarp?)", fibers[i].wait_line);
  }
  cur_fiber = -1;
  fiber_fn = nullptr;
}

/* ---- barriers and warp operations ------------------------------------------------------- */
struct warp_state {
  int live = 0, size = 0, arrived = 0, site = -1, kind = -1;
  unsigned long gen = 0;
  unsigned exited_mask = 0;
  uint64_t slots[32], snap[32]; /* the lanes' values; snap: as of the last completed op */
};
struct block_state {
  int live = 0, arrived = 0, site = -1;
  unsigned long gen = 0;
  std::vector<warp_state> warps;
  void *dyn = nullptr;
};
static block_state *blk;

void *emu_dyn_smem(void) { return blk->dyn; }
/* The static __shared__ variables (see cuda_runtime.h), placed by the linker; weak for a
 * program without any. */
extern "C" char __start_emu_smem[] __attribute__((weak)), __stop_emu_smem[] __attribute__((weak));
static unsigned linear_tid(void) { return (unsigned)cur_fiber; }

/* Threads that have exited do not count (as on sm_70 and later). */
void emu_syncthreads(int line) {
  block_state *b = blk;
  if (b->arrived == 0) b->site = line;
  else if (b->site != line) emu_fail("__syncthreads reached from different lines (divergent)", line);
  const unsigned long g = b->gen;
  if (++b->arrived == b->live) b->arrived = 0, b->gen++;
  else wait_gen(&b->gen, g, line);
}

/* Every warp op is a full-warp rendezvous, hence also a memory barrier for the warp. */
uint64_t emu_warp_op(int kind, unsigned mask, uint64_t v, int arg, int line) {
  const unsigned lane = linear_tid() % 32;
  warp_state &w = blk->warps[linear_tid() / 32];
  if (mask != 0xffffffffu) emu_fail("warp op with a partial mask (not emulated)", line);
  if (w.size != 32) emu_fail("full-mask warp op in a partial warp (lanes do not exist: UB)", line);
  if (w.exited_mask) emu_fail("full-mask warp op after some lanes of the warp exited (UB)", line);
  if (w.arrived == 0) w.site = line, w.kind = kind;
  else if (w.site != line || w.kind != kind)
    emu_fail("lanes of a warp at different warp ops (divergent)", line);
  w.slots[lane] = v;
  const unsigned long g = w.gen;
  if (++w.arrived == w.live) {
    memcpy(w.snap, w.slots, sizeof w.slots);
    w.arrived = 0, w.gen++;
  } else {
    wait_gen(&w.gen, g, line);
  }
  switch (kind) {
  case 1: {
    unsigned m = 0;
    for (int l = 0; l < 32; l++) m |= (w.snap[l] ? 1u : 0u) << l;
    return m;
  }
  case 2: case 3: {
    const int src = kind == 2 ? (int)lane ^ arg : arg;
    if (src < 0 || src >= 32) emu_fail("shuffle source outside the warp", line);
    return w.snap[src];
  }
  default: return 0;
  }
}

static void thread_exit(void) {
  block_state *b = blk;
  warp_state &w = b->warps[linear_tid() / 32];
  if (w.arrived > 0) emu_fail("a lane exited while others wait at a warp op (UB, deadlock)", w.site);
  w.exited_mask |= 1u << (linear_tid() % 32);
  w.live--;
  if (--b->live > 0 && b->arrived > 0 && b->arrived == b->live) b->arrived = 0, b->gen++;
}

/* ---- device memory and streams -----------------------------------------------------------
 * Device memory is host memory from malloc (so ASan sees its bounds), filled with 0xff bytes when
 * allocated. Under ASan it is also poisoned while host code runs, and open only inside kernels,
 * copies, memsets and GEMMs: a host dereference of a device pointer, which works here but
 * faults (or reads garbage) on a GPU, is reported as a use-after-poison. */
static cudaError_t last_error = cudaSuccess;
static std::map<const void *, int> &fn_max_dyn = *new std::map<const void *, int>;
static std::set<cudaStream_t> &streams = *new std::set<cudaStream_t>;
static std::map<const char *, size_t> &device_allocs = *new std::map<const char *, size_t>;
static std::set<void *> &pinned_allocs = *new std::set<void *>;

static bool no_gpu(void) { /* EMU_NO_GPU=1: the "no device" path */
  const char *off = getenv("EMU_NO_GPU");
  return off && *off;
}
/* EMU_GPUS=n: the device count (default 1, at most 8). Each process has its own memory, so n
 * GPUs are only told apart by number and PCI bus id: enough for one GPU per rank (NCCL). */
static int gpu_count(void) {
  if (no_gpu()) return 0;
  const char *v = getenv("EMU_GPUS");
  const int n = v && *v ? atoi(v) : 1;
  return n < 1 ? 1 : n > 8 ? 8 : n;
}
static int current_gpu; /* cudaSetDevice's */
int emu_current_device(void) { return current_gpu; }

static void device_poison(bool on) {
#if EMU_ASAN
  for (const auto &a : device_allocs)
    if (on) __asan_poison_memory_region(a.first, a.second);
    else __asan_unpoison_memory_region(a.first, a.second);
#else
  (void)on;
#endif
}
/* Device memory is open for the lifetime of one of these. */
struct device_access {
  device_access() { device_poison(false); }
  ~device_access() { device_poison(true); }
};

[[noreturn]] __attribute__((format(printf, 1, 2))) static void emu_abort(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "EMU ERROR: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  fflush(stderr);
  abort();
}

/* 1 when [p, p + n) lies inside one device allocation, 0 when it touches none; a range that
 * straddles an allocation's end aborts. */
static int device_range(const void *p, size_t n, const char *what) {
  const char *c = (const char *)p;
  auto it = device_allocs.upper_bound(c);
  if (it != device_allocs.begin()) {
    --it;
    if (c < it->first + it->second) {
      if (n > (size_t)(it->first + it->second - c))
        emu_abort("%s: %p + %zu bytes runs past the end of its device allocation", what, p, n);
      return 1;
    }
    ++it;
  }
  if (it != device_allocs.end() && n > 0 && c + n > it->first)
    emu_abort("%s: host range %p + %zu bytes runs into a device allocation", what, p, n);
  return 0;
}

/* The direction a copy claims against where its pointers are. */
static void check_copy(void *d, const void *s, size_t n, cudaMemcpyKind k, const char *what) {
  const int dd = device_range(d, n, what), sd = device_range(s, n, what);
  const int want_d = k == cudaMemcpyHostToDevice || k == cudaMemcpyDeviceToDevice;
  const int want_s = k == cudaMemcpyDeviceToHost || k == cudaMemcpyDeviceToDevice;
  if (k != cudaMemcpyDefault && (dd != want_d || sd != want_s))
    emu_abort("%s of kind %d: destination %p (%s) and source %p (%s), %zu bytes: not where the "
              "kind says", what, (int)k, d, dd ? "device" : "host", s, sd ? "device" : "host", n);
}

static void check_stream(cudaStream_t s, const char *what) {
  if (!streams.count(s))
    emu_abort("%s on a stream that was never created or is destroyed (%p)", what, (void *)s);
}

/* Work issued on a stream waits in its queue until the host waits for that stream
 * (cudaStreamSynchronize, a copy to pageable host memory on it) or for the whole device
 * (cudaFree, cudaFreeHost, cudaStreamDestroy), or, for streams made without
 * cudaStreamNonBlocking, a blocking cudaMemcpy. So a result read before its stream was waited
 * for is stale here, as it may be on a GPU. EMU_EAGER=1 runs each operation when issued
 * (to tell a missing wait from other bugs). Streams never overlap: a queue runs as a whole. */
struct emu_stream {
  bool blocking; /* created without cudaStreamNonBlocking: the legacy stream waits for it */
  std::vector<std::function<void()>> queue;
};
static bool eager(void) {
  static const bool e = [] { const char *v = getenv("EMU_EAGER"); return v && *v && strcmp(v, "0"); }();
  return e;
}
static void stream_wait(cudaStream_t s) {
  if (s->queue.empty()) return;
  std::vector<std::function<void()>> q;
  q.swap(s->queue);
  device_access open;
  for (auto &op : q) op();
}
static void device_wait(bool blocking_only) {
  for (cudaStream_t s : streams)
    if (!blocking_only || s->blocking) stream_wait(s);
}
static void issue(cudaStream_t s, std::function<void()> op) {
  s->queue.push_back(std::move(op));
  if (eager()) stream_wait(s);
}

/* For the other parts of the emulator (emu_internal.h). */
void emu_issue(cudaStream_t s, const char *what, std::function<void()> op) {
  check_stream(s, what);
  issue(s, std::move(op));
}
int emu_device_range(const void *p, size_t n, const char *what) { return device_range(p, n, what); }

/* ---- EMU_PROFILE=FILE: what the program asked of the GPU, written to FILE at exit ("%p" in
 * FILE becomes the process id). Counts, not times: launches per site with their blocks and
 * threads, GEMM shapes with their flops, copies and host waits. A GPU step costs at least a few
 * microseconds per launch and tens per host wait whatever the kernels do, so these counts say
 * where launch overhead and pipeline drains will be before a GPU is at hand. */
struct prof_row {
  unsigned long long count = 0, blocks = 0, threads = 0, bytes = 0;
  double flops = 0;
};
static std::map<std::string, prof_row> *prof;
static void prof_write(void) {
  std::string path = getenv("EMU_PROFILE");
  const size_t at = path.find("%p");
  if (at != std::string::npos) path.replace(at, 2, std::to_string((long)getpid()));
  FILE *f = fopen(path.c_str(), "w");
  if (!f) { fprintf(stderr, "EMU: EMU_PROFILE: cannot write %s\n", path.c_str()); return; }
  fprintf(f, "# kind\tsite\tcount\tblocks\tthreads\tbytes\tflops\n");
  for (auto &[key, r] : *prof)
    fprintf(f, "%s\t%llu\t%llu\t%llu\t%llu\t%.0f\n", key.c_str(), r.count, r.blocks, r.threads,
            r.bytes, r.flops);
  fclose(f);
}
/* key: "kind\tsite" */
static prof_row *prof_add(const std::string &key) {
  static const bool on = [] { const char *e = getenv("EMU_PROFILE"); return e && *e; }();
  if (!on) return nullptr;
  if (!prof) { prof = new std::map<std::string, prof_row>; atexit(prof_write); }
  prof_row *r = &(*prof)[key];
  r->count++;
  return r;
}
static std::string prof_site(const char *file, int line) {
  const char *slash = strrchr(file, '/'), *dir = slash;
  while (dir && dir > file && dir[-1] != '/') dir--; /* keep "folder/file.cu" */
  return std::string(dir ? dir : file) + ":" + std::to_string(line);
}

/* ---- launch ----------------------------------------------------------------------------- */
static int optin_smem(void) { /* EMU_OPTIN: pretend a GPU with less shared memory per block */
  const char *e = getenv("EMU_OPTIN");
  return e && *e ? atoi(e) : 232448; /* H100/H200 */
}

/* Runs a launch's blocks one after another (device memory is open: see stream_wait). */
static void run_grid(const char *name, dim3 grid, dim3 block, unsigned long long nt, size_t smem,
                     const std::function<void()> &body) {
  cur_kernel = name;
  blockDim = block, gridDim = grid;
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        block_state b;
        b.live = (int)nt;
        b.warps.resize((nt + 31) / 32);
        for (size_t w = 0; w < b.warps.size(); w++)
          b.warps[w].live = b.warps[w].size = (int)std::min<unsigned long long>(32, nt - w * 32);
        b.dyn = malloc(smem ? smem : 1);
        memset(b.dyn, 0xff, smem ? smem : 1); /* uninitialised shared memory reads as NaN / -1 */
        if (const size_t n = (size_t)(+__stop_emu_smem - +__start_emu_smem)) /* null when none */
          memset(__start_emu_smem, 0xff, n);
        blockIdx = uint3{bx, by, bz};
        blk = &b;
        run_block((unsigned)nt, [&](unsigned) { body(); thread_exit(); });
        blk = nullptr;
        free(b.dyn);
      }
}

void emu_launch(const void *fn, const char *name, const char *file, int line, dim3 grid,
                dim3 block, size_t smem, cudaStream_t s, std::function<void()> body) {
  static std::atomic<int> busy{0};
  if (busy.exchange(1)) { fprintf(stderr, "EMU ERROR: launches from two host threads at once\n"); abort(); }
  cur_kernel = name;
  check_stream(s, name);
  const unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || nt == 0 || nt > 1024 || block.z > 64 ||
      grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    fprintf(stderr, "EMU: %s:%d launch of %s with grid (%u,%u,%u) block (%u,%u,%u): invalid configuration\n",
            file, line, name, grid.x, grid.y, grid.z, block.x, block.y, block.z);
    last_error = cudaErrorInvalidConfiguration;
  } else if (smem > 48 * 1024 && (!fn_max_dyn.count(fn) || (size_t)fn_max_dyn[fn] < smem)) {
    fprintf(stderr, "EMU: %s:%d launch of %s with %zu bytes of dynamic shared memory without "
            "cudaFuncAttributeMaxDynamicSharedMemorySize\n", file, line, name, smem);
    last_error = cudaErrorInvalidValue;
  } else if (smem > (size_t)optin_smem() - 64) { /* less what static __shared__ might take */
    fprintf(stderr, "EMU: %s:%d %s: %zu bytes of shared memory exceed the device's\n", file, line, name, smem);
    last_error = cudaErrorInvalidValue;
  } else {
    if (prof_row *r = prof_add(std::string("launch\t") + name + " " + prof_site(file, line))) {
      r->blocks += (unsigned long long)grid.x * grid.y * grid.z;
      r->threads += (unsigned long long)grid.x * grid.y * grid.z * nt;
    }
    issue(s, [=, body = std::move(body)] { run_grid(name, grid, block, nt, smem, body); });
  }
  busy = 0;
}

cudaError_t emu_func_set_attribute(const void *f, int attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || value > optin_smem()) return last_error = cudaErrorInvalidValue;
    fn_max_dyn[f] = value;
  }
  return cudaSuccess;
}

#define EMU_ATOMIC(name, T, expr) \
  T name(T *p, T v) { T o = *p; *p = (expr); return o; }
EMU_ATOMIC(atomicAdd, int, (int)((unsigned)o + (unsigned)v)) /* wraps, as on the device */
EMU_ATOMIC(atomicAdd, unsigned, o + v)
EMU_ATOMIC(atomicAdd, unsigned long long, o + v)
EMU_ATOMIC(atomicAdd, float, o + v)
EMU_ATOMIC(atomicAdd, double, o + v)
EMU_ATOMIC(atomicMin, int, v < o ? v : o)
EMU_ATOMIC(atomicMin, unsigned, v < o ? v : o)
EMU_ATOMIC(atomicMin, unsigned long long, v < o ? v : o)
EMU_ATOMIC(atomicMax, int, v > o ? v : o)
EMU_ATOMIC(atomicMax, unsigned, v > o ? v : o)
EMU_ATOMIC(atomicMax, unsigned long long, v > o ? v : o)
EMU_ATOMIC(atomicExch, int, v)
EMU_ATOMIC(atomicExch, unsigned, v)
EMU_ATOMIC(atomicExch, float, v)
#define EMU_CAS(T) \
  T atomicCAS(T *p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }
EMU_CAS(int)
EMU_CAS(unsigned)
EMU_CAS(unsigned long long)

/* ---- runtime API: one device, device memory is host memory, work queued per stream ------- */
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
cudaError_t cudaGetLastError(void) { cudaError_t e = last_error; last_error = cudaSuccess; return e; }
static cudaError_t fail_with(cudaError_t e) { return last_error = e; }
/* The error a call on device `d` returns, cudaSuccess when it may go on. */
static cudaError_t device_error(int d) {
  return no_gpu() ? cudaErrorNoDevice : d < 0 || d >= gpu_count() ? cudaErrorInvalidDevice
                                                                 : cudaSuccess;
}
cudaError_t cudaGetDeviceCount(int *n) {
  *n = gpu_count();
  return *n ? cudaSuccess : fail_with(cudaErrorNoDevice);
}
cudaError_t cudaSetDevice(int d) {
  const cudaError_t e = device_error(d);
  if (e) return fail_with(e);
  current_gpu = d;
  return e;
}
cudaError_t cudaGetDevice(int *d) {
  *d = current_gpu;
  return no_gpu() ? fail_with(cudaErrorNoDevice) : cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev) {
  if (const cudaError_t e = device_error(dev)) return fail_with(e);
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "emulated H200");
  p->totalGlobalMem = (size_t)141 << 30, p->major = 9, p->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int dev) {
  if (const cudaError_t e = device_error(dev)) return fail_with(e);
  switch (a) {
  case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = optin_smem(); break;
  case cudaDevAttrPciBusId: *v = 0x3b + dev; break; /* PCI 0000:3b:00, 0000:3c:00, ... */
  case cudaDevAttrPciDeviceId: case cudaDevAttrPciDomainId: *v = 0; break;
  default: emu_abort("cudaDeviceGetAttribute(%d) not emulated", (int)a);
  }
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
  if (no_gpu()) return fail_with(cudaErrorNoDevice);
  *s = new emu_stream{!(flags & cudaStreamNonBlocking), {}};
  streams.insert(*s);
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamDestroy(cudaStream_t s) { /* its queued work still runs, as on a GPU */
  check_stream(s, "cudaStreamDestroy");
  stream_wait(s);
  streams.erase(s);
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  check_stream(s, "cudaStreamSynchronize");
  prof_add("wait\tcudaStreamSynchronize");
  stream_wait(s);
  return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t n) {
  if (no_gpu()) return fail_with(cudaErrorNoDevice);
  if (!(*p = malloc(n ? n : 1))) return fail_with(cudaErrorMemoryAllocation);
  memset(*p, 0xff, n); /* what was never written reads as NaN (float) or -1 (int) */
  device_allocs[(const char *)*p] = n ? n : 1;
  if (prof_row *r = prof_add("alloc\tcudaMalloc")) r->bytes += n;
  device_poison(true);
  return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
  if (!p) return cudaSuccess;
  auto it = device_allocs.find((const char *)p);
  if (it == device_allocs.end()) emu_abort("cudaFree(%p): not a device allocation (or freed twice)", p);
  device_wait(false); /* cudaFree waits for the device */
  prof_add("wait\tcudaFree");
#if EMU_ASAN
  __asan_unpoison_memory_region(p, it->second);
#endif
  device_allocs.erase(it);
  free(p);
  return cudaSuccess;
}
/* Pinned memory is host memory (open to host code) that is filled like device memory. */
cudaError_t cudaMallocHost(void **p, size_t n) {
  if (no_gpu()) return fail_with(cudaErrorNoDevice);
  if (!(*p = malloc(n ? n : 1))) return fail_with(cudaErrorMemoryAllocation);
  memset(*p, 0xff, n);
  pinned_allocs.insert(*p);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void *p) {
  if (!p) return cudaSuccess;
  if (!pinned_allocs.count(p)) emu_abort("cudaFreeHost(%p): not from cudaMallocHost (or freed twice)", p);
  device_wait(false);
  pinned_allocs.erase(p);
  free(p);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s) {
  check_stream(s, "cudaMemsetAsync");
  if (n && !device_range(p, n, "cudaMemsetAsync")) emu_abort("cudaMemsetAsync(%p, %zu bytes) on host memory", p, n);
  if (prof_row *r = prof_add("copy\tcudaMemsetAsync")) r->bytes += n;
  issue(s, [=] { memset(p, v, n); });
  return cudaSuccess;
}
/* Whether [p, p + n) is in one pinned allocation (the only host memory a copy reads or writes
 * after it returns). Pinned blocks are few: a scan will do. */
static bool pinned_range(const void *p, size_t n) {
  for (void *a : pinned_allocs)
    if ((const char *)p >= (const char *)a && (const char *)p + n <= (const char *)a + malloc_usable_size(a))
      return true;
  return false;
}
/* As the runtime documents: a copy to pageable host memory returns once it is complete (the
 * stream is waited for); one from pageable memory has read its source when it returns; pinned
 * memory is read or written when the copy runs. */
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t st) {
  check_stream(st, "cudaMemcpyAsync");
  check_copy(d, s, n, k, "cudaMemcpyAsync");
  const bool to_host = !device_range(d, n, "cudaMemcpyAsync"), from_host = !device_range(s, n, "cudaMemcpyAsync");
  if (prof_row *r = prof_add(std::string("copy\tcudaMemcpyAsync ") + (from_host ? "H" : "D") + "2" +
                             (to_host ? "H" : "D") +
                             (to_host && !pinned_range(d, n) ? " to pageable (waits)" : "")))
    r->bytes += n;
  if (to_host && !pinned_range(d, n)) {
    stream_wait(st);
    device_access open;
    memcpy(d, s, n);
  } else if (from_host && !pinned_range(s, n)) {
    auto copy = std::make_shared<std::vector<char>>((const char *)s, (const char *)s + n);
    issue(st, [=] { memcpy(d, copy->data(), n); });
  } else {
    issue(st, [=] { memcpy(d, s, n); });
  }
  return cudaSuccess;
}
/* On the legacy stream: waits for the streams made without cudaStreamNonBlocking, not for the
 * others, and is complete when it returns. */
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind k) {
  check_copy(d, s, n, k, "cudaMemcpy");
  if (prof_row *r = prof_add("copy\tcudaMemcpy (waits)")) r->bytes += n;
  device_wait(true);
  device_access open;
  memcpy(d, s, n);
  return cudaSuccess;
}

/* ---- cuBLAS ----------------------------------------------------------------------------- */
const char *cublasGetStatusString(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS ? "ok" : "emulated error"; }
/* A handle is the stream it was bound to (nullptr until cublasSetStream). */
static std::map<cublasHandle_t, cudaStream_t> &handles = *new std::map<cublasHandle_t, cudaStream_t>;
cublasStatus_t cublasCreate(cublasHandle_t *h) {
  if (no_gpu()) return CUBLAS_STATUS_NOT_INITIALIZED;
  *h = malloc(1);
  handles[*h] = nullptr;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  if (!handles.erase(h)) emu_abort("cublasDestroy(%p): not a live handle", h);
  free(h);
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (!handles.count(h)) emu_abort("cublasSetStream(%p): not a live handle", h);
  check_stream(s, "cublasSetStream");
  handles[h] = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }

/* Clears the low `drop` bits of the significand, rounding to nearest even (NaN stays NaN):
 * 16 gives bf16, 13 tf32. */
static float round_to(float f, int drop) {
  if (!drop) return f;
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) u |= 0x00400000u;
  else u += (1u << (drop - 1)) - 1u + ((u >> drop) & 1u);
  u &= ~((1u << drop) - 1u);
  memcpy(&f, &u, 4);
  return f;
}

/* An operand as the GEMM reads it: fp32 with its low `drop` bits rounded off, or bf16. */
static float operand(float x, int drop) { return round_to(x, drop); }
static float operand(__nv_bfloat16 x, int) { return __bfloat162float(x); }

/* Column-major C = alpha op(A) op(B) + beta C, in the plain order of a dot product. */
template <class T>
static cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const T *A, int lda,
                           const T *B, int ldb, const float *beta, float *C, int ldc, int drop) {
  if (!handles.count(h)) emu_abort("cuBLAS GEMM on %p: not a live handle", h);
  check_stream(handles[h], "cuBLAS GEMM (the handle's stream)");
  const int arows = ta == CUBLAS_OP_N ? m : k, brows = tb == CUBLAS_OP_N ? k : n;
  if ((ta != CUBLAS_OP_N && ta != CUBLAS_OP_T) || (tb != CUBLAS_OP_N && tb != CUBLAS_OP_T) ||
      m < 0 || n < 0 || k < 0 || lda < std::max(arows, 1) || ldb < std::max(brows, 1) ||
      ldc < std::max(m, 1)) {
    fprintf(stderr, "EMU: cuBLAS GEMM invalid m=%d n=%d k=%d lda=%d ldb=%d ldc=%d\n", m, n, k, lda, ldb, ldc);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const int64_t acols = ta == CUBLAS_OP_N ? k : m, bcols = tb == CUBLAS_OP_N ? n : k;
  if ((m && k && !device_range(A, ((acols - 1) * lda + arows) * sizeof *A, "cuBLAS GEMM A")) ||
      (k && n && !device_range(B, ((bcols - 1) * ldb + brows) * sizeof *B, "cuBLAS GEMM B")) ||
      (m && n && !device_range(C, ((int64_t)(n - 1) * ldc + m) * sizeof *C, "cuBLAS GEMM C")))
    emu_abort("cuBLAS GEMM with a host matrix (m=%d n=%d k=%d)", m, n, k);
  const float al = *alpha, be = *beta; /* host pointers: read when called */
  if (prof_row *r = prof_add("gemm\t" + std::to_string(m) + " x " + std::to_string(n) + " x " +
                             std::to_string(k) + (drop || sizeof(T) == 2 ? " bf16" : "")))
    r->flops += 2.0 * m * n * k;
  issue(handles[h], [=] {
    for (int j = 0; j < n; j++)
      for (int i = 0; i < m; i++) {
        float acc = 0.0f;
        for (int l = 0; l < k; l++) {
          const T a = ta == CUBLAS_OP_N ? A[i + (int64_t)l * lda] : A[l + (int64_t)i * lda];
          const T b = tb == CUBLAS_OP_N ? B[l + (int64_t)j * ldb] : B[j + (int64_t)l * ldb];
          acc += operand(a, drop) * operand(b, drop);
        }
        float *c = C + i + (int64_t)j * ldc;
        *c = be == 0.0f ? al * acc : al * acc + be * *c; /* beta 0: C is not read */
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc) {
  return gemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, 0);
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType_t Atype,
                            int lda, const void *B, cudaDataType_t Btype, int ldb,
                            const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t ct, cublasGemmAlgo_t algo) {
  const bool bf16_in = Atype == CUDA_R_16BF && Btype == CUDA_R_16BF;
  if (!(bf16_in || (Atype == CUDA_R_32F && Btype == CUDA_R_32F)) || Ctype != CUDA_R_32F ||
      (algo != CUBLAS_GEMM_DEFAULT && algo != CUBLAS_GEMM_DEFAULT_TENSOR_OP)) {
    fprintf(stderr, "EMU ERROR: cublasGemmEx types %d/%d/%d, algo %d: only fp32 or bf16 "
            "operands, an fp32 result, default algo emulated\n", Atype, Btype, Ctype, (int)algo);
    abort();
  }
  if (bf16_in) { /* the operands' own rounding; fp32 accumulation */
    if (ct != CUBLAS_COMPUTE_32F && ct != CUBLAS_COMPUTE_32F_PEDANTIC) {
      fprintf(stderr, "EMU: cublasGemmEx compute type %d not emulated for bf16 operands\n", (int)ct);
      return CUBLAS_STATUS_INVALID_VALUE;
    }
    return gemm(h, ta, tb, m, n, k, (const float *)alpha, (const __nv_bfloat16 *)A, lda,
                (const __nv_bfloat16 *)B, ldb, (const float *)beta, (float *)C, ldc, 0);
  }
  const char *nr = getenv("EMU_GEMMEX_NO_ROUND");
  const int round = !(nr && *nr);
  int drop;
  switch (ct) {
  case CUBLAS_COMPUTE_32F: case CUBLAS_COMPUTE_32F_PEDANTIC: drop = 0; break;
  case CUBLAS_COMPUTE_32F_FAST_16BF: drop = round ? 16 : 0; break;
  case CUBLAS_COMPUTE_32F_FAST_TF32: drop = round ? 13 : 0; break;
  default:
    fprintf(stderr, "EMU: cublasGemmEx compute type %d not emulated for fp32 operands\n", (int)ct);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  return gemm(h, ta, tb, m, n, k, (const float *)alpha, (const float *)A, lda, (const float *)B,
              ldb, (const float *)beta, (float *)C, ldc, drop);
}
