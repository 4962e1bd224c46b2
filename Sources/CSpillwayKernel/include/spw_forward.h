/*
 * The layout Spillway's kernel fast path and the node share: the forwarding map's key and entry,
 * and the node-wide totals. Included by the eBPF program (bpf/spw_forward.bpf.c) and by the
 * node, so that both sides read one definition.
 *
 * Addresses and ports are in network byte order, as they are on the wire; an IPv4 address is in
 * word 0 of its array, the other words zero.
 */
#ifndef SPW_FORWARD_H
#define SPW_FORWARD_H

#include <linux/bpf.h>
#include <linux/types.h>

/* Every packet arriving on the entry's port is RTCP (its own RTCP port). */
#define SPW_FORWARD_RTCP_PORT (1u << 0)
/* RTCP may arrive multiplexed on the entry's RTP port (RFC 5761). */
#define SPW_FORWARD_RTCP_MUX (1u << 1)
/* The entry's `rtcp` target is set; without it RTCP is dropped and counted. */
#define SPW_FORWARD_HAS_RTCP_TARGET (1u << 2)
/* Count RTP packets with the marker bit as frames (video). */
#define SPW_FORWARD_VIDEO (1u << 3)

/* Where a packet arrives: the relay's own media address. */
struct spw_forward_key {
    __u32 address[4];
    __u16 port;
    __u16 family; /* AF_INET or AF_INET6 */
};

/* Where a forwarded packet goes: the relay's address facing the receiver, the receiver, and the
 * way there. */
struct spw_forward_target {
    __u32 source[4];
    __u32 destination[4];
    __u16 source_port;
    __u16 destination_port;
    __u32 ifindex;  /* the device to send it out of (lo when the receiver is on this host) */
    __u32 loopback; /* ifindex is lo: no neighbour to resolve */
};

/* RFC 3550 A.1/A.8 sequence state of the forwarded source (its valid packets are counted in
 * spw_forward_counters), carried on from where the node had it when it installed the entry. The
 * program only follows a validated source: a packet with another SSRC, or a sequence jump the node
 * must judge, goes up to the node. */
struct spw_forward_reception {
    __u32 ssrc;
    __u32 base_sequence;
    __u32 cycles;
    __u16 max_sequence;
    __u16 has_transit;
    __u32 bad_sequence; /* kept for the node, which judges jumps */
    __u32 reserved;
    __s64 last_transit;
    __u64 scaled_jitter; /* jitter x 16 */
};

/* What the program handled at one relay address, from the first route there until the node removes
 * the side. Kept apart from the routes, which the node replaces: a packet the program is counting
 * while the node takes its route back still lands here, where the node finds it next time. */
struct spw_forward_counters {
    struct bpf_spin_lock lock;
    __u32 reserved;
    __u64 rtp_packets;
    __u64 rtp_bytes; /* UDP payload bytes */
    __u64 rtcp_packets;
    __u64 rtcp_bytes;
    __u64 forwarded;
    __u64 frames;
    __u64 received;          /* RTP packets valid by RFC 3550 A.1 (all but jumps) */
    __u64 last_packet_nanos; /* CLOCK_MONOTONIC */
    __u64 no_destination;    /* RTCP with nowhere to go */
};

struct spw_forward_entry {
    struct bpf_spin_lock lock; /* guards `reception` */
    __u32 flags;
    /* The only source forwarded: the latched peer. */
    __u32 peer[4];
    __u16 peer_port;
    __u16 family;
    /* The RTP clock rate, for jitter. */
    __u32 clock_rate;
    struct spw_forward_target rtp;
    struct spw_forward_target rtcp;
    struct spw_forward_reception reception;
};

/* Who attached a loaded program, and where: a node that starts finds programs whose node is gone
 * (crashed, killed) by this record and removes their filters. */
#define SPW_FORWARD_MAX_DEVICES 16
struct spw_forward_owner {
    __u32 pid;
    __u32 handle;   /* the TC filter handle on every device */
    __u64 started;  /* the process's start time (/proc/PID/stat), against PID reuse */
    __u32 priority; /* the TC filter priority */
    __u32 device_count;
    __u32 devices[SPW_FORWARD_MAX_DEVICES];
};

/* Node-wide totals (one per CPU): what the program forwarded. */
struct spw_forward_totals {
    __u64 packets;
    __u64 bytes;
};

#endif
