#!/usr/bin/env python3
"""What the relay benchmarks share: building the C tools, starting the relays pinned to CPU 0 (Spillway,
rtpengine userspace-only with one thread), talking NG to them, reading their CPU time, and `blast`,
the flood/paced single-socket sender the SRTP and allocation benchmarks use.

Not a benchmark itself: see performance.py, srtp_bridging.py, transcoding.py and allocations.py.
"""
import json, os, random, resource, shutil, socket, statistics, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bench", "bin")
TICKS = os.sysconf("SC_CLK_TCK")


def build_tools():
    """blast links libsrtp2 (it can send SRTP); the call generator and the floor forwarders need nothing but libc."""
    os.makedirs(BIN, exist_ok=True)
    for tool, libraries in (("blast", ["-lsrtp2"]), ("callgen", []), ("floor", []), ("floor_uring", [])):
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


def ng(port, body, timeout=2, attempts=3):
    """One NG request; returns the reply's raw bencode (parsed just enough for what we need). Sent again
    with the same cookie after each `timeout` without a reply, as SIP proxies do: the relay's reply
    cache answers a retransmission without running the command twice."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        cookie = b"%08x" % random.getrandbits(32)
        request = cookie + b" " + bencode(body)
        for attempt in range(attempts):
            sock.sendto(request, ("127.0.0.1", port))
            try:
                while True:
                    data, _ = sock.recvfrom(65536)
                    if data.startswith(cookie + b" "):
                        return data[len(cookie) + 1:]
            except TimeoutError:
                if attempt == attempts - 1:
                    raise


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


def spillway_command(binary, ng_port, ports=(43000, 43299), kernel_forwarding="off"):
    """A one-worker node; userspace only unless `kernel_forwarding` says otherwise (None: the flag is
    left out, for builds older than the kernel fast path)."""
    command = [binary, "serve", "--ng", "127.0.0.1:%d" % ng_port, "--port-range", "%d-%d" % ports, "--workers", "1",
               "--media-timeout", "3600", "--drain-grace", "0", "--log-level", "error"]
    return command + (["--kernel-forwarding", kernel_forwarding] if kernel_forwarding else [])


def rtpengine_command(ng_port, ports=(43600, 43899)):
    """rtpengine from Debian's rtpengine-daemon, userspace only (no kernel forwarding table), one thread."""
    return ["rtpengine", "--foreground", "--table=-1", "--interface=127.0.0.1", "--listen-ng=127.0.0.1:%d" % ng_port,
            "--port-min=%d" % ports[0], "--port-max=%d" % ports[1], "--num-threads=1", "--delete-delay=0", "--log-stderr",
            "--log-level=3", "--timeout=3600"]


def raise_descriptor_limit():
    """Lets a child open thousands of sockets (four per call, six once both peers send): 65536 where allowed (root), else the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, 65536), max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_pinned(command):
    """Starts a relay (or the floor) on CPU 0 with the descriptor limit raised."""
    return subprocess.Popen(["taskset", "-c", "0"] + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=raise_descriptor_limit)


def start_ng_relay(command, ng_port):
    """Starts a relay that speaks NG on CPU 0 and waits until it answers ping (20 s at most)."""
    relay = start_pinned(command)
    for _ in range(100):
        try:
            ng(ng_port, {"command": "ping"}, timeout=0.1, attempts=1)
            return relay
        except OSError:
            time.sleep(0.1)
    relay.kill()
    raise SystemExit("relay did not answer NG ping on port %d: %s" % (ng_port, " ".join(command)))


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


def summarize(results):
    pps = [r["received"] / r["seconds"] for r in results]
    us = [r["cpu"] * 1e6 / max(r["received"], 1) for r in results]
    summary = {"pps": pps, "us_per_packet": us,
               "pps_median": statistics.median(pps), "us_median": statistics.median(us)}
    if all("instructions" in r for r in results):
        summary["instructions_per_packet"] = [r["instructions"] / max(r["received"], 1) for r in results]
        summary["instructions_median"] = statistics.median(summary["instructions_per_packet"])
    return summary
