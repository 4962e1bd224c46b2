#!/usr/bin/env python3
"""Performance: Spillway against rtpengine and a C floor forwarder, one table.

Each relay runs pinned to CPU 0 with one media thread: Spillway (`--workers 1`, userspace), Spillway
with its kernel fast path (`spillway-kernel`, `--kernel-forwarding on`: after latching, an eBPF program
forwards in softirq and the process idles), rtpengine from
Debian's rtpengine-daemon userspace only (`--table=-1 --num-threads=1`), and `floor.c` (epoll,
recvmmsg/sendmmsg, no parsing: the kernel's loopback cost). The load is `callgen.c` on CPU 1: N calls
set up over NG offer/answer (the floor has fixed ports), RTP both ways in every call, paced evenly,
with the relay's latency timed by the kernel's receive timestamps. For each relay and run:

  1. 500 calls at 50 packets/s each way (G.711, 50,000 packets/s): latency p50/p99/p99.9, loss,
     relay CPU per forwarded packet (/proc), userspace and kernel instructions per packet and the
     kernel's share of the relay's cycles (perf stat). Also the whole machine's CPU per forwarded
     packet (/proc/stat) minus the generator's own, measured on the `direct` path (no relay, each
     party sending straight to the other) in the same run: the only fair figure for the kernel fast
     path, whose work is not in any process. Instruction counts hold within about 1% from
     run to run where time per packet swings by 10%: they show a change's effect on a noisy host.
  2. Lossless throughput at 500 calls (RFC 2544's throughput, with loss < 0.1%): the per-call rate
     is doubled from 100 packets/s, then bisected; CPU per forwarded packet at the best rate.
  3. Paced capacity: the most calls at 50 packets/s each way with loss < 0.1% and p99 < 5 ms,
     doubling from 250, then bisecting to 25 calls.
  In both searches a failing step is measured a second time and fails only if it fails again.
  4. Memory: RSS per idle call with 4,900 calls set up (NG relays only; four sockets a call, and the
     descriptor limit here is 20,000).

Every step runs against a freshly started relay, after a second of the same load to warm it up. Runs rotate the relays' order and repeat; the table
gives median (min-max). A figure where the
generator fell behind its schedule (more than 1% of packets sent over 1 ms late) at the first
failing step is marked `*`: there, the generator's core, not the relay's, ran out.

    apt-get install -y rtpengine-daemon linux-perf   # optional: without rtpengine, Spillway and the floor
    swift build -c release
    python3 bench/performance.py --runs 3 --json bench/out/performance.json

To measure a change, keep a copy of the release build from before it and pass it as `--baseline`:
both builds then run side by side in the same invocation, and the ratios include spillway/baseline.
`--quick` runs step 1 only (about 8 s per relay and run), e.g. `--quick --runs 8 --baseline OLD`.

Run by hand on an otherwise idle machine; never part of the test suite.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relays import BIN, ROOT, build_tools, cpu_seconds, ng, relay_port, rtpengine_command, sdp, spillway_command, \
    start_ng_relay, start_pinned  # noqa: E402

CALLER_PORT, CALLEE_PORT = 29990, 29992
LOSS_LIMIT, P99_LIMIT_US = 0.001, 5000
WARM_UP_SECONDS = 1


class NGRelay:
    """A relay driven over NG; calls are added as the steps need them and kept for the relay's life."""

    def __init__(self, name, command, ng_port):
        self.name, self.ng_port = name, ng_port
        self.process = start_ng_relay(command, ng_port)
        self.pid = self.process.pid
        self.ports = []

    def calls(self, count):
        while len(self.ports) < count:
            call = "perf-%d" % len(self.ports)
            offer = ng(self.ng_port, {"command": "offer", "call-id": call, "from-tag": "a", "sdp": sdp(CALLER_PORT)})
            answer = ng(self.ng_port, {"command": "answer", "call-id": call, "from-tag": "a", "to-tag": "b",
                                       "sdp": sdp(CALLEE_PORT)})
            if b"3:sdp" not in offer or b"3:sdp" not in answer:
                raise SystemExit("%s refused call %d: %r" % (self.name, len(self.ports), (answer if b"3:sdp" in offer else offer)[:300]))
            # The caller sends to the port in the answer it gets; the callee to the one in the offer.
            self.ports.append((relay_port(answer), relay_port(offer)))
        return self.ports[:count]

    def stop(self):
        self.process.terminate()
        self.process.wait()


class DirectPath:
    """No relay: each party sends straight to the other. What the generator alone costs the machine,
    subtracted from every relay's whole-machine CPU (the kernel fast path's work runs in softirq,
    not in the relay's process)."""
    pid = None

    def __init__(self, name):
        self.name = name

    def calls(self, count):
        return [(CALLEE_PORT, CALLER_PORT)] * count

    def stop(self):
        pass


def machine_busy_seconds():
    """Non-idle CPU time of the whole machine since boot (/proc/stat), in seconds."""
    fields = [int(value) for value in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class FloorRelay:
    """floor.c (or floor_uring.c, its io_uring twin) with a fixed port pair per call."""
    FIRST_PORT = 30000  # 4 ports a call: up to 4,500 calls below 48000

    def __init__(self, name, most_calls):
        self.name = name
        command = [os.path.join(BIN, name.replace("-", "_")), str(self.FIRST_PORT), str(most_calls),
                   str(CALLER_PORT), str(CALLEE_PORT)]
        # A floor exits at once when one of its ports is still held: after an io_uring relay the
        # kernel frees the sockets its ring held some time after the process is gone.
        for _ in range(40):
            self.process = start_pinned(command)
            time.sleep(0.5)
            if self.process.poll() is None:
                break
        else:
            raise SystemExit("%s could not bind its ports %d-%d for 20 s" % (name, self.FIRST_PORT, self.FIRST_PORT + 4 * most_calls))
        self.pid = self.process.pid

    def calls(self, count):
        return [(self.FIRST_PORT + 4 * call, self.FIRST_PORT + 4 * call + 2) for call in range(count)]

    def stop(self):
        self.process.terminate()
        self.process.wait()


def load(start_relay, calls, rate, seconds, count_instructions=False):
    """One paced load through a relay started for it (`start_relay()`, stopped after): `calls` calls at
    `rate` packets/s each way. A fresh relay per load keeps one step's overload from spoiling the next
    (rtpengine forwarded nothing for the rest of a run after its lossless-rate search).
    Returns callgen's figures with the relay's CPU time and, with `count_instructions`, its
    userspace instructions and its user and kernel cycles over the load."""
    relay = start_relay()
    try:
        return paced_load(relay, calls, rate, seconds, count_instructions)
    finally:
        relay.stop()


def callgen(ports, calls, seconds, rate):
    out = subprocess.run(["taskset", "-c", "1", os.path.join(BIN, "callgen"), str(CALLER_PORT), str(CALLEE_PORT),
                          "127.0.0.1", ports, str(calls), str(seconds), str(rate)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def paced_load(relay, calls, rate, seconds, count_instructions):
    """A warm-up second (every stream latched, the relay's first-packet work done), then the measured load."""
    with tempfile.NamedTemporaryFile("w", suffix=".ports") as ports:
        ports.write("".join("%d %d\n" % pair for pair in relay.calls(calls)))
        ports.flush()
        callgen(ports.name, calls, WARM_UP_SECONDS, rate)
        perf = None
        if count_instructions and relay.pid and shutil.which("perf"):
            perf = subprocess.Popen(["perf", "stat", "-x,", "-e", "instructions:u,instructions:k,cycles:u,cycles:k",
                                     "-p", str(relay.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.1)
        before = cpu_seconds(relay.pid) if relay.pid else 0
        machine_before = machine_busy_seconds()
        result = callgen(ports.name, calls, seconds, rate)
        result["machine_cpu_seconds"] = machine_busy_seconds() - machine_before
        result["cpu_seconds"] = (cpu_seconds(relay.pid) - before) if relay.pid else 0
        if perf:
            perf.send_signal(2)
            counts = {}
            for line in perf.communicate()[1].splitlines():
                fields = line.split(",")
                if len(fields) > 2 and fields[0].isdigit():
                    counts[fields[2]] = int(fields[0])
            if "instructions:u" in counts:
                result["instructions_per_packet"] = counts["instructions:u"] / max(result["received"], 1)
            if "instructions:k" in counts:
                result["kernel_instructions_per_packet"] = counts["instructions:k"] / max(result["received"], 1)
            if counts.get("cycles:u") is not None and counts.get("cycles:k"):
                result["kernel_cycle_share"] = counts["cycles:k"] / (counts["cycles:u"] + counts["cycles:k"])
    sent = max(result["sent"], 1)
    result["loss"] = (result["sent"] - result["received"]) / sent
    result["forwarded_pps"] = result["received"] / result["seconds"]
    result["cpu_us_per_packet"] = result["cpu_seconds"] * 1e6 / max(result["received"], 1)
    result["machine_cpu_us_per_packet"] = result["machine_cpu_seconds"] * 1e6 / max(result["received"], 1)
    result["generator_late"] = result["late_sends"] / sent > 0.01
    return result


def lossless(result):
    return result["loss"] < LOSS_LIMIT and result["misrouted"] == 0


def within_limits(result):
    return lossless(result) and result["p99_us"] < P99_LIMIT_US


def search(measure, passes, start, limit, resolution):
    """Largest passing value: doubling from `start` (up to `limit`), then bisecting to `resolution`.
    A failing step is measured once more and fails only if it fails again, so that one host stall
    (this 2-core VM has stalled a relay's p99 past 5 ms at 250 calls) does not end a search.
    Returns (best value, its result, whether the generator fell behind at the first failure, trace)."""
    trace = []

    def trial(value):
        result = measure(value)
        trace.append(result)
        if not passes(result):
            result = measure(value)
            trace.append(result)
        return result

    good, good_result, bad, bad_result, value = 0, None, None, None, start
    while value <= limit:
        result = trial(value)
        if not passes(result):
            bad, bad_result = value, result
            break
        good, good_result, value = value, result, value * 2
    while bad is not None and bad - good > resolution:
        middle = (good + bad) // 2
        result = trial(middle)
        if passes(result):
            good, good_result = middle, result
        else:
            bad, bad_result = middle, result
    generator_bound = bad is None or (bad_result is not None and bad_result["generator_late"])
    return good, good_result, generator_bound, trace


def measure_relay(start_relay, options):
    fixed = load(start_relay, options.latency_calls, 50, options.seconds, count_instructions=True)
    if options.quick:
        return {"at_latency_calls": fixed}
    rate, best, rate_bound, rate_trace = search(
        lambda r: load(start_relay, options.latency_calls, r, options.step_seconds), lossless, 100, 1600, 10)
    calls, _, calls_bound, calls_trace = search(
        lambda n: load(start_relay, n, 50, options.step_seconds), within_limits, 250, options.most_calls, 25)
    return {"at_latency_calls": fixed,
            "lossless": {"rate_per_direction": rate, "forwarded_pps": best["forwarded_pps"] if best else 0,
                         "cpu_us_per_packet": best["cpu_us_per_packet"] if best else None,
                         "generator_bound": rate_bound, "search": rate_trace},
            "capacity": {"calls": calls, "generator_bound": calls_bound, "search": calls_trace}}


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_per_call(name, command, ng_port, calls):
    """KiB of RSS per idle call: `calls` calls set up, RSS before and after."""
    relay = NGRelay(name, command, ng_port)
    try:
        time.sleep(0.5)
        before = rss_kib(relay.pid)
        relay.calls(calls)
        time.sleep(1)
        return (rss_kib(relay.pid) - before) / calls
    finally:
        relay.stop()


def median_range(values, form="%.0f"):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return (form + " (" + form + "-" + form + ")") % (statistics.median(values), min(values), max(values))


def figure(run, path):
    """The figure at `path` (keys into nested dicts) of one run's results; None where the run has none
    (a --quick run has no search steps)."""
    value = run
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def table(results, options):
    def column(name, path):
        return [figure(run, path) for run in results[name]]

    def star(name, key):
        return " *" if any(run.get(key, {}).get("generator_bound") for run in results[name]) else ""

    rows = [("machine CPU µs/pkt above the generator at %d calls" % options.latency_calls, lambda n: median_range(column(n, ["at_latency_calls", "relay_machine_us_per_packet"]), "%.2f")),
            ("lossless pkt/s at %d calls" % options.latency_calls, lambda n: median_range(column(n, ["lossless", "forwarded_pps"])) + star(n, "lossless")),
            ("CPU µs/pkt at that rate", lambda n: median_range(column(n, ["lossless", "cpu_us_per_packet"]), "%.2f")),
            ("CPU µs/pkt at %d calls x 50 pkt/s" % options.latency_calls, lambda n: median_range(column(n, ["at_latency_calls", "cpu_us_per_packet"]), "%.2f")),
            ("user instructions/pkt at %d calls" % options.latency_calls, lambda n: median_range(column(n, ["at_latency_calls", "instructions_per_packet"]))),
            ("kernel instructions/pkt at %d calls" % options.latency_calls, lambda n: median_range(column(n, ["at_latency_calls", "kernel_instructions_per_packet"]))),
            ("kernel share of relay cycles (%%) at %d calls" % options.latency_calls, lambda n: median_range([r * 100 for r in column(n, ["at_latency_calls", "kernel_cycle_share"]) if r is not None])),
            ("paced capacity (calls)", lambda n: median_range(column(n, ["capacity", "calls"])) + star(n, "capacity")),
            ("latency p50 µs at %d calls" % options.latency_calls, lambda n: median_range(column(n, ["at_latency_calls", "p50_us"]))),
            ("latency p99 µs", lambda n: median_range(column(n, ["at_latency_calls", "p99_us"]))),
            ("latency p99.9 µs", lambda n: median_range(column(n, ["at_latency_calls", "p999_us"]))),
            ("loss at %d calls (%%)" % options.latency_calls, lambda n: median_range([r * 100 for r in column(n, ["at_latency_calls", "loss"])], "%.3f")),
            ("RSS KiB per idle call (%d calls)" % options.memory_calls, lambda n: median_range(column(n, ["memory_kib_per_call"]), "%.2f"))]
    names = list(results)
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, cell in rows:
        cells = [cell(name) for name in names]
        if any(value != "-" for value in cells):  # --quick leaves out the search and memory steps
            lines.append("| %s | %s |" % (label, " | ".join(cells)))
    return "\n".join(lines)


def ratios(results):
    def median(name, path):
        values = [value for value in (figure(run, path) for run in results.get(name, [])) if value is not None]
        return statistics.median(values) if values else None

    figures = {}
    if "spillway-kernel" in results:
        for other in ("rtpengine", "spillway", "floor", "floor-uring"):
            for label, path in (("machine_cpu_at_fixed_rate", ["at_latency_calls", "relay_machine_us_per_packet"]),
                                ("capacity", ["capacity", "calls"]), ("p99", ["at_latency_calls", "p99_us"])):
                ours, theirs = median("spillway-kernel", path), median(other, path)
                if other in results and ours is not None and theirs:
                    figures["kernel_%s_vs_%s" % (label, other)] = ours / theirs
    for other in ("rtpengine", "floor", "floor-uring", "baseline", "spillway-epoll"):
        if other not in results:
            continue
        for label, path in (("cpu_at_lossless_rate", ["lossless", "cpu_us_per_packet"]),
                            ("cpu_at_fixed_rate", ["at_latency_calls", "cpu_us_per_packet"]),
                            ("kernel_instructions_at_fixed_rate", ["at_latency_calls", "kernel_instructions_per_packet"]),
                            ("lossless_pps", ["lossless", "forwarded_pps"]),
                            ("capacity", ["capacity", "calls"]),
                            ("p99", ["at_latency_calls", "p99_us"])):
            ours, theirs = median("spillway", path), median(other, path)
            if ours is not None and theirs:
                figures["%s_vs_%s" % (label, other)] = ours / theirs
    return figures


def run_line(run, name, figures, options):
    """One relay's figures of one run, as the run goes."""
    fixed = figures["at_latency_calls"]
    parts = ["run %d %-9s" % (run + 1, name)]
    if "lossless" in figures:
        lossless_figures, capacity = figures["lossless"], figures["capacity"]
        parts.append("lossless %6.0f pkt/s (%.2f µs/pkt)%s; capacity %4d calls%s;" % (
            lossless_figures["forwarded_pps"], lossless_figures["cpu_us_per_packet"] or 0,
            " *" if lossless_figures["generator_bound"] else "", capacity["calls"],
            " *" if capacity["generator_bound"] else ""))
    parts.append("at %d calls: %.2f µs/pkt, %.0f kernel instructions/pkt, p50/p99/p99.9 %d/%d/%d µs, loss %.3f%%" % (
        options.latency_calls, fixed["cpu_us_per_packet"], fixed.get("kernel_instructions_per_packet") or 0,
        fixed["p50_us"], fixed["p99_us"], fixed["p999_us"], fixed["loss"] * 100))
    if "memory_kib_per_call" in figures:
        parts.append("%.2f KiB/call" % figures["memory_kib_per_call"])
    return " ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5, help="length of the 500-call latency load")
    parser.add_argument("--step-seconds", type=float, default=3, help="length of each search step")
    parser.add_argument("--latency-calls", type=int, default=500)
    parser.add_argument("--most-calls", type=int, default=2000, help="largest call count the capacity search tries")
    parser.add_argument("--memory-calls", type=int, default=4900,
                        help="idle calls for RSS per call, four sockets each (0: skip); 5,000 needs a descriptor limit over 20,000")
    parser.add_argument("--relays", default="spillway,spillway-kernel,rtpengine,floor,direct",
                        help="comma-separated: spillway (userspace), spillway-kernel (--kernel-forwarding on), "
                             "rtpengine, floor, floor-uring (the floor on io_uring), "
                             "spillway-epoll (the same build with --data-plane epoll), "
                             "baseline (another Spillway build, see --baseline), "
                             "direct (no relay: the generator's own cost, subtracted from whole-machine CPU)")
    parser.add_argument("--rps-to-relay-cpu", action="store_true",
                        help="steer lo's receive processing to CPU 0 (RPS) for the run, so the kernel's "
                             "forwarding work lands on the relay's core, not the generator's; restored after")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    parser.add_argument("--baseline", help="a copy of an earlier Spillway build, to measure a change against it "
                                           "side by side (adds 'baseline' to --relays)")
    parser.add_argument("--quick", action="store_true",
                        help="only step 1 (the 500-call load, with instruction counts): for A/B runs against --baseline")
    parser.add_argument("--json")
    options = parser.parse_args()
    if not os.access(options.binary, os.X_OK):
        sys.exit("no release build at %s: run `swift build -c release` first" % options.binary)
    build_tools()
    names = options.relays.split(",")
    if options.baseline and "baseline" not in names:
        names.append("baseline")
    if "baseline" in names and not (options.baseline and os.access(options.baseline, os.X_OK)):
        sys.exit("the baseline relay needs --baseline PATH, an executable Spillway build")
    if "rtpengine" in names and not shutil.which("rtpengine"):
        print("rtpengine is not installed (apt-get install rtpengine-daemon): comparing Spillway with the floor only")
        names.remove("rtpengine")
    # Four ports a call: Spillway's range holds 4,500 calls (the kernel fast path's capacity search
    # goes past 2,500), rtpengine's 2,500; both above callgen's own ports.
    ranges = {"spillway": (30000, 47999), "spillway-epoll": (30000, 47999), "spillway-kernel": (30000, 47999),
              "rtpengine": (48000, 57999), "baseline": (30000, 47999)}
    commands = {"spillway": lambda port, ports: spillway_command(options.binary, port, ports),
                "spillway-kernel": lambda port, ports: spillway_command(options.binary, port, ports,
                                                                        kernel_forwarding="on"),
                "spillway-epoll": lambda port, ports: spillway_command(options.binary, port, ports) + ["--data-plane", "epoll"],
                "rtpengine": lambda port, ports: rtpengine_command(port, ports),
                "baseline": lambda port, ports: spillway_command(options.baseline, port, ports, kernel_forwarding=None)}
    rps = "/sys/class/net/lo/queues/rx-0/rps_cpus"
    rps_before = open(rps).read().strip() if options.rps_to_relay_cpu else None
    if rps_before is not None:
        with open(rps, "w") as out:
            out.write("1")
    try:
        results = run_all(names, commands, ranges, options)
    finally:
        if rps_before is not None:
            with open(rps, "w") as out:
                out.write(rps_before)
    report(results, options)


def run_all(names, commands, ranges, options):
    results = {name: [] for name in names}
    for run in range(options.runs):
        order = names[run % len(names):] + names[:run % len(names)]
        for index, name in enumerate(order):
            ng_port = 22600 + 10 * run + index
            if name.startswith("floor"):
                figures = measure_relay(lambda: FloorRelay(name, options.most_calls), options)
            elif name == "direct":
                figures = measure_relay(lambda: DirectPath(name), options)
            else:
                figures = measure_relay(lambda: NGRelay(name, commands[name](ng_port, ranges[name]), ng_port), options)
            if not name.startswith("floor") and name != "direct" and options.memory_calls and not options.quick:
                figures["memory_kib_per_call"] = memory_per_call(
                    name, commands[name](ng_port + 5, (10000, 10000 + 4 * options.memory_calls + 999)), ng_port + 5,
                    options.memory_calls)
            results[name].append(figures)
            print(run_line(run, name, figures, options), flush=True)
        if "direct" in results:
            generator = results["direct"][run]["at_latency_calls"]["machine_cpu_us_per_packet"]
            for name in names:
                fixed = results[name][run]["at_latency_calls"]
                fixed["relay_machine_us_per_packet"] = fixed["machine_cpu_us_per_packet"] - generator
    return results


def report(results, options):
    print()
    print(table(results, options))
    print("* the generator fell behind its schedule at the first failing step (or the search hit its limit):"
          " the relay's own limit is at least this")
    figures = ratios(results)
    for key, value in figures.items():
        if key.startswith("kernel_"):
            print("spillway-kernel/%s: %.2f" % (key[len("kernel_"):], value))
        else:
            print("spillway/%s: %.2f" % (key, value))
    if options.json:
        os.makedirs(os.path.dirname(os.path.abspath(options.json)), exist_ok=True)
        with open(options.json, "w") as out:
            json.dump({"options": vars(options), "results": results, "ratios": figures}, out, indent=1)


if __name__ == "__main__":
    main()
