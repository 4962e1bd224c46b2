// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Spillway's kernel fast path: a TC (clsact ingress) program that forwards latched, plain
 * RTP/RTCP streams without waking the node.
 *
 * A UDP packet whose destination is a forwarding entry's key (a relay media address), whose source
 * is the entry's latched peer, and which looks like RTP or RTCP of the followed source, has its
 * addresses and ports rewritten to the entry's target, its checksums fixed, its stream counted,
 * and is sent on: delivered locally when the new destination is this host's, else redirected out
 * of the interface the route names. Anything else is left to the node: other traffic is not
 * touched (TC_ACT_UNSPEC lets later filters and the stack see it as if the program were absent).
 *
 * Built by generate.sh into ../program.c; a test checks that the committed bytes match.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../include/spw_forward.h"

#define AF_INET 2
#define AF_INET6 10

/* RFC 3550 A.1: the sequence window followed here; jumps outside it go up to the node. */
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

/* Sized by the node before loading, from its media port range. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct spw_forward_key);
    __type(value, struct spw_forward_entry);
} spw_forwards SEC(".maps");

/* One per relay address with a route: created by the node with its first route there. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct spw_forward_key);
    __type(value, struct spw_forward_counters);
} spw_counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct spw_forward_totals);
} spw_totals SEC(".maps");

/* Written by the node that loaded the program (and bound to it); the program never reads it. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct spw_forward_owner);
} spw_owner SEC(".maps");

/* Where the headers of a packet this program may forward lie. */
struct headers {
    __u32 l3;        /* offset of the IP header */
    __u32 l4;        /* offset of the UDP header */
    __u32 payload;   /* offset of the UDP payload */
    __u32 length;    /* UDP payload length */
    __u16 family;
    __u16 source_port;
    __u32 source[4];
};

static __always_inline int parse(struct __sk_buff *skb, struct headers *h, struct spw_forward_key *key) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return -1;
    h->l3 = sizeof(*eth);
    struct udphdr *udp;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return -1;
        /* Options and fragments are left to the stack. */
        if (ip->ihl != 5 || ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3fff))) return -1;
        udp = (void *)(ip + 1);
        h->family = AF_INET;
        h->source[0] = ip->saddr;
        key->address[0] = ip->daddr;
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end) return -1;
        /* Extension headers are left to the stack. */
        if (ip6->nexthdr != IPPROTO_UDP) return -1;
        udp = (void *)(ip6 + 1);
        h->family = AF_INET6;
        __builtin_memcpy(h->source, &ip6->saddr, 16);
        __builtin_memcpy(key->address, &ip6->daddr, 16);
    } else {
        return -1;
    }
    if ((void *)(udp + 1) > end) return -1;
    __u16 udp_length = bpf_ntohs(udp->len);
    if (udp_length < sizeof(*udp)) return -1;
    h->l4 = (__u32)((void *)udp - data);
    h->payload = h->l4 + sizeof(*udp);
    h->length = udp_length - sizeof(*udp);
    h->source_port = udp->source;
    key->port = udp->dest;
    key->family = h->family;
    return 0;
}

static __always_inline int same_address(const __u32 *a, const __u32 *b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/*
 * Follows one RTP packet of the entry's source (RFC 3550 A.1 within the window, A.8 jitter).
 * Returns -1 when the node must judge the packet: another SSRC, or a jump.
 */
static __always_inline int follow_rtp(struct spw_forward_entry *entry, __u32 ssrc, __u16 sequence, __u32 timestamp,
                                      __u64 now) {
    if (ssrc != entry->reception.ssrc) return -1;
    __u32 arrival = (__u32)((now / 1000) * entry->clock_rate / 1000000);
    int accepted = 0;
    bpf_spin_lock(&entry->lock);
    struct spw_forward_reception *r = &entry->reception;
    __u16 delta = sequence - r->max_sequence;
    if (delta < MAX_DROPOUT) {
        if (sequence < r->max_sequence) r->cycles += 1u << 16;
        r->max_sequence = sequence;
        accepted = 1;
    } else if (delta > (__u16)(65536 - MAX_MISORDER)) {
        accepted = 1; /* duplicate or reordered */
    }
    if (accepted) {
        __s64 transit = (__s64)(__s32)(arrival - timestamp);
        if (r->has_transit) {
            __s64 difference = transit - r->last_transit;
            __u64 magnitude = difference < 0 ? (__u64)-difference : (__u64)difference;
            r->scaled_jitter = r->scaled_jitter + magnitude - ((r->scaled_jitter + 8) >> 4);
        }
        r->last_transit = transit;
        r->has_transit = 1;
    }
    bpf_spin_unlock(&entry->lock);
    return accepted ? 0 : -1;
}

static __always_inline void count_rtp(struct spw_forward_counters *counts, __u32 length, int frame, __u64 now) {
    bpf_spin_lock(&counts->lock);
    counts->rtp_packets += 1;
    counts->rtp_bytes += length;
    counts->received += 1;
    counts->forwarded += 1;
    counts->frames += frame;
    counts->last_packet_nanos = now;
    bpf_spin_unlock(&counts->lock);
}

static __always_inline void count_rtcp(struct spw_forward_counters *counts, __u32 length, __u64 now, int forwarded) {
    bpf_spin_lock(&counts->lock);
    counts->rtcp_packets += 1;
    counts->rtcp_bytes += length;
    if (forwarded) counts->forwarded += 1;
    else counts->no_destination += 1;
    counts->last_packet_nanos = now;
    bpf_spin_unlock(&counts->lock);
}

static __always_inline void add_totals(__u32 length) {
    __u32 zero = 0;
    struct spw_forward_totals *totals = bpf_map_lookup_elem(&spw_totals, &zero);
    if (!totals) return;
    totals->packets += 1;
    totals->bytes += length;
}

/* Rewrites addresses and ports to `target`, fixing the IP and UDP checksums. */
static __always_inline int rewrite(struct __sk_buff *skb, const struct headers *h, const __u32 *old_source,
                                   const __u32 *old_destination, __u16 old_source_port, __u16 old_destination_port,
                                   const struct spw_forward_target *target) {
    __u32 udp_check = h->l4 + __builtin_offsetof(struct udphdr, check);
    __u64 mangled = BPF_F_MARK_MANGLED_0;
    if (h->family == AF_INET) {
        __u32 ip_check = h->l3 + __builtin_offsetof(struct iphdr, check);
        if (bpf_l4_csum_replace(skb, udp_check, old_source[0], target->source[0], mangled | BPF_F_PSEUDO_HDR | 4) ||
            bpf_l4_csum_replace(skb, udp_check, old_destination[0], target->destination[0],
                                mangled | BPF_F_PSEUDO_HDR | 4) ||
            bpf_l3_csum_replace(skb, ip_check, old_source[0], target->source[0], 4) ||
            bpf_l3_csum_replace(skb, ip_check, old_destination[0], target->destination[0], 4) ||
            bpf_skb_store_bytes(skb, h->l3 + __builtin_offsetof(struct iphdr, saddr), target->source, 4, 0) ||
            bpf_skb_store_bytes(skb, h->l3 + __builtin_offsetof(struct iphdr, daddr), target->destination, 4, 0))
            return -1;
    } else {
        /* IPv6 has no header checksum; UDP's covers the addresses through the pseudo-header. */
        __s64 difference = bpf_csum_diff((__be32 *)old_source, 16, (__be32 *)target->source, 16, 0);
        difference = bpf_csum_diff((__be32 *)old_destination, 16, (__be32 *)target->destination, 16,
                                   (__wsum)difference);
        if (bpf_l4_csum_replace(skb, udp_check, 0, (__u64)difference, BPF_F_PSEUDO_HDR) ||
            bpf_skb_store_bytes(skb, h->l3 + __builtin_offsetof(struct ipv6hdr, saddr), target->source, 16, 0) ||
            bpf_skb_store_bytes(skb, h->l3 + __builtin_offsetof(struct ipv6hdr, daddr), target->destination, 16, 0))
            return -1;
    }
    if (bpf_l4_csum_replace(skb, udp_check, old_source_port, target->source_port, mangled | 2) ||
        bpf_l4_csum_replace(skb, udp_check, old_destination_port, target->destination_port, mangled | 2) ||
        bpf_skb_store_bytes(skb, h->l4 + __builtin_offsetof(struct udphdr, source), &target->source_port, 2, 0) ||
        bpf_skb_store_bytes(skb, h->l4 + __builtin_offsetof(struct udphdr, dest), &target->destination_port, 2, 0))
        return -1;
    return 0;
}

/*
 * Sends the rewritten packet on, as the stack would have sent the node's copy: out of lo when the
 * receiver is on this host, else out of the device the node chose, the neighbour's MAC address
 * filled in by the kernel. Either way it leaves through a device's egress, where packet captures
 * see it. (bpf_fib_lookup cannot choose the device here: it refuses while IP forwarding is off,
 * and a relay is no router.)
 */
static __always_inline int send_on(const struct spw_forward_target *target) {
    if (target->loopback) return bpf_redirect(target->ifindex, 0);
    return bpf_redirect_neigh(target->ifindex, 0, 0, 0);
}

SEC("tc")
int spw_forward(struct __sk_buff *skb) {
    struct headers h = {};
    struct spw_forward_key key = {};
    if (parse(skb, &h, &key)) return TC_ACT_UNSPEC;
    struct spw_forward_entry *entry = bpf_map_lookup_elem(&spw_forwards, &key);
    if (!entry) return TC_ACT_UNSPEC;
    struct spw_forward_counters *counts = bpf_map_lookup_elem(&spw_counts, &key);
    if (!counts) return TC_ACT_UNSPEC;
    /* From anyone but the latched peer: the node decides (a stranger, or the peer moving). */
    if (h.source_port != entry->peer_port || !same_address(h.source, entry->peer)) return TC_ACT_UNSPEC;

    __u8 first[12];
    if (h.length < 8 || bpf_skb_load_bytes(skb, h.payload, first, h.length < 12 ? 8 : 12)) return TC_ACT_UNSPEC;
    if (first[0] >> 6 != 2) return TC_ACT_UNSPEC;
    int is_rtcp = (entry->flags & SPW_FORWARD_RTCP_PORT) ||
                  ((entry->flags & SPW_FORWARD_RTCP_MUX) && first[1] >= 192 && first[1] <= 223);
    __u64 now = bpf_ktime_get_ns();
    const struct spw_forward_target *target;
    if (is_rtcp) {
        if (!(entry->flags & SPW_FORWARD_HAS_RTCP_TARGET)) {
            count_rtcp(counts, h.length, now, 0);
            return TC_ACT_SHOT;
        }
        count_rtcp(counts, h.length, now, 1);
        target = &entry->rtcp;
    } else {
        if (h.length < 12) return TC_ACT_UNSPEC;
        __u16 sequence = ((__u16)first[2] << 8) | first[3];
        __u32 timestamp = ((__u32)first[4] << 24) | ((__u32)first[5] << 16) | ((__u32)first[6] << 8) | first[7];
        __u32 ssrc = ((__u32)first[8] << 24) | ((__u32)first[9] << 16) | ((__u32)first[10] << 8) | first[11];
        if (follow_rtp(entry, ssrc, sequence, timestamp, now)) return TC_ACT_UNSPEC;
        count_rtp(counts, h.length, (first[1] >> 7) && (entry->flags & SPW_FORWARD_VIDEO), now);
        target = &entry->rtp;
    }
    add_totals(h.length);
    __u32 old_destination[4] = {key.address[0], key.address[1], key.address[2], key.address[3]};
    if (rewrite(skb, &h, h.source, old_destination, h.source_port, key.port, target)) return TC_ACT_SHOT;
    return send_on(target);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
