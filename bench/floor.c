// The floor: the least a userspace UDP relay can do. One epoll loop, one stream pair, recvmmsg a batch
// from the caller-facing socket and sendmmsg it from the callee-facing socket to a fixed address.
// No validation, no statistics, no latching: what the kernel's loopback path costs per packet.
//
//   floor LISTEN_PORT OUT_PORT DEST_IP DEST_PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define BATCH 32

static int bound_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); exit(1); }
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: floor LISTEN_PORT OUT_PORT DEST_IP DEST_PORT\n"); return 2; }
    int in = bound_socket(atoi(argv[1]));
    int out = bound_socket(atoi(argv[2]));
    struct sockaddr_in destination = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[4]))};
    inet_pton(AF_INET, argv[3], &destination.sin_addr);
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = in};
    epoll_ctl(epoll, EPOLL_CTL_ADD, in, &event);
    static char buffers[BATCH][2048];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (;;) {
        struct epoll_event ready[8];
        int count = epoll_wait(epoll, ready, 8, -1);
        for (int r = 0; r < count; r++) {
            for (int i = 0; i < BATCH; i++) {
                vectors[i] = (struct iovec){buffers[i], sizeof buffers[i]};
                messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[i], .msg_iovlen = 1}};
            }
            int n = recvmmsg(in, messages, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0) continue;
            for (int i = 0; i < n; i++) {
                vectors[i].iov_len = messages[i].msg_len;
                messages[i].msg_hdr.msg_name = &destination;
                messages[i].msg_hdr.msg_namelen = sizeof destination;
            }
            sendmmsg(out, messages, n, 0);
        }
    }
}
