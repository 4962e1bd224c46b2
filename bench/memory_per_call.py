#!/usr/bin/env python3
"""Resident memory per idle call: a node with N calls set up over NG (offer and answer, one audio
m= line each, so two port pairs and four sockets per call), RSS read from /proc before and after.

    swift build -c release
    python3 bench/memory_per_call.py --calls 4500

Each call holds four sockets, so the descriptor limit (ulimit -n) must exceed 4 x calls; the node
raises its soft limit to the hard limit by itself. Kernel socket buffers are not in RSS.
Run by hand; never part of the test suite.
"""
import argparse, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_throughput import ROOT, ng, sdp  # noqa: E402


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4500)
    options = parser.parse_args()
    port = 22500
    node = subprocess.Popen([os.path.join(ROOT, ".build", "release", "spillway"), "serve", "--ng", "127.0.0.1:%d" % port,
                             "--port-range", "20000-%d" % (20000 + options.calls * 4 + 99), "--log-level", "error"])
    try:
        for _ in range(100):
            try:
                ng(port, {"command": "ping"})
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
        before = rss_kib(node.pid)
        for call in range(options.calls):
            call_id = "mem-%d" % call
            offer = ng(port, {"command": "offer", "call-id": call_id, "from-tag": "A", "sdp": sdp(6000)})
            answer = ng(port, {"command": "answer", "call-id": call_id, "from-tag": "A", "to-tag": "B", "sdp": sdp(6002)})
            if b"ok" not in offer[:40] or b"ok" not in answer[:40]:
                raise SystemExit("call %d refused: %r" % (call, offer[:200]))
        time.sleep(1)
        after = rss_kib(node.pid)
        print("calls %d: RSS %d KiB -> %d KiB, %.2f KiB per call" % (
            options.calls, before, after, (after - before) / options.calls))
    finally:
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
