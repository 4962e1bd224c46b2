#ifndef CSPILLWAY_SHIMS_H
#define CSPILLWAY_SHIMS_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "spw_ring.h"

/// Same layout as glibc's `struct mmsghdr`, which is only declared under _GNU_SOURCE.
typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} spw_mmsghdr;

/// recvmmsg(2) without a timeout. Returns the number of messages or -1 with errno set.
int spw_recvmmsg(int fd, spw_mmsghdr *messages, unsigned int count, int flags);

/// sendmmsg(2). Returns the number of messages sent or -1 with errno set.
int spw_sendmmsg(int fd, spw_mmsghdr *messages, unsigned int count, int flags);

/// epoll_create1(EPOLL_CLOEXEC).
int spw_epoll_create(void);

/// Registers `fd` for EPOLLIN with a 64-bit token returned by spw_epoll_wait.
int spw_epoll_add(int epfd, int fd, uint64_t token);

/// Removes `fd` from the epoll set.
int spw_epoll_remove(int epfd, int fd);

/// epoll_wait(2) that unpacks the (packed) epoll_event array into plain token and event arrays.
int spw_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max_events, int timeout_ms);

/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int spw_eventfd_create(void);

/// Adds 1 to an eventfd counter, waking a thread blocked in epoll on it.
int spw_eventfd_signal(int fd);

/// Reads and resets an eventfd counter.
void spw_eventfd_drain(int fd);

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t spw_monotonic_nanos(void);

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
uint64_t spw_wall_nanos(void);

/// The CPU-time clock of the calling thread (for spw_clock_nanos from any thread), or -1.
int spw_current_thread_cpu_clock(void);

/// The reading of `clock` in nanoseconds, or 0 when it cannot be read (e.g. its thread ended).
uint64_t spw_clock_nanos(int clock);

/// Pins the calling thread to one CPU. Returns 0 or an errno value.
int spw_pin_current_thread(int cpu);

/// Sets the calling thread's name as shown by top -H.
void spw_set_thread_name(const char *name);

#endif
