#!/usr/bin/env python3
"""Forwarding throughput and relay CPU per packet: Spillway against a minimal C forwarder (the floor).

Each run pins the relay to CPU 0 and the load generator (bench/blast.c) to CPU 1, blasts RTP-shaped
packets at one stream of one call for a fixed time, and reads the relay's CPU time from /proc.
Runs of the two relays are interleaved and repeated; the table gives median and spread (min-max).

    python3 bench/relay_throughput.py [--runs 5] [--seconds 5] [--json bench/out/throughput.json]

Needs cc and a release build (`swift build -c release`); run by hand, never by the test suite.
"""
import argparse, json, os, random, socket, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bench", "bin")
TICKS = os.sysconf("SC_CLK_TCK")


def build_tools():
    os.makedirs(BIN, exist_ok=True)
    for tool in ("blast", "floor"):
        subprocess.run(["cc", "-O2", "-pthread", "-o", os.path.join(BIN, tool), os.path.join(ROOT, "bench", tool + ".c")], check=True)


def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(value[k]) for k in sorted(value)) + b"e"


def ng(port, body):
    """One NG request; returns the reply's raw bencode (parsed just enough for what we need)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        cookie = b"%08x" % random.getrandbits(32)
        sock.sendto(cookie + b" " + bencode(body), ("127.0.0.1", port))
        data, _ = sock.recvfrom(65536)
        return data[len(cookie) + 1:]


def relay_port(reply):
    sdp = reply.split(b"3:sdp", 1)[1]
    sdp = sdp.split(b":", 1)[1].decode(errors="replace")
    return int([l for l in sdp.splitlines() if l.startswith("m=")][0].split()[1])


def sdp(port):
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % port)


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def blast(send_port, recv_port, relay_port, seconds):
    out = subprocess.run(["taskset", "-c", "1", os.path.join(BIN, "blast"), str(send_port), str(recv_port),
                          "127.0.0.1", str(relay_port), str(seconds)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_spillway(binary, seconds, index):
    ng_port = 42300 + index
    relay = subprocess.Popen(["taskset", "-c", "0", binary, "serve", "--ng", "127.0.0.1:%d" % ng_port,
                              "--port-range", "43000-43099", "--workers", "1", "--log-level", "error"])
    try:
        for _ in range(50):
            try:
                ng(ng_port, {"command": "ping"})
                break
            except OSError:
                time.sleep(0.1)
        caller, callee = 44000, 44002
        call = "bench-%d" % index
        ng(ng_port, {"command": "offer", "call-id": call, "from-tag": "a", "sdp": sdp(caller)})
        answer = ng(ng_port, {"command": "answer", "call-id": call, "from-tag": "a", "to-tag": "b", "sdp": sdp(callee)})
        before = cpu_seconds(relay.pid)
        result = blast(caller, callee, relay_port(answer), seconds)
        result["cpu"] = cpu_seconds(relay.pid) - before
        return result
    finally:
        relay.terminate()
        relay.wait()


def run_floor(seconds, index):
    relay = subprocess.Popen(["taskset", "-c", "0", os.path.join(BIN, "floor"), "43200", "43202", "127.0.0.1", "44102"])
    try:
        time.sleep(0.3)
        before = cpu_seconds(relay.pid)
        result = blast(44100, 44102, 43200, seconds)
        result["cpu"] = cpu_seconds(relay.pid) - before
        return result
    finally:
        relay.terminate()
        relay.wait()


def summarize(results):
    pps = [r["received"] / r["seconds"] for r in results]
    us = [r["cpu"] * 1e6 / max(r["received"], 1) for r in results]
    return {"pps": pps, "us_per_packet": us,
            "pps_median": statistics.median(pps), "us_median": statistics.median(us)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    parser.add_argument("--json")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit("no release build at %s: run `swift build -c release` first" % args.binary)
    build_tools()
    runs = {"spillway": [], "floor": []}
    for index in range(args.runs):
        runs["spillway"].append(run_spillway(args.binary, args.seconds, index))
        runs["floor"].append(run_floor(args.seconds, index))
    table = {name: summarize(results) for name, results in runs.items()}
    print("%-10s %22s %26s" % ("relay", "forwarded pkt/s", "relay CPU us/packet"))
    for name, s in table.items():
        print("%-10s %10.0f (%6.0f-%6.0f) %10.2f (%5.2f-%5.2f)" % (
            name, s["pps_median"], min(s["pps"]), max(s["pps"]), s["us_median"], min(s["us_per_packet"]), max(s["us_per_packet"])))
    ratio = table["spillway"]["us_median"] / table["floor"]["us_median"]
    print("spillway / floor CPU per packet: %.2f" % ratio)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        json.dump({"runs": runs, "summary": table, "cpu_ratio_vs_floor": ratio}, open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
