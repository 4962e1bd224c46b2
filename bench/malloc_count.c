// LD_PRELOAD shim: counts heap allocations made on Spillway's media worker threads (named
// "spw-media-N"). SIGUSR1 prints the running count to stderr as `media-thread-allocations N`.
// Used by bench/allocations.py to check that forwarding allocates nothing per packet.
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern int __libc_memalign(size_t, size_t);

static atomic_ulong media_allocations;
static __thread int is_media_thread;

static void count(void) {
    if (!is_media_thread) {
        char name[16] = {0};
        prctl(PR_GET_NAME, name);
        is_media_thread = strncmp(name, "spw-media", 9) == 0;
    }
    if (is_media_thread) atomic_fetch_add(&media_allocations, 1);
}

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }

static void report(int signal) {
    (void)signal;
    char line[64];
    int length = snprintf(line, sizeof line, "media-thread-allocations %lu\n", atomic_load(&media_allocations));
    write(2, line, length);
}

__attribute__((constructor)) static void install(void) { signal(SIGUSR1, report); }
