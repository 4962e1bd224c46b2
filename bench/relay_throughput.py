#!/usr/bin/env python3
"""Forwarding throughput and relay CPU per packet: Spillway, rtpengine and a minimal C forwarder (the floor).

Each run pins the relay to CPU 0 and the load generator (bench/blast.c) to CPU 1, blasts RTP-shaped
packets at one stream of one call for a fixed time, and reads the relay's CPU time from /proc.
Runs of the two relays are interleaved and repeated; the table gives median and spread (min-max).

    python3 bench/relay_throughput.py [--runs 5] [--seconds 5] [--json bench/out/throughput.json]

Needs cc and a release build (`swift build -c release`); run by hand, never by the test suite.
"""
import argparse, json, os, random, shutil, socket, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bench", "bin")
TICKS = os.sysconf("SC_CLK_TCK")


def build_tools():
    """blast links libsrtp2 (it can send SRTP); the floor forwarder needs nothing but libc."""
    os.makedirs(BIN, exist_ok=True)
    for tool, libraries in (("blast", ["-lsrtp2"]), ("floor", [])):
        subprocess.run(["cc", "-O2", "-pthread", "-o", os.path.join(BIN, tool), os.path.join(ROOT, "bench", tool + ".c")]
                       + libraries, check=True)


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


def sdp(port, crypto=None):
    """A PCMU SDP on loopback; `crypto` (an a=crypto value) makes it RTP/SAVP."""
    text = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d %s 0\r\na=rtpmap:0 PCMU/8000\r\n" % (port, "RTP/SAVP" if crypto else "RTP/AVP"))
    return text + ("a=crypto:%s\r\n" % crypto if crypto else "")


def measured_blast(relay_pid, send_port, recv_port, relay_ports, seconds, srtp_key=None, rate=0):
    """A blast with the relay's CPU time from /proc and, where `perf` works, its userspace instructions."""
    perf = None
    if shutil.which("perf"):
        perf = subprocess.Popen(["perf", "stat", "-x,", "-e", "instructions:u", "-p", str(relay_pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    before = cpu_seconds(relay_pid)
    result = blast(send_port, recv_port, relay_ports, seconds, srtp_key, rate)
    result["cpu"] = cpu_seconds(relay_pid) - before
    if perf:
        perf.send_signal(2)
        counts = [line.split(",")[0] for line in perf.communicate()[1].splitlines() if "instructions" in line]
        if counts and counts[0].isdigit():
            result["instructions"] = int(counts[0])
    return result


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def blast(send_port, recv_port, relay_ports, seconds, srtp_key=None, rate=0):
    """Sends round-robin over `relay_ports` (one per call) from CPU 1, as SRTP when `srtp_key` (hex) is
    given, paced at `rate` packets/s when not 0; returns sent/received counts."""
    ports = ",".join(str(p) for p in relay_ports) if isinstance(relay_ports, list) else str(relay_ports)
    extra = ["160", srtp_key or "-", str(rate)]
    out = subprocess.run(["taskset", "-c", "1", os.path.join(BIN, "blast"), str(send_port), str(recv_port),
                          "127.0.0.1", ports, str(seconds)] + extra, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def spillway_command(binary, ng_port, ports=(43000, 43299)):
    return [binary, "serve", "--ng", "127.0.0.1:%d" % ng_port, "--port-range", "%d-%d" % ports, "--workers", "1",
            "--log-level", "error"]


def rtpengine_command(ng_port, ports=(43600, 43899)):
    """rtpengine from Debian's rtpengine-daemon, userspace only (no kernel forwarding table), one thread."""
    return ["rtpengine", "--foreground", "--table=-1", "--interface=127.0.0.1", "--listen-ng=127.0.0.1:%d" % ng_port,
            "--port-min=%d" % ports[0], "--port-max=%d" % ports[1], "--num-threads=1", "--delete-delay=0", "--log-stderr",
            "--log-level=3"]


def start_ng_relay(command, ng_port):
    """Starts a relay that speaks NG on CPU 0 and waits until it answers ping (5 s at most)."""
    relay = subprocess.Popen(["taskset", "-c", "0"] + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            ng(ng_port, {"command": "ping"})
            break
        except OSError:
            time.sleep(0.1)
    return relay


def run_ng_relay(command, ng_port, seconds, streams, index, caller_crypto=None, callee_crypto=None, offer_keys=None,
                 srtp_key=None, rate=0):
    """Runs one relay that speaks NG: `streams` calls set up with offer/answer, then one blast over them.
    `caller_crypto`/`callee_crypto` make that party's SDP RTP/SAVP with the a=crypto value given (for the
    callee, a function of the relay's offer reply, so it can accept one of the relay's tags),
    `offer_keys` go into each offer (e.g. transport-protocol), `srtp_key` (hex) makes the blast SRTP, and
    `rate` paces it (packets/s; 0 floods)."""
    relay = start_ng_relay(command, ng_port)
    try:
        caller, callee = 44000, 44002
        ports = []
        for stream in range(streams):
            call = "bench-%d-%d" % (index, stream)
            offer = {"command": "offer", "call-id": call, "from-tag": "a", "sdp": sdp(caller, caller_crypto)}
            offer.update(offer_keys or {})
            offered = ng(ng_port, offer)
            answer = ng(ng_port, {"command": "answer", "call-id": call, "from-tag": "a", "to-tag": "b",
                                  "sdp": sdp(callee, callee_crypto(offered) if callee_crypto else None)})
            ports.append(relay_port(answer))
        return measured_blast(relay.pid, caller, callee, ports, seconds, srtp_key, rate)
    finally:
        relay.terminate()
        relay.wait()


def run_floor(seconds, streams, index):
    relay = subprocess.Popen(["taskset", "-c", "0", os.path.join(BIN, "floor"), "45200", str(streams), "45198",
                              "127.0.0.1", "44102"])
    try:
        time.sleep(0.3)
        return measured_blast(relay.pid, 44100, 44102, [45200 + 2 * i for i in range(streams)], seconds)
    finally:
        relay.terminate()
        relay.wait()


def summarize(results):
    pps = [r["received"] / r["seconds"] for r in results]
    us = [r["cpu"] * 1e6 / max(r["received"], 1) for r in results]
    summary = {"pps": pps, "us_per_packet": us,
               "pps_median": statistics.median(pps), "us_median": statistics.median(us)}
    if all("instructions" in r for r in results):
        summary["instructions_per_packet"] = [r["instructions"] / max(r["received"], 1) for r in results]
        summary["instructions_median"] = statistics.median(summary["instructions_per_packet"])
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--streams", type=int, default=32, help="calls the load is spread over")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    parser.add_argument("--json")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit("no release build at %s: run `swift build -c release` first" % args.binary)
    build_tools()
    runs = {"spillway": [], "rtpengine": [], "floor": []}
    with_rtpengine = shutil.which("rtpengine") is not None
    if not with_rtpengine:
        print("rtpengine not installed (apt-get install rtpengine-daemon): comparing with the floor only")
        del runs["rtpengine"]
    for index in range(args.runs):
        runs["spillway"].append(run_ng_relay(
            spillway_command(args.binary, 42300 + index), 42300 + index, args.seconds, args.streams, index))
        if with_rtpengine:
            runs["rtpengine"].append(run_ng_relay(
                rtpengine_command(42350 + index), 42350 + index, args.seconds, args.streams, index))
        runs["floor"].append(run_floor(args.seconds, args.streams, index))
    table = {name: summarize(results) for name, results in runs.items()}
    print("%-10s %22s %26s %28s" % ("relay", "forwarded pkt/s", "relay CPU us/packet", "user instructions/packet"))
    for name, s in table.items():
        instructions = "%10.0f (%6.0f-%6.0f)" % (s["instructions_median"], min(s["instructions_per_packet"]),
                                                max(s["instructions_per_packet"])) if "instructions_median" in s else "-"
        print("%-10s %10.0f (%6.0f-%6.0f) %10.2f (%5.2f-%5.2f) %28s" % (
            name, s["pps_median"], min(s["pps"]), max(s["pps"]), s["us_median"], min(s["us_per_packet"]),
            max(s["us_per_packet"]), instructions))
    ratios = {"cpu_ratio_vs_" + name: table["spillway"]["us_median"] / table[name]["us_median"]
              for name in table if name != "spillway"}
    for key, value in ratios.items():
        print("spillway CPU per packet / %s: %.2f" % (key[len("cpu_ratio_vs_"):], value))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        json.dump(dict(runs=runs, summary=table, **ratios), open(args.json, "w"), indent=2)


if __name__ == "__main__":
    main()
