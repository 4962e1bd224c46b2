// The floor: the least a userspace UDP relay can do. Each call has a caller-facing and a
// callee-facing socket; one epoll loop reads a batch from a ready socket (recvmmsg) and sends it from
// the call's other socket (sendmmsg), connected to that side's fixed peer. No parsing, no statistics,
// no latching: what the kernel's loopback path costs per packet.
//
//   floor FIRST_PORT CALLS CALLER_PORT CALLEE_PORT   (see floor_setup.h)
#define _GNU_SOURCE
#include <sys/epoll.h>
#include "floor_setup.h"

#define BATCH 32

int main(int argc, char **argv) {
    struct floor_setup setup = floor_setup(argc, argv, SOCK_NONBLOCK);
    int epoll = epoll_create1(0);
    for (int i = 0; i < 2 * setup.calls; i++) {
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(epoll, EPOLL_CTL_ADD, setup.sockets[i], &event);
    }
    static char buffers[BATCH][2048];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (;;) {
        struct epoll_event ready[64];
        int ready_count = epoll_wait(epoll, ready, 64, -1);
        for (int r = 0; r < ready_count; r++) {
            unsigned in = ready[r].data.u32, out = in ^ 1;
            for (int i = 0; i < BATCH; i++) {
                vectors[i] = (struct iovec){buffers[i], sizeof buffers[i]};
                messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[i], .msg_iovlen = 1}};
            }
            int n = recvmmsg(setup.sockets[in], messages, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0) continue;
            for (int i = 0; i < n; i++) {
                vectors[i].iov_len = messages[i].msg_len;
                messages[i].msg_hdr.msg_name = NULL;
                messages[i].msg_hdr.msg_namelen = 0;
            }
            sendmmsg(setup.sockets[out], messages, n, 0);
        }
    }
}
