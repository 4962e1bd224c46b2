#!/usr/bin/env python3
"""Generates the sample captures in this folder (see README.md).

Usage: python3 captures/generate.py [--ffmpeg] [OUTPUT_DIR]

Without --ffmpeg it writes the G.711 captures, deterministically (same bytes every run). With
--ffmpeg it also records real ffmpeg senders (Opus, H.264, SRTP) with tshark on the loopback
interface; those bytes differ from run to run (timing, encoder state, SRTP keys are fixed).
"""
import math
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

SAMPLE_RATE = 8000
PTIME_SAMPLES = 160  # 20 ms at 8 kHz


def linear_to_ulaw(sample: int) -> int:
    """G.711 mu-law (ITU-T G.711, with the usual 0x84 bias and 32635 clip)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def linear_to_alaw(sample: int) -> int:
    """G.711 A-law (ITU-T G.711), even bits inverted."""
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = 1
        while magnitude >= 64 and exponent < 7:
            magnitude >>= 1
            exponent += 1
        code = exponent << 4 | ((magnitude >> 1) & 0x0F)
    return (sign | code) ^ 0x55


def tone(frequency: float, packets: int, encode, amplitude: int = 8000):
    for index in range(packets):
        start = index * PTIME_SAMPLES
        yield bytes(
            encode(int(amplitude * math.sin(2 * math.pi * frequency * (start + n) / SAMPLE_RATE)))
            for n in range(PTIME_SAMPLES)
        )


def rtp(sequence: int, timestamp: int, ssrc: int, payload_type: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF, timestamp, ssrc) + payload


def udp_ipv4_ethernet(source: tuple, destination: tuple, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", source[1], destination[1], 8 + len(payload), 0) + payload
    ip_header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
        bytes(map(int, source[0].split("."))), bytes(map(int, destination[0].split("."))),
    )
    checksum = sum(struct.unpack("!10H", ip_header))
    checksum = (checksum & 0xFFFF) + (checksum >> 16)
    checksum = ~((checksum & 0xFFFF) + (checksum >> 16)) & 0xFFFF
    ip_header = ip_header[:10] + struct.pack("!H", checksum) + ip_header[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ethernet + ip_header + udp


def write_pcap(path: Path, frames):
    """Classic pcap, microsecond timestamps, Ethernet."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for time, frame in frames:
            seconds = int(time)
            micros = int(round((time - seconds) * 1e6))
            out.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)


def write_pcapng(path: Path, frames):
    """pcapng: one section, one Ethernet interface with nanosecond timestamps (if_tsresol 9)."""
    def block(kind: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack("<II", kind, length) + body + struct.pack("<I", length)

    with path.open("wb") as out:
        out.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        options = struct.pack("<HHB", 9, 1, 9) + b"\x00" * 3 + struct.pack("<HH", 0, 0)
        out.write(block(1, struct.pack("<HHI", 1, 0, 65535) + options))
        for time, frame in frames:
            nanos = int(round(time * 1e9))
            out.write(block(6, struct.pack("<IIIII", 0, nanos >> 32, nanos & 0xFFFFFFFF, len(frame), len(frame)) + frame))


def media(start: float, caller: tuple, callee: tuple, payload_type: int, encode, seconds: float, tones=(1000.0, 440.0)):
    """Both directions of a call, 20 ms packets; the callee starts 5 ms after the caller."""
    packets = int(seconds * 50)
    frames = []
    for direction, (source, destination, frequency, ssrc, offset) in enumerate(
        [(caller, callee, tones[0], 0x11223344, 0.0), (callee, caller, tones[1], 0x55667788, 0.005)]
    ):
        for index, payload in enumerate(tone(frequency, packets, encode)):
            packet = rtp(1000 * (direction + 1) + index, 160 * index, ssrc, payload_type, payload, marker=index == 0)
            frames.append((start + offset + index * 0.02, udp_ipv4_ethernet(source, destination, packet)))
    return frames


def pcma_sdp(address, port, session, events_fmtp=False):
    """An SDP offering PCMA and telephone-event on one audio line."""
    return (
        f"v=0\r\no=- {session} 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        + ("a=fmtp:101 0-15\r\n" if events_fmtp else "") + "a=sendrecv\r\n"
    )


def sip_messages(call_id, caller, callee):
    """Builds a call's SIP messages, from the caller's user@host (`caller`, its tag the user) to `callee`."""
    user, host = caller.split("@")

    def message(first_line, cseq, extra="", body=""):
        headers = (
            f"{first_line}\r\nVia: SIP/2.0/UDP {host}:5060;branch=z9hG4bK-{cseq.split()[0]}-{cseq.split()[1]}\r\n"
            f"From: <sip:{caller}>;tag={user}\r\nTo: <sip:{callee}>{extra}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq}\r\nContact: <sip:{caller}>\r\nMax-Forwards: 70\r\n"
        )
        if body:
            headers += "Content-Type: application/sdp\r\n"
        return (headers + f"Content-Length: {len(body)}\r\n\r\n" + body).encode()

    return message


def sip_call(start: float):
    caller, callee = ("10.0.1.10", 5060), ("10.0.1.20", 5060)
    caller_media, callee_media = ("10.0.1.10", 41000), ("10.0.1.20", 51000)
    message = sip_messages("sample-call-1@10.0.1.10", "alice@10.0.1.10", "bob@10.0.1.20")
    sdp = pcma_sdp

    frames = [
        (start, udp_ipv4_ethernet(caller, callee, message("INVITE sip:bob@10.0.1.20 SIP/2.0", "1 INVITE", body=sdp(*caller_media, 1)))),
        (start + 0.01, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 100 Trying", "1 INVITE"))),
        (start + 0.20, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "1 INVITE", ";tag=bob", sdp(*callee_media, 2)))),
        (start + 0.21, udp_ipv4_ethernet(caller, callee, message("ACK sip:bob@10.0.1.20 SIP/2.0", "1 ACK", ";tag=bob"))),
    ]
    frames += media(start + 0.25, caller_media, callee_media, 8, linear_to_alaw, 2.0, tones=(800.0, 1200.0))
    frames += [
        (start + 2.40, udp_ipv4_ethernet(caller, callee, message("BYE sip:bob@10.0.1.20 SIP/2.0", "2 BYE", ";tag=bob"))),
        (start + 2.41, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "2 BYE", ";tag=bob"))),
    ]
    return sorted(frames, key=lambda frame: frame[0])


def rtcp_report(ssrc: int, packets: int, octets: int, rtp_timestamp: int, ntp: float) -> bytes:
    """A compound RTCP packet: sender report (no report blocks) and SDES with a CNAME."""
    seconds = int(ntp) + 2_208_988_800
    fraction = int((ntp - int(ntp)) * (1 << 32))
    report = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, seconds, fraction, rtp_timestamp, packets, octets)
    name = b"replay@spillway"
    chunk = struct.pack("!IBB", ssrc, 1, len(name)) + name + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return report + struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def events_call(start: float):
    """A SIP call whose flows carry more than one SSRC, as SIPp's uac_pcap sends: PCMA voice, RFC 4733
    telephone-events from a second SSRC on the same ports (echoed by the callee from its own), the
    caller's voice changing SSRC halfway (a re-INVITE, a transfer), and RTCP on each RTP port + 1."""
    caller, callee = ("10.0.2.10", 5060), ("10.0.2.20", 5060)
    media_ports = {"caller": ("10.0.2.10", 42000), "callee": ("10.0.2.20", 52000)}
    message = sip_messages("events-call-1@10.0.2.10", "carol@10.0.2.10", "dave@10.0.2.20")

    def sdp(address, port, session):
        return pcma_sdp(address, port, session, events_fmtp=True)

    frames = [
        (start, udp_ipv4_ethernet(caller, callee, message("INVITE sip:dave@10.0.2.20 SIP/2.0", "1 INVITE", body=sdp(*media_ports["caller"], 1)))),
        (start + 0.20, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "1 INVITE", ";tag=dave", sdp(*media_ports["callee"], 2)))),
        (start + 0.21, udp_ipv4_ethernet(caller, callee, message("ACK sip:dave@10.0.2.20 SIP/2.0", "1 ACK", ";tag=dave"))),
    ]
    begin = start + 0.25
    seconds, packets = 3.0, 150
    directions = [
        # source, destination, tone, voice SSRCs (before and after the change), events SSRC, offset
        ("caller", "callee", 700.0, (0x0A0A0001, 0x0A0A0002), 0x0E0E0001, 0.0),
        ("callee", "caller", 1100.0, (0x0B0B0001, 0x0B0B0001), 0x0E0E0002, 0.005),
    ]
    for source_name, destination_name, frequency, voice, events_ssrc, offset in directions:
        source, destination = media_ports[source_name], media_ports[destination_name]
        rtcp_source, rtcp_destination = (source[0], source[1] + 1), (destination[0], destination[1] + 1)
        sent = {}
        for index, payload in enumerate(tone(frequency, packets, linear_to_alaw)):
            second_half = index >= packets // 2
            ssrc = voice[1] if second_half else voice[0]
            # A new SSRC starts a new sequence and timestamp space.
            base = 5000 if second_half and voice[1] != voice[0] else 0
            position = index - (packets // 2 if base else 0)
            packet = rtp(base + position + 100, 160 * position, ssrc, 8, payload, marker=position == 0)
            time = begin + offset + index * 0.02
            frames.append((time, udp_ipv4_ethernet(source, destination, packet)))
            sent.setdefault(ssrc, [0, 0, 0])
            sent[ssrc][0] += 1
            sent[ssrc][1] += len(payload)
            sent[ssrc][2] = 160 * position
            if index % 50 == 49:  # RTCP once a second, for each SSRC sending
                for reporting, (count, octets, timestamp) in sorted(sent.items()):
                    frames.append((time + 0.001, udp_ipv4_ethernet(rtcp_source, rtcp_destination,
                                                                     rtcp_report(reporting, count, octets, timestamp, time))))
        # Digit 5 at 1.0 s for 200 ms: ten updates 20 ms apart, the end packet sent three times.
        for update in range(13):
            end = update >= 10
            duration = 160 * min(update + 1, 10)
            payload = struct.pack("!BBH", 5, (0x80 if end else 0) | 10, duration)
            packet = rtp(300 + update, 8000, events_ssrc, 101, payload, marker=update == 0)
            frames.append((begin + offset + 1.0 + update * 0.02 + 0.002, udp_ipv4_ethernet(source, destination, packet)))
    frames += [
        (begin + seconds + 0.1, udp_ipv4_ethernet(caller, callee, message("BYE sip:dave@10.0.2.20 SIP/2.0", "2 BYE", ";tag=dave"))),
        (begin + seconds + 0.11, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "2 BYE", ";tag=dave"))),
    ]
    return sorted(frames, key=lambda frame: frame[0])


# A fixed SDES key (30 bytes: 16-byte key and 14-byte salt, base64) so the SRTP capture can be
# decrypted by anyone who reads this file.
SRTP_KEY = "d2hhdCBhIGxvdmVseSBzYW1wbGUga2V5IHNhbHQ2NzgK"[:40]


def capture_ffmpeg(path: Path, port: int, ffmpeg_arguments: list):
    """Runs one ffmpeg RTP sender to 127.0.0.1:port and records its UDP with tshark (as pcap)."""
    sinks = []
    for sink_port in (port, port + 1):  # something listening, so ffmpeg's sends are not refused
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", sink_port))
        sinks.append(sink)
    tshark = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-F", "pcap", "-f", f"udp dst portrange {port}-{port + 1}", "-w", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    # Wait until tshark says it is capturing.
    while "Capturing on" not in tshark.stderr.readline():
        pass
    try:
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re"] + ffmpeg_arguments,
            check=True, stdout=subprocess.DEVNULL,
        )
    finally:
        time.sleep(0.5)
        tshark.send_signal(signal.SIGINT)
        tshark.wait(timeout=10)
    path.chmod(0o644)
    for sink in sinks:
        sink.close()


def ffmpeg_captures(out: Path):
    capture_ffmpeg(out / "opus.pcap", 43000, [
        "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=2",
        "-c:a", "libopus", "-b:a", "32k", "-ac", "1", "-payload_type", "111", "-ssrc", "1242680833",
        "-f", "rtp", "rtp://127.0.0.1:43000",
    ])
    capture_ffmpeg(out / "h264.pcap", 43010, [
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
        "-payload_type", "96", "-ssrc", "1242680834", "-f", "rtp", "rtp://127.0.0.1:43010",
    ])
    capture_ffmpeg(out / "srtp-pcmu.pcap", 43020, [
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000:duration=2",
        "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-ssrc", "1242680835",
        "-f", "rtp", "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", SRTP_KEY,
        "srtp://127.0.0.1:43020?pkt_size=182",
    ])


def main():
    arguments = [argument for argument in sys.argv[1:] if argument != "--ffmpeg"]
    out = Path(arguments[0]) if arguments else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    start = 1_700_000_000.0
    write_pcap(out / "g711-tone.pcap", sorted(media(start, ("10.0.0.1", 40000), ("10.0.0.2", 50000), 0, linear_to_ulaw, 3.0)))
    write_pcapng(out / "sip-call.pcapng", sip_call(start))
    write_pcapng(out / "sip-events-rtcp.pcapng", events_call(start))
    if "--ffmpeg" in sys.argv[1:]:
        ffmpeg_captures(out)


if __name__ == "__main__":
    main()
