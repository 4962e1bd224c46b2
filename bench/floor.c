// The floor: the least a userspace UDP relay can do. Each call has a caller-facing and a
// callee-facing socket; one epoll loop reads a batch from a ready socket (recvmmsg) and sends it from
// the call's other socket (sendmmsg) to that side's fixed peer. No parsing, no statistics, no
// latching: what the kernel's loopback path costs per packet.
//
//   floor FIRST_PORT CALLS CALLER_PORT CALLEE_PORT
//
// Call i listens on FIRST_PORT + 4i (the caller sends there) and FIRST_PORT + 4i + 2 (the callee
// sends there); peers are 127.0.0.1:CALLER_PORT and 127.0.0.1:CALLEE_PORT.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define BATCH 32

static int bound_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("floor: bind"); exit(1); }
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: floor FIRST_PORT CALLS CALLER_PORT CALLEE_PORT\n"); return 2; }
    int first = atoi(argv[1]), calls = atoi(argv[2]);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    struct sockaddr_in peers[2];
    for (int side = 0; side < 2; side++) {
        peers[side] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(atoi(argv[3 + side]))};
        inet_pton(AF_INET, "127.0.0.1", &peers[side].sin_addr);
    }
    // sockets[2i] faces call i's caller, sockets[2i + 1] its callee; a packet read on one leaves by the other.
    int *sockets = calloc(2 * calls, sizeof *sockets);
    int epoll = epoll_create1(0);
    for (int i = 0; i < 2 * calls; i++) {
        sockets[i] = bound_socket(first + 2 * i);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(epoll, EPOLL_CTL_ADD, sockets[i], &event);
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
            int n = recvmmsg(sockets[in], messages, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0) continue;
            for (int i = 0; i < n; i++) {
                vectors[i].iov_len = messages[i].msg_len;
                messages[i].msg_hdr.msg_name = &peers[out & 1];
                messages[i].msg_hdr.msg_namelen = sizeof peers[0];
            }
            sendmmsg(sockets[out], messages, n, 0);
        }
    }
}
