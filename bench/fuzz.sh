#!/usr/bin/env bash
# Runs a libFuzzer target (swiftc -sanitize=fuzzer,address) for a set time.
#   bench/fuzz.sh ras [SECONDS]   H.225.0 RAS / ALIGNED PER decoder (default 600 s)
# Findings go to bench/out/fuzz-<target>/ (crash-* files are reproducers: run the binary on one).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: bench/fuzz.sh ras [SECONDS]}
seconds=${2:-600}
out="bench/out/fuzz-$target"
mkdir -p "$out/corpus"
case "$target" in
    ras)
        sources=$(find Sources/H323 -name '*.swift')
        ;;
    *) echo "unknown fuzz target '$target' (known: ras)" >&2; exit 2 ;;
esac
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name H323 $sources "bench/fuzz/${target}_per.swift" -o "$out/fuzz-$target"
# Seed: an LRQ carrying extension additions Spillway does not model (built with pycrate).
python3 - "$out/corpus" <<'PY'
import sys, pathlib
seeds = {
    "lrq": "4a001233010300888456707f00000106b72180df0b01400300670077002d00310180040100001101041100000102030405060708090a0b0c0d0e0f03400280180180150012683332333a6777406578616d706c652e6e65740180040108656e",
}
for name, hexdata in seeds.items():
    pathlib.Path(sys.argv[1], name).write_bytes(bytes.fromhex(hexdata))
PY
"$out/fuzz-$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -20
