#!/usr/bin/env python3
"""Heap allocations per forwarded packet on the media worker threads (target: zero).

Starts `spillway serve` with bench/malloc_count.c preloaded, sets up a call, forwards a warm-up burst,
reads the media threads' allocation count, forwards a measured burst, reads it again. With --srtp the
caller sends AES_CM_128_HMAC_SHA1_80 SRTP that the relay decrypts (libsrtp2 allocates a stream per new
SSRC, during the warm-up).

    python3 bench/allocations.py [--seconds 3] [--srtp]
"""
import argparse, base64, os, re, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relays import BIN, ROOT, blast, build_tools, ng, relay_port, sdp  # noqa: E402


def read_count(relay, log_path):
    relay.send_signal(signal.SIGUSR1)
    time.sleep(0.3)
    counts = re.findall(r"media-thread-allocations (\d+)", open(log_path).read())
    return int(counts[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--srtp", action="store_true", help="the caller sends SRTP, the relay decrypts it")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    args = parser.parse_args()
    build_tools()
    shim = os.path.join(BIN, "malloc_count.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", shim, os.path.join(ROOT, "bench", "malloc_count.c")], check=True)
    log_path = os.path.join(BIN, "allocations.log")
    with open(log_path, "w") as log:
        relay = subprocess.Popen(["taskset", "-c", "0", args.binary, "serve", "--ng", "127.0.0.1:42400",
                                  "--port-range", "43400-43499", "--log-level", "error", "--kernel-forwarding", "off"],
                                 env=dict(os.environ, LD_PRELOAD=shim), stderr=log)
    try:
        time.sleep(1)
        key = os.urandom(30)
        crypto = "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(key).decode() if args.srtp else None
        offer = {"command": "offer", "call-id": "alloc", "from-tag": "a", "sdp": sdp(44400, crypto)}
        if args.srtp:
            offer["transport-protocol"] = "RTP/AVP"
        ng(42400, offer)
        answer = ng(42400, {"command": "answer", "call-id": "alloc", "from-tag": "a", "to-tag": "b", "sdp": sdp(44402)})
        port = relay_port(answer)
        srtp_key = key.hex() if args.srtp else None
        blast(44400, 44402, port, 0.5, srtp_key)
        before = read_count(relay, log_path)
        result = blast(44400, 44402, port, args.seconds, srtp_key)
        after = read_count(relay, log_path)
    finally:
        relay.terminate()
        relay.wait()
    packets = result["received"]
    print("media-thread allocations during start-up and call set-up: %d (shows the counter works)" % before)
    print("forwarded %d packets; media-thread allocations during them: %d (%.6f per packet)"
          % (packets, after - before, (after - before) / max(packets, 1)))


if __name__ == "__main__":
    main()
