#!/usr/bin/env python3
"""Decodes H.225.0 and H.245 messages with pycrate, an independent ALIGNED PER implementation.

Usage: pycrate_decode.py TYPE FILE, TYPE one of RasMessage, H323-UserInformation (H.225.0) and
OpenLogicalChannel (H.245). Reads one hex-encoded message per line from FILE and prints one JSON value
per line: the decoded message as pycrate's JSON encoding gives it (CHOICE as {"alternative": value},
OCTET STRING as hex), or {"error": "..."} when pycrate cannot decode it.
"""
import json
import sys

from pycrate_asn1dir import H225, H245

TYPES = {
    "RasMessage": H225.H323_MESSAGES.RasMessage,
    "H323-UserInformation": H225.H323_MESSAGES.H323_UserInformation,
    "OpenLogicalChannel": H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel,
}

codec = TYPES[sys.argv[1]]
for line in open(sys.argv[2]):
    line = line.strip()
    if not line:
        continue
    try:
        codec.from_aper(bytes.fromhex(line))
        print(json.dumps(json.loads(codec.to_jer())))
    except Exception as error:  # any failure is reported to the test, which fails on it
        print(json.dumps({"error": repr(error)}))
    sys.stdout.flush()
