#!/usr/bin/env python3
"""Userspace instructions per forwarded packet, counted by callgrind: the regression figure.

`forwarding-cost` (bench/ForwardingCost) drives one media worker of the relay's own WorkerPool with
lock-step rounds of RTP both ways through CALLS calls. It runs under `valgrind --tool=callgrind
--separate-threads=yes` twice, with ROUNDS and 2 x ROUNDS rounds; the media worker thread's
instruction count differs between the two by the cost of the extra packets alone (set-up, latching
and shutdown cancel out), and that difference over the extra forwarded packets is the figure. It
counts the worker's own code and the C library's system-call stubs, not the kernel (performance.py's
`perf stat` gives that), and it repeats within about 3% from run to run, so a change's effect shows
without the noise of timing. The same difference counts the worker's calls per packet to retain and
release and to the heap allocator, of which the hot path should make none.

The worker runs on epoll here: valgrind 3.19 (Debian bookworm's) holds its thread lock across
io_uring_enter, so a worker waiting in the ring blocks every other thread and the run hangs.
Everything after the wait (classifying, latching, SRTP, statistics) is the same code on both engines;
the ring's own share is in performance.py's instructions:u. The binary runs from a copy without its
DWARF 5 debug info, which valgrind 3.19 cannot read (its symbols stay).

    apt-get install -y valgrind
    swift build -c release
    python3 bench/instructions.py
    python3 bench/instructions.py --baseline OLD_BINARY    # a copy of an earlier forwarding-cost
    python3 bench/instructions.py --annotate               # and where the instructions go

Run by hand; the test suite runs a short form of it on the release build (WorkerInstructionTests:
20 calls, 20 and 40 rounds, --first-port 12900).
"""
import argparse, json, os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relays import ROOT  # noqa: E402

ENGINE = "epoll"
# A function only the media worker calls: it tells its thread's profile from the others'.
WORKER_MARKER = b"spw_epoll_wait"
# Calls the hot path should not make, by callee name: counted per packet like the instructions.
UNWANTED_CALLS = {
    "retain/release": re.compile(r"swift_(nonatomic_)?(unknownObject|bridgeObject)?(retain|release)(_n)?"),
    "heap allocations": re.compile(r"malloc|calloc|realloc|posix_memalign|aligned_alloc"),
}


def worker_profile(directory):
    """The callgrind file of the media worker thread, among one run's per-thread files."""
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, "rb") as profile:
            if WORKER_MARKER in profile.read():
                return path
    sys.exit("no callgrind thread profile in %s calls %s: did the worker start?" % (directory, WORKER_MARKER.decode()))


def total_instructions(profile):
    """The thread's instruction count: the `totals:` line callgrind ends a profile with."""
    with open(profile) as text:
        totals = [line for line in text if line.startswith("totals:")]
    if not totals:
        sys.exit("%s has no totals line: callgrind stopped early?" % profile)
    return int(totals[-1].split()[1])


def unwanted_calls(profile):
    """How many calls of each UNWANTED_CALLS kind the thread made (the `cfn=` and `calls=` lines of a
    profile written with --compress-strings=no)."""
    totals = dict.fromkeys(UNWANTED_CALLS, 0)
    kind = None
    with open(profile) as text:
        for line in text:
            if line.startswith("cfn="):
                callee = line[4:].strip().split("'")[0]  # callgrind marks recursion depth as NAME'2
                kind = next((k for k, pattern in UNWANTED_CALLS.items() if pattern.fullmatch(callee)), None)
            elif line.startswith("calls=") and kind:
                totals[kind] += int(line[6:].split()[0])
    return totals


def without_debug_info(binary, directory):
    """A copy of `binary` without its debug info (symbols kept), which valgrind 3.19 cannot read."""
    copy = os.path.join(directory, os.path.basename(binary))
    subprocess.run(["strip", "--strip-debug", "-o", copy, binary], check=True)
    return copy


def measure(binary, calls, rounds, first_port, annotate):
    """(instructions, unwanted calls by kind, forwarded packets) of the worker thread for one run
    under callgrind."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as directory:
        command = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--compress-strings=no",
                   "--callgrind-out-file=%s/callgrind.out" % directory,
                   binary, ENGINE, str(calls), str(rounds), str(first_port)]
        run = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            sys.exit("forwarding-cost under callgrind failed (exit %d):\n%s%s" % (run.returncode, run.stdout, run.stderr[-3000:]))
        report = json.loads(run.stdout.strip().splitlines()[-1])
        profile = worker_profile(directory)
        if annotate:
            print(subprocess.run(["callgrind_annotate", "--threshold=90", profile], capture_output=True, text=True).stdout)
        return total_instructions(profile), unwanted_calls(profile), report["forwarded"]


def per_packet(binary, calls, rounds, first_port, annotate):
    """(instructions, unwanted calls by kind) per forwarded packet: the two runs' difference over the
    difference in packets."""
    with tempfile.TemporaryDirectory(prefix="forwarding-cost-") as directory:
        runnable = without_debug_info(binary, directory)
        short = measure(runnable, calls, rounds, first_port, False)
        long = measure(runnable, calls, 2 * rounds, first_port, annotate)
    packets = long[2] - short[2]
    return (long[0] - short[0]) / packets, {kind: (long[1][kind] - short[1][kind]) / packets for kind in UNWANTED_CALLS}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/forwarding-cost"))
    parser.add_argument("--baseline", help="a copy of an earlier forwarding-cost build, counted side by side")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=50, help="rounds of the shorter run; the longer has twice as many")
    parser.add_argument("--first-port", type=int, default=23000, help="the relay sockets' first port (four per call)")
    parser.add_argument("--annotate", action="store_true", help="print callgrind_annotate of the longer run's worker thread")
    parser.add_argument("--json")
    options = parser.parse_args()
    builds = {"spillway": options.binary}
    if options.baseline:
        builds["baseline"] = options.baseline
    for path in builds.values():
        if not os.access(path, os.X_OK):
            sys.exit("%s is not an executable: build it with swift build -c release" % path)

    figures, unwanted = {}, {}
    for name, path in builds.items():
        figures[name], unwanted[name] = per_packet(path, options.calls, options.rounds, options.first_port, options.annotate)
        print("%-9s %6.0f userspace instructions per forwarded packet; per packet: %s" % (
            name, figures[name], ", ".join("%.2f %s" % (round(count, 2) + 0.0, kind) for kind, count in unwanted[name].items())))
        sys.stdout.flush()
    if options.baseline:
        print("spillway/baseline: %.3f" % (figures["spillway"] / figures["baseline"]))
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"calls": options.calls, "rounds": options.rounds, "instructions_per_packet": figures,
                       "unwanted_calls_per_packet": unwanted}, out, indent=2)


if __name__ == "__main__":
    main()
