// The floor with io_uring instead of epoll: the same per-call socket pairs and peers as floor.c, but
// every socket keeps one RECVMSG in flight, each received packet becomes a SENDMSG from the call's
// other socket, and one io_uring_enter submits everything a pass produced and reaps what completed.
// What batching across ready sockets could save a relay: the per-socket syscalls of floor.c's loop
// (epoll_wait, then recvmmsg and sendmmsg per ready socket) become one system call per pass.
//
//   floor_uring FIRST_PORT CALLS CALLER_PORT CALLEE_PORT     (the same arguments as floor.c, see floor_setup.h)
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "floor_setup.h"

#define SEND_FLAG (1ull << 32)

struct ring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    unsigned pending;
};

struct slot {
    int fd;
    unsigned char buffer[2048];
    struct iovec vector;
    struct msghdr message;
};

static struct ring ring;
static struct slot *slots;
static struct floor_setup setup;

static void setup_ring(unsigned entries) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 2;
    ring.fd = (int)syscall(__NR_io_uring_setup, entries, &params);
    if (ring.fd < 0) { perror("floor_uring: io_uring_setup"); exit(1); }
    size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    if (cq_size > sq_size) sq_size = cq_size;
    unsigned char *rings = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd, IORING_OFF_SQ_RING);
    ring.sqes = mmap(0, params.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     ring.fd, IORING_OFF_SQES);
    if (rings == MAP_FAILED || ring.sqes == MAP_FAILED) { perror("floor_uring: mmap"); exit(1); }
    ring.sq_head = (unsigned *)(rings + params.sq_off.head);
    ring.sq_tail = (unsigned *)(rings + params.sq_off.tail);
    ring.sq_mask = (unsigned *)(rings + params.sq_off.ring_mask);
    ring.sq_array = (unsigned *)(rings + params.sq_off.array);
    ring.cq_head = (unsigned *)(rings + params.cq_off.head);
    ring.cq_tail = (unsigned *)(rings + params.cq_off.tail);
    ring.cq_mask = (unsigned *)(rings + params.cq_off.ring_mask);
    ring.cqes = (struct io_uring_cqe *)(rings + params.cq_off.cqes);
}

static void submit_all(unsigned wait_for) {
    unsigned flags = wait_for ? IORING_ENTER_GETEVENTS : 0;
    while (syscall(__NR_io_uring_enter, ring.fd, ring.pending, wait_for, flags, NULL, 0) < 0) {}
    ring.pending = 0;
}

static void queue(int opcode, int fd, unsigned index, uint64_t tag) {
    unsigned tail = *ring.sq_tail;
    if (tail - __atomic_load_n(ring.sq_head, __ATOMIC_ACQUIRE) > *ring.sq_mask) submit_all(0);
    tail = *ring.sq_tail;
    unsigned position = tail & *ring.sq_mask;
    struct io_uring_sqe *sqe = &ring.sqes[position];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = opcode;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)&slots[index].message;
    sqe->len = 1;
    sqe->user_data = tag;
    ring.sq_array[position] = position;
    __atomic_store_n(ring.sq_tail, tail + 1, __ATOMIC_RELEASE);
    ring.pending++;
}

static void receive(unsigned index) {
    struct slot *s = &slots[index];
    s->vector = (struct iovec){s->buffer, sizeof s->buffer};
    s->message = (struct msghdr){.msg_iov = &s->vector, .msg_iovlen = 1};
    queue(IORING_OP_RECVMSG, s->fd, index, index);
}

static void send_from_pair(unsigned index, int length) {
    struct slot *s = &slots[index];
    unsigned out = index ^ 1;
    s->vector.iov_len = length;
    s->message = (struct msghdr){.msg_iov = &s->vector, .msg_iovlen = 1};
    queue(IORING_OP_SENDMSG, slots[out].fd, index, index | SEND_FLAG);
}

int main(int argc, char **argv) {
    setup = floor_setup(argc, argv, 0);
    unsigned sockets = 2 * setup.calls, entries = 1;
    while (entries < sockets * 2) entries <<= 1;
    setup_ring(entries > 32768 ? 32768 : entries);
    slots = calloc(sockets, sizeof *slots);
    for (unsigned i = 0; i < sockets; i++) slots[i].fd = setup.sockets[i];
    for (unsigned i = 0; i < sockets; i++) receive(i);
    for (;;) {
        submit_all(1);
        unsigned head = *ring.cq_head, tail = __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            struct io_uring_cqe *cqe = &ring.cqes[head & *ring.cq_mask];
            unsigned index = (unsigned)(cqe->user_data & 0xFFFFFFFF);
            if (cqe->user_data & SEND_FLAG) receive(index);  // the buffer is free again
            else if (cqe->res > 0) send_from_pair(index, cqe->res);
            else receive(index);
        }
        __atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
    }
}
