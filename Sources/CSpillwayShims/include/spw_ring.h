#ifndef SPW_RING_H
#define SPW_RING_H

#include <stdint.h>

/// An io_uring instance for one media worker, driven with raw system calls (no liburing): a
/// submission and a completion queue, and a ring of provided receive buffers the kernel takes
/// one of per received datagram. Single-threaded: only the worker that opened it may use it.
typedef struct spw_ring spw_ring;

/// What one completion said, copied out of the completion queue.
typedef struct {
    uint64_t token;
    int32_t result;
    uint32_t flags;
} spw_completion;

/// Set in a completion's flags while its multishot request stays armed (IORING_CQE_F_MORE).
#define SPW_COMPLETION_MORE (1U << 1)

/// A datagram a multishot RECVMSG wrote into a provided buffer.
typedef struct {
    uint8_t *payload;
    uint32_t length;
    uint32_t truncated;
    const void *name;
    uint32_t name_length;
} spw_datagram;

/// Opens a ring with `entries` submission entries (a power of two) and `buffer_count` provided
/// buffers (a power of two, at most 32768) of `buffer_size` bytes each, of which the kernel fills
/// at most `buffer_fill` (the rest is room to grow a packet in place). The ring starts disabled: the
/// thread that will use it enables it with spw_ring_enable. Returns NULL with errno set.
spw_ring *spw_ring_open(unsigned entries, unsigned buffer_count, unsigned buffer_size, unsigned buffer_fill);

/// Enables the ring, which starts disabled, making the calling thread the only one that may submit
/// to it. Returns 0 or a negative errno.
int spw_ring_enable(spw_ring *ring);

/// Closes the ring; the kernel ends every request still in flight.
void spw_ring_close(spw_ring *ring);

/// Arms a multishot RECVMSG on `fd` taking provided buffers: one completion per datagram, with
/// IORING_CQE_F_MORE set while it stays armed.
void spw_ring_receive(spw_ring *ring, int fd, uint64_t token);

/// Arms a multishot poll for input on `fd` (the worker's wake-up eventfd).
void spw_ring_poll(spw_ring *ring, int fd, uint64_t token);

/// Queues a send of `length` bytes of provided buffer `buffer`, at `offset` from its start, from
/// `fd`: to `name` (copied into the buffer's own address slot) or, when `name_length` is 0, to the
/// peer `fd` is connected to.
void spw_ring_send(spw_ring *ring, int fd, unsigned buffer, unsigned offset, unsigned length, const void *name,
                   unsigned name_length, uint64_t token);

/// Queues the same send again (after the kernel refused it with ECONNREFUSED).
void spw_ring_resend(spw_ring *ring, unsigned buffer, uint64_t token);

/// Queues the cancellation of every request with `token`; its own completion carries `cancel_token`.
void spw_ring_cancel(spw_ring *ring, uint64_t token, uint64_t cancel_token);

/// Submits what is queued and, with `wait`, blocks until at least one completion is there.
/// Returns 0 or a negative errno (EBUSY: the completion queue must be reaped first).
int spw_ring_submit(spw_ring *ring, int wait);

/// Copies up to `max` completions out and consumes them. Returns how many.
int spw_ring_reap(spw_ring *ring, spw_completion *completions, int max);

/// Set in a completion's flags when it used a provided buffer, whose id is then `flags >> 16`
/// (IORING_CQE_F_BUFFER, IORING_CQE_BUFFER_SHIFT).
#define SPW_COMPLETION_BUFFER (1U << 0)
#define SPW_COMPLETION_BUFFER_SHIFT 16

/// Reads the datagram a RECVMSG completion of `result` bytes left in `buffer`; returns 0 when the
/// buffer does not hold a well-formed one.
int spw_ring_datagram(spw_ring *ring, unsigned buffer, int32_t result, spw_datagram *datagram);

/// The start of provided buffer `buffer`.
uint8_t *spw_ring_buffer(spw_ring *ring, unsigned buffer);

/// Hands `buffer` back to the kernel (visible to it after spw_ring_publish_buffers).
void spw_ring_give_back(spw_ring *ring, unsigned buffer);

/// Makes every buffer given back so far available to the kernel.
void spw_ring_publish_buffers(spw_ring *ring);

#endif
