#!/usr/bin/env python3
"""Transcoded calls per core: PCMU <-> Opus, Spillway against rtpengine with the same NG codec flags.

Every call is a PCMU caller (with telephone-event) offered with `codec: {transcode: [opus]}` and an
Opus-only callee that answers opus/48000/2, so the relay decodes PCMU, resamples, encodes Opus one way,
and decodes Opus, resamples, encodes PCMU the other. The load (bench/TranscodingLoad, on CPU 1) talks
both ways in every call at once, 50 packets/s each way, with voice-band audio. The relay (CPU 0, one
media thread) is measured by its CPU time from /proc over the run:

    CPU per call = relay CPU seconds / (calls x seconds)      calls per core = 1 / CPU per call

A run counts only when at least 99% of the packets came out transcoded on both sides (Opus at the
callee, PCMU at the caller). Relays are interleaved and repeated; median and spread.

    python3 bench/transcoding.py [--runs 5] [--seconds 10] [--calls 40] [--spillway-flags "--opus-complexity 10"]
                                 [--json bench/out/transcoding.json]

Needs rtpengine-daemon (built with transcoding, as Debian's is) and a release build
(`swift build -c release`).
"""
import argparse, json, os, statistics, subprocess, sys

from relays import ROOT, cpu_seconds, ng, relay_port, rtpengine_command, spillway_command, start_ng_relay

CALLER, CALLEE = 44000, 44002


def caller_sdp():
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-15\r\na=ptime:20\r\n" % CALLER)


def callee_sdp():
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 minptime=10;useinbandfec=1\r\n"
            "a=ptime:20\r\n" % CALLEE)


def run(command, ng_port, calls, seconds, index, load):
    relay = start_ng_relay(command, ng_port)
    try:
        pairs = []
        for call in range(calls):
            call_id = "transcode-%d-%d" % (index, call)
            offer = ng(ng_port, {"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": caller_sdp(),
                                 "codec": {"transcode": ["opus"]}})
            if b"opus/48000" not in offer:
                sys.exit("the relay did not offer Opus: %r" % offer[:400])
            answer = ng(ng_port, {"command": "answer", "call-id": call_id, "from-tag": "a", "to-tag": "b",
                                  "sdp": callee_sdp()})
            pairs.append("%d:%d" % (relay_port(answer), relay_port(offer)))
        before = cpu_seconds(relay.pid)
        out = subprocess.run(["taskset", "-c", "1", load, str(CALLER), str(CALLEE), ",".join(pairs), str(seconds)],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        result["cpu"] = cpu_seconds(relay.pid) - before
        return result
    finally:
        relay.terminate()
        relay.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--spillway-flags", default="", help="extra `spillway serve` flags, e.g. --opus-complexity 10")
    parser.add_argument("--json")
    args = parser.parse_args()
    binary = os.path.join(ROOT, ".build", "release", "spillway")
    load = os.path.join(ROOT, ".build", "release", "transcoding-load")
    for path in (binary, load):
        if not os.access(path, os.X_OK):
            sys.exit("%s is missing: run `swift build -c release` first" % path)
    relays = {"spillway": (spillway_command(binary, 2300, ports=(46000, 46999)) + args.spillway_flags.split(), 2300),
              "rtpengine": (rtpengine_command(2301, ports=(47000, 47999)), 2301)}
    results = {name: [] for name in relays}
    for index in range(args.runs):
        for name, (command, port) in relays.items():
            result = run(command, port, args.calls, args.seconds, index, load)
            delivered = min(result["opus_at_callee"], result["pcmu_at_caller"]) / max(result["sent_per_direction"], 1)
            result["delivered"] = delivered
            result["us_per_call_second"] = result["cpu"] * 1e6 / (args.calls * args.seconds)
            results[name].append(result)
            print("%-9s run %d: %6.0f us CPU per call-second, %5.1f%% delivered" %
                  (name, index + 1, result["us_per_call_second"], 100 * delivered), flush=True)
    print("\n%d calls, both directions transcoded, %d runs of %gs:" % (args.calls, args.runs, args.seconds))
    print("| relay | CPU per call (us/s) | calls per core | delivered |")
    print("|---|---|---|---|")
    medians = {}
    for name, runs in results.items():
        usage = [r["us_per_call_second"] for r in runs]
        medians[name] = statistics.median(usage)
        print("| %s | %.0f (%.0f-%.0f) | %.0f | %.2f%% min |" % (
            name, medians[name], min(usage), max(usage), 1e6 / medians[name], 100 * min(r["delivered"] for r in runs)))
    ratio = medians["rtpengine"] / medians["spillway"]
    print("\ncalls per core, Spillway / rtpengine: %.2f" % ratio)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as output:
            json.dump({"calls": args.calls, "seconds": args.seconds, "results": results, "ratio": ratio}, output, indent=1)


if __name__ == "__main__":
    main()
