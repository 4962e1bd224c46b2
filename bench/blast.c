// Load generator for relay benchmarks: sends RTP-shaped UDP packets from one socket, round-robin over
// the relay ports of N calls, as fast as it can (sendmmsg batches of 32) for a set time, while a second
// thread counts what the relays deliver to the receiving socket (recvmmsg). Prints one JSON line.
// With SRTP_KEY (60 hex digits: an AES_CM_128_HMAC_SHA1_80 master key and salt) every packet is
// protected with libsrtp2 first, each call with its own SSRC, so a relay has to authenticate and
// decrypt it ("-" for plain RTP). With RATE (packets/s) the batches are paced instead of flooded.
//
//   blast SEND_PORT RECV_PORT RELAY_IP RELAY_PORT[,RELAY_PORT...] SECONDS [PAYLOAD_BYTES [SRTP_KEY [RATE]]]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <srtp2/srtp.h>

#define BATCH 32

static atomic_int running = 1;
static atomic_ulong received = 0;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bound_socket(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); exit(1); }
    struct timeval timeout = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

static void *receive_loop(void *arg) {
    int fd = *(int *)arg;
    static char buffers[BATCH][2048];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (int i = 0; i < BATCH; i++) {
        vectors[i] = (struct iovec){buffers[i], sizeof buffers[i]};
        messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &vectors[i], .msg_iovlen = 1}};
    }
    while (atomic_load(&running)) {
        int n = recvmmsg(fd, messages, BATCH, 0, NULL);
        if (n > 0) atomic_fetch_add(&received, n);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: blast SEND_PORT RECV_PORT RELAY_IP RELAY_PORT SECONDS [PAYLOAD]\n"); return 2; }
    int sender = bound_socket(atoi(argv[1]));
    int receiver = bound_socket(atoi(argv[2]));
    static struct sockaddr_in relays[1024];
    int relay_count = 0;
    for (char *port = strtok(argv[4], ","); port && relay_count < 1024; port = strtok(NULL, ",")) {
        relays[relay_count] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(atoi(port))};
        inet_pton(AF_INET, argv[3], &relays[relay_count].sin_addr);
        relay_count++;
    }
    double seconds = atof(argv[5]);
    int payload = argc > 6 ? atoi(argv[6]) : 160;
    srtp_t srtp = NULL;
    double rate = argc > 8 ? atof(argv[8]) : 0;
    if (argc > 7 && strcmp(argv[7], "-") != 0) {
        unsigned char key[30];
        for (int i = 0; i < 30; i++) sscanf(argv[7] + 2 * i, "%2hhx", &key[i]);
        srtp_policy_t policy;
        memset(&policy, 0, sizeof policy);
        srtp_crypto_policy_set_rtp_default(&policy.rtp);
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp);
        policy.ssrc.type = ssrc_any_outbound;
        policy.key = key;
        policy.window_size = 128;
        if (srtp_init() != srtp_err_status_ok || srtp_create(&srtp, &policy) != srtp_err_status_ok) {
            fprintf(stderr, "libsrtp2 set-up failed\n");
            return 1;
        }
    }

    static unsigned char packets[BATCH][2048];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    for (int i = 0; i < BATCH; i++) {
        memset(packets[i], 0xD5, sizeof packets[i]);
        packets[i][0] = 0x80;
        packets[i][1] = 0;
        vectors[i] = (struct iovec){packets[i], 12 + payload};
        messages[i] = (struct mmsghdr){.msg_hdr = {.msg_namelen = sizeof relays[0], .msg_iov = &vectors[i], .msg_iovlen = 1}};
    }
    pthread_t thread;
    pthread_create(&thread, NULL, receive_loop, &receiver);
    unsigned long sent = 0;
    unsigned long next_relay = 0;
    uint16_t sequence = 0;
    double start = now(), end = start + seconds;
    double due = start;
    while (now() < end) {
        if (rate > 0) {
            due += BATCH / rate;
            while (now() < due) {}
        }
        for (int i = 0; i < BATCH; i++, sequence++) {
            packets[i][2] = sequence >> 8;
            packets[i][3] = sequence & 0xFF;
            uint32_t timestamp = (uint32_t)sequence * 160;
            packets[i][4] = timestamp >> 24; packets[i][5] = timestamp >> 16; packets[i][6] = timestamp >> 8; packets[i][7] = timestamp;
            unsigned long relay = next_relay++ % relay_count;
            messages[i].msg_hdr.msg_name = &relays[relay];
            if (srtp) {
                packets[i][8] = 0x10; packets[i][9] = relay >> 16; packets[i][10] = relay >> 8; packets[i][11] = relay;
                memset(packets[i] + 12, 0xD5, payload);
                int length = 12 + payload;
                srtp_protect(srtp, packets[i], &length);
                vectors[i].iov_len = length;
            }
        }
        int n = sendmmsg(sender, messages, BATCH, 0);
        if (n > 0) sent += n;
    }
    double elapsed = now() - start;
    usleep(300000);
    atomic_store(&running, 0);
    pthread_join(thread, NULL);
    printf("{\"sent\": %lu, \"received\": %lu, \"seconds\": %.3f}\n", sent, atomic_load(&received), elapsed);
    return 0;
}
