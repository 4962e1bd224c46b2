#!/usr/bin/env python3
"""H.323 calls through one node: call setup rate and latency, and the media's CPU cost against NG calls.

1. Setup: fastStart calls (Setup with a G.711 offer, CallProceeding and Connect with the answer, then
   ReleaseComplete) from --concurrency callers, each placing calls one after another, through a
   `spillway serve` node (one media worker, pinned to CPU 0) to a callee that answers at once. Latency is
   the caller's time from sending the Setup to receiving the Connect; the rate is calls completed per
   second. The baseline is the same load straight from caller to callee, side by side in the same run:
   the ratio node/direct is what the node adds. The messages are pycrate encodings made once (by the
   suite's test endpoint) with each call's identifier and call reference patched in, so the generator
   costs little per call; it is one Python process, so a rate it cannot exceed is marked.
2. Media: the same `callgen` load as bench/performance.py (N calls, G.711's 50 packets/s each way)
   through the node, once with the calls set up over NG offer/answer and once over H.323 fastStart,
   alternating, each in a fresh node: CPU time of the node per forwarded packet, and the ratio
   H.323/NG (the calls share one data path, so it should be 1).

    swift build -c release
    python3 bench/h323.py --runs 3 --calls 2000 --media-calls 200 --json bench/out/h323.json

Run by hand on an otherwise idle machine; the suite runs only `--smoke` (a few calls of each kind).
"""
import argparse, json, os, socket, statistics, struct, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "InteropTests", "Scripts"))
from relays import BIN, ROOT, build_tools, cpu_seconds, ng, relay_port, sdp, start_pinned  # noqa: E402
import h323_endpoint as endpoint  # noqa: E402

# Signalling on addresses of their own; media on 127.0.0.1, where callgen sends from and to.
NODE_IP, CALLEE_IP, MEDIA_IP = "127.0.0.40", "127.0.0.41", "127.0.0.1"
# Fixed ports below Linux's ephemeral range (32768-60999), so no client socket can hold one first.
NG_PORT, SIGNAL_PORT, CALLEE_SIGNAL_PORT = 22_700, 11_720, 11_721
CALLER_PORT, CALLEE_PORT = 29990, 29992
TEMPLATE_GUID = bytes(range(16, 32))


def templates():
    """The Setup, and the callee's CallProceeding, Alerting and Connect, as the test endpoint encodes them."""
    caller = endpoint.Endpoint(argparse.Namespace(
        role="caller", ip="127.0.0.1", rtp_port=CALLER_PORT, mode="faststart", video=False, dial="5551234",
        alias="4440000", dest=None, sender_port=None, deliver_port=None))
    callee = endpoint.Endpoint(argparse.Namespace(
        role="callee", ip="127.0.0.1", rtp_port=CALLEE_PORT, mode="faststart", video=False, sender_port=None, deliver_port=None))
    return caller.setup(), callee.answer_messages()


def patched(message, guid, reference):
    """A template Q.931 message with this call's callIdentifier and call reference."""
    return message[:2] + bytes([message[2] & 0x80 | reference >> 8 & 0x7F, reference & 0xFF]) + \
        message[4:].replace(TEMPLATE_GUID, guid)


def frames(sock, buffer):
    """Reads until at least one TPKT frame is complete; returns the frames and what is left."""
    while True:
        out = []
        while len(buffer) >= 4 and len(buffer) >= (buffer[2] << 8 | buffer[3]):
            length = buffer[2] << 8 | buffer[3]
            out.append(buffer[4:length])
            buffer = buffer[length:]
        if out:
            return out, buffer
        data = sock.recv(65536)
        if not data:
            return None, buffer
        buffer += data


def relay_media_port(message):
    """The relay's RTP port in a message's fastStart (the reverse proposal or answer naming an RTP address)."""
    _, _, _, uuie = endpoint.parse_q931(message)
    for encoding in uuie["h323-uu-pdu"]["h323-message-body"][1].get("fastStart", []):
        endpoint.OLC.from_aper(encoding)
        value = endpoint.OLC.get_val()
        for block in ("forwardLogicalChannelParameters", "reverseLogicalChannelParameters"):
            mux = value.get(block, {}).get("multiplexParameters")
            if mux and mux[0] == "h2250LogicalChannelParameters" and "mediaChannel" in mux[1]:
                return int(endpoint.address_text(mux[1]["mediaChannel"]).split(":")[1])
    raise SystemExit("no media address in %r" % message[:40])


class Callee(threading.Thread):
    """Answers every Setup at once with CallProceeding, Alerting and Connect; records, per call, the relay
    port its Setup names for the callee's media."""

    def __init__(self, answers, record_ports):
        super().__init__(daemon=True)
        self.answers, self.record_ports, self.ports = answers, record_ports, {}
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((CALLEE_IP, CALLEE_SIGNAL_PORT))
        self.listener.listen(512)

    def run(self):
        while True:
            connection, _ = self.listener.accept()
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        buffer = b""
        with connection:
            while True:
                received, buffer = frames(connection, buffer)
                if received is None:
                    return
                for message in received:
                    if message[4] != 0x05:
                        continue
                    guid = message[message.index(b"SPWB"):message.index(b"SPWB") + 16]
                    reference = message[2] << 8 & 0x7F00 | message[3]
                    if self.record_ports:
                        self.ports[guid] = relay_media_port(message)
                    connection.sendall(b"".join(endpoint.tpkt(patched(answer, guid, reference)) for answer in self.answers))


def place(target, setup, number, release, keep):
    """One call: Setup to `target`, the Connect's arrival time; ReleaseComplete after, unless the call is kept."""
    guid = b"SPWB" + struct.pack(">Q", number) + b"\0\0\0\0"
    reference = number % 0x7FFF + 1
    sock = socket.create_connection(target)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.perf_counter()
    sock.sendall(endpoint.tpkt(patched(setup, guid, reference)))
    buffer = b""
    while True:
        received, buffer = frames(sock, buffer)
        if received is None:
            raise SystemExit("call %d: the connection closed before Connect" % number)
        connect = next((message for message in received if message[4] == 0x07), None)
        if connect is not None:
            break
    latency = time.perf_counter() - started
    if keep:
        return latency, sock, guid, connect
    sock.sendall(endpoint.tpkt(patched(release, guid, reference)))
    sock.close()
    return latency, None, guid, connect


def setup_load(target, setup, release, calls, concurrency):
    """`calls` calls from `concurrency` callers; per-call latencies and the completed rate."""
    latencies, lock, next_call = [], threading.Lock(), [0]

    def caller():
        while True:
            with lock:
                number = next_call[0]
                next_call[0] += 1
            if number >= calls:
                return
            latency, _, _, _ = place(target, setup, number, release, keep=False)
            with lock:
                latencies.append(latency)

    started = time.perf_counter()
    threads = [threading.Thread(target=caller) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"calls": len(latencies), "rate": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1e3,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3}


def node_command(binary, ports, media_timeout=600):
    return [binary, "serve", "--node-id", "bench", "--ng", "127.0.0.1:%d" % NG_PORT, "--media-ip", MEDIA_IP,
            "--port-range", ports, "--workers", "1", "--media-timeout", str(media_timeout), "--log-level", "error",
            "--kernel-forwarding", "off",
            "--call-signal", "%s:%d" % (NODE_IP, SIGNAL_PORT), "--h323-route", "555=%s:%d" % (CALLEE_IP, CALLEE_SIGNAL_PORT)]


def start_node(binary, ports):
    process = start_pinned(node_command(binary, ports))
    for _ in range(100):
        try:
            socket.create_connection((NODE_IP, SIGNAL_PORT)).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the node did not start")


def callgen(ports, calls, seconds, rate=50):
    with tempfile.NamedTemporaryFile("w", suffix=".ports") as file:
        file.write("".join("%d %d\n" % pair for pair in ports))
        file.flush()
        out = subprocess.run(["taskset", "-c", "1", os.path.join(BIN, "callgen"), str(CALLER_PORT), str(CALLEE_PORT),
                              MEDIA_IP, file.name, str(calls), str(seconds), str(rate)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def media_cost(binary, ports, kind, calls, seconds, setup, release, callee):
    """CPU per forwarded packet of a fresh node carrying `calls` calls set up over `kind` (ng or h323)."""
    process = start_node(binary, ports)
    kept = []
    try:
        if kind == "ng":
            ports = []
            for call in range(calls):
                offer = ng(NG_PORT, {"command": "offer", "call-id": "media-%d" % call, "from-tag": "a", "sdp": sdp(CALLER_PORT)})
                answer = ng(NG_PORT, {"command": "answer", "call-id": "media-%d" % call, "from-tag": "a", "to-tag": "b",
                                      "sdp": sdp(CALLEE_PORT)})
                ports.append((relay_port(answer), relay_port(offer)))
        else:
            ports = []
            for call in range(calls):
                _, sock, guid, connect = place((NODE_IP, SIGNAL_PORT), setup, 1_000_000 + call, release, keep=True)
                kept.append(sock)
                ports.append((relay_media_port(connect), callee.ports[guid]))
        callgen(ports, calls, 1)  # every stream latched
        before = cpu_seconds(process.pid)
        result = callgen(ports, calls, seconds)
        result["cpu_us_per_packet"] = (cpu_seconds(process.pid) - before) * 1e6 / max(result["received"], 1)
        result["loss"] = (result["sent"] - result["received"]) / max(result["sent"], 1)
        return result
    finally:
        for sock in kept:
            sock.close()
        process.terminate()
        process.wait()


def median_range(values, form="%.1f"):
    return (form + " (" + form + "-" + form + ")") % (statistics.median(values), min(values), max(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000, help="calls per setup measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--media-calls", type=int, default=200)
    parser.add_argument("--media-seconds", type=int, default=8)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    parser.add_argument("--ports", default="13000-14999", help="the node's media port range (MIN-MAX)")
    parser.add_argument("--json")
    parser.add_argument("--smoke", action="store_true", help="a few calls of each kind, to check the tool works")
    options = parser.parse_args()
    if options.smoke:
        # The suite's run: ports of its own, apart from every other test's (see BenchToolsSmokeTests).
        global NG_PORT, CALLER_PORT, CALLEE_PORT
        NG_PORT, CALLER_PORT, CALLEE_PORT = 15_400, 15_480, 15_482
        options.runs, options.calls, options.concurrency, options.media_calls, options.media_seconds = 1, 40, 4, 10, 1
        options.ports = "15410-15479"
    build_tools()
    setup, answers = templates()
    release = endpoint.q931("releaseComplete", 0x1234, False, {"h323-uu-pdu": {"h323-message-body": ("releaseComplete", {
        "protocolIdentifier": endpoint.PROTOCOL, "callIdentifier": {"guid": TEMPLATE_GUID}}), "h245Tunnelling": True}})
    callee = Callee(answers, record_ports=True)
    callee.start()
    runs = []
    for run in range(options.runs):
        figures = {}
        node = start_node(options.binary, options.ports)
        try:
            figures["direct"] = setup_load((CALLEE_IP, CALLEE_SIGNAL_PORT), setup, release, options.calls, options.concurrency)
            figures["node"] = setup_load((NODE_IP, SIGNAL_PORT), setup, release, options.calls, options.concurrency)
        finally:
            node.terminate()
            node.wait()
        order = ["ng", "h323"] if run % 2 == 0 else ["h323", "ng"]
        for kind in order:
            figures["media-" + kind] = media_cost(options.binary, options.ports, kind, options.media_calls, options.media_seconds, setup, release, callee)
        runs.append(figures)
        print("run %d: setup through the node %.0f calls/s p50 %.2f ms p99 %.2f ms (direct %.0f calls/s p50 %.2f ms); "
              "CPU per packet NG %.2f us, H.323 %.2f us" % (
                  run + 1, figures["node"]["rate"], figures["node"]["p50_ms"], figures["node"]["p99_ms"], figures["direct"]["rate"],
                  figures["direct"]["p50_ms"], figures["media-ng"]["cpu_us_per_packet"], figures["media-h323"]["cpu_us_per_packet"]),
              flush=True)
    print("\n| figure | through the node | direct (baseline) | node/direct |\n|---|---|---|---|")
    for key, form in (("rate", "%.0f"), ("p50_ms", "%.2f"), ("p99_ms", "%.2f")):
        node_values, direct_values = [r["node"][key] for r in runs], [r["direct"][key] for r in runs]
        print("| setup %s | %s | %s | %.2f |" % (key, median_range(node_values, form), median_range(direct_values, form),
                                                statistics.median(node_values) / statistics.median(direct_values)))
    ng_cost, h323_cost = [r["media-ng"]["cpu_us_per_packet"] for r in runs], [r["media-h323"]["cpu_us_per_packet"] for r in runs]
    losses = [r["media-" + kind]["loss"] for r in runs for kind in ("ng", "h323")]
    print("\n| CPU per forwarded packet (us) | NG calls | H.323 calls | H.323/NG |\n|---|---|---|---|")
    print("| %d calls, 50 packets/s each way | %s | %s | %.2f |" % (
        options.media_calls, median_range(ng_cost, "%.2f"), median_range(h323_cost, "%.2f"),
        statistics.median(h323_cost) / statistics.median(ng_cost)))
    print("\nloss: at most %.4f%%" % (100 * max(losses)))
    if options.json:
        os.makedirs(os.path.dirname(os.path.abspath(options.json)), exist_ok=True)
        with open(options.json, "w") as file:
            json.dump(runs, file, indent=1)
    if options.smoke and max(losses) > 0.01:
        raise SystemExit("media was lost: %s" % losses)


if __name__ == "__main__":
    main()
