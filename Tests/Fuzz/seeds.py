#!/usr/bin/env python3
"""Writes a fuzz target's seed inputs: small, valid examples of what the parser reads in service,
most cut from the bundled captures. Usage: seeds.py TARGET DIRECTORY"""
import pathlib
import struct
import sys

CAPTURES = pathlib.Path(__file__).resolve().parents[2] / "captures"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
from relays import bencode  # noqa: E402  (the benchmarks' NG encoder: the call store writes the same bencode)


def pcap_records(path, count):
    """The first `count` records of a classic pcap file, as (header, frame) pairs, and its file header."""
    data = path.read_bytes()
    header, offset, records = data[:24], 24, []
    while offset + 16 <= len(data) and len(records) < count:
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        records.append((data[offset:offset + 16], data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    return header, records


def udp_payloads(path, count):
    """UDP payloads of the first frames of a capture (Ethernet or raw IPv4 with no IP options)."""
    header, records = pcap_records(path, count)
    link = struct.unpack_from("<I", header, 20)[0]
    skip = {1: 14, 101: 0, 113: 16}.get(link, 0)
    return [frame[skip + 28:] for _, frame in records]


def pcapng_blocks(path, count, keep=lambda block: True):
    """The first `count` blocks of a pcapng file that `keep` accepts, concatenated."""
    data, offset, blocks = path.read_bytes(), 0, []
    while offset + 12 <= len(data) and len(blocks) < count:
        length = struct.unpack_from("<I", data, offset + 4)[0]
        if keep(data[offset:offset + length]):
            blocks.append(data[offset:offset + length])
        offset += length
    return b"".join(blocks)


def not_udp(block):
    """Whether a pcapng block is anything but an enhanced packet block holding an Ethernet/IPv4 UDP frame."""
    kind = struct.unpack_from("<I", block, 0)[0]
    return kind != 6 or block[28 + 14 + 9] != 17


SDP_AUDIO = (
    "v=0\r\no=- 1545997027 1 IN IP4 198.51.100.1\r\ns=tester\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
    "m=audio 2000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=rtcp:2001 IN IP4 198.51.100.1\r\na=sendrecv\r\n"
)
SDP_SRTP_VIDEO = (
    "v=0\r\no=- 2 2 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=audio 3000/2 RTP/SAVP 111\r\nc=IN IP6 ::1\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1; maxaveragebitrate=24000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=rtcp-mux\r\n"
)


def call_record():
    """A call record with an SDES-SRTP transcoded side and a plain one (CallStore's CallRecord)."""
    owner = {"v": 1, "node": {"id": "n2", "ng": "127.0.0.12:2223", "cluster": "127.0.0.12:2224",
                              "media-ip": "127.0.0.12"}, "rev": 1, "at": 1700000000000000000}
    side = {"type": "audio", "proto": "RTP/AVP", "if": "default", "ip": "127.0.0.12", "adv-ip": "127.0.0.12",
            "port": 30000, "mux": 0, "latch": "symmetric", "clock": 8000, "ssrc": 7, "seq": 70000,
            "adv-rtp": "127.0.0.1:40000", "peer-rtp": "127.0.0.1:40000", "srtp": "plain"}
    secure = dict(side, proto="RTP/SAVP", port=30002, srtp="sdes", offered=[],
                  **{"relay-key": "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
                     "party-key": "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"},
                  transcoding={"in": [[0, "PCMU"]], "out": "opus", "pt": 96, "opus": [24000, 0, 0, 5],
                               "ssrc": 9, "seq": 1000, "ts": 48000, "at": 1700000000000000000})
    return bencode({"v": 1, "call": "c1", "owner": owner, "created": 1700000000000000000, "rec": 0,
                    "parties": [{"tag": "A", "streams": [secure]}, {"streams": [side]}]})


def seeds(target):
    if target == "bencode":
        return {
            "ping": b"d7:command4:pinge",
            "offer": b"d7:command5:offer7:call-id3:abc8:from-tag2:t13:sdp%d:%se" % (len(SDP_AUDIO), SDP_AUDIO.encode()),
            "list": b"d7:command4:list5:limiti-32ee",
            "nested": b"d1:ald1:xi0eee1:b0:e",
        }
    if target == "resp":
        owner = (b"d2:ati1700000000000000000e4:noded7:cluster15:127.0.0.12:22242:id2:n28:media-ip10:127.0.0.12"
                 b"2:ng15:127.0.0.12:2223e3:revi1e1:vi1ee")
        return {
            "ok": b"+OK\r\n", "error": b"-ERR unknown command\r\n", "integer": b":42\r\n",
            "bulk": b"$5\r\nhello\r\n", "null": b"$-1\r\n",
            "array": b"*3\r\n$3\r\nfoo\r\n:1\r\n*1\r\n$-1\r\n", "owner-record": owner,
            "call-record": call_record(),
        }
    if target == "sdp":
        return {"audio": SDP_AUDIO.encode(), "srtp-video": SDP_SRTP_VIDEO.encode()}
    if target == "rtp":
        found = {f"g711-{i}": p for i, p in enumerate(udp_payloads(CAPTURES / "g711-tone.pcap", 3))}
        found.update({f"srtp-{i}": p for i, p in enumerate(udp_payloads(CAPTURES / "srtp-pcmu.pcap", 2))})
        # A compound RTCP: sender report (no blocks) and SDES with one CNAME.
        found["rtcp"] = bytes.fromhex("80c8000600000001" + "00" * 20 + "81ca000300000001010474657374")
        return found
    if target == "ras":
        # An LRQ carrying extension additions Spillway does not model (built with pycrate).
        return {"lrq": bytes.fromhex(
            "4a001233010300888456707f00000106b72180df0b01400300670077002d00310180040100001101041100000102030405"
            "060708090a0b0c0d0e0f03400280180180150012683332333a6777406578616d706c652e6e65740180040108656e"),
                # An LRQ carrying Spillway's visited nodes (n2) in its genericData, as the suite sends one.
                "lrq-visited": bytes.fromhex(
            "4a00004f0103007c6345607f000001a23e2180d2150140080067006b002d0063006c00690065006e007401001c01508d7ea1a7"
            "f7c94326aaf3d7f58043e45200004000010003026e3201091100c35ccf83fcc08a2abebebccf0d4081110100")}
    if target == "q931":
        # A Setup with a fastStart offer, then a Facility tunnelling an OpenLogicalChannelAck, as the suite's
        # pycrate endpoint encodes them (Tests/H323Tests/CallSignallingTests.swift), each in a TPKT frame.
        setup = bytes.fromhex(
            "2098060008914a00040200010300888456707f00001606b800000102030405060708090a0b0c0d0e0f00dd1d80000007007f00001506b8"
            "1100101112131415161718191a1b1c1d1e1f3202120000640c6013800a040001007f00001513891d400000060401004c6013801114"
            "0001007f0000151388007f0000151389010001000100010010800180")
        facility = bytes.fromhex("2810010010c0018019011722c000640680101c00007f0000161770007f0000161771")

        # What a Spillway node adds to a Setup it forwards: shift to codeset 7, then element 0x53 with
        # version 1, hops left 3, the destination "127.0.0.32:1720" and the visited nodes n1, n2.
        destination = b"127.0.0.32:1720"
        # Version 2: fields, then the making time (8 octets) and a 16-octet tag.
        spillway = (bytes([2, 3, len(destination)]) + destination + b"\x02n1\x02n2"
                    + (1_700_000_000_000_000_000).to_bytes(8, "big") + bytes(range(16)))
        spillway_element = bytes([0x9F, 0x53, len(spillway)]) + spillway

        def framed(message_type, user_information, extra=b""):
            q931 = bytes([0x08, 2, 0x12, 0x34, message_type, 0x7E, (len(user_information) + 1) >> 8,
                          (len(user_information) + 1) & 0xFF, 0x05]) + user_information + extra
            return bytes([3, 0, (len(q931) + 4) >> 8, (len(q931) + 4) & 0xFF]) + q931
        return {"setup": framed(0x05, setup), "facility": framed(0x62, facility),
                "both": framed(0x05, setup) + framed(0x62, facility),
                "forwarded-setup": framed(0x05, setup, spillway_element)}
    if target == "h245":
        # An OpenLogicalChannel (reverse, G.711 mu-law, RTP and RTCP) and an OpenLogicalChannelAck, from pycrate.
        return {"olc": bytes.fromhex("03400000060401004c60138011140001007f0000151388007f0000151389"),
                "ack": bytes.fromhex("22c000640680101c00007f0000161770007f0000161771")}
    if target == "pcap":
        header, records = pcap_records(CAPTURES / "g711-tone.pcap", 6)
        return {
            "g711.pcap": header + b"".join(h + f for h, f in records),
            "sip.pcapng": pcapng_blocks(CAPTURES / "sip-call.pcapng", 8),
            # H.323 call signalling on TCP: the fastStart call's opening with its first media, and
            # every TCP segment of the capture (both calls' H.225.0 and the separate H.245).
            "h323-faststart.pcapng": pcapng_blocks(CAPTURES / "h323-calls.pcapng", 16),
            "h323-signalling.pcapng": pcapng_blocks(CAPTURES / "h323-calls.pcapng", 1000, keep=not_udp),
        }
    raise SystemExit(f"seeds.py: unknown target {target!r}")


if __name__ == "__main__":
    directory = pathlib.Path(sys.argv[2])
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds(sys.argv[1]).items():
        (directory / name).write_bytes(data)
