#!/usr/bin/env python3
"""One party of a relayed call, for tests that run parties in network namespaces.

Binds BIND, waits --start-delay seconds (so the other party is bound too), sends --count PCMU
packets of SSRC --ssrc to RELAY from sequence number --first on, one per millisecond, while taking
what the relay sends, then prints one JSON line: how many packets arrived, whether they are the
other party's packets (SSRC --peer-ssrc, the same sequence numbers) in order and intact, and the
addresses they came from."""
import argparse
import json
import socket
import time


def packet(ssrc, sequence):
    header = bytes([0x80, 0, (sequence >> 8) & 0xFF, sequence & 0xFF])
    return header + (sequence * 160).to_bytes(4, "big") + ssrc.to_bytes(4, "big") + bytes([sequence & 0xFF]) * 160


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", type=address, required=True)
    parser.add_argument("--relay", type=address, required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--ssrc", type=int, required=True)
    parser.add_argument("--peer-ssrc", type=int, required=True)
    parser.add_argument("--start-delay", type=float, default=0.5)
    options = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    sock.bind(options.bind)
    sock.setblocking(False)
    received = []

    def take():
        while True:
            try:
                received.append(sock.recvfrom(2048))
            except BlockingIOError:
                return

    time.sleep(options.start_delay)
    sequences = range(options.first, options.first + options.count)
    for sequence in sequences:
        sock.sendto(packet(options.ssrc, sequence), options.relay)
        time.sleep(0.001)
        take()
    sock.settimeout(0.5)
    while True:
        try:
            received.append(sock.recvfrom(2048))
        except socket.timeout:
            break
    expected = [packet(options.peer_ssrc, sequence) for sequence in sequences]
    print(json.dumps({
        "received": len(received),
        "intact": [data for data, _ in received] == expected,
        "sources": sorted({"%s:%d" % source for _, source in received}),
    }))


if __name__ == "__main__":
    main()
