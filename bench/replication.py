#!/usr/bin/env python3
"""What the call store costs: one node set up with and without `--redis`, side by side in one run.

Each run starts a fresh node (release build, pinned to CPU 0, one media worker) twice, once without a
call store and once with `--redis` against a redis-server this script starts on 127.0.0.1 (no
persistence), in alternating order. Each time N calls are set up one after another over NG (offer, then
answer, PCMU on loopback) and deleted again. Measured per configuration and run:

  - offer+answer latency as the NG client sees it (p50, p99);
  - the node's CPU time per call set-up (offer+answer), and per delete, summed over its threads from
    /proc/PID/task/*/schedstat (nanoseconds; valgrind cannot run the whole server here, and perf has no
    instruction counter in this VM);
  - Redis commands per call (INFO stats' total_commands_processed, before and after), with Redis.

The table gives median (min-max) over the runs and the ratio redis/none. Media CPU per packet is
measured by instructions.py (callgrind), against a build without the call store's packet-path stores.

    apt-get install -y redis-server
    swift build -c release --product spillway
    python3 bench/replication.py --runs 5 --calls 2000

Run by hand on an otherwise idle machine; never part of the test suite.
"""
import argparse, os, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relays import ROOT, ng, sdp, spillway_command, start_ng_relay  # noqa: E402

NG_PORT, CLUSTER_PORT, REDIS_PORT = 22480, 22481, 16479


def cpu_seconds(pid):
    """The process's CPU time in nanoseconds summed over its threads (schedstat), far finer than /proc's ticks."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def redis_commands():
    """Commands Redis has processed since it started."""
    out = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "INFO", "stats"], capture_output=True, text=True).stdout
    return int([line.split(":")[1] for line in out.splitlines() if line.startswith("total_commands_processed:")][0])


def measure(binary, calls, key_file, with_redis):
    command = spillway_command(binary, NG_PORT, ports=(44000, 44000 + 4 * calls + 3)) + [
        "--cluster", "127.0.0.1:%d" % CLUSTER_PORT, "--cluster-key-file", key_file, "--node-id", "bench"]
    if with_redis:
        command += ["--redis", "127.0.0.1:%d" % REDIS_PORT]
    relay = start_ng_relay(command, NG_PORT)
    try:
        time.sleep(0.5)  # the call store connects and writes its (empty) state
        commands_before = redis_commands() if with_redis else 0
        latencies = []
        cpu_before = cpu_seconds(relay.pid)
        for call in range(calls):
            started = time.perf_counter()
            ng(NG_PORT, {"command": "offer", "call-id": "bench-%d" % call, "from-tag": "A", "sdp": sdp(30000)})
            ng(NG_PORT, {"command": "answer", "call-id": "bench-%d" % call, "from-tag": "A", "to-tag": "B",
                         "sdp": sdp(30002)})
            latencies.append((time.perf_counter() - started) * 1e6)
        setup_cpu = cpu_seconds(relay.pid) - cpu_before
        cpu_before = cpu_seconds(relay.pid)
        for call in range(calls):
            ng(NG_PORT, {"command": "delete", "call-id": "bench-%d" % call})
        delete_cpu = cpu_seconds(relay.pid) - cpu_before
        time.sleep(0.3)
        commands = (redis_commands() - commands_before) / calls if with_redis else 0
    finally:
        relay.terminate()
        relay.wait()
    latencies.sort()
    return {"p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)],
            "setup_cpu_us": setup_cpu / calls * 1e6, "delete_cpu_us": delete_cpu / calls * 1e6, "commands": commands}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "spillway"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="spillway-replication-")
    key_file = os.path.join(work, "cluster.key")
    with open(key_file, "w") as f:
        f.write("bench-cluster-key-0123456789abcdef\n")
    redis = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL, cwd=work)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        results = {False: [], True: []}
        for run in range(args.runs):
            for with_redis in ([False, True] if run % 2 == 0 else [True, False]):
                results[with_redis].append(measure(args.binary, args.calls, key_file, with_redis))
                print("run %d %-5s %s" % (run + 1, "redis" if with_redis else "none", results[with_redis][-1]),
                      flush=True)
    finally:
        redis.terminate()
        redis.wait()

    def spread(values):
        return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))

    print("\n%d calls, %d runs: median (min-max)" % (args.calls, args.runs))
    print("%-28s %-22s %-22s %s" % ("", "none", "redis", "redis/none"))
    for key, label in (("p50", "offer+answer p50 (us)"), ("p99", "offer+answer p99 (us)"),
                       ("setup_cpu_us", "CPU per set-up (us)"), ("delete_cpu_us", "CPU per delete (us)")):
        ratios = [r[key] / n[key] for r, n in zip(results[True], results[False])]
        print("%-28s %-22s %-22s %.2f (%.2f-%.2f)" % (label, spread([n[key] for n in results[False]]),
                                                     spread([r[key] for r in results[True]]),
                                                     statistics.median(ratios), min(ratios), max(ratios)))
    print("%-28s %-22s %s" % ("Redis commands per call", "-", spread([r["commands"] for r in results[True]])))


if __name__ == "__main__":
    main()
