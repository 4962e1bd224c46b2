#!/usr/bin/env bash
# Builds spillway-fuzz with libFuzzer (AddressSanitizer and coverage, libclang_rt.fuzzer_no_main) and
# runs fuzz targets, each from a seed corpus of real inputs.
#   Tests/Fuzz/fuzz.sh -r RUNS    TARGET...|all   a fixed number of inputs, seed 1 (the test suite's smoke run)
#   Tests/Fuzz/fuzz.sh -t SECONDS TARGET...|all   a set time (bench/fuzz.sh: long runs)
# Options: -o DIR puts corpora and findings in DIR/<target>/ (default .build-fuzz/runs). A finding is
# written as DIR/<target>/crash-*; replay it with `swift run spillway-fuzz TARGET FILE`.
# Exits non-zero when any target finds an input that crashes or breaks a property.
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=() out=.build-fuzz/runs
while getopts "r:t:o:" option; do
    case "$option" in
        r) limit=(-runs="$OPTARG" -seed=1) ;;
        t) limit=(-max_total_time="$OPTARG") ;;
        o) out=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
[ "${targets[*]:-}" = all ] && targets=(bencode sdp rtp ras q931 h245 pcap resp)
if [ ${#limit[@]} -eq 0 ] || [ ${#targets[@]} -eq 0 ]; then
    echo "usage: Tests/Fuzz/fuzz.sh -r RUNS|-t SECONDS [-o DIR] bencode|sdp|rtp|ras|q931|h245|pcap|resp...|all" >&2
    exit 2
fi

toolchain=$(dirname "$(readlink -f "$(command -v swiftc)")")/..
runtime=$(find "$toolchain/lib/clang" -name "libclang_rt.fuzzer_no_main-$(uname -m).a" | head -1)
swift build --product spillway-fuzz --scratch-path .build-fuzz -c release \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
    -Xswiftc -DFUZZING -Xlinker "$runtime" -Xlinker -lstdc++ 2>&1 \
    | grep -v -e "^\[" -e "Cannot export local symbol '__asan_extra_spill_area'" || true
binary=.build-fuzz/release/spillway-fuzz
[ -x "$binary" ] || { echo "fuzz.sh: the fuzz build failed (see above)" >&2; exit 1; }

status=0
for target in "${targets[@]}"; do
    directory="$out/$target"
    mkdir -p "$directory/corpus"
    python3 Tests/Fuzz/seeds.py "$target" "$directory/seeds"
    started=$SECONDS
    if "$binary" "$target" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$directory/" \
        "$directory/corpus" "$directory/seeds" >"$directory/log" 2>&1; then
        result=clean
    else
        result="FOUND: $(ls "$directory"/crash-* "$directory"/leak-* "$directory"/timeout-* "$directory"/oom-* 2>/dev/null | head -1)"
        grep -E "ERROR|Fatal error|property broken" "$directory/log" | head -5 >&2 || true
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$directory/log")
    echo "fuzz $target: ${runs:-?} inputs in $((SECONDS - started)) s, corpus $(ls "$directory/corpus" | wc -l), $result"
done
exit $status
