#!/usr/bin/env python3
"""Paced capacity and latency: Spillway and rtpengine carrying G.711 calls at 50 packets/s each way.

Each relay runs pinned to CPU 0, one thread; the load is `spillway replay` (pinned to CPU 1) playing
captures/g711-tone.pcap (one call, PCMU, 20 ms packets both ways) as N concurrent calls, each set up
over NG offer/answer, for `--seconds`. A load passes when loss < 0.1% and the p99 relay latency (send
to receipt on loopback, over every packet) is under 5 ms. Capacity is the largest N that passes:
doubling from 100, then bisecting. Latency is also measured at `--latency-calls` (500) calls. Relays
are interleaved and the whole search repeated `--runs` times; the table gives median and range.

The generator spins (`--spin`) on its own core for exact pacing. A run where it could not keep its schedule (it sent the last packet more than 2% later
than the capture's timing) is marked generator-bound: past that point the figure measures the
generator, not the relay.

    swift build -c release
    python3 bench/paced_load.py --runs 3 --json bench/out/paced.json

Run by hand on an otherwise idle machine; never part of the test suite.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_throughput import ROOT, cpu_seconds, ng, rtpengine_command, spillway_command  # noqa: E402

CAPTURE = os.path.join(ROOT, "captures", "g711-tone.pcap")
CAPTURE_SECONDS = 3.0


def replay(binary, ng_port, calls, seconds, relay_pid):
    """One paced load; returns loss, latency, relay CPU share and whether the generator kept up."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        before, started = cpu_seconds(relay_pid), time.monotonic()
        subprocess.run(["taskset", "-c", "1", binary, "replay", CAPTURE, "--via", "127.0.0.1:%d" % ng_port,
                        "--copies", str(calls), "--duration", str(seconds), "--json", out.name, "--spin"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(relay_pid) - before
        try:
            report = json.load(open(out.name))
        except (OSError, ValueError):
            return {"calls": calls, "failed": True}
    totals = report["totals"]
    sent = totals["packets_sent"]
    nominal = min(seconds, CAPTURE_SECONDS) - 0.02
    return {
        "calls": calls, "failed": False, "sent": sent, "received": totals["packets_received"],
        "loss": (sent - totals["packets_received"]) / max(1, sent),
        "p50_us": totals["latency_us"]["p50"], "p99_us": totals["latency_us"]["p99"],
        "p999_us": totals["latency_us"]["p999"], "relay_cpu_share": cpu / elapsed,
        "generator_bound": totals["sending_seconds"] > nominal * 1.02,
    }


def passes(result):
    return not result["failed"] and result["loss"] < 0.001 and result["p99_us"] < 5000


def capacity(binary, ng_port, relay_pid, seconds, limit):
    """Largest passing call count: doubling from 100, then four bisection steps."""
    good, bad, trace, calls = 0, None, [], 100
    while calls <= limit:
        result = replay(binary, ng_port, calls, seconds, relay_pid)
        trace.append(result)
        if not passes(result):
            bad = calls
            break
        good, calls = calls, calls * 2
    if bad is None:
        return good, trace, True
    for _ in range(4):
        middle = (good + bad) // 2
        if middle in (good, bad):
            break
        result = replay(binary, ng_port, middle, seconds, relay_pid)
        trace.append(result)
        good, bad = (middle, bad) if passes(result) else (good, middle)
    return good, trace, False


def start_relay(command, ng_port):
    relay = subprocess.Popen(["taskset", "-c", "0"] + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            ng(ng_port, {"command": "ping"})
            return relay
        except OSError:
            time.sleep(0.1)
    relay.kill()
    raise SystemExit("relay did not answer ping: %s" % " ".join(command))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--latency-calls", type=int, default=500)
    parser.add_argument("--limit", type=int, default=3200, help="largest call count tried")
    parser.add_argument("--json")
    options = parser.parse_args()
    binary = os.path.join(ROOT, ".build", "release", "spillway")
    relays = [("spillway", lambda port: spillway_command(binary, port, (30000, 39999)))]
    if shutil.which("rtpengine"):
        relays.append(("rtpengine", lambda port: rtpengine_command(port, (40000, 49999))))
    results = {name: [] for name, _ in relays}
    for run in range(options.runs):
        for index, (name, command) in enumerate(relays if run % 2 == 0 else reversed(relays)):
            port = 22400 + run * 10 + index
            relay = start_relay(command(port), port)
            try:
                found, trace, hit_limit = capacity(binary, port, relay.pid, options.seconds, options.limit)
                latency = replay(binary, port, options.latency_calls, options.seconds, relay.pid)
            finally:
                relay.terminate()
                relay.wait()
            bound = any(r.get("generator_bound") for r in trace if r["calls"] > found) or hit_limit
            results[name].append({"capacity": found, "capacity_generator_bound": bound, "at_latency_calls": latency,
                                  "search": trace})
            print("run %d %-9s capacity %5d calls%s; at %d calls p50 %d us p99 %d us p99.9 %d us loss %.4f%% relay CPU %.0f%%" % (
                run + 1, name, found, " (generator-bound)" if bound else "", options.latency_calls, latency["p50_us"],
                latency["p99_us"], latency["p999_us"], latency["loss"] * 100, latency["relay_cpu_share"] * 100), flush=True)

    def summary(values):
        return "%s (%s-%s)" % (statistics.median(values), min(values), max(values))

    print("\nrelay      paced capacity (calls)      p50 us @%d        p99 us @%d        p99.9 us @%d" % ((options.latency_calls,) * 3))
    for name, runs in results.items():
        print("%-10s %-27s %-18s %-18s %s" % (
            name, summary([r["capacity"] for r in runs]) + (" *" if any(r["capacity_generator_bound"] for r in runs) else ""),
            summary([r["at_latency_calls"]["p50_us"] for r in runs]), summary([r["at_latency_calls"]["p99_us"] for r in runs]),
            summary([r["at_latency_calls"]["p999_us"] for r in runs])))
    print("* generator-bound: the replay could not keep the schedule at the first failing load")
    if options.json:
        with open(options.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
