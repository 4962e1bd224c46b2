#!/usr/bin/env python3
"""ITU-T P.862 PESQ (MOS-LQO) of degraded speech against its reference, after lining the two up.

Usage: pesq_score.py REFERENCE DEGRADED [RATE], each mono 16-bit at RATE (8000, scored narrowband, the
default; or 16000, scored wideband, P.862.2): a WAV file, or raw little-endian samples (any other name).
Prints {"mos": ..., "lag_samples": ...}. Needs `pip install pesq numpy`. bench/voice_quality.py scores
with `score` too.
"""
import json
import sys

import numpy as np
from pesq import pesq

def read_samples(path):
    """16-bit mono samples of a WAV file (found by its `data` chunk) or of a raw s16le file."""
    data = open(path, "rb").read()
    if data[:4] == b"RIFF":
        start = data.index(b"data") + 8
        data = data[start:]
    return np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2").astype(np.float64)


def align(reference, degraded, rate):
    """The degraded samples from the lag (0 to 1 s) where they best match the reference, and that lag."""
    window = min(len(reference), len(degraded)) - rate
    if window <= rate:
        raise SystemExit("too little audio to score: %d reference and %d degraded samples" % (len(reference), len(degraded)))
    correlation = np.correlate(degraded[:window + rate], reference[:window], mode="valid")
    lag = int(np.argmax(correlation))
    return degraded[lag:], lag


def score(reference_path, degraded_path, rate=8000):
    """(MOS-LQO, lag in samples) of the degraded file against the reference, both at `rate`."""
    reference = read_samples(reference_path)
    degraded, lag = align(reference, read_samples(degraded_path), rate)
    length = min(len(reference), len(degraded))
    mode = "wb" if rate == 16000 else "nb"
    mos = pesq(rate, reference[:length].astype(np.int16), degraded[:length].astype(np.int16), mode)
    return mos, lag


if __name__ == "__main__":
    mos, lag = score(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 8000)
    print(json.dumps({"mos": round(mos, 3), "lag_samples": lag}))
