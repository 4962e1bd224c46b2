#!/usr/bin/env python3
"""Decodes H.225.0 RAS messages with pycrate, an independent ALIGNED PER implementation.

Reads one hex-encoded RasMessage per line from the file named as its argument and prints one JSON value per line: the decoded
message as pycrate's JSON encoding gives it (CHOICE as {"alternative": value}, OCTET STRING as hex),
or {"error": "..."} when pycrate cannot decode it.
"""
import json
import sys

from pycrate_asn1dir import H225

RAS = H225.H323_MESSAGES.RasMessage

for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    try:
        RAS.from_aper(bytes.fromhex(line))
        print(json.dumps(json.loads(RAS.to_jer())))
    except Exception as error:  # any failure is reported to the test, which fails on it
        print(json.dumps({"error": repr(error)}))
    sys.stdout.flush()
