// Paced call generator for relay benchmarks: plays N calls through a relay, RATE RTP packets/s each
// way per call (50 for G.711 at 20 ms), for a set time, on one thread (pin it to its own core).
//
// Every caller sends from one local socket and every callee from another; the relay was told so in
// each call's SDP. The schedule spreads the 2 x N streams evenly over the packet interval, so the
// offered load is smooth; due packets go out in sendmmsg batches, stamped with the clock just before
// the call. Arrivals are read with recvmmsg and timed by the kernel (SO_TIMESTAMPNS), so a late read
// here does not count as relay latency. A packet carries its call, direction and send time in its
// payload; a packet that comes back at the wrong side, or for a call out of range, is counted as
// misrouted.
//
// After the run, packets still in flight get `DRAIN_MS` to arrive. Prints one JSON line: packets sent
// and received, latency percentiles (µs, 1 µs steps up to 1 ms, 100 µs steps up to 100 ms), and how
// late the generator itself was against its schedule (a run where it fell behind measures the
// generator, not the relay).
//
//   callgen CALLER_PORT CALLEE_PORT RELAY_IP PORTS_FILE CALLS SECONDS RATE
//
// PORTS_FILE has one line per call: the relay port the caller sends to, then the one the callee sends to.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define PAYLOAD 160
#define DRAIN_MS 300
#define FINE_BUCKETS 1000   // 1 µs each, up to 1 ms
#define COARSE_BUCKETS 990  // 100 µs each, up to 100 ms
#define LATE_NS 1000000     // a packet sent more than 1 ms after its slot is late

enum { CALLER = 0, CALLEE = 1 };

static uint64_t histogram[FINE_BUCKETS + COARSE_BUCKETS + 1];

static uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static int bound_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int size = 8 << 20, on = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
        fprintf(stderr, "callgen: cannot bind 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void record_latency(uint64_t ns) {
    uint64_t us = ns / 1000;
    size_t bucket = us < FINE_BUCKETS ? us : FINE_BUCKETS + (us - FINE_BUCKETS) / 100;
    if (bucket > FINE_BUCKETS + COARSE_BUCKETS) bucket = FINE_BUCKETS + COARSE_BUCKETS;
    histogram[bucket]++;
}

/// The upper bound (µs) of the bucket holding the `fraction` quantile.
static double percentile(uint64_t total, double fraction) {
    uint64_t rank = (uint64_t)(fraction * total), seen = 0;
    for (size_t bucket = 0; bucket <= FINE_BUCKETS + COARSE_BUCKETS; bucket++) {
        seen += histogram[bucket];
        if (seen > rank) return bucket < FINE_BUCKETS ? bucket + 1 : FINE_BUCKETS + (bucket - FINE_BUCKETS + 1) * 100.0;
    }
    return FINE_BUCKETS + COARSE_BUCKETS * 100.0;
}

struct receiver {
    int fd;
    int expected_direction;
    unsigned char packets[BATCH][2048];
    char controls[BATCH][CMSG_SPACE(sizeof(struct timespec))];
    struct iovec vectors[BATCH];
    struct mmsghdr messages[BATCH];
};

static uint64_t received, misrouted, untimed;

static void setup_receiver(struct receiver *r, int fd, int direction) {
    r->fd = fd;
    r->expected_direction = direction;
    for (int i = 0; i < BATCH; i++) r->vectors[i] = (struct iovec){r->packets[i], sizeof r->packets[i]};
}

/// Reads what has arrived on one socket; returns how many packets.
static int drain(struct receiver *r, int calls) {
    for (int i = 0; i < BATCH; i++)
        r->messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &r->vectors[i], .msg_iovlen = 1,
                                                       .msg_control = r->controls[i], .msg_controllen = sizeof r->controls[i]}};
    int n = recvmmsg(r->fd, r->messages, BATCH, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) {
        const unsigned char *p = r->packets[i];
        uint64_t sent_at;
        uint32_t call;
        if (r->messages[i].msg_len < 12 + 13) { misrouted++; continue; }
        memcpy(&sent_at, p + 12, 8);
        memcpy(&call, p + 20, 4);
        if (call >= (uint32_t)calls || p[24] != r->expected_direction) { misrouted++; continue; }
        received++;
        struct cmsghdr *c = CMSG_FIRSTHDR(&r->messages[i].msg_hdr);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            uint64_t arrived = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
            record_latency(arrived > sent_at ? arrived - sent_at : 0);
        } else {
            untimed++;
        }
    }
    return n > 0 ? n : 0;
}

struct sender {
    int fd;
    int count;
    unsigned char packets[BATCH][12 + PAYLOAD];
    struct iovec vectors[BATCH];
    struct mmsghdr messages[BATCH];
};

static uint64_t sent, refused;

static void flush(struct sender *s) {
    if (s->count == 0) return;
    uint64_t stamp = clock_ns(CLOCK_REALTIME);
    for (int i = 0; i < s->count; i++) memcpy(s->packets[i] + 12, &stamp, 8);
    int done = 0;
    while (done < s->count) {
        int n = sendmmsg(s->fd, s->messages + done, s->count - done, 0);
        if (n > 0) { done += n; sent += n; }
        else { refused++; done++; }
    }
    s->count = 0;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: callgen CALLER_PORT CALLEE_PORT RELAY_IP PORTS_FILE CALLS SECONDS RATE\n");
        return 2;
    }
    int sockets[2] = {bound_socket(atoi(argv[1])), bound_socket(atoi(argv[2]))};
    int calls = atoi(argv[5]);
    double seconds = atof(argv[6]), rate = atof(argv[7]);
    FILE *ports = fopen(argv[4], "r");
    if (!ports || calls <= 0 || rate <= 0) { fprintf(stderr, "callgen: bad ports file, call count or rate\n"); return 2; }
    struct sockaddr_in (*relay)[2] = calloc(calls, sizeof *relay);
    uint16_t (*sequence)[2] = calloc(calls, sizeof *sequence);
    for (int call = 0; call < calls; call++) {
        int caller_port, callee_port;
        if (fscanf(ports, "%d %d", &caller_port, &callee_port) != 2) {
            fprintf(stderr, "callgen: %s lists fewer than %d calls\n", argv[4], calls);
            return 2;
        }
        int relay_ports[2] = {caller_port, callee_port};
        for (int side = 0; side < 2; side++) {
            relay[call][side] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(relay_ports[side])};
            inet_pton(AF_INET, argv[3], &relay[call][side].sin_addr);
        }
    }
    static struct sender senders[2];
    static struct receiver receivers[2];
    for (int side = 0; side < 2; side++) {
        senders[side].fd = sockets[side];
        for (int i = 0; i < BATCH; i++) {
            senders[side].vectors[i] = (struct iovec){senders[side].packets[i], 12 + PAYLOAD};
            senders[side].messages[i] = (struct mmsghdr){.msg_hdr = {.msg_namelen = sizeof(struct sockaddr_in),
                                                                     .msg_iov = &senders[side].vectors[i], .msg_iovlen = 1}};
            memset(senders[side].packets[i], 0xD5, 12 + PAYLOAD);
        }
        // What the caller sends arrives at the callee's socket, and the other way round.
        setup_receiver(&receivers[side], sockets[side], 1 - side);
    }

    // Stream slot j (0, 1, 2...) is due at start + j * interval: call (j / 2) % calls, from the caller
    // when j is even, from the callee when odd.
    double interval_ns = 1e9 / (2.0 * calls * rate);
    uint64_t start = clock_ns(CLOCK_MONOTONIC), end = start + (uint64_t)(seconds * 1e9);
    uint64_t slot = 0, late = 0, max_lateness = 0;
    for (;;) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now >= end) break;
        while (start + (uint64_t)(slot * interval_ns) <= now) {
            uint64_t lateness = now - (start + (uint64_t)(slot * interval_ns));
            if (lateness > LATE_NS) late++;
            if (lateness > max_lateness) max_lateness = lateness;
            int call = (int)((slot / 2) % calls), side = (int)(slot % 2);
            struct sender *s = &senders[side];
            unsigned char *p = s->packets[s->count];
            uint16_t seq = sequence[call][side]++;
            uint32_t timestamp = (uint32_t)seq * 160, ssrc = htonl((uint32_t)(2 * call + side + 1)), id = call;
            p[0] = 0x80; p[1] = 0;
            p[2] = seq >> 8; p[3] = seq & 0xFF;
            p[4] = timestamp >> 24; p[5] = timestamp >> 16; p[6] = timestamp >> 8; p[7] = timestamp;
            memcpy(p + 8, &ssrc, 4);
            memcpy(p + 20, &id, 4);
            p[24] = side;
            s->messages[s->count].msg_hdr.msg_name = &relay[call][side];
            if (++s->count == BATCH) flush(s);
            slot++;
        }
        flush(&senders[CALLER]);
        flush(&senders[CALLEE]);
        for (int side = 0; side < 2; side++)
            while (drain(&receivers[side], calls) == BATCH) {}
    }
    double elapsed = (clock_ns(CLOCK_MONOTONIC) - start) / 1e9;
    uint64_t drain_end = clock_ns(CLOCK_MONOTONIC) + DRAIN_MS * 1000000ull;
    while (clock_ns(CLOCK_MONOTONIC) < drain_end && received + misrouted < sent)
        for (int side = 0; side < 2; side++) drain(&receivers[side], calls);
    uint64_t timed = received - untimed;
    printf("{\"calls\": %d, \"rate\": %.1f, \"seconds\": %.3f, \"sent\": %lu, \"refused\": %lu, \"received\": %lu, "
           "\"misrouted\": %lu, \"untimed\": %lu, \"p50_us\": %.0f, \"p99_us\": %.0f, \"p999_us\": %.0f, "
           "\"late_sends\": %lu, \"max_lateness_us\": %.0f}\n",
           calls, rate, elapsed, sent, refused, received, misrouted, untimed, percentile(timed, 0.5),
           percentile(timed, 0.99), percentile(timed, 0.999), late, max_lateness / 1e3);
    return 0;
}
