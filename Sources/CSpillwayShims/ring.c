#define _GNU_SOURCE
#include "spw_ring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BUFFER_GROUP 1

_Static_assert(SPW_COMPLETION_MORE == IORING_CQE_F_MORE, "SPW_COMPLETION_MORE must be IORING_CQE_F_MORE");
_Static_assert(SPW_COMPLETION_BUFFER == IORING_CQE_F_BUFFER, "SPW_COMPLETION_BUFFER must be IORING_CQE_F_BUFFER");
_Static_assert(SPW_COMPLETION_BUFFER_SHIFT == IORING_CQE_BUFFER_SHIFT, "SPW_COMPLETION_BUFFER_SHIFT must be IORING_CQE_BUFFER_SHIFT");

/// Where a queued send of one provided buffer goes, kept until the kernel has read it (and for a
/// resend).
struct send_target {
    int fd;
    unsigned offset;
    unsigned length;
    unsigned name_length;
    struct sockaddr_in6 name;
};

struct spw_ring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *rings;
    size_t rings_size;
    size_t sqes_size;
    unsigned queued;

    struct io_uring_buf_ring *buffer_ring;
    size_t buffer_ring_size;
    uint8_t *buffer_memory;
    size_t buffer_memory_size;
    unsigned buffer_count;
    unsigned buffer_size;
    unsigned buffer_fill;
    unsigned short buffer_tail;
    struct send_target *targets;
    /// The header RECVMSG copies: only its name and control lengths matter.
    struct msghdr receive_header;
};

static int enter(spw_ring *ring, unsigned submit, unsigned wait, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, ring->fd, submit, wait, flags, NULL, 0);
}

static int map_queues(spw_ring *ring, const struct io_uring_params *params) {
    size_t sq_size = params->sq_off.array + params->sq_entries * sizeof(unsigned);
    size_t cq_size = params->cq_off.cqes + params->cq_entries * sizeof(struct io_uring_cqe);
    ring->rings_size = cq_size > sq_size ? cq_size : sq_size;
    ring->rings = mmap(NULL, ring->rings_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_SQ_RING);
    if (ring->rings == MAP_FAILED) return -1;
    ring->sqes_size = params->sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED) return -1;
    uint8_t *base = ring->rings;
    ring->sq_head = (unsigned *)(base + params->sq_off.head);
    ring->sq_tail = (unsigned *)(base + params->sq_off.tail);
    ring->sq_mask = (unsigned *)(base + params->sq_off.ring_mask);
    ring->sq_array = (unsigned *)(base + params->sq_off.array);
    ring->cq_head = (unsigned *)(base + params->cq_off.head);
    ring->cq_tail = (unsigned *)(base + params->cq_off.tail);
    ring->cq_mask = (unsigned *)(base + params->cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(base + params->cq_off.cqes);
    return 0;
}

static int register_buffers(spw_ring *ring) {
    ring->buffer_ring_size = ring->buffer_count * sizeof(struct io_uring_buf);
    ring->buffer_ring = mmap(NULL, ring->buffer_ring_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring->buffer_ring == MAP_FAILED) return -1;
    ring->buffer_memory_size = (size_t)ring->buffer_count * ring->buffer_size;
    ring->buffer_memory = mmap(NULL, ring->buffer_memory_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring->buffer_memory == MAP_FAILED) return -1;
    ring->targets = calloc(ring->buffer_count, sizeof(struct send_target));
    if (!ring->targets) return -1;
    struct io_uring_buf_reg registration = {
        .ring_addr = (uint64_t)(uintptr_t)ring->buffer_ring, .ring_entries = ring->buffer_count, .bgid = BUFFER_GROUP};
    if (syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_PBUF_RING, &registration, 1) < 0) return -1;
    for (unsigned buffer = 0; buffer < ring->buffer_count; buffer++) spw_ring_give_back(ring, buffer);
    spw_ring_publish_buffers(ring);
    return 0;
}

spw_ring *spw_ring_open(unsigned entries, unsigned buffer_count, unsigned buffer_size, unsigned buffer_fill) {
    spw_ring *ring = calloc(1, sizeof *ring);
    if (!ring) return NULL;
    ring->buffer_count = buffer_count;
    ring->buffer_size = buffer_size;
    ring->buffer_fill = buffer_fill;
    ring->receive_header.msg_namelen = sizeof(struct sockaddr_in6);
    ring->rings = MAP_FAILED;
    ring->sqes = MAP_FAILED;
    ring->buffer_ring = MAP_FAILED;
    ring->buffer_memory = MAP_FAILED;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    // Submit-all: an entry the kernel refuses gets an error completion and the rest still go in.
    // Single issuer with deferred task work: completions are only run when the worker asks for them, not
    // by interrupting it. The ring starts disabled so that the worker thread, which enables it, becomes
    // its issuer.
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                   IORING_SETUP_SUBMIT_ALL;
    params.cq_entries = entries * 4;
    ring->fd = (int)syscall(__NR_io_uring_setup, entries, &params);
    if (ring->fd < 0 || map_queues(ring, &params) != 0 || register_buffers(ring) != 0) {
        int failure = errno;
        spw_ring_close(ring);
        errno = failure;
        return NULL;
    }
    return ring;
}

int spw_ring_enable(spw_ring *ring) {
    return syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0 ? -errno : 0;
}

void spw_ring_close(spw_ring *ring) {
    if (ring->fd >= 0) close(ring->fd);
    if (ring->rings != MAP_FAILED) munmap(ring->rings, ring->rings_size);
    if (ring->sqes != MAP_FAILED) munmap(ring->sqes, ring->sqes_size);
    if (ring->buffer_ring != MAP_FAILED) munmap(ring->buffer_ring, ring->buffer_ring_size);
    if (ring->buffer_memory != MAP_FAILED) munmap(ring->buffer_memory, ring->buffer_memory_size);
    free(ring->targets);
    free(ring);
}

/// The next submission entry, zeroed; when the queue is full, what is queued is submitted first.
static struct io_uring_sqe *next_entry(spw_ring *ring, uint64_t token) {
    unsigned tail = *ring->sq_tail;
    if (tail - __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE) > *ring->sq_mask) {
        spw_ring_submit(ring, 0);
        tail = *ring->sq_tail;
    }
    unsigned position = tail & *ring->sq_mask;
    struct io_uring_sqe *entry = &ring->sqes[position];
    memset(entry, 0, sizeof *entry);
    entry->user_data = token;
    ring->sq_array[position] = position;
    __atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
    ring->queued++;
    return entry;
}

void spw_ring_receive(spw_ring *ring, int fd, uint64_t token) {
    struct io_uring_sqe *entry = next_entry(ring, token);
    entry->opcode = IORING_OP_RECVMSG;
    entry->fd = fd;
    entry->addr = (uint64_t)(uintptr_t)&ring->receive_header;
    entry->ioprio = IORING_RECV_MULTISHOT;
    entry->flags = IOSQE_BUFFER_SELECT;
    entry->buf_group = BUFFER_GROUP;
}

void spw_ring_poll(spw_ring *ring, int fd, uint64_t token) {
    struct io_uring_sqe *entry = next_entry(ring, token);
    entry->opcode = IORING_OP_POLL_ADD;
    entry->fd = fd;
    entry->len = IORING_POLL_ADD_MULTI;
    entry->poll32_events = POLLIN;
}

void spw_ring_resend(spw_ring *ring, unsigned buffer, uint64_t token) {
    struct send_target *target = &ring->targets[buffer];
    struct io_uring_sqe *entry = next_entry(ring, token);
    entry->opcode = IORING_OP_SEND;
    entry->fd = target->fd;
    entry->addr = (uint64_t)(uintptr_t)(ring->buffer_memory + (size_t)buffer * ring->buffer_size + target->offset);
    entry->len = target->length;
    if (target->name_length > 0) {
        entry->addr2 = (uint64_t)(uintptr_t)&target->name;
        entry->addr_len = (uint16_t)target->name_length;
    }
}

void spw_ring_send(spw_ring *ring, int fd, unsigned buffer, unsigned offset, unsigned length, const void *name,
                   unsigned name_length, uint64_t token) {
    struct send_target *target = &ring->targets[buffer];
    target->fd = fd;
    target->offset = offset;
    target->length = length;
    if (name_length > sizeof target->name) name_length = sizeof target->name;
    target->name_length = name_length;
    if (name_length > 0) memcpy(&target->name, name, name_length);
    spw_ring_resend(ring, buffer, token);
}

void spw_ring_cancel(spw_ring *ring, uint64_t token, uint64_t cancel_token) {
    struct io_uring_sqe *entry = next_entry(ring, cancel_token);
    entry->opcode = IORING_OP_ASYNC_CANCEL;
    entry->addr = token;
    entry->cancel_flags = IORING_ASYNC_CANCEL_ALL;
}

int spw_ring_submit(spw_ring *ring, int wait) {
    int submitted;
    do {
        submitted = enter(ring, ring->queued, wait ? 1 : 0, IORING_ENTER_GETEVENTS);
    } while (submitted < 0 && errno == EINTR);
    if (submitted < 0) return -errno;
    // What the kernel did not take stays queued for the next call.
    ring->queued -= (unsigned)submitted < ring->queued ? (unsigned)submitted : ring->queued;
    return 0;
}

int spw_ring_reap(spw_ring *ring, spw_completion *completions, int max) {
    unsigned head = *ring->cq_head;
    unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
    int count = 0;
    for (; head != tail && count < max; head++, count++) {
        const struct io_uring_cqe *entry = &ring->cqes[head & *ring->cq_mask];
        completions[count].token = entry->user_data;
        completions[count].result = entry->res;
        completions[count].flags = entry->flags;
    }
    __atomic_store_n(ring->cq_head, head, __ATOMIC_RELEASE);
    return count;
}

int spw_ring_datagram(spw_ring *ring, unsigned buffer, int32_t result, spw_datagram *datagram) {
    uint8_t *start = spw_ring_buffer(ring, buffer);
    const struct io_uring_recvmsg_out *header = (const struct io_uring_recvmsg_out *)start;
    size_t offset = sizeof *header + ring->receive_header.msg_namelen + ring->receive_header.msg_controllen;
    if (result < (int32_t)sizeof *header || (size_t)result < offset) return 0;
    size_t room = (size_t)result - offset;
    datagram->payload = start + offset;
    datagram->length = header->payloadlen < room ? header->payloadlen : (uint32_t)room;
    datagram->truncated = (header->flags & MSG_TRUNC) != 0 || header->payloadlen > room;
    datagram->name = start + sizeof *header;
    datagram->name_length = header->namelen < ring->receive_header.msg_namelen ? header->namelen : ring->receive_header.msg_namelen;
    return 1;
}

uint8_t *spw_ring_buffer(spw_ring *ring, unsigned buffer) {
    return ring->buffer_memory + (size_t)buffer * ring->buffer_size;
}

void spw_ring_give_back(spw_ring *ring, unsigned buffer) {
    struct io_uring_buf *entry = &ring->buffer_ring->bufs[ring->buffer_tail & (ring->buffer_count - 1)];
    entry->addr = (uint64_t)(uintptr_t)spw_ring_buffer(ring, buffer);
    entry->len = ring->buffer_fill;
    entry->bid = (unsigned short)buffer;
    ring->buffer_tail++;
}

void spw_ring_publish_buffers(spw_ring *ring) {
    __atomic_store_n(&ring->buffer_ring->tail, ring->buffer_tail, __ATOMIC_RELEASE);
}
