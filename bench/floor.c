// The floor: the least a userspace UDP relay can do. One epoll loop over N caller-facing sockets;
// recvmmsg a batch from a ready socket and sendmmsg it from one callee-facing socket to a fixed address.
// No validation, no statistics, no latching: what the kernel's loopback path costs per packet.
//
//   floor FIRST_LISTEN_PORT COUNT OUT_PORT DEST_IP DEST_PORT   (listens on every other port from the first)
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
    if (argc < 6) { fprintf(stderr, "usage: floor FIRST_LISTEN_PORT COUNT OUT_PORT DEST_IP DEST_PORT\n"); return 2; }
    int first = atoi(argv[1]), count = atoi(argv[2]);
    int out = bound_socket(atoi(argv[3]));
    struct sockaddr_in destination = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[5]))};
    inet_pton(AF_INET, argv[4], &destination.sin_addr);
    int epoll = epoll_create1(0);
    for (int i = 0; i < count; i++) {
        int in = bound_socket(first + 2 * i);
        struct epoll_event event = {.events = EPOLLIN, .data.fd = in};
        epoll_ctl(epoll, EPOLL_CTL_ADD, in, &event);
    }
    static char buffers[BATCH][2048];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (;;) {
        struct epoll_event ready[64];
        int ready_count = epoll_wait(epoll, ready, 64, -1);
        for (int r = 0; r < ready_count; r++) {
            for (int i = 0; i < BATCH; i++) {
                vectors[i] = (struct iovec){buffers[i], sizeof buffers[i]};
                messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[i], .msg_iovlen = 1}};
            }
            int n = recvmmsg(ready[r].data.fd, messages, BATCH, MSG_DONTWAIT, NULL);
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
