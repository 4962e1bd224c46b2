#!/usr/bin/env bash
# Long fuzz runs: every parser's libFuzzer target for a set time each (the test suite runs a short,
# fixed-count run of the same targets through Tests/Fuzz/fuzz.sh).
#   bench/fuzz.sh [SECONDS] [TARGET...]   default 600 s for each of bencode sdp rtp ras q931 h245 pcap
# Corpora and findings: bench/out/fuzz/<target>/ (crash-* files reproduce with
# `swift run spillway-fuzz TARGET FILE`). Corpora persist, so runs add up.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
exec Tests/Fuzz/fuzz.sh -t "$seconds" -o bench/out/fuzz "${@:-all}"
