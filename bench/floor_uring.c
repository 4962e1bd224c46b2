// The floor with io_uring instead of epoll: the same per-call socket pairs and peers as floor.c, but
// every socket keeps one multishot RECV armed that takes its buffers from a ring the kernel shares
// with us (a provided buffer ring), each received packet becomes a SEND from the call's other socket
// out of the buffer it arrived in, and one io_uring_enter submits everything a pass produced and
// reaps what completed. What batching across ready sockets could save a relay: the per-socket
// syscalls of floor.c's loop (epoll_wait, then recvmmsg and sendmmsg per ready socket) become one
// system call per pass, and a receive is not re-armed per packet.
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


static struct ring ring;
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


#define BUFFERS 4096  // a power of two, as the buffer ring needs
#define BUFFER_SIZE 2048
#define GROUP 1

/// The provided buffers: the kernel takes one per received packet, we give it back once sent.
static struct io_uring_buf_ring *buffer_ring;
static unsigned char *buffer_memory;
static unsigned short buffer_tail;
static int *fds;

/// The next free submission entry, zeroed (submitting what is queued when the ring is full).
static struct io_uring_sqe *next_sqe(void) {
    unsigned tail = *ring.sq_tail;
    if (tail - __atomic_load_n(ring.sq_head, __ATOMIC_ACQUIRE) > *ring.sq_mask) submit_all(0);
    tail = *ring.sq_tail;
    unsigned position = tail & *ring.sq_mask;
    struct io_uring_sqe *sqe = &ring.sqes[position];
    memset(sqe, 0, sizeof *sqe);
    ring.sq_array[position] = position;
    __atomic_store_n(ring.sq_tail, tail + 1, __ATOMIC_RELEASE);
    ring.pending++;
    return sqe;
}

/// Arms a multishot receive on socket `index`: it completes once per packet until it runs out of
/// buffers (or errs), which a completion without IORING_CQE_F_MORE says.
static void arm_receive(unsigned index) {
    struct io_uring_sqe *sqe = next_sqe();
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = fds[index];
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = GROUP;
    sqe->user_data = index;
}

/// Sends `length` bytes of buffer `bid` from socket `out` (connected to its peer).
static void send_buffer(unsigned out, unsigned bid, int length) {
    struct io_uring_sqe *sqe = next_sqe();
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fds[out];
    sqe->addr = (uint64_t)(uintptr_t)(buffer_memory + (size_t)bid * BUFFER_SIZE);
    sqe->len = length;
    sqe->user_data = SEND_FLAG | bid;
}

/// Returns buffer `bid` to the ring; the kernel sees it once `publish_buffers` moves the tail.
static void give_back(unsigned bid) {
    struct io_uring_buf *buf = &buffer_ring->bufs[buffer_tail & (BUFFERS - 1)];
    buf->addr = (uint64_t)(uintptr_t)(buffer_memory + (size_t)bid * BUFFER_SIZE);
    buf->len = BUFFER_SIZE;
    buf->bid = bid;
    buffer_tail++;
}
static void publish_buffers(void) { __atomic_store_n(&buffer_ring->tail, buffer_tail, __ATOMIC_RELEASE); }

int main(int argc, char **argv) {
    setup = floor_setup(argc, argv, 0);
    unsigned sockets = 2 * setup.calls, entries = 1;
    while (entries < sockets * 2) entries <<= 1;
    setup_ring(entries > 32768 ? 32768 : entries);
    fds = setup.sockets;
    buffer_ring = mmap(0, BUFFERS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    buffer_memory = malloc((size_t)BUFFERS * BUFFER_SIZE);
    if (buffer_ring == MAP_FAILED || !buffer_memory) { perror("floor_uring: buffers"); exit(1); }
    struct io_uring_buf_reg registration = {
        .ring_addr = (uint64_t)(uintptr_t)buffer_ring, .ring_entries = BUFFERS, .bgid = GROUP};
    if (syscall(__NR_io_uring_register, ring.fd, IORING_REGISTER_PBUF_RING, &registration, 1) < 0) {
        perror("floor_uring: IORING_REGISTER_PBUF_RING");
        exit(1);
    }
    for (unsigned b = 0; b < BUFFERS; b++) give_back(b);
    publish_buffers();
    for (unsigned i = 0; i < sockets; i++) arm_receive(i);
    for (;;) {
        submit_all(1);
        unsigned head = *ring.cq_head, tail = __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE);
        int returned = 0;
        for (; head != tail; head++) {
            struct io_uring_cqe *cqe = &ring.cqes[head & *ring.cq_mask];
            if (cqe->user_data & SEND_FLAG) { give_back((unsigned)(cqe->user_data & 0xFFFF)); returned = 1; continue; }
            unsigned index = (unsigned)cqe->user_data;
            unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) send_buffer(index ^ 1, bid, cqe->res);
            else if (cqe->flags & IORING_CQE_F_BUFFER) { give_back(bid); returned = 1; }
            if (!(cqe->flags & IORING_CQE_F_MORE)) arm_receive(index);
        }
        __atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
        if (returned) publish_buffers();
    }
}
