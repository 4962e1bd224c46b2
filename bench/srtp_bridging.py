#!/usr/bin/env python3
"""SRTP<->RTP bridging: relay CPU per forwarded packet, Spillway against rtpengine with the same NG flags.

The load is paced (default 50,000 packets/s over 32 calls), below both relays' saturation: an unpaced
flood trips rtpengine's receive-queue guard, which then discards most packets and would make its CPU
per forwarded packet meaningless. Three directions, each with the same calls on both relays (relay on
CPU 0, blast.c on CPU 1, runs interleaved and repeated, median and spread):
  rtp          plain RTP both sides: the baseline the SRTP cost is added to;
  srtp-to-rtp  the caller offers RTP/SAVP with an AES_CM_128_HMAC_SHA1_80 a=crypto and
               transport-protocol RTP/AVP; blast sends SRTP, so the relay authenticates and decrypts;
  rtp-to-srtp  the caller offers RTP/AVP with transport-protocol RTP/SAVP and SDES only-AES_CM_128_HMAC_SHA1_80;
               the callee answers with its own key; the relay encrypts and signs every packet.

    python3 bench/srtp_bridging.py [--runs 5] [--seconds 4] [--streams 32] [--rate 50000] [--json bench/out/srtp.json]

Needs cc, libsrtp2-dev, rtpengine-daemon and a release build (`swift build -c release`).
"""
import argparse, base64, json, os, shutil, statistics, sys

from relays import ROOT, build_tools, rtpengine_command, run_ng_relay, spillway_command, summarize

SUITE = "AES_CM_128_HMAC_SHA1_80"


def crypto(material, tag=1):
    return "%d %s inline:%s" % (tag, SUITE, base64.b64encode(material).decode())


def accepting(material):
    """The callee's a=crypto: its own key, under the tag the relay's offer gave SUITE (rtpengine 10.5
    ignores SDES-only- and offers all its suites, AEAD first)."""
    def answer(offer_reply):
        for line in offer_reply.decode(errors="replace").splitlines():
            if line.startswith("a=crypto:") and line.split()[1] == SUITE:
                return crypto(material, int(line.split()[0].split(":")[1]))
        sys.exit("the relay offered no %s: %s" % (SUITE, offer_reply[:400]))
    return answer


def directions():
    caller_key, callee_key = os.urandom(30), os.urandom(30)
    return {
        "rtp": {},
        "srtp-to-rtp": {"caller_crypto": crypto(caller_key), "offer_keys": {"transport-protocol": "RTP/AVP"},
                        "srtp_key": caller_key.hex()},
        "rtp-to-srtp": {"callee_crypto": accepting(callee_key),
                        "offer_keys": {"transport-protocol": "RTP/SAVP", "flags": ["SDES-only-" + SUITE]}},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--streams", type=int, default=32, help="calls the load is spread over")
    parser.add_argument("--rate", type=int, default=50000, help="packets/s, paced")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    parser.add_argument("--json")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit("no release build at %s: run `swift build -c release` first" % args.binary)
    if shutil.which("rtpengine") is None:
        sys.exit("rtpengine is not installed: apt-get install rtpengine-daemon")
    build_tools()
    relays = {"spillway": lambda port: spillway_command(args.binary, port),
              "rtpengine": lambda port: rtpengine_command(port)}
    names = list(directions())
    runs = {(relay, direction): [] for relay in relays for direction in names}
    for index in range(args.runs):
        # Fresh keys for every run; each relay and direction gets its own NG port.
        for position, (direction, call) in enumerate(directions().items()):
            for offset, (relay, command) in enumerate(relays.items()):
                port = 42400 + index * 8 + offset * 4 + position
                result = run_ng_relay(command(port), port, args.seconds, args.streams, index, rate=args.rate, **call)
                if result["received"] < result["sent"] * 0.99:
                    print("warning: %s %s forwarded %d of %d packets (set-up failed, or the rate is above saturation)" % (
                        relay, direction, result["received"], result["sent"]))
                runs[(relay, direction)].append(result)
    table = {key: summarize(results) for key, results in runs.items()}
    print("%-10s %-12s %22s %24s" % ("relay", "direction", "forwarded pkt/s", "relay CPU us/packet"))
    for (relay, direction), s in table.items():
        print("%-10s %-12s %10.0f (%6.0f-%6.0f) %10.2f (%5.2f-%5.2f)" % (
            relay, direction, s["pps_median"], min(s["pps"]), max(s["pps"]), s["us_median"], min(s["us_per_packet"]),
            max(s["us_per_packet"])))
    ratios = {direction: table[("spillway", direction)]["us_median"] / table[("rtpengine", direction)]["us_median"]
              for direction in names}
    for direction, ratio in ratios.items():
        print("spillway / rtpengine CPU per packet, %s: %.2f" % (direction, ratio))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        json.dump({"runs": {"%s %s" % key: value for key, value in runs.items()},
                   "summary": {"%s %s" % key: value for key, value in table.items()},
                   "cpu_ratio_spillway_vs_rtpengine": ratios}, open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
