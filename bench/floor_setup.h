// What the two floor forwarders (floor.c on epoll, floor_uring.c on io_uring) share: their arguments,
// their sockets and their peers, so both relay exactly the same calls.
//
//   NAME FIRST_PORT CALLS CALLER_PORT CALLEE_PORT
//
// Call i has two sockets: 2i on FIRST_PORT + 4i faces its caller (127.0.0.1:CALLER_PORT), 2i + 1 on
// FIRST_PORT + 4i + 2 its callee (127.0.0.1:CALLEE_PORT); a packet read on one leaves by the other.
// Each socket is connected to its peer, so a send needs no address and the kernel reuses the route
// it cached at connect (as Spillway does for a latched peer).
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

struct floor_setup {
    int calls;
    /// 2 x calls bound sockets, in the order above.
    int *sockets;
    /// [0] the callers' address, [1] the callees'.
    struct sockaddr_in peers[2];
};

/// Reads the arguments (exits with the usage on a wrong count), raises the descriptor limit to the
/// hard limit, binds every socket on 127.0.0.1 with `socket_flags` (e.g. SOCK_NONBLOCK) and
/// connects it to its peer.
static struct floor_setup floor_setup(int argc, char **argv, int socket_flags) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s FIRST_PORT CALLS CALLER_PORT CALLEE_PORT\n", argv[0]);
        exit(2);
    }
    struct floor_setup setup = {.calls = atoi(argv[2])};
    int first = atoi(argv[1]);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    for (int side = 0; side < 2; side++) {
        setup.peers[side] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(atoi(argv[3 + side]))};
        inet_pton(AF_INET, "127.0.0.1", &setup.peers[side].sin_addr);
    }
    setup.sockets = calloc(2 * setup.calls, sizeof *setup.sockets);
    for (int i = 0; i < 2 * setup.calls; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | socket_flags, 0);
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(first + 2 * i)};
        inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
        if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0
            || connect(fd, (struct sockaddr *)&setup.peers[i & 1], sizeof setup.peers[0]) != 0) {
            fprintf(stderr, "%s: cannot bind 127.0.0.1:%d or connect it: ", argv[0], first + 2 * i);
            perror(NULL);
            exit(1);
        }
        setup.sockets[i] = fd;
    }
    return setup;
}
